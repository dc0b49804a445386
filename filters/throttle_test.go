package filters_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// throttleRand is a settable random source: it returns v.
type throttleRand struct {
	mu sync.Mutex
	v  float64
	n  int // draws
}

func (r *throttleRand) set(v float64) { r.mu.Lock(); r.v = v; r.mu.Unlock() }

func (r *throttleRand) draw() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return r.v
}

func (r *throttleRand) draws() int { r.mu.Lock(); defer r.mu.Unlock(); return r.n }

func throttleFormula(requests, accepts, k float64) float64 {
	return max(0, (requests-k*accepts)/(requests+1))
}

func TestThrottleProbabilityMatchesFormula(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name               string
		k                  float64
		accepted, rejected int // answers of the backend, in this order
	}{
		{"no traffic", 2, 0, 0},
		{"all accepted", 2, 100, 0},
		{"half rejected, K=2", 2, 50, 50},
		{"two thirds rejected, K=2", 2, 10, 20},
		{"three quarters rejected, K=2", 2, 25, 75},
		{"all rejected", 2, 0, 30},
		{"three quarters rejected, K=1.1", 1.1, 25, 75},
		{"half rejected, K=1", 1, 40, 40},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				// Two throttles with the same history, one drawing just below
				// the probability (rejects), one just above (admits).
				var below, above throttleRand
				below.set(1)
				above.set(1) // 1 is never below a probability: history builds without rejections
				backend := &scriptedBackend{}
				thBelow := filters.NewThrottle(filters.WithThrottleK(tc.k), filters.WithThrottleRand(below.draw))
				thAbove := filters.NewThrottle(filters.WithThrottleK(tc.k), filters.WithThrottleRand(above.draw))
				svcBelow := typhon.Service(backend.serve).Filter(thBelow.Filter())
				svcAbove := typhon.Service(backend.serve).Filter(thAbove.Filter())
				for _, step := range []struct {
					code string
					n    int
				}{{"", tc.accepted}, {typhon.CodeUnavailable, tc.rejected}} {
					backend.set(step.code)
					for range step.n {
						closeBody(svcBelow(requestTo(t.Context(), "h")))
						closeBody(svcAbove(requestTo(t.Context(), "h")))
					}
				}
				n := float64(tc.accepted + tc.rejected)
				p := throttleFormula(n, float64(tc.accepted), tc.k)
				assert.InDelta(t, p, thBelow.RejectProbability("h"), 1e-12)
				assert.InDelta(t, p, thAbove.RejectProbability("h"), 1e-12)

				calls := backend.calls.Load()
				below.set(p - 1e-9)
				above.set(p + 1e-9)
				rspBelow := svcBelow(requestTo(t.Context(), "h"))
				rspAbove := svcAbove(requestTo(t.Context(), "h"))
				closeBody(rspAbove)
				if p > 0 {
					require.ErrorIs(t, rspBelow.Error, filters.ErrThrottled)
					assert.True(t, typhon.NotProcessed(rspBelow.Error), "a local rejection is never sent")
					assert.True(t, typhon.IsCode(rspBelow.Error, typhon.CodeUnavailable))
					assert.Equal(t, calls+1, backend.calls.Load(), "only the admitted call reaches the backend")
					// A local rejection counts as a request, not an accept.
					assert.InDelta(t, throttleFormula(n+1, float64(tc.accepted), tc.k), thBelow.RejectProbability("h"), 1e-12)
				} else {
					assert.NotErrorIs(t, rspBelow.Error, filters.ErrThrottled)
					assert.Equal(t, calls+2, backend.calls.Load())
					closeBody(rspBelow)
					assert.Zero(t, below.draws(), "no draw while the probability is 0")
				}
				assert.NotErrorIs(t, rspAbove.Error, filters.ErrThrottled)
			})
		})
	}
}

