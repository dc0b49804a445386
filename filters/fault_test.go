package filters_test

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

var errInjected = typhon.NewError(typhon.CodeUnavailable, "injected fault")

// draws returns a source of the given numbers, in order; the test fails if
// more are drawn.
func draws(t *testing.T, us ...float64) func() float64 {
	var i int
	return func() float64 {
		if i >= len(us) {
			t.Errorf("drew number %d, only %d expected", i+1, len(us))
			return 0.999
		}
		i++
		return us[i-1]
	}
}

// counted returns a Service that answers 200 "ok", and its call counter.
func counted() (typhon.Service, *atomic.Int32) {
	var n atomic.Int32
	return func(req typhon.Request) typhon.Response {
		n.Add(1)
		return req.Response("ok")
	}, &n
}

func newReq(ctx context.Context, path string) typhon.Request {
	return typhon.NewRequest(ctx, "GET", "http://svc"+path, nil)
}

func TestFaultNoOptionsAllocatesNothing(t *testing.T) {
	req := newReq(context.Background(), "/")
	want := typhon.NewResponse(req)
	svc := typhon.Service(func(typhon.Request) typhon.Response { return want })

	never := func() float64 { return 0.999 }
	for _, tc := range []struct {
		name string
		f    typhon.Filter
	}{
		{"no options", filters.Fault()},
		{"faults that do not fire", filters.Fault(
			filters.WithFaultError(0.5, errInjected),
			filters.WithFaultDelay(0.5, time.Hour),
			filters.WithFaultRand(never))},
		{"a request that does not match", filters.Fault(
			filters.WithFaultError(1, errInjected),
			filters.WithFaultMatch(func(typhon.Request) bool { return false }))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rsp := tc.f(req, svc)
			require.NoError(t, rsp.Error)
			require.Same(t, want.Response, rsp.Response, "passed through as it is")
			// The least of a few runs: goroutines other tests left behind
			// may allocate meanwhile, but not in every run.
			allocs := math.Inf(1)
			for range 3 {
				allocs = min(allocs, testing.AllocsPerRun(100, func() { _ = tc.f(req, svc) }))
			}
			assert.Zero(t, allocs)
		})
	}
}

func TestFaultErrorFraction(t *testing.T) {
	t.Parallel()
	ok, calls := counted()
	svc := ok.Filter(filters.Fault(
		filters.WithFaultError(0.1, errInjected),
		filters.WithFaultRand(draws(t, 0.05, 0.5, 0.0999, 0.1, 0.95)),
	))
	var got []string
	for range 5 {
		rsp := svc(newReq(t.Context(), "/"))
		got = append(got, typhon.ErrorCode(rsp.Error))
		if rsp.Error != nil {
			assert.Same(t, errInjected, rsp.Error, "the error as given")
		}
	}
	assert.Equal(t, []string{"unavailable", "", "unavailable", "", ""}, got)
	assert.Equal(t, int32(3), calls.Load(), "an injected error replaces the call")
}

func TestFaultSeveralErrors(t *testing.T) {
	t.Parallel()
	errA := typhon.NewError(typhon.CodeUnavailable, "A")
	errB := typhon.NewError(typhon.CodeInternalService, "B")
	ok, _ := counted()
	svc := ok.Filter(filters.Fault(
		filters.WithFaultError(0.1, errA),
		filters.WithFaultError(0.2, errB), // the next 0.2: from 0.1 to 0.3
		filters.WithFaultRand(draws(t, 0.05, 0.15, 0.29, 0.31, 0.99)),
	))
	var got []string
	for range 5 {
		rsp := svc(newReq(t.Context(), "/"))
		got = append(got, typhon.ErrorCode(rsp.Error))
	}
	assert.Equal(t, []string{"unavailable", "internal_service", "internal_service", "", ""}, got)
}

func TestFaultCertainOutcomesDrawNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		fraction float64
		wantCode string
	}{
		{"always", 1, typhon.CodeUnavailable},
		{"never", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, _ := counted()
			svc := ok.Filter(filters.Fault(
				filters.WithFaultError(tc.fraction, errInjected),
				filters.WithFaultDelay(0, time.Hour),
				filters.WithFaultRand(draws(t)), // any draw fails the test
			))
			for range 10 {
				assert.Equal(t, tc.wantCode, typhon.ErrorCode(svc(newReq(t.Context(), "/")).Error))
			}
		})
	}
}

func TestFaultOptionsPanic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative error fraction", func() { filters.WithFaultError(-0.1, errInjected) }},
		{"error fraction above 1", func() { filters.WithFaultError(1.5, errInjected) }},
		{"NaN error fraction", func() { filters.WithFaultError(math.NaN(), errInjected) }},
		{"nil error", func() { filters.WithFaultError(0.5, nil) }},
		{"delay fraction above 1", func() { filters.WithFaultDelay(2, time.Second) }},
		{"negative delay fraction", func() { filters.WithFaultDelay(-1, time.Second) }},
		{"negative delay", func() { filters.WithFaultDelay(0.5, -time.Second) }},
		{"error fractions above 1 in all", func() {
			filters.Fault(filters.WithFaultError(0.6, errInjected), filters.WithFaultError(0.6, errInjected))
		}},
		{"delay fractions above 1 in all", func() {
			filters.Fault(filters.WithFaultDelay(0.7, time.Second), filters.WithFaultDelay(0.4, time.Second))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				p := recover()
				require.NotNil(t, p, "no panic")
				msg, ok := p.(string)
				require.True(t, ok, "panic value %#v", p)
				assert.True(t, strings.HasPrefix(msg, "filters: "), msg)
			}()
			tc.f()
		})
	}
	// Fractions that add up to exactly 1, with rounding, are fine.
	assert.NotPanics(t, func() {
		filters.Fault(filters.WithFaultError(0.1, errInjected), filters.WithFaultError(0.2, errInjected),
			filters.WithFaultError(0.7, errInjected))
	})
}

