package filters_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
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

// breakerStep is one call through the breaker, after waiting wait (fake
// time): answer is what the backend answers ("" for success); a step wants
// its call rejected (no backend call) or not, and the state after it.
type breakerStep struct {
	wait         time.Duration
	answer       string
	wantRejected bool
	wantState    filters.BreakerState
}

// breakerAny is a wantState that is not checked.
const breakerAny filters.BreakerState = -1

// breakerSteps is n calls answered answer, the last of which leaves the
// breaker in state final.
func breakerSteps(answer string, n int, final filters.BreakerState) []breakerStep {
	steps := make([]breakerStep, n)
	for i := range steps {
		steps[i] = breakerStep{answer: answer, wantState: breakerAny}
	}
	steps[n-1].wantState = final
	return steps
}

func breakerJoin(parts ...[]breakerStep) []breakerStep {
	var all []breakerStep
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func TestBreakerRules(t *testing.T) {
	t.Parallel()
	const (
		closed   = filters.BreakerClosed
		open     = filters.BreakerOpen
		halfOpen = filters.BreakerHalfOpen
		fail     = typhon.CodeInternalService
	)
	rejected := breakerStep{wantRejected: true, wantState: open}
	cases := []struct {
		name  string
		opts  []filters.BreakerOption
		steps []breakerStep
	}{
		{"five failures keep it closed", nil, breakerSteps(fail, 5, closed)},
		{"the sixth consecutive failure opens it", nil, breakerJoin(
			breakerSteps(fail, 5, closed), breakerSteps(fail, 1, open), []breakerStep{rejected, rejected})},
		{"a success resets the run", nil, breakerJoin(
			breakerSteps(fail, 5, closed), breakerSteps("", 1, closed), breakerSteps(fail, 5, closed))},
		{"client errors are not failures", nil, breakerJoin(
			breakerSteps(typhon.CodeNotFound, 10, closed), breakerSteps(fail, 5, closed),
			breakerSteps(typhon.CodeBadRequest, 1, closed), breakerSteps(typhon.CodeRateLimited, 1, closed),
			breakerSteps(fail, 5, closed))},
		{"canceled calls are not counted", nil, breakerJoin(
			breakerSteps(fail, 5, closed), breakerSteps(typhon.CodeCanceled, 3, closed), breakerSteps(fail, 1, open))},
		{"timeouts, bad gateways and unavailable are failures", nil, breakerJoin(
			breakerSteps(typhon.CodeTimeout, 2, closed), breakerSteps(typhon.CodeBadGateway, 2, closed),
			breakerSteps(typhon.CodeUnavailable, 2, open))},
		{"open for 60 s, then one probe closes it", nil, breakerJoin(
			breakerSteps(fail, 6, open),
			[]breakerStep{{wait: 59 * time.Second, wantRejected: true, wantState: open}},
			[]breakerStep{{wait: time.Second, answer: "", wantState: closed}},
			breakerSteps(fail, 5, closed))},
		{"a failed probe opens it again", nil, breakerJoin(
			breakerSteps(fail, 6, open),
			[]breakerStep{{wait: time.Minute, answer: fail, wantState: open}, rejected},
			[]breakerStep{{wait: time.Minute, answer: typhon.CodeNotFound, wantState: closed}})},
		{"a custom rule and open time", []filters.BreakerOption{
			filters.WithBreakerTrip(func(c filters.BreakerCounts) bool { return c.ConsecutiveFailures >= 2 }),
			filters.WithBreakerOpenFor(5 * time.Second),
		}, breakerJoin(
			breakerSteps(fail, 1, closed), breakerSteps(fail, 1, open), []breakerStep{rejected},
			[]breakerStep{{wait: 5 * time.Second, answer: "", wantState: closed}})},
		{"a rule on totals within an interval", []filters.BreakerOption{
			filters.WithBreakerTrip(func(c filters.BreakerCounts) bool { return c.Failures >= 3 }),
			filters.WithBreakerInterval(10 * time.Second),
		}, breakerJoin(
			breakerSteps(fail, 1, closed), breakerSteps("", 1, closed), breakerSteps(fail, 1, closed),
			[]breakerStep{{wait: 10 * time.Second, answer: fail, wantState: closed}},
			breakerSteps("", 1, closed), breakerSteps(fail, 1, closed), breakerSteps(fail, 1, open))},
		{"three probes must all succeed", []filters.BreakerOption{filters.WithBreakerProbes(3)}, breakerJoin(
			breakerSteps(fail, 6, open),
			[]breakerStep{{wait: time.Minute, answer: "", wantState: halfOpen}},
			breakerSteps("", 1, halfOpen), breakerSteps("", 1, closed))},
		{"a custom classifier", []filters.BreakerOption{filters.WithBreakerClassifier(func(err error) filters.BreakerOutcome {
			if typhon.IsCode(err, typhon.CodeNotFound) {
				return filters.BreakerFailure
			}
			return filters.BreakerClassify(err)
		})}, breakerSteps(typhon.CodeNotFound, 6, open)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := filters.NewBreaker(tc.opts...)
				backend := &scriptedBackend{}
				svc := typhon.Service(backend.serve).Filter(b.Filter())
				for i, st := range tc.steps {
					time.Sleep(st.wait)
					backend.set(st.answer)
					before := backend.calls.Load()
					rsp := svc(requestTo(t.Context(), "a"))
					closeBody(rsp)
					if st.wantRejected {
						assert.Equal(t, before, backend.calls.Load(), "step %d: a rejected call reached the backend", i)
						assert.ErrorIs(t, rsp.Error, filters.ErrCircuitOpen, "step %d", i)
						assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeUnavailable), "step %d: %v", i, rsp.Error)
						assert.True(t, typhon.NotProcessed(rsp.Error), "step %d: a rejection is never sent", i)
					} else {
						assert.Equal(t, before+1, backend.calls.Load(), "step %d: call not let through: %v", i, rsp.Error)
					}
					if st.wantState != breakerAny {
						state, _ := b.State("a")
						assert.Equal(t, st.wantState, state, "step %d", i)
					}
				}
			})
		})
	}
}

