package filters_test

import (
	"context"
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

// adaptiveBackend is an in-process Service that takes latency(inflight) of
// fake time to answer and counts its calls.
type adaptiveBackend struct {
	calls    atomic.Int64
	inflight atomic.Int64
	mu       sync.Mutex
	latency  func(inflight int64) time.Duration
}

func (s *adaptiveBackend) setLatency(f func(inflight int64) time.Duration) {
	s.mu.Lock()
	s.latency = f
	s.mu.Unlock()
}

func (s *adaptiveBackend) serve(req typhon.Request) typhon.Response {
	s.calls.Add(1)
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	s.mu.Lock()
	d := s.latency(n)
	s.mu.Unlock()
	select {
	case <-time.After(d):
		return req.Response("ok")
	case <-req.Context().Done():
		return typhon.ErrorResponse(req, req.Context().Err())
	}
}

func adaptiveConst(d time.Duration) func(int64) time.Duration {
	return func(int64) time.Duration { return d }
}

// adaptiveRound makes n concurrent calls through svc, each with a context
// from ctx(), and waits for them; it returns how many were shed.
func adaptiveRound(svc typhon.Service, n int, ctx func() context.Context) (shed int) {
	var wg sync.WaitGroup
	var sheds atomic.Int64
	for range n {
		req := typhon.NewRequest(ctx(), http.MethodGet, "http://h/", nil)
		wg.Go(func() {
			rsp := svc(req)
			if rsp.Error != nil && typhon.IsCode(rsp.Error, typhon.CodeUnavailable) {
				sheds.Add(1)
			}
			closeBody(rsp)
		})
	}
	wg.Wait()
	return int(sheds.Load())
}

func adaptiveBackground() context.Context { return context.Background() }

// adaptiveLoad makes rounds of calls, each round offering factor times the
// current limit, until d of fake time has passed.
func adaptiveLoad(l *filters.AdaptiveLimiter, svc typhon.Service, d time.Duration, factor int) (shed int) {
	end := time.Now().Add(d)
	for i := 0; i < 100_000 && time.Now().Before(end); i++ {
		shed += adaptiveRound(svc, factor*l.Limit(), adaptiveBackground)
	}
	return shed
}

func TestAdaptiveLimitGrowsWhileLatencyHolds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := &adaptiveBackend{latency: adaptiveConst(10 * time.Millisecond)}
		l := filters.NewAdaptiveLimiter(filters.WithAdaptiveWindow(100 * time.Millisecond))
		svc := typhon.Service(backend.serve).Filter(l.Filter())
		require.Equal(t, 20, l.Limit())
		prev := l.Limit()
		for range 30 { // 30 windows
			assert.Zero(t, adaptiveLoad(l, svc, 100*time.Millisecond, 1), "a load at the limit is not shed")
			assert.GreaterOrEqual(t, l.Limit(), prev, "the limit never shrinks while latency holds")
			prev = l.Limit()
		}
		assert.Greater(t, l.Limit(), 40, "about √limit/5 more per window")
		assert.Zero(t, l.Inflight())
	})
}

func TestAdaptiveLimitShrinksWhenLatencyRises(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := &adaptiveBackend{latency: adaptiveConst(10 * time.Millisecond)}
		l := filters.NewAdaptiveLimiter(filters.WithAdaptiveWindow(100*time.Millisecond),
			filters.WithAdaptiveLimits(10, 1000))
		svc := typhon.Service(backend.serve).Filter(l.Filter())
		adaptiveLoad(l, svc, 2*time.Second, 1)
		before := l.Limit()
		backend.setLatency(adaptiveConst(13 * time.Millisecond)) // within the tolerance of 1.5
		adaptiveLoad(l, svc, time.Second, 1)
		require.GreaterOrEqual(t, l.Limit(), before, "latency within the tolerance does not shrink the limit")
		before = l.Limit()
		backend.setLatency(adaptiveConst(40 * time.Millisecond))
		adaptiveLoad(l, svc, 200*time.Millisecond, 1) // the window that straddles the change
		prev := l.Limit()
		for range 20 {
			adaptiveLoad(l, svc, 100*time.Millisecond, 1)
			assert.LessOrEqual(t, l.Limit(), prev)
			prev = l.Limit()
		}
		assert.Less(t, l.Limit(), before/2, "from %d", before)
		adaptiveLoad(l, svc, 4*time.Second, 1)
		assert.Equal(t, 10, l.Limit(), "bounded below by the minimum")
	})
}

func TestAdaptiveLimitIgnoresCancellations(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := &adaptiveBackend{latency: adaptiveConst(10 * time.Millisecond)}
		l := filters.NewAdaptiveLimiter(filters.WithAdaptiveWindow(100 * time.Millisecond))
		svc := typhon.Service(backend.serve).Filter(l.Filter())
		adaptiveLoad(l, svc, time.Second, 1)
		before := l.Limit()
		// Callers that give up after 200 ms on calls that would take a
		// second: slow, but the slowness is not measured.
		backend.setLatency(adaptiveConst(time.Second))
		var cancels []context.CancelFunc
		canceling := func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			cancels = append(cancels, cancel)
			return ctx
		}
		for range 20 {
			adaptiveRound(svc, l.Limit(), canceling)
		}
		for _, c := range cancels {
			c()
		}
		assert.Equal(t, before, l.Limit())
		assert.Zero(t, l.Inflight(), "canceled calls give their slots back")
	})
}