func TestFaultDelay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ok, calls := counted()
		svc := ok.Filter(filters.Fault(
			filters.WithFaultDelay(0.5, 3*time.Second),
			filters.WithFaultRand(draws(t, 0.2, 0.7)),
		))
		for _, want := range []time.Duration{3 * time.Second, 0} {
			start := time.Now()
			rsp := svc(newReq(t.Context(), "/"))
			require.NoError(t, rsp.Error)
			assert.Equal(t, want, time.Since(start))
		}
		assert.Equal(t, int32(2), calls.Load())
	})
}

func TestFaultDelayHonoursContext(t *testing.T) {
	t.Parallel()
	cause := errors.New("the caller left")
	for _, tc := range []struct {
		name    string
		ctx     func(parent context.Context) (context.Context, func())
		want    time.Duration
		code    string
		wantErr []error
	}{
		{
			name: "deadline",
			ctx: func(parent context.Context) (context.Context, func()) {
				return context.WithTimeout(parent, time.Second)
			},
			want: time.Second, code: typhon.CodeTimeout, wantErr: []error{context.DeadlineExceeded},
		},
		{
			name: "canceled",
			ctx: func(parent context.Context) (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(parent)
				time.AfterFunc(500*time.Millisecond, func() { cancel(cause) })
				return ctx, func() { cancel(nil) }
			},
			want: 500 * time.Millisecond, code: typhon.CodeCanceled, wantErr: []error{context.Canceled, cause},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ok, calls := counted()
				svc := ok.Filter(filters.Fault(filters.WithFaultDelay(1, time.Hour)))
				ctx, cancel := tc.ctx(t.Context())
				defer cancel()

				start := time.Now()
				rsp := svc(newReq(ctx, "/"))
				assert.Equal(t, tc.want, time.Since(start), "answered when the context ended")
				assert.Equal(t, tc.code, typhon.ErrorCode(rsp.Error), "%v", rsp.Error)
				for _, want := range tc.wantErr {
					assert.ErrorIs(t, rsp.Error, want)
				}
				assert.Zero(t, calls.Load(), "the Service is not called")
			})
		})
	}
}

func TestFaultDelayThenError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ok, calls := counted()
		svc := ok.Filter(filters.Fault(
			filters.WithFaultError(0.5, errInjected),
			filters.WithFaultDelay(0.5, time.Second),
			// Per call: the delay's number, then the error's.
			filters.WithFaultRand(draws(t, 0.1, 0.1, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9)),
		))
		for _, want := range []struct {
			d    time.Duration
			code string
		}{
			{time.Second, typhon.CodeUnavailable},
			{time.Second, ""},
			{0, typhon.CodeUnavailable},
			{0, ""},
		} {
			start := time.Now()
			rsp := svc(newReq(t.Context(), "/"))
			assert.Equal(t, want.d, time.Since(start))
			assert.Equal(t, want.code, typhon.ErrorCode(rsp.Error))
		}
		assert.Equal(t, int32(2), calls.Load())
	})
}

func TestFaultMatch(t *testing.T) {
	t.Parallel()
	ok, calls := counted()
	svc := ok.Filter(filters.Fault(
		filters.WithFaultError(0.5, errInjected),
		filters.WithFaultMatch(func(req typhon.Request) bool { return strings.HasPrefix(req.URL.Path, "/chaos/") }),
		filters.WithFaultRand(draws(t, 0.1, 0.9)), // drawn for /chaos/ only
	))
	for _, tc := range []struct{ path, code string }{
		{"/orders", ""},
		{"/chaos/a", typhon.CodeUnavailable},
		{"/orders", ""},
		{"/chaos/b", ""},
	} {
		assert.Equal(t, tc.code, typhon.ErrorCode(svc(newReq(t.Context(), tc.path)).Error), tc.path)
	}
	assert.Equal(t, int32(3), calls.Load())
}

// TestFaultConcurrent shares one seeded *rand.Rand among many goroutines:
// Fault serialises the draws (checked by the race detector), so the number
// of faults is the same as when drawing in sequence.
func TestFaultConcurrent(t *testing.T) {
	t.Parallel()
	const (
		workers  = 16
		calls    = 100
		fraction = 0.3
	)
	want := 0
	seq := rand.New(rand.NewPCG(7, 11))
	for range workers * calls {
		if seq.Float64() < fraction {
			want++
		}
	}

	ok, _ := counted()
	svc := ok.Filter(filters.Fault(
		filters.WithFaultError(fraction, errInjected),
		filters.WithFaultRand(rand.New(rand.NewPCG(7, 11)).Float64),
	))
	var failed atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				if svc(newReq(context.Background(), "/")).Error != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(want), failed.Load())
}

// closeRecorder is a request body that records being closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestFaultClosesUnsentBody(t *testing.T) {
	t.Parallel()
	ok, _ := counted()
	svc := ok.Filter(filters.Fault(filters.WithFaultError(1, errInjected)))
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	rsp := svc(typhon.NewRequest(t.Context(), "POST", "http://svc/", body))
	require.Error(t, rsp.Error)
	assert.True(t, body.closed.Load(), "a request not sent has its body closed")

	// The zero Request is answered, not a panic.
	assert.NotPanics(t, func() { _ = filters.Fault(filters.WithFaultError(1, errInjected))(typhon.Request{}, ok) })
}
