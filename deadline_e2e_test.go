package typhon_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

// deadlineSetHeader is a RoundTripper that sets one header on every request
// after the client has set its own: it sends what typhon's client never
// would (an expired Typhon-Timeout-Ms).
type deadlineSetHeader struct {
	rt         http.RoundTripper
	key, value string
}

func (d deadlineSetHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set(d.key, d.value)
	return d.rt.RoundTrip(r)
}

// deadlineRemaining answers the time left until the request's deadline, in
// milliseconds, or -1 when it has none.
func deadlineRemaining(arrivals *atomic.Int32) typhon.Service {
	return func(req typhon.Request) typhon.Response {
		if arrivals != nil {
			arrivals.Add(1)
		}
		dl, ok := req.Context().Deadline()
		if !ok {
			return req.Response(int64(-1))
		}
		return req.Response(time.Until(dl).Milliseconds())
	}
}

func deadlineGet(t *testing.T, ctx context.Context, client typhon.Service, url string) int64 {
	t.Helper()
	var ms int64
	require.NoError(t, typhon.NewRequest(ctx, "GET", url, nil).SendVia(client).Response().Decode(&ms))
	return ms
}

// TestDeadlineExpiredOnArrival: a request whose deadline header says 0 is
// answered timeout without calling the Service, whichever header says it.
func TestDeadlineExpiredOnArrival(t *testing.T) {
	headers := []struct{ key, value string }{
		{typhon.TimeoutHeader, "0"},
		{"Connect-Timeout-Ms", "0"},
		{"Grpc-Timeout", "0S"},
		{"Grpc-Timeout", "00000000n"},
	}
	run(t, func(t *testing.T, e *env) {
		var arrivals atomic.Int32
		base := e.serve(deadlineRemaining(&arrivals))
		for _, h := range headers {
			client := typhon.NewClient(typhon.WithTransport(deadlineSetHeader{rt: e.tr, key: h.key, value: h.value}))
			rsp := typhon.NewRequest(t.Context(), "GET", base+"/", nil).SendVia(client).Response()
			assert.Equal(t, http.StatusGatewayTimeout, rsp.StatusCode, h.key)
			assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error), h.key)
			assert.False(t, errors.Is(rsp.Error, context.DeadlineExceeded), "%s: a downstream's timeout is not the caller's", h.key)
			rsp.Body.Close()
		}
		assert.Zero(t, arrivals.Load(), "arrivals at the Service")
		// A malformed header is ignored: the Service is called, with no
		// deadline.
		client := typhon.NewClient(typhon.WithTransport(deadlineSetHeader{rt: e.tr, key: typhon.TimeoutHeader, value: "-1"}))
		assert.Equal(t, int64(-1), deadlineGet(t, t.Context(), client, base+"/"))
		assert.Equal(t, int32(1), arrivals.Load())
	})
}

// TestDeadlineMaxTimeout: WithMaxTimeout caps what callers send, and gives a
// deadline to requests that come without one.
func TestDeadlineMaxTimeout(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(deadlineRemaining(nil), typhon.WithMaxTimeout(300*time.Millisecond))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		for name, ctx := range map[string]context.Context{"caller's minute": ctx, "no deadline": t.Context()} {
			ms := deadlineGet(t, ctx, e.client, base+"/")
			assert.LessOrEqual(t, ms, int64(300), name)
			assert.Greater(t, ms, int64(0), name)
		}
		short, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		assert.LessOrEqual(t, deadlineGet(t, short, e.client, base+"/"), int64(300), "the smaller of the two")
	})
}

// TestDeadlineWithoutInbound: an edge server ignores the deadlines callers
// send, an expired one too.
func TestDeadlineWithoutInbound(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		var arrivals atomic.Int32
		base := e.serve(deadlineRemaining(&arrivals), typhon.WithoutInboundDeadlines())
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		assert.Equal(t, int64(-1), deadlineGet(t, ctx, e.client, base+"/"))
		expired := typhon.NewClient(typhon.WithTransport(deadlineSetHeader{rt: e.tr, key: typhon.TimeoutHeader, value: "0"}))
		assert.Equal(t, int64(-1), deadlineGet(t, t.Context(), expired, base+"/"))
		assert.Equal(t, int32(2), arrivals.Load())
		// With a maximum as well, the maximum still applies.
		capped := e.serve(deadlineRemaining(nil), typhon.WithoutInboundDeadlines(), typhon.WithMaxTimeout(time.Second))
		ms := deadlineGet(t, ctx, e.client, capped+"/")
		assert.LessOrEqual(t, ms, int64(1000))
		assert.Greater(t, ms, int64(0))
	})
}

// TestDeadlineThreeHops: A gives 2s; B spends about 100ms before calling C;
// C sees what is left of A's budget, less what A and B spent.
func TestDeadlineThreeHops(t *testing.T) {
	const budget, spentByB = 2 * time.Second, 100 * time.Millisecond
	run(t, func(t *testing.T, e *env) {
		c := e.serve(deadlineRemaining(nil))
		b := e.serve(func(req typhon.Request) typhon.Response {
			timer := time.NewTimer(spentByB)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-req.Context().Done():
				return typhon.ErrorResponse(req, req.Context().Err())
			}
			return typhon.NewRequest(req.Context(), "GET", c+"/", nil).SendVia(e.client).Response()
		})
		ctx, cancel := context.WithTimeout(t.Context(), budget)
		defer cancel()
		remaining := time.Duration(deadlineGet(t, ctx, e.client, b+"/")) * time.Millisecond
		assert.Less(t, remaining, budget-spentByB, "C's budget is A's less what B spent")
		assert.Greater(t, remaining, budget-time.Second, "and not much less")
	})
}