func TestThrottleWhatCountsAsAccepted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code                string
		wantCounted, accept bool
	}{
		{"", true, true},
		{typhon.CodeNotFound, true, true},
		{typhon.CodeInternalService, true, true},
		{typhon.CodeTimeout, true, true},
		{typhon.CodeUnavailable, true, false},
		{typhon.CodeRateLimited, true, false},
		{typhon.CodeUnavailable + ".shed", true, false},
		{typhon.CodeCanceled, false, false},
	}
	for _, tc := range cases {
		t.Run("code "+tc.code, func(t *testing.T) {
			t.Parallel()
			backend := &scriptedBackend{}
			th := filters.NewThrottle(filters.WithThrottleK(1), filters.WithThrottleRand(func() float64 { return 1 }))
			svc := typhon.Service(backend.serve).Filter(th.Filter())
			// 10 rejections first, so that the probability shows the counts.
			backend.set(typhon.CodeUnavailable)
			for range 10 {
				closeBody(svc(requestTo(t.Context(), "h")))
			}
			backend.set(tc.code)
			closeBody(svc(requestTo(t.Context(), "h")))
			requests, accepts := 10.0, 0.0
			if tc.wantCounted {
				requests++
			}
			if tc.accept {
				accepts++
			}
			assert.InDelta(t, throttleFormula(requests, accepts, 1), th.RejectProbability("h"), 1e-12)
		})
	}
}

func TestThrottleWindowSlides(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		th := filters.NewThrottle(filters.WithThrottleRand(func() float64 { return 1 }))
		rejected := typhon.NewError(typhon.CodeUnavailable, "overloaded")
		for range 30 {
			done, err := th.Allow("h")
			require.NoError(t, err)
			done(rejected)
		}
		assert.InDelta(t, 30.0/31, th.RejectProbability("h"), 1e-12)
		time.Sleep(time.Minute)
		for range 10 {
			done, _ := th.Allow("h")
			done(rejected)
		}
		assert.InDelta(t, 40.0/41, th.RejectProbability("h"), 1e-12, "all within the 2-minute window")
		time.Sleep(time.Minute + 6*time.Second)
		assert.InDelta(t, 10.0/11, th.RejectProbability("h"), 1e-12, "the first 30 left the window")
		time.Sleep(time.Minute)
		assert.Zero(t, th.RejectProbability("h"), "all forgotten")
		time.Sleep(time.Hour)
		assert.Zero(t, th.RejectProbability("h"))
		done, err := th.Allow("h")
		require.NoError(t, err)
		done(nil)
		assert.Zero(t, th.RejectProbability("h"))
	})
}

func TestThrottleKeys(t *testing.T) {
	t.Parallel()
	th := filters.NewThrottle(filters.WithThrottleRand(func() float64 { return 0 }), filters.WithThrottleMaxKeys(2))
	backend := &scriptedBackend{}
	backend.set(typhon.CodeRateLimited)
	svc := typhon.Service(backend.serve).Filter(th.Filter())
	closeBody(svc(requestTo(t.Context(), "a:1")))
	assert.ErrorIs(t, svc(requestTo(t.Context(), "a:1")).Error, filters.ErrThrottled)
	assert.Equal(t, int32(1), backend.calls.Load())
	closeBody(svc(requestTo(t.Context(), "b:1")))
	assert.Equal(t, int32(2), backend.calls.Load(), "b:1 has counts of its own")
	assert.Equal(t, 0.5, th.RejectProbability("b:1"))
	closeBody(svc(requestTo(t.Context(), "c:1"))) // forgets a:1, used least recently
	assert.Zero(t, th.RejectProbability("a:1"))
	assert.Positive(t, th.RejectProbability("b:1"))
}

func TestThrottleCustomRejectedAndKey(t *testing.T) {
	t.Parallel()
	th := filters.NewThrottle(
		filters.WithThrottleRejected(func(err error) bool { return typhon.IsCode(err, typhon.CodeInternalService) }),
		filters.WithThrottleKey(func(typhon.Request) string { return "all" }),
		filters.WithThrottleWindow(time.Second), filters.WithThrottleRand(func() float64 { return 1 }))
	done, err := th.Allow("all")
	require.NoError(t, err)
	done(typhon.NewError(typhon.CodeUnavailable, "x")) // accepted under this rule
	assert.Zero(t, th.RejectProbability("all"))
	backend := &scriptedBackend{}
	backend.set(typhon.CodeInternalService)
	svc := typhon.Service(backend.serve).Filter(th.Filter())
	closeBody(svc(requestTo(t.Context(), "x")))
	closeBody(svc(requestTo(t.Context(), "y")))
	closeBody(svc(requestTo(t.Context(), "z")))
	assert.InDelta(t, throttleFormula(4, 1, 2), th.RejectProbability("all"), 1e-12)
}

