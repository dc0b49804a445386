package filters

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/typhon-go/typhon"
)

// ErrAdaptiveLimit is the cause of the unavailable error an
// [AdaptiveLimiter] answers when it sheds a call.
var ErrAdaptiveLimit = errors.New("filters: over the adaptive concurrency limit")

// adaptiveMinSamples is how many samples a window needs before it counts.
const adaptiveMinSamples = 10

// adaptiveLongWindows is the span, in windows, of the long-term RTT average
// (Gradient2's 600), and adaptiveWarmup how many windows it averages plainly
// before it turns exponential.
const (
	adaptiveLongWindows = 600
	adaptiveWarmup      = 10
	adaptiveSmoothing   = 0.2
)

// An AdaptiveOption configures [NewAdaptiveLimiter] and [AdaptiveLimit].
type AdaptiveOption interface{ applyAdaptive(*adaptiveConfig) }

type adaptiveOptionFunc func(*adaptiveConfig)

func (f adaptiveOptionFunc) applyAdaptive(c *adaptiveConfig) { f(c) }

type adaptiveConfig struct {
	initial, min, max int
	window            time.Duration
	tolerance         float64
	retryAfter        time.Duration
}

// WithAdaptiveLimits bounds the limit to [min, max] (default [5, 1000]). It
// panics unless 1 <= min <= max.
func WithAdaptiveLimits(min, max int) AdaptiveOption {
	if min < 1 || max < min {
		panic("filters: WithAdaptiveLimits needs 1 <= min <= max")
	}
	return adaptiveOptionFunc(func(c *adaptiveConfig) { c.min, c.max = min, max })
}

// WithAdaptiveInitialLimit sets the limit to start from (default 20,
// clamped to the bounds of [WithAdaptiveLimits]). It panics if n < 1.
func WithAdaptiveInitialLimit(n int) AdaptiveOption {
	if n < 1 {
		panic("filters: WithAdaptiveInitialLimit needs a positive limit")
	}
	return adaptiveOptionFunc(func(c *adaptiveConfig) { c.initial = n })
}

// WithAdaptiveWindow sets how long the limiter collects RTT samples before
// it reconsiders the limit (default 1 s; a window also waits for at least
// 10 samples). It panics if d is not positive.
func WithAdaptiveWindow(d time.Duration) AdaptiveOption {
	if d <= 0 {
		panic("filters: WithAdaptiveWindow needs a positive duration, got " + d.String())
	}
	return adaptiveOptionFunc(func(c *adaptiveConfig) { c.window = d })
}

// WithAdaptiveTolerance sets how much slower than the long-term average a
// window's average RTT may be before the limit shrinks (default 1.5: 50%
// slower). It panics if t < 1.
func WithAdaptiveTolerance(t float64) AdaptiveOption {
	if !(t >= 1) || math.IsInf(t, 1) {
		panic("filters: WithAdaptiveTolerance needs a finite tolerance >= 1")
	}
	return adaptiveOptionFunc(func(c *adaptiveConfig) { c.tolerance = t })
}

// WithAdaptiveRetryAfter sets the Retry-After of shed calls (default 1 s).
// It panics if d is not positive.
func WithAdaptiveRetryAfter(d time.Duration) AdaptiveOption {
	if d <= 0 {
		panic("filters: WithAdaptiveRetryAfter needs a positive duration, got " + d.String())
	}
	return adaptiveOptionFunc(func(c *adaptiveConfig) { c.retryAfter = d })
}

