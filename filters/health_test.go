package filters_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// healthBody reads rsp's body as a string.
func healthBody(t *testing.T, rsp typhon.Response) string {
	t.Helper()
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	require.NoError(t, rsp.Body.Close())
	return string(b)
}

func healthOK(details map[string]string) filters.Checker {
	return func(context.Context) (map[string]string, error) { return details, nil }
}

func healthFail(msg string, details map[string]string) filters.Checker {
	return func(context.Context) (map[string]string, error) { return details, errors.New(msg) }
}

// healthAfter is a Checker that passes after d, or fails when ctx ends.
func healthAfter(d time.Duration) filters.Checker {
	return func(ctx context.Context) (map[string]string, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func TestHealthReport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		checks map[string]filters.Checker
		status int
		body   string
	}{
		{"no checks", nil, 200, `{"status":"ok","checks":{}}`},
		{
			"all pass", map[string]filters.Checker{"db": healthOK(map[string]string{"pool": "4/10"}), "cache": healthOK(nil)},
			200, `{"status":"ok","checks":{"cache":{"status":"ok"},"db":{"status":"ok","details":{"pool":"4/10"}}}}`,
		},
		{
			"one fails", map[string]filters.Checker{"db": healthFail("dial tcp: connection refused", map[string]string{"host": "db:5432"}), "cache": healthOK(nil)},
			503, `{"status":"unavailable","checks":{"cache":{"status":"ok"},"db":{"status":"unavailable","error":"dial tcp: connection refused","details":{"host":"db:5432"}}}}`,
		},
		{
			"panic fails", map[string]filters.Checker{"buggy": func(context.Context) (map[string]string, error) { panic("boom") }},
			503, `{"status":"unavailable","checks":{"buggy":{"status":"unavailable","error":"panic: boom"}}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, kind := range []string{"liveness", "readiness"} {
				h := filters.NewHealth()
				for name, c := range tc.checks {
					if kind == "liveness" {
						h.RegisterLiveness(name, c)
					} else {
						h.RegisterReadiness(name, c)
					}
				}
				// The other kind has a failing check: the kinds are apart.
				var svc, other typhon.Service = h.Liveness, h.Readiness
				if kind == "liveness" {
					h.RegisterReadiness("other", healthFail("other kind", nil))
				} else {
					svc, other = h.Readiness, h.Liveness
					h.RegisterLiveness("other", healthFail("other kind", nil))
				}
				rsp := svc(typhontest.NewRequest(t, "GET", "/", nil))
				require.NoError(t, rsp.Error)
				assert.Equal(t, tc.status, rsp.StatusCode, kind)
				assert.Equal(t, "no-store", rsp.Header.Get("Cache-Control"))
				assert.Equal(t, "application/json", rsp.Header.Get("Content-Type"))
				assert.JSONEq(t, tc.body, healthBody(t, rsp), kind)
				assert.Equal(t, 503, other(typhontest.NewRequest(t, "GET", "/", nil)).StatusCode)
			}
		})
	}
}

// TestHealthTimeout: checkers run concurrently; one that hangs is reported
// at the timeout, and its goroutine ends with its context (synctest fails
// the test if a goroutine outlives it).
func TestHealthTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration // 0: the default
		checks  map[string]filters.Checker
		took    time.Duration
		status  int
		body    string
	}{
		{
			name:   "concurrent",
			checks: map[string]filters.Checker{"a": healthAfter(time.Second), "b": healthAfter(time.Second), "c": healthAfter(1500 * time.Millisecond)},
			took:   1500 * time.Millisecond, status: 200,
			body: `{"status":"ok","checks":{"a":{"status":"ok"},"b":{"status":"ok"},"c":{"status":"ok"}}}`,
		},
		{
			name:   "hang at the default timeout",
			checks: map[string]filters.Checker{"fast": healthAfter(time.Millisecond), "hang": healthAfter(time.Hour)},
			took:   filters.DefaultHealthTimeout, status: 503,
			body: `{"status":"unavailable","checks":{"fast":{"status":"ok"},"hang":{"status":"unavailable","error":"timed out after 2s"}}}`,
		},
		{
			name: "hang at a set timeout", timeout: 300 * time.Millisecond,
			checks: map[string]filters.Checker{"hang": healthAfter(time.Hour)},
			took:   300 * time.Millisecond, status: 503,
			body: `{"status":"unavailable","checks":{"hang":{"status":"unavailable","error":"timed out after 300ms"}}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var opts []filters.HealthOption
				if tc.timeout > 0 {
					opts = append(opts, filters.WithHealthTimeout(tc.timeout))
				}
				h := filters.NewHealth(opts...)
				for name, c := range tc.checks {
					h.RegisterReadiness(name, c)
				}
				start := time.Now()
				rsp := h.Readiness(typhontest.NewRequest(t, "GET", "/readyz", nil))
				assert.Equal(t, tc.took, time.Since(start))
				assert.Equal(t, tc.status, rsp.StatusCode)
				assert.JSONEq(t, tc.body, healthBody(t, rsp))
			})
		})
	}
}

