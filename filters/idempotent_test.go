package filters_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func TestIsIdempotent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method string
		key    string
		want   bool
	}{
		{"GET", "", true},
		{"HEAD", "", true},
		{"OPTIONS", "", true},
		{"TRACE", "", true},
		{"PUT", "", true},
		{"DELETE", "", true},
		{"POST", "", false},
		{"PATCH", "", false},
		{"CONNECT", "", false},
		{"get", "", false}, // methods are case-sensitive
		{"POST", "order-42", true},
		{"PATCH", "order-42", true},
	}
	for _, tt := range tests {
		req := typhon.NewRequest(context.Background(), tt.method, "http://backend/", nil)
		if tt.key != "" {
			req.Header.Set("Idempotency-Key", tt.key)
		}
		assert.Equal(t, tt.want, filters.IsIdempotent(req), "%s key=%q", tt.method, tt.key)
	}
	req := typhon.NewRequest(context.Background(), "POST", "http://backend/", nil)
	req.Header["Idempotency-Key"] = []string{""}
	assert.False(t, filters.IsIdempotent(req), "an empty key marks nothing")
	assert.False(t, filters.IsIdempotent(typhon.Request{}), "the zero Request")
}