func TestBreakerRetryAfterIsTimeLeftOpen(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := filters.NewBreaker(filters.WithBreakerTrip(func(c filters.BreakerCounts) bool { return c.Failures > 0 }))
		done, err := b.Allow("h")
		require.NoError(t, err)
		done(typhon.NewError(typhon.CodeInternalService, "x"))
		start := time.Now()
		for _, at := range []time.Duration{0, 20 * time.Second, 59*time.Second + 500*time.Millisecond} {
			time.Sleep(at - time.Since(start))
			_, err := b.Allow("h")
			require.ErrorIs(t, err, filters.ErrCircuitOpen)
			d, ok := typhon.RetryAfter(err)
			require.True(t, ok)
			assert.Equal(t, time.Minute-at, d)
		}
		// Over the wire the Retry-After header is in whole seconds, rounded up.
		rsp := typhon.Service(func(typhon.Request) typhon.Response { t.Error("called"); return typhon.Response{} }).
			Filter(b.Filter())(requestTo(t.Context(), "h"))
		assert.ErrorIs(t, rsp.Error, filters.ErrCircuitOpen)
		assert.Equal(t, http.StatusServiceUnavailable, rsp.StatusCode)
	})
}

func TestBreakerHalfOpenAdmitsBoundedProbes(t *testing.T) {
	t.Parallel()
	for _, probes := range []int{1, 3} {
		t.Run(strconv.Itoa(probes), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := filters.NewBreaker(filters.WithBreakerProbes(probes))
				for range 6 {
					done, err := b.Allow("h")
					require.NoError(t, err)
					done(errors.New("boom"))
				}
				time.Sleep(time.Minute)
				release := make(chan struct{})
				var calls atomic.Int32
				svc := typhon.Service(func(req typhon.Request) typhon.Response {
					calls.Add(1)
					<-release
					return req.Response("ok")
				}).Filter(b.Filter())
				var wg sync.WaitGroup
				for range probes {
					wg.Go(func() {
						rsp := svc(requestTo(context.Background(), "h"))
						assert.NoError(t, rsp.Error)
						closeBody(rsp)
					})
				}
				synctest.Wait() // every probe is in the backend
				require.Equal(t, int32(probes), calls.Load())
				for range 3 {
					rsp := svc(requestTo(t.Context(), "h"))
					assert.ErrorIs(t, rsp.Error, filters.ErrCircuitOpen)
					d, _ := typhon.RetryAfter(rsp.Error)
					assert.Equal(t, time.Second, d)
				}
				assert.Equal(t, int32(probes), calls.Load(), "no call past the probes")
				state, counts := b.State("h")
				assert.Equal(t, filters.BreakerHalfOpen, state)
				assert.Equal(t, uint32(probes), counts.Requests)
				close(release)
				wg.Wait()
				state, _ = b.State("h")
				assert.Equal(t, filters.BreakerClosed, state)
			})
		})
	}
}