func TestThrottleOptionsPanic(t *testing.T) {
	t.Parallel()
	panicsWithPrefix(t, map[string]func(){
		"k":        func() { filters.WithThrottleK(0.5) },
		"window":   func() { filters.WithThrottleWindow(0) },
		"key":      func() { filters.WithThrottleKey(nil) },
		"max keys": func() { filters.WithThrottleMaxKeys(0) },
		"rand":     func() { filters.WithThrottleRand(nil) },
		"rejected": func() { filters.WithThrottleRejected(nil) },
	})
}

func TestThrottleOverNetwork(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		var arrivals atomic.Int32
		srv := p.Listen(t, func(req typhon.Request) typhon.Response {
			arrivals.Add(1)
			return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeUnavailable, "overloaded").WithRetryAfter(time.Second))
		})
		r := rand.New(rand.NewPCG(1, 2)) // calls are sequential
		svc := srv.Client.Filter(filters.AdaptiveThrottle(filters.WithThrottleRand(r.Float64)))
		const calls = 1000
		for range calls {
			rsp := svc(typhon.NewRequest(t.Context(), http.MethodGet, srv.URL+"/", nil))
			require.True(t, typhon.IsCode(rsp.Error, typhon.CodeUnavailable))
			closeBody(rsp)
		}
		// With no accepts, the i-th call goes out with probability 1/i:
		// about ln(1000) + 0.58 = 7.5 arrivals are expected.
		assert.Less(t, arrivals.Load(), int32(30), "a rejecting backend sees a trickle")
		assert.Positive(t, arrivals.Load())
	})
}

func BenchmarkThrottle(b *testing.B) {
	svc := benchOKService().Filter(filters.AdaptiveThrottle())
	req := requestTo(context.Background(), "backend:8080")
	b.ReportAllocs()
	for b.Loop() {
		svc(req)
	}
}

// Local rejections by one of these filters do not feed another's counts:
// they say nothing about the backend (go-kratos/kratos#2777).
func TestThrottleAndBreakerIgnoreEachOthersRejections(t *testing.T) {
	t.Parallel()
	t.Run("breaker outside a throttle", func(t *testing.T) {
		t.Parallel()
		backend := &scriptedBackend{}
		backend.set(typhon.CodeUnavailable)
		b := filters.NewBreaker(filters.WithBreakerTrip(func(c filters.BreakerCounts) bool { return c.ConsecutiveFailures > 2 }))
		th := filters.NewThrottle(filters.WithThrottleRand(func() float64 { return 0 }))
		svc := typhon.Service(backend.serve).Filter(th.Filter()).Filter(b.Filter())
		closeBody(svc(requestTo(t.Context(), "h"))) // one real failure; the throttle now rejects
		for range 10 {
			assert.ErrorIs(t, svc(requestTo(t.Context(), "h")).Error, filters.ErrThrottled)
		}
		state, counts := b.State("h")
		assert.Equal(t, filters.BreakerClosed, state)
		assert.Equal(t, uint32(1), counts.Failures)
		assert.Equal(t, uint32(10), counts.Ignored)
	})
	t.Run("throttle outside a breaker", func(t *testing.T) {
		t.Parallel()
		backend := &scriptedBackend{}
		backend.set(typhon.CodeInternalService)
		b := filters.NewBreaker()
		th := filters.NewThrottle(filters.WithThrottleRand(func() float64 { return 1 }))
		svc := typhon.Service(backend.serve).Filter(b.Filter()).Filter(th.Filter())
		for range 6 {
			closeBody(svc(requestTo(t.Context(), "h"))) // accepted by the backend, failures for the breaker
		}
		for range 10 {
			assert.ErrorIs(t, svc(requestTo(t.Context(), "h")).Error, filters.ErrCircuitOpen)
		}
		assert.Zero(t, th.RejectProbability("h"), "6 requests, 6 accepts: the breaker's rejections are not counted")
	})
}