// TestHealthProbeCanceled: a probe whose caller hangs up ends its checks.
func TestHealthProbeCanceled(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var h filters.Health // the zero Health works
		h.RegisterLiveness("hang", healthAfter(time.Hour))
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		rsp := h.Liveness(typhontest.NewRequest(t, "GET", "/healthz", nil, typhontest.WithContext(ctx)))
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
		assert.JSONEq(t, `{"status":"unavailable","checks":{"hang":{"status":"unavailable","error":"probe ended: context deadline exceeded"}}}`, healthBody(t, rsp))
	})
}

func TestHealthFilterRoutes(t *testing.T) {
	t.Parallel()
	app := typhon.Service(func(req typhon.Request) typhon.Response { return req.Response("app") })
	for _, tc := range []struct {
		name   string
		opts   []filters.HealthOption
		method string
		path   string
		want   string // "live", "ready" or "app"
	}{
		{"liveness", nil, "GET", "/healthz", "live"},
		{"readiness", nil, "GET", "/readyz", "ready"},
		{"HEAD readiness", nil, "HEAD", "/readyz", "ready"},
		{"POST passes", nil, "POST", "/readyz", "app"},
		{"other path passes", nil, "GET", "/readyz/x", "app"},
		{"custom paths", []filters.HealthOption{filters.WithHealthPaths("/live", "/ready")}, "GET", "/ready", "ready"},
		{"custom paths: old one passes", []filters.HealthOption{filters.WithHealthPaths("/live", "/ready")}, "GET", "/healthz", "app"},
		{"custom liveness only", []filters.HealthOption{filters.WithHealthPaths("/live", "")}, "GET", "/readyz", "ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := filters.NewHealth(tc.opts...)
			h.RegisterLiveness("live", healthFail("live", nil)) // 503 tells liveness
			h.RegisterReadiness("ready", healthOK(nil))         // 200 with checks tells readiness
			rsp := app.Filter(h.Filter())(typhontest.NewRequest(t, tc.method, tc.path, nil))
			body := healthBody(t, rsp)
			switch tc.want {
			case "live":
				assert.Equal(t, 503, rsp.StatusCode)
				assert.Contains(t, body, `"live"`)
			case "ready":
				assert.Equal(t, 200, rsp.StatusCode)
				assert.Contains(t, body, `"ready"`)
			default:
				assert.Equal(t, `"app"`, body)
			}
		})
	}
}

func TestHealthDrain(t *testing.T) {
	t.Parallel()
	h := filters.NewHealth()
	ran := false
	h.RegisterReadiness("db", func(context.Context) (map[string]string, error) { ran = true; return nil, nil })
	assert.False(t, h.Draining())
	assert.Equal(t, 200, h.Readiness(typhontest.NewRequest(t, "GET", "/", nil)).StatusCode)
	ran = false
	h.Drain()
	assert.True(t, h.Draining())
	rsp := h.Readiness(typhontest.NewRequest(t, "GET", "/", nil))
	assert.Equal(t, 503, rsp.StatusCode)
	assert.JSONEq(t, `{"status":"unavailable","draining":true,"checks":{}}`, healthBody(t, rsp))
	assert.False(t, ran, "no checks while draining")
	assert.Equal(t, 200, h.Liveness(typhontest.NewRequest(t, "GET", "/", nil)).StatusCode, "alive all the same")
}

func TestHealthRegisterPanics(t *testing.T) {
	t.Parallel()
	h := filters.NewHealth()
	h.RegisterReadiness("db", healthOK(nil))
	h.RegisterLiveness("db", healthOK(nil)) // another kind: allowed
	for name, f := range map[string]func(){
		"nil checker":    func() { h.RegisterReadiness("x", nil) },
		"empty name":     func() { h.RegisterLiveness("", healthOK(nil)) },
		"duplicate":      func() { h.RegisterReadiness("db", healthOK(nil)) },
		"duplicate live": func() { h.RegisterLiveness("db", healthOK(nil)) },
		"zero timeout":   func() { filters.WithHealthTimeout(0) },
	} {
		assert.Panics(t, f, name)
	}
}