func TestBreakerIgnoredProbeFreesItsSlot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := filters.NewBreaker()
		for range 6 {
			done, _ := b.Allow("h")
			done(errors.New("boom"))
		}
		time.Sleep(time.Minute)
		done, err := b.Allow("h")
		require.NoError(t, err)
		_, err = b.Allow("h")
		require.ErrorIs(t, err, filters.ErrCircuitOpen, "the one probe is in flight")
		done(context.Canceled) // the caller went away: says nothing
		done, err = b.Allow("h")
		require.NoError(t, err, "a canceled probe gives its slot back")
		done(nil)
		state, _ := b.State("h")
		assert.Equal(t, filters.BreakerClosed, state)
	})
}

func TestBreakerStateChangeCallback(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		type change struct {
			key      string
			from, to filters.BreakerState
		}
		var changes []change
		b := filters.NewBreaker(filters.WithBreakerStateChange(func(key string, from, to filters.BreakerState) {
			changes = append(changes, change{key, from, to})
		}))
		fail := func(key string) {
			done, err := b.Allow(key)
			require.NoError(t, err)
			done(typhon.NewError(typhon.CodeBadGateway, "x"))
		}
		for range 6 {
			fail("a")
		}
		fail("b")
		time.Sleep(time.Minute)
		fail("a") // the probe fails: open again
		time.Sleep(time.Minute)
		done, err := b.Allow("a")
		require.NoError(t, err)
		done(nil)
		assert.Equal(t, []change{
			{"a", filters.BreakerClosed, filters.BreakerOpen},
			{"a", filters.BreakerOpen, filters.BreakerHalfOpen},
			{"a", filters.BreakerHalfOpen, filters.BreakerOpen},
			{"a", filters.BreakerOpen, filters.BreakerHalfOpen},
			{"a", filters.BreakerHalfOpen, filters.BreakerClosed},
		}, changes)
		assert.Equal(t, "half-open", filters.BreakerHalfOpen.String())
	})
}

func TestBreakerKeys(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := &scriptedBackend{}
		backend.set(typhon.CodeInternalService)
		b := filters.NewBreaker(filters.WithBreakerMaxKeys(2))
		svc := typhon.Service(backend.serve).Filter(b.Filter())
		for range 6 {
			closeBody(svc(requestTo(t.Context(), "a:1")))
		}
		rsp := svc(requestTo(t.Context(), "a:1"))
		assert.ErrorIs(t, rsp.Error, filters.ErrCircuitOpen, "a:1 is open")
		rsp = svc(requestTo(t.Context(), "b:1"))
		assert.NotErrorIs(t, rsp.Error, filters.ErrCircuitOpen, "b:1 has a breaker of its own")
		// Past two keys, the one used least recently is forgotten: b:1, once
		// a:1 has been used again.
		svc(requestTo(t.Context(), "a:1"))
		svc(requestTo(t.Context(), "c:1"))
		state, _ := b.State("a:1")
		assert.Equal(t, filters.BreakerOpen, state, "the open breaker in use is kept")
		state, counts := b.State("b:1")
		assert.Equal(t, filters.BreakerClosed, state)
		assert.Zero(t, counts.Requests, "b:1 was forgotten")
	})
}

func TestBreakerCustomKey(t *testing.T) {
	t.Parallel()
	b := filters.NewBreaker(filters.WithBreakerKey(func(req typhon.Request) string { return req.URL.Path }))
	backend := &scriptedBackend{}
	backend.set(typhon.CodeInternalService)
	svc := typhon.Service(backend.serve).Filter(b.Filter())
	for range 6 {
		svc(typhon.NewRequest(t.Context(), "GET", "http://h/a", nil))
	}
	assert.ErrorIs(t, svc(typhon.NewRequest(t.Context(), "GET", "http://h/a", nil)).Error, filters.ErrCircuitOpen)
	assert.NotErrorIs(t, svc(typhon.NewRequest(t.Context(), "GET", "http://h/b", nil)).Error, filters.ErrCircuitOpen)
	state, _ := b.State("/a")
	assert.Equal(t, filters.BreakerOpen, state)
}