func TestAdaptiveLimitIdleServiceKeepsItsLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := &adaptiveBackend{latency: adaptiveConst(10 * time.Millisecond)}
		l := filters.NewAdaptiveLimiter(filters.WithAdaptiveWindow(100 * time.Millisecond))
		svc := typhon.Service(backend.serve).Filter(l.Filter())
		for range 500 { // one caller at a time: fewer than half the limit in use
			adaptiveRound(svc, 1, adaptiveBackground)
		}
		assert.Equal(t, 20, l.Limit())
		backend.setLatency(adaptiveConst(100 * time.Millisecond))
		for range 50 {
			adaptiveRound(svc, 1, adaptiveBackground)
		}
		assert.Equal(t, 20, l.Limit(), "latency the limit did not cause does not move it")
	})
}

func TestAdaptiveLimitSustainedOverloadDoesNotCreep(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// A backend with 10 workers: calls past 10 queue, and latency grows
		// with the calls in flight.
		backend := &adaptiveBackend{latency: func(n int64) time.Duration {
			return 10 * time.Millisecond * time.Duration(max(n, 10)) / 10
		}}
		l := filters.NewAdaptiveLimiter(filters.WithAdaptiveWindow(50 * time.Millisecond))
		svc := typhon.Service(backend.serve).Filter(l.Filter())
		for range 200 { // light load: the baseline is learnt, the limit stays
			adaptiveRound(svc, 8, adaptiveBackground)
		}
		require.Equal(t, 20, l.Limit())
		// 600 windows at 3x the limit: with the long-term average following
		// the loaded latency, as in plain Gradient2, the limit would creep up
		// towards its maximum.
		shed := adaptiveLoad(l, svc, 30*time.Second, 3)
		assert.Positive(t, shed)
		assert.Less(t, l.Limit(), 50, "the limit stays near the backend's capacity")
		assert.Greater(t, l.Limit(), 10)
	})
}

func TestAdaptiveLimitSheds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := filters.NewAdaptiveLimiter(filters.WithAdaptiveLimits(2, 2), filters.WithAdaptiveRetryAfter(3*time.Second))
		release := make(chan struct{})
		var calls atomic.Int32
		svc := typhon.Service(func(req typhon.Request) typhon.Response {
			calls.Add(1)
			<-release
			return req.Response("streamed")
		}).Filter(l.Filter())
		rsps := make(chan typhon.Response, 2)
		for range 2 {
			go func() { rsps <- svc(typhon.NewRequest(context.Background(), http.MethodGet, "http://h/", nil)) }()
		}
		synctest.Wait()
		require.Equal(t, 2, l.Inflight())
		body := &adaptiveBody{}
		rsp := svc(typhon.NewRequest(t.Context(), http.MethodPost, "http://h/", body))
		require.ErrorIs(t, rsp.Error, filters.ErrAdaptiveLimit)
		assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeUnavailable))
		assert.Equal(t, http.StatusServiceUnavailable, rsp.StatusCode)
		d, ok := typhon.RetryAfter(rsp.Error)
		assert.True(t, ok)
		assert.Equal(t, 3*time.Second, d)
		assert.Equal(t, int32(2), calls.Load(), "a shed call does not reach the Service")
		assert.True(t, body.closed.Load(), "the shed request's body is closed unread")
		assert.Zero(t, body.read.Load())

		close(release)
		first, second := <-rsps, <-rsps
		require.NoError(t, first.Error)
		assert.Equal(t, 2, l.Inflight(), "a slot is held until the body is done")
		rsp = svc(typhon.NewRequest(t.Context(), http.MethodGet, "http://h/", nil))
		assert.ErrorIs(t, rsp.Error, filters.ErrAdaptiveLimit)
		first.Body.Close()
		assert.Equal(t, 1, l.Inflight())
		var s string
		require.NoError(t, second.Decode(&s)) // reads to EOF
		assert.Zero(t, l.Inflight())
		rsp = svc(typhon.NewRequest(t.Context(), http.MethodGet, "http://h/", nil))
		assert.NoError(t, rsp.Error)
		rsp.Body.Close()
		assert.Equal(t, int32(3), calls.Load())
	})
}

// adaptiveBody is a request body that records reads and Close.
type adaptiveBody struct {
	read   atomic.Int32
	closed atomic.Bool
}

func (b *adaptiveBody) Read([]byte) (int, error) { b.read.Add(1); return 0, context.Canceled }
func (b *adaptiveBody) Close() error             { b.closed.Store(true); return nil }

