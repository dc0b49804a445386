package typhon_test

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

var newIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestWithRequestID(t *testing.T) {
	t.Parallel()
	type key struct{}
	ctx := context.WithValue(t.Context(), key{}, "v")
	req := typhon.NewRequest(ctx, "GET", "http://svc/", nil)
	got := req.WithRequestID("abc")
	assert.Equal(t, "abc", typhon.RequestID(got.Context()))
	assert.Empty(t, typhon.RequestID(req.Context()), "the original is untouched")
	assert.Equal(t, "v", got.Context().Value(key{}), "the parent's values stay reachable")
	assert.NotSame(t, req.Request, got.Request)
	assert.Equal(t, req.URL, got.URL)
	assert.Empty(t, typhon.Request{}.WithRequestID("x").Request, "the zero Request stays zero")

	// A later ID wins over an earlier one.
	assert.Equal(t, "def", typhon.RequestID(got.WithRequestID("def").Context()))
	assert.Equal(t, "ghi", typhon.RequestID(typhon.WithRequestID(got.Context(), "ghi")))
}

func TestWithNewRequestID(t *testing.T) {
	t.Parallel()
	req := typhon.NewRequest(t.Context(), "GET", "http://svc/", nil)
	a := req.WithNewRequestID()
	b := req.WithNewRequestID()
	idA := typhon.RequestID(a.Context())
	assert.Regexp(t, newIDPattern, idA)
	assert.Equal(t, idA, typhon.RequestID(a.Context()), "made once, then the same")
	assert.NotEqual(t, idA, typhon.RequestID(b.Context()))
	assert.Empty(t, typhon.RequestID(req.Context()))

	// A context derived from it carries the same ID, and cancellation still
	// reaches through it.
	ctx, cancel := context.WithCancel(a.Context())
	assert.Equal(t, idA, typhon.RequestID(ctx))
	cancel()
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.Contains(t, fmt.Sprint(a.Context()), "WithNewRequestID")
	assert.Empty(t, typhon.Request{}.WithNewRequestID().Request)
}

// TestWithNewRequestIDConcurrent: goroutines asking for a new ID at once
// all get the same one (run with -race).
func TestWithNewRequestIDConcurrent(t *testing.T) {
	t.Parallel()
	for range 50 {
		ctx := typhon.NewRequest(t.Context(), "GET", "http://svc/", nil).WithNewRequestID().Context()
		var wg sync.WaitGroup
		ids := make([]string, 8)
		for i := range ids {
			wg.Go(func() { ids[i] = typhon.RequestID(ctx) })
		}
		wg.Wait()
		require.Regexp(t, newIDPattern, ids[0])
		for _, id := range ids {
			require.Equal(t, ids[0], id)
		}
	}
}

// TestNewRequestIDSentDownstream: the client sends a lazily made ID, the
// same one the caller's context answers.
func TestNewRequestIDSentDownstream(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return req.Response(req.Header.Get(typhon.RequestIDHeader))
		})
		req := typhon.NewRequest(t.Context(), "GET", base+"/", nil).WithNewRequestID()
		var got string
		require.NoError(t, e.client(req).Decode(&got))
		assert.Regexp(t, newIDPattern, got)
		assert.Equal(t, typhon.RequestID(req.Context()), got)
	})
}
