package filters_test

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func TestServerStack(t *testing.T) {
	t.Parallel()
	quiet := filters.WithLogger(slog.New(slog.DiscardHandler))
	var r typhon.Router
	r.GET("/ok", func(req typhon.Request) typhon.Response {
		return req.Response(typhon.RequestID(req.Context()))
	})
	r.GET("/panic", func(req typhon.Request) typhon.Response { panic("boom") })
	// Served as a server serves it, so that requests are inbound.
	svc := typhon.FromHandler(typhon.HTTPHandler(filters.ServerStack(r.Serve(), quiet)))

	rsp := svc(typhon.NewRequest(t.Context(), "GET", "/ok", nil))
	var id string
	require.NoError(t, rsp.Decode(&id))
	assert.NotEmpty(t, id, "RequestID runs inside the stack")
	assert.Empty(t, rsp.Header.Get(typhon.RequestIDHeader), "not echoed on success by default")

	rsp = svc(typhon.NewRequest(t.Context(), "GET", "/panic", nil))
	assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeInternalService), "%v", rsp.Error)
	assert.NotEmpty(t, rsp.Header.Get(typhon.RequestIDHeader), "Recover sits inside RequestID")

	// WithStackRequestID configures the stack's RequestID.
	svc = typhon.FromHandler(typhon.HTTPHandler(filters.ServerStack(r.Serve(), quiet,
		filters.WithStackRequestID(filters.WithRequestIDEcho(filters.EchoAll)))))
	rsp = svc(typhon.NewRequest(t.Context(), "GET", "/ok", nil))
	require.NoError(t, rsp.Decode(&id))
	assert.Equal(t, id, rsp.Header.Get(typhon.RequestIDHeader))
}

func TestServerStackSheds(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{})
	svc := filters.ServerStack(func(req typhon.Request) typhon.Response {
		entered <- struct{}{}
		<-release
		return req.Response("ok")
	}, filters.WithStackLimit(filters.ConcurrencyLimit(1)))
	first := typhon.NewRequest(t.Context(), "GET", "/", nil).SendVia(svc)
	<-entered
	rsp := svc(typhon.NewRequest(t.Context(), "GET", "/", nil))
	assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeUnavailable), "%v", rsp.Error)
	_, ok := typhon.RetryAfter(rsp.Error)
	assert.True(t, ok, "shed with Retry-After")
	close(release)
	require.NoError(t, first.Response().Decode(new(string)))
}

func TestClientStack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method string
		status int
		want   int32 // arrivals
	}{
		{http.MethodGet, http.StatusServiceUnavailable, 3},
		{http.MethodPost, http.StatusServiceUnavailable, 1},
		{http.MethodGet, http.StatusNotFound, 1},
		{http.MethodGet, http.StatusOK, 1},
	}
	for _, c := range cases {
		t.Run(c.method+" "+http.StatusText(c.status), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var arrivals atomic.Int32
				backend := func(req typhon.Request) typhon.Response {
					arrivals.Add(1)
					if c.status >= 400 {
						return typhon.Response{Error: typhon.NewError(typhon.CodeForStatus(c.status), "scripted")}
					}
					return req.Response("ok")
				}
				client := filters.ClientStack(backend)
				rsp := client(typhon.NewRequest(t.Context(), c.method, "http://backend/x", nil))
				assert.Equal(t, c.status, rsp.StatusCode)
				assert.Equal(t, c.want, arrivals.Load())
			})
		})
	}
}

// TestClientStackBreakerOpens: a backend that keeps failing trips the
// breaker, after which calls fail at once without reaching it.
func TestClientStackBreakerOpens(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var arrivals atomic.Int32
		backend := func(req typhon.Request) typhon.Response {
			arrivals.Add(1)
			return typhon.Response{Error: typhon.NewError(typhon.CodeInternalService, "down")}
		}
		client := filters.ClientStack(backend)
		for range 10 {
			client(typhon.NewRequest(t.Context(), "POST", "http://backend/x", nil))
		}
		before := arrivals.Load()
		rsp := client(typhon.NewRequest(t.Context(), "POST", "http://backend/x", nil))
		assert.Equal(t, before, arrivals.Load(), "an open breaker sends nothing")
		assert.ErrorIs(t, rsp.Error, filters.ErrCircuitOpen)
		assert.True(t, typhon.NotProcessed(rsp.Error))
	})
}

// TestClientStackThrottle: with WithStackThrottle, a backend that rejects
// everything gets fewer calls than Retry alone would send.
func TestClientStackThrottle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var arrivals atomic.Int32
		backend := func(req typhon.Request) typhon.Response {
			arrivals.Add(1)
			return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "overloaded")}
		}
		client := filters.ClientStack(backend, filters.WithStackThrottle(filters.WithThrottleRand(func() float64 { return 0 })),
			filters.WithStackBreaker(filters.WithBreakerTrip(func(filters.BreakerCounts) bool { return false })))
		for range 100 {
			client(typhon.NewRequest(t.Context(), "GET", "http://backend/x", nil))
		}
		assert.Less(t, arrivals.Load(), int32(100), "the throttle rejects locally")
		assert.Greater(t, arrivals.Load(), int32(0))
	})
}