func TestAdaptiveLimitPanicFreesSlot(t *testing.T) {
	t.Parallel()
	l := filters.NewAdaptiveLimiter(filters.WithAdaptiveLimits(1, 1))
	svc := typhon.Service(func(typhon.Request) typhon.Response { panic("boom") }).Filter(l.Filter())
	assert.PanicsWithValue(t, "boom", func() { svc(typhon.NewRequest(t.Context(), "GET", "http://h/", nil)) })
	assert.Zero(t, l.Inflight())
}

func TestAdaptiveLimiterAllow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := filters.NewAdaptiveLimiter(filters.WithAdaptiveLimits(1, 3), filters.WithAdaptiveInitialLimit(50),
			filters.WithAdaptiveWindow(time.Second))
		require.Equal(t, 3, l.Limit(), "the initial limit is clamped to the bounds")
		var dones []func(error)
		for range 3 {
			done, err := l.Allow()
			require.NoError(t, err)
			dones = append(dones, done)
		}
		_, err := l.Allow()
		require.ErrorIs(t, err, filters.ErrAdaptiveLimit)
		d, _ := typhon.RetryAfter(err)
		assert.Equal(t, time.Second, d)
		for _, done := range dones {
			done(nil)
		}
		assert.Zero(t, l.Inflight())
		// Windows of slow calls at the limit, reported canceled, are not
		// measured: the limit stays.
		for range 12 {
			for range 10 {
				var dones []func(error)
				for range l.Limit() {
					done, err := l.Allow()
					require.NoError(t, err)
					dones = append(dones, done)
				}
				time.Sleep(100 * time.Millisecond)
				for _, done := range dones {
					done(typhon.NewError(typhon.CodeCanceled, "gone"))
				}
			}
		}
		assert.Equal(t, 3, l.Limit())
	})
}

func TestAdaptiveLimitOptionsPanic(t *testing.T) {
	t.Parallel()
	panicsWithPrefix(t, map[string]func(){
		"limits below 1":      func() { filters.WithAdaptiveLimits(0, 10) },
		"limits out of order": func() { filters.WithAdaptiveLimits(10, 5) },
		"initial":             func() { filters.WithAdaptiveInitialLimit(0) },
		"window":              func() { filters.WithAdaptiveWindow(0) },
		"tolerance":           func() { filters.WithAdaptiveTolerance(0.5) },
		"retry after":         func() { filters.WithAdaptiveRetryAfter(-1) },
	})
}

func TestAdaptiveLimitOverNetwork(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		release := make(chan struct{})
		arrived := make(chan struct{}, 2)
		var calls atomic.Int32
		l := filters.NewAdaptiveLimiter(filters.WithAdaptiveLimits(2, 2))
		srv := p.Listen(t, typhon.Service(func(req typhon.Request) typhon.Response {
			calls.Add(1)
			arrived <- struct{}{}
			<-release
			return req.Response("ok")
		}).Filter(l.Filter()))
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				rsp := srv.Client(typhon.NewRequest(t.Context(), http.MethodGet, srv.URL+"/", nil))
				assert.NoError(t, rsp.Error)
				closeBody(rsp)
			})
		}
		<-arrived
		<-arrived
		for i := range 5 {
			rsp := srv.Client(typhon.NewRequest(t.Context(), http.MethodPost, srv.URL+"/"+strconv.Itoa(i), "body"))
			assert.Equal(t, http.StatusServiceUnavailable, rsp.StatusCode)
			assert.Equal(t, "1", rsp.Header.Get("Retry-After"))
			assert.True(t, typhon.NotProcessed(rsp.Error), "%v", rsp.Error)
			closeBody(rsp)
		}
		close(release)
		wg.Wait()
		assert.Equal(t, int32(2), calls.Load())
	})
}

func BenchmarkAdaptiveLimit(b *testing.B) {
	svc := benchOKService().Filter(filters.AdaptiveLimit())
	req := typhon.NewRequest(context.Background(), http.MethodGet, "http://backend:8080/", nil)
	b.ReportAllocs()
	for b.Loop() {
		svc(req)
	}
}

func TestAdaptiveLimitIgnoresLocalRejections(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := &adaptiveBackend{latency: adaptiveConst(10 * time.Millisecond)}
		l := filters.NewAdaptiveLimiter(filters.WithAdaptiveWindow(100 * time.Millisecond))
		open := filters.NewBreaker(filters.WithBreakerTrip(func(filters.BreakerCounts) bool { return true }))
		done, _ := open.Allow("h")
		done(typhon.NewError(typhon.CodeInternalService, "x")) // open for a minute
		svc := typhon.Service(backend.serve).Filter(l.Filter())
		adaptiveLoad(l, svc, time.Second, 1)
		before := l.Limit()
		// Instant local rejections inside the limiter, at its limit: as
		// samples they would make the latency look better than it is.
		rejecting := typhon.Service(backend.serve).Filter(open.Filter()).Filter(l.Filter())
		for range 1000 {
			adaptiveRound(rejecting, l.Limit(), adaptiveBackground)
			time.Sleep(time.Millisecond)
		}
		assert.Equal(t, before, l.Limit())
	})
}