// TestHealthLameDuck: over loopback, /readyz turns 503 the moment Stop
// begins while the server, in its lame-duck period, still serves /healthz
// and every other route, on open connections and new ones; then it closes.
func TestHealthLameDuck(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		h := filters.NewHealth()
		h.RegisterReadiness("db", healthOK(nil))
		app := typhon.Service(func(req typhon.Request) typhon.Response { return req.Response("app") })
		// A lame duck longer than any test run: the test ends it by
		// cancelling Stop's context once it has seen what it needs.
		srv := p.Listen(t, app.Filter(h.Filter()), typhon.WithLameDuck(time.Hour))
		h.WatchServer(srv.Server)

		get := func(client typhon.Service, path string) typhon.Response {
			rsp := typhontest.NewRequest(t, "GET", srv.URL+path, nil).SendVia(client).Response()
			if rsp.Body != nil {
				_, _ = io.Copy(io.Discard, rsp.Body)
				rsp.Body.Close()
			}
			return rsp
		}
		requireStatus := func(client typhon.Service, path string, want int) {
			t.Helper()
			rsp := get(client, path)
			require.Equal(t, want, rsp.StatusCode, "%s: %v", path, rsp.Error)
		}
		requireStatus(srv.Client, "/readyz", 200)
		requireStatus(srv.Client, "/healthz", 200)

		stopCtx, endLameDuck := context.WithCancel(context.Background())
		defer endLameDuck()
		stopped := make(chan error, 1)
		go func() { stopped <- srv.Stop(stopCtx) }()
		<-srv.Done() // shutdown has begun

		fresh := healthClient(t, p) // a new connection: the listener is still open
		for _, client := range []typhon.Service{srv.Client, fresh} {
			requireStatus(client, "/readyz", 503)
			requireStatus(client, "/healthz", 200)
			requireStatus(client, "/orders", 200)
		}
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned during the lame duck: %v", err)
		default:
		}

		// Ending Stop's context ends the lame duck; with nothing in
		// flight the drain is immediate. (typhontest's cleanup then
		// calls Stop again, which logs the cancellation it returns.)
		endLameDuck()
		// nil when nothing was in flight, else the cancellation.
		if err := <-stopped; err != nil {
			assert.ErrorIs(t, err, context.Canceled)
		}
		rsp := get(healthClient(t, p), "/healthz")
		assert.Equal(t, typhon.CodeUnavailable, typhon.ErrorCode(rsp.Error), "closed: %v", rsp.Error)
	})
}

// healthClient returns a client of its own (new connections) speaking p,
// whose idle connections close at the end of the test.
func healthClient(t *testing.T, p typhontest.Protocol) typhon.Service {
	tr := p.Transport()
	t.Cleanup(tr.CloseIdleConnections)
	return typhon.NewClient(typhon.WithTransport(tr))
}

// TestHealthLameDuckTiming: in virtual time, the lame duck lasts exactly
// its period, and Stop then drains cleanly.
func TestHealthLameDuckTiming(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := filters.NewHealth()
		app := typhon.Service(func(req typhon.Request) typhon.Response { return req.Response("app") })
		srv := typhontest.H2C.NewServer(t, app.Filter(h.Filter()), typhon.WithLameDuck(10*time.Second))
		h.WatchServer(srv.Server)
		assert.Equal(t, 200, typhontest.NewRequest(t, "GET", srv.URL+"/readyz", nil).SendVia(srv.Client).Response().StatusCode)

		start := time.Now()
		stopped := make(chan error, 1)
		go func() { stopped <- srv.Stop(context.Background()) }()
		synctest.Wait()
		rsp := typhontest.NewRequest(t, "GET", srv.URL+"/readyz", nil).SendVia(srv.Client).Response()
		assert.Equal(t, 503, rsp.StatusCode)
		rsp.Body.Close()
		<-time.After(9 * time.Second) // virtual time: inside the lame duck
		typhontest.AssertOK(t, typhontest.NewRequest(t, "GET", srv.URL+"/app", nil).SendVia(srv.Client).Response())
		srv.Transport.CloseIdleConnections()
		require.NoError(t, <-stopped)
		assert.GreaterOrEqual(t, time.Since(start), 10*time.Second)
		assert.Less(t, time.Since(start), 12*time.Second)
	})
}