// AdaptiveLimiter is a concurrency limit that adapts to latency, in the
// spirit of Netflix concurrency-limits' Gradient2. It admits a call while
// fewer calls than the limit are in flight and sheds the rest at once. Each
// window (1 s and at least 10 calls) it compares the window's average RTT
// (admission to the end of the response body) with a long-term average
// (exponential, over 600 windows) and sets
//
//	gradient = clamp(tolerance × long / short, 0.5, 1)
//	limit    = 0.8 × limit + 0.2 × (gradient × limit + √limit)
//
// bounded to [min, max]: the limit grows by about √limit/5 per window while
// latency holds, and shrinks by up to 10% per window once it rises past the
// tolerance. What it does not copy from Gradient2's pitfalls:
//   - calls the caller canceled, and shed calls, are never samples (a shed
//     call's near-zero RTT would drag the average down);
//   - the limit does not move in a window where fewer than half of it were
//     in use (the service, not the limit, set the pace);
//   - the long-term average is not raised by a window in which calls were
//     shed, unless the limit is already at its minimum, so that sustained
//     overload cannot creep the baseline (and the limit) up; a genuine,
//     lasting change of latency is still learnt, from windows without
//     shedding;
//   - a long-term average more than twice the current one decays by 10% per
//     window, so the limit recovers quickly after a long overload.
//
// An AdaptiveLimiter is safe for concurrent use; make one with
// [NewAdaptiveLimiter].
type AdaptiveLimiter struct {
	cfg      adaptiveConfig
	shedErr  error
	inflight atomic.Int64
	limit    atomic.Int64 // the published limit: floor of limitF
	shed     atomic.Int64 // calls shed in the current window
	pool     sync.Pool    // *adaptiveCall

	mu          sync.Mutex
	limitF      float64
	long        float64 // long-term average RTT, ns
	windows     int     // windows seen, for the warm-up
	winStart    time.Time
	winSum      time.Duration
	winN        int
	winInflight int64 // most calls in flight at an admission in the window
}

// NewAdaptiveLimiter returns an AdaptiveLimiter starting at a limit of 20,
// bounded to [5, 1000], with 1 s windows, a tolerance of 1.5 and a
// Retry-After of 1 s on shed calls, each changed by the options.
func NewAdaptiveLimiter(opts ...AdaptiveOption) *AdaptiveLimiter {
	cfg := adaptiveConfig{initial: 20, min: 5, max: 1000, window: time.Second, tolerance: 1.5, retryAfter: time.Second}
	for _, o := range opts {
		o.applyAdaptive(&cfg)
	}
	l := &AdaptiveLimiter{cfg: cfg, winStart: time.Now()}
	l.limitF = float64(min(max(cfg.initial, cfg.min), cfg.max))
	l.limit.Store(int64(l.limitF))
	// *Error values are immutable once returned: one serves every shed call.
	l.shedErr = typhon.WrapError(ErrAdaptiveLimit, typhon.CodeUnavailable, "server overloaded: concurrency limit reached").
		WithRetryAfter(cfg.retryAfter)
	return l
}

// Limit returns the current concurrency limit.
func (l *AdaptiveLimiter) Limit() int { return int(l.limit.Load()) }

// Inflight returns how many admitted calls have not finished yet.
func (l *AdaptiveLimiter) Inflight() int { return int(l.inflight.Load()) }

// Allow admits a call or sheds it. If admitted, err is nil and the caller
// must call done exactly once when the call is over, with its error (nil
// for success): the time from Allow to done is the call's RTT, not counted
// if err's code is canceled. If shed, done is nil and err is an unavailable
// *typhon.Error with a Retry-After, whose cause is [ErrAdaptiveLimit].
func (l *AdaptiveLimiter) Allow() (done func(err error), err error) {
	n, ok := l.acquire()
	if !ok {
		return nil, l.shedErr
	}
	start := time.Now()
	return func(err error) {
		l.release(start, n, err != nil && (typhon.IsCode(err, typhon.CodeCanceled) || rejectedLocally(err)))
	}, nil
}

