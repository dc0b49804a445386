package filters_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func TestWhen(t *testing.T) {
	t.Parallel()
	tag := func(req typhon.Request, svc typhon.Service) typhon.Response {
		rsp := svc(req)
		rsp.Header.Set("X-Filtered", "yes")
		return rsp
	}
	notHealth := func(req typhon.Request) bool { return req.URL.Path != "/healthz" }
	tests := []struct {
		path string
		want string
	}{
		{"/users", "yes"},
		{"/healthz", ""},
		{"/healthz/", "yes"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			called := 0
			svc := typhon.Service(func(req typhon.Request) typhon.Response {
				called++
				return req.Response(nil)
			}).Filter(filters.When(notHealth, tag))
			rsp := svc(typhon.NewRequest(t.Context(), "GET", "http://svc"+tt.path, nil))
			assert.Equal(t, tt.want, rsp.Header.Get("X-Filtered"))
			assert.Equal(t, 1, called)
		})
	}
}

// TestWhenShortCircuit: a filter that answers without calling the Service
// does so only for the requests that match.
func TestWhenShortCircuit(t *testing.T) {
	t.Parallel()
	posts := func(req typhon.Request) bool { return req.Method == "POST" }
	svc := typhon.Service(func(req typhon.Request) typhon.Response { return req.Response(nil) }).
		Filter(filters.When(posts, filters.BodyLimit(1)))
	rsp := svc(typhon.NewRequest(t.Context(), "POST", "http://svc/", "too long"))
	assert.Equal(t, typhon.CodeRequestTooLarge, typhon.ErrorCode(rsp.Error))
	rsp = svc(typhon.NewRequest(t.Context(), "PUT", "http://svc/", "too long"))
	assert.NoError(t, rsp.Error)
}

func TestWhenPanicsOnNil(t *testing.T) {
	t.Parallel()
	match := func(typhon.Request) bool { return true }
	assert.PanicsWithValue(t, "filters: When needs a match function", func() { filters.When(nil, filters.BodyLimit(1)) })
	assert.PanicsWithValue(t, "filters: When needs a Filter", func() { filters.When(match, nil) })
}

func TestWhenAllocs(t *testing.T) {
	f := filters.When(func(req typhon.Request) bool { return req.Method == "POST" }, filters.Recover())
	svc := benchOKService()
	for _, method := range []string{"GET", "POST"} {
		req := typhon.NewRequest(context.Background(), method, "http://svc/", nil)
		assert.Zero(t, testing.AllocsPerRun(1000, func() { f(req, svc) }), method)
	}
}

func BenchmarkWhen(b *testing.B) {
	f := filters.When(func(req typhon.Request) bool { return req.Method == "POST" }, filters.Recover())
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	svc := benchOKService()
	b.ReportAllocs()
	for b.Loop() {
		f(req, svc)
	}
}
