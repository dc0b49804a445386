package filters_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// rateLimitStep is one request of a scripted sequence: at offset after the
// start, with key.
type rateLimitStep struct {
	at             time.Duration
	key            string
	wantOK         bool
	wantRetryAfter time.Duration // for a rejected request
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		r     rate.Limit
		burst int
		opts  []filters.RateLimitOption
		steps []rateLimitStep
	}{
		{
			name: "burst then rate", r: 10, burst: 2,
			steps: []rateLimitStep{
				{at: 0, wantOK: true},
				{at: 0, wantOK: true},
				{at: 0, wantRetryAfter: 100 * time.Millisecond},
				{at: 40 * time.Millisecond, wantRetryAfter: 60 * time.Millisecond},
				{at: 100 * time.Millisecond, wantOK: true},
				{at: 100 * time.Millisecond, wantRetryAfter: 100 * time.Millisecond},
				{at: time.Second, wantOK: true},
				{at: time.Second, wantOK: true},
				{at: time.Second, wantRetryAfter: 100 * time.Millisecond},
			},
		},
		{
			name: "rejections take no token", r: 1, burst: 1,
			steps: []rateLimitStep{
				{at: 0, wantOK: true},
				{at: 0, wantRetryAfter: time.Second},
				{at: 500 * time.Millisecond, wantRetryAfter: 500 * time.Millisecond},
				{at: 999 * time.Millisecond, wantRetryAfter: time.Millisecond},
				{at: time.Second, wantOK: true},
			},
		},
		{
			name: "slow rate", r: rate.Every(time.Minute), burst: 1,
			steps: []rateLimitStep{
				{at: 0, wantOK: true},
				{at: 0, wantRetryAfter: time.Minute},
				{at: time.Minute, wantOK: true},
			},
		},
		{
			name: "infinite", r: rate.Inf, burst: 0,
			steps: []rateLimitStep{{at: 0, wantOK: true}, {at: 0, wantOK: true}, {at: 0, wantOK: true}},
		},
		{
			name: "per key", r: 1, burst: 1,
			opts: []filters.RateLimitOption{filters.WithRateLimitKey(func(req typhon.Request) string { return req.Header.Get("X-Tenant") })},
			steps: []rateLimitStep{
				{at: 0, key: "a", wantOK: true},
				{at: 0, key: "b", wantOK: true},
				{at: 0, key: "", wantOK: true},
				{at: 0, key: "a", wantRetryAfter: time.Second},
				{at: 0, key: "", wantRetryAfter: time.Second},
				{at: time.Second, key: "a", wantOK: true},
				{at: time.Second, key: "b", wantOK: true},
			},
		},
		{
			name: "forgotten key starts afresh", r: 1, burst: 1,
			opts: []filters.RateLimitOption{
				filters.WithRateLimitKey(func(req typhon.Request) string { return req.Header.Get("X-Tenant") }),
				filters.WithRateLimitMaxKeys(2),
			},
			steps: []rateLimitStep{
				{at: 0, key: "a", wantOK: true},
				{at: 0, key: "b", wantOK: true},
				{at: 0, key: "a", wantRetryAfter: time.Second}, // a used after b
				{at: 0, key: "c", wantOK: true},                // b forgotten
				{at: 0, key: "a", wantRetryAfter: time.Second},
				{at: 0, key: "b", wantOK: true}, // afresh; c forgotten
				{at: 0, key: "c", wantOK: true}, // afresh; a forgotten
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				calls := 0
				svc := typhon.Service(func(req typhon.Request) typhon.Response {
					calls++
					return req.Response(nil)
				}).Filter(filters.RateLimit(tt.r, tt.burst, tt.opts...))
				wantCalls := 0
				for i, st := range tt.steps {
					if wait := st.at - time.Since(start); wait > 0 {
						<-time.After(wait)
					}
					req := typhon.NewRequest(t.Context(), "GET", "http://svc/", nil)
					req.Header.Set("X-Tenant", st.key)
					rsp := svc(req)
					if st.wantOK {
						wantCalls++
						require.NoError(t, rsp.Error, "step %d", i)
						continue
					}
					require.Error(t, rsp.Error, "step %d", i)
					assert.Equal(t, typhon.CodeRateLimited, typhon.ErrorCode(rsp.Error), "step %d", i)
					assert.Equal(t, http.StatusTooManyRequests, rsp.StatusCode, "step %d", i)
					ra, ok := typhon.RetryAfter(rsp.Error)
					assert.True(t, ok, "step %d: Retry-After", i)
					assert.InDelta(t, st.wantRetryAfter, ra, float64(time.Microsecond), "step %d: Retry-After", i)
				}
				assert.Equal(t, wantCalls, calls)
			})
		})
	}
}

func TestRateLimitPanicsOnBadArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f    func()
		want string
	}{
		{func() { filters.RateLimit(0, 1) }, "filters: RateLimit needs a positive rate, got 0"},
		{func() { filters.RateLimit(-1, 1) }, "filters: RateLimit needs a positive rate, got -1"},
		{func() { filters.RateLimit(1, 0) }, "filters: RateLimit needs a burst of at least 1, got 0"},
		{func() { filters.WithRateLimitKey(nil) }, "filters: WithRateLimitKey needs a key function"},
		{func() { filters.WithRateLimitMaxKeys(0) }, "filters: WithRateLimitMaxKeys needs at least 1 key, got 0"},
	}
	for _, tt := range tests {
		assert.PanicsWithValue(t, tt.want, tt.f)
	}
}

// rateLimitClientIP keys requests by the caller's IP address.
func rateLimitClientIP(req typhon.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// TestRateLimitOverNetwork: a rejected request is answered 429 with a
// Retry-After header and never reaches the Service.
func TestRateLimitOverNetwork(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		arrivals := 0
		svc := typhon.Service(func(req typhon.Request) typhon.Response {
			arrivals++
			return req.Response(nil)
		}).Filter(filters.RateLimit(rate.Every(time.Hour), 2, filters.WithRateLimitKey(rateLimitClientIP)))
		srv := p.Listen(t, svc)
		for i := range 5 {
			rsp := typhon.NewRequest(t.Context(), "POST", srv.URL+"/", []byte("body")).SendVia(srv.Client).Response()
			_, _ = io.Copy(io.Discard, rsp.Body)
			rsp.Body.Close()
			if i < 2 {
				require.NoError(t, rsp.Error)
				continue
			}
			assert.Equal(t, http.StatusTooManyRequests, rsp.StatusCode)
			assert.Equal(t, typhon.CodeRateLimited, typhon.ErrorCode(rsp.Error))
			ra := rsp.Header.Get("Retry-After")
			assert.Contains(t, []string{"3600", "3599"}, ra, "Retry-After")
		}
		assert.Equal(t, 2, arrivals)
	})
}

func TestRateLimitAllocs(t *testing.T) {
	svc := benchOKService()
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	req.Header.Set("X-Tenant", "a")
	for name, f := range map[string]typhon.Filter{
		"global": filters.RateLimit(rate.Inf, 0),
		"keyed":  filters.RateLimit(rate.Inf, 0, filters.WithRateLimitKey(func(req typhon.Request) string { return req.Header.Get("X-Tenant") })),
		"finite": filters.RateLimit(1e12, 1e9),
	} {
		f(req, svc) // the key is known from now on
		assert.Zero(t, testing.AllocsPerRun(1000, func() { f(req, svc) }), name)
	}
}

func BenchmarkRateLimit(b *testing.B) {
	svc := benchOKService()
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	req.Header.Set("X-Tenant", "a")
	for _, tc := range []struct {
		name string
		f    typhon.Filter
	}{
		{"global", filters.RateLimit(1e12, 1e9)},
		{"keyed", filters.RateLimit(1e12, 1e9, filters.WithRateLimitKey(func(req typhon.Request) string { return req.Header.Get("X-Tenant") }))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rsp := tc.f(req, svc); rsp.Error != nil {
					b.Fatal(rsp.Error)
				}
			}
		})
	}
}