func TestBreakerPanicCountsAsFailure(t *testing.T) {
	t.Parallel()
	b := filters.NewBreaker(filters.WithBreakerTrip(func(c filters.BreakerCounts) bool { return c.Failures > 0 }))
	svc := typhon.Service(func(typhon.Request) typhon.Response { panic("boom") }).Filter(b.Filter())
	assert.PanicsWithValue(t, "boom", func() { svc(requestTo(t.Context(), "h")) })
	state, _ := b.State("h")
	assert.Equal(t, filters.BreakerOpen, state)
}

func TestBreakerLateOutcomeOfOldGenerationIgnored(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := filters.NewBreaker()
		late, err := b.Allow("h") // a slow call, let through while closed
		require.NoError(t, err)
		for range 6 {
			done, _ := b.Allow("h")
			done(errors.New("boom"))
		}
		late(nil) // from before the breaker opened: not a success of the open state
		state, _ := b.State("h")
		assert.Equal(t, filters.BreakerOpen, state)
	})
}

func TestBreakerOptionsPanic(t *testing.T) {
	t.Parallel()
	panicsWithPrefix(t, map[string]func(){
		"key":        func() { filters.WithBreakerKey(nil) },
		"trip":       func() { filters.WithBreakerTrip(nil) },
		"open for":   func() { filters.WithBreakerOpenFor(0) },
		"probes":     func() { filters.WithBreakerProbes(0) },
		"interval":   func() { filters.WithBreakerInterval(-time.Second) },
		"classifier": func() { filters.WithBreakerClassifier(nil) },
		"callback":   func() { filters.WithBreakerStateChange(nil) },
		"max keys":   func() { filters.WithBreakerMaxKeys(0) },
	})
}

func TestBreakerOverNetwork(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		backend := &scriptedBackend{}
		backend.set(typhon.CodeInternalService)
		back := p.Listen(t, backend.serve)
		b := filters.NewBreaker()
		svc := back.Client.Filter(b.Filter())
		for range 6 {
			rsp := svc(typhon.NewRequest(t.Context(), http.MethodPost, back.URL+"/x", "payload"))
			require.True(t, typhon.IsCode(rsp.Error, typhon.CodeInternalService), "%v", rsp.Error)
			closeBody(rsp)
		}
		require.Equal(t, int32(6), backend.calls.Load())
		state, _ := b.State(back.Addr().String())
		require.Equal(t, filters.BreakerOpen, state)
		for range 100 {
			rsp := svc(typhon.NewRequest(t.Context(), http.MethodPost, back.URL+"/x", "payload"))
			require.ErrorIs(t, rsp.Error, filters.ErrCircuitOpen)
			require.Equal(t, http.StatusServiceUnavailable, rsp.StatusCode)
			closeBody(rsp)
		}
		assert.Equal(t, int32(6), backend.calls.Load(), "an open breaker lets no call through")

		// Behind a server, the rejection reaches the remote caller as 503
		// with a Retry-After of the time left open, rounded up.
		front := p.Listen(t, func(req typhon.Request) typhon.Response {
			return typhon.NewRequest(req.Context(), http.MethodGet, back.URL+"/x", nil).SendVia(svc).Response()
		})
		rsp := front.Client(typhon.NewRequest(t.Context(), http.MethodGet, front.URL+"/", nil))
		defer closeBody(rsp)
		assert.Equal(t, http.StatusServiceUnavailable, rsp.StatusCode)
		ra, err := strconv.Atoi(rsp.Header.Get("Retry-After"))
		require.NoError(t, err)
		assert.True(t, ra > 0 && ra <= 60, "Retry-After %d", ra)
		assert.True(t, typhon.NotProcessed(rsp.Error), "a shed call was not processed")
		assert.Equal(t, int32(6), backend.calls.Load())
	})
}

func BenchmarkBreaker(b *testing.B) {
	svc := benchOKService().Filter(filters.CircuitBreaker())
	req := requestTo(context.Background(), "backend:8080")
	b.ReportAllocs()
	for b.Loop() {
		svc(req)
	}
}

func BenchmarkBreakerAllow(b *testing.B) {
	br := filters.NewBreaker()
	b.ReportAllocs()
	for b.Loop() {
		done, _ := br.Allow("backend:8080")
		done(nil)
	}
}