// Filter returns a Filter that admits each call through the limiter. A shed
// call is answered at once with unavailable and a Retry-After, before its
// body is read, and the Service is not called. An admitted call holds its
// slot until the Response body is read to EOF, fails or is closed (see
// typhon.OnBodyDone), so whoever gets the Response must close its body; a
// call that ends canceled (its context canceled, or an error with the code
// canceled), panics, or is rejected locally by a filter of this package
// inside the limiter is not a latency sample.
func (l *AdaptiveLimiter) Filter() typhon.Filter {
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		n, ok := l.acquire()
		if !ok {
			closeRequestBody(req)
			return typhon.ErrorResponse(req, l.shedErr)
		}
		c, _ := l.pool.Get().(*adaptiveCall)
		if c == nil {
			c = &adaptiveCall{l: l}
			c.fn = c.finish
		}
		c.start, c.ctx, c.inflight = time.Now(), req.Context(), n
		returned := false
		defer func() {
			if !returned { // a panic: free the slot, take no sample
				c.ignore = true
				c.finish()
			}
		}()
		rsp := svc(req)
		returned = true
		c.ignore = rsp.Error != nil && (typhon.IsCode(rsp.Error, typhon.CodeCanceled) || rejectedLocally(rsp.Error))
		return typhon.OnBodyDone(rsp, c.fn)
	}
}

// AdaptiveLimit returns the Filter of a new [AdaptiveLimiter]:
// NewAdaptiveLimiter(opts...).Filter(). Keep the limiter instead to read
// its limit.
func AdaptiveLimit(opts ...AdaptiveOption) typhon.Filter {
	return NewAdaptiveLimiter(opts...).Filter()
}

// adaptiveCall is the record of one admitted call, reused through a pool so
// that a call allocates nothing of its own.
type adaptiveCall struct {
	l        *AdaptiveLimiter
	fn       func() // c.finish, bound once
	start    time.Time
	ctx      context.Context
	inflight int64
	ignore   bool // not a sample: canceled, panicked or rejected locally
}

func (c *adaptiveCall) finish() {
	l := c.l
	ignore := c.ignore || errors.Is(c.ctx.Err(), context.Canceled)
	start, n := c.start, c.inflight
	c.ctx, c.ignore = nil, false
	l.pool.Put(c)
	l.release(start, n, ignore)
}

func (l *AdaptiveLimiter) acquire() (int64, bool) {
	n := l.inflight.Add(1)
	if n > l.limit.Load() {
		l.inflight.Add(-1)
		l.shed.Add(1)
		return 0, false
	}
	return n, true
}

// release frees a slot and, unless ignore, records the call's RTT.
func (l *AdaptiveLimiter) release(start time.Time, inflight int64, ignore bool) {
	l.inflight.Add(-1)
	if ignore {
		return
	}
	rtt := time.Since(start) // the monotonic clock alone: cheaper than time.Now
	now := start.Add(rtt)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.winSum += rtt
	l.winN++
	l.winInflight = max(l.winInflight, inflight)
	if l.winN >= adaptiveMinSamples && now.Sub(l.winStart) >= l.cfg.window {
		l.updateLocked(now)
	}
}

// updateLocked closes a window: it updates the long-term RTT and the limit.
func (l *AdaptiveLimiter) updateLocked(now time.Time) {
	short := max(float64(l.winSum)/float64(l.winN), 1)
	shed := l.shed.Swap(0) > 0
	inflight := l.winInflight
	l.winStart, l.winSum, l.winN, l.winInflight = now, 0, 0, 0

	l.windows++
	alpha := 2.0 / (adaptiveLongWindows + 1)
	if l.windows <= adaptiveWarmup {
		alpha = 1 / float64(l.windows)
	}
	next := l.long + alpha*(short-l.long)
	if l.long == 0 || next < l.long || !shed || l.limitF <= float64(l.cfg.min) {
		l.long = next
	}
	if l.long/short > 2 {
		l.long *= 0.9
	}
	if float64(inflight) < l.limitF/2 {
		return // the service, not the limit, set the pace
	}
	gradient := min(max(l.cfg.tolerance*l.long/short, 0.5), 1)
	limit := gradient*l.limitF + math.Sqrt(l.limitF)
	limit = (1-adaptiveSmoothing)*l.limitF + adaptiveSmoothing*limit
	l.limitF = min(max(limit, float64(l.cfg.min)), float64(l.cfg.max))
	l.limit.Store(int64(l.limitF))
}
