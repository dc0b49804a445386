package filters

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/typhon-go/typhon"
)

// Throttle defaults, the Google SRE book's.
const (
	DefaultThrottleK      = 2.0             // accepts needed per request, see [NewThrottle]
	DefaultThrottleWindow = 2 * time.Minute // span of the counts

	// DefaultThrottleMaxKeys is how many keys (by default, target hosts) a
	// Throttle keeps counts for: past it, the key used least recently is
	// forgotten.
	DefaultThrottleMaxKeys = 1024
)

// ErrThrottled is the cause of the unavailable error a [Throttle] answers
// when it rejects a call locally.
var ErrThrottled = errors.New("filters: throttled locally: the backend is rejecting requests")

// throttleBuckets is how many buckets the sliding window is made of: the
// counts forget the oldest bucket, window/20, at a time.
const throttleBuckets = 20

// A ThrottleOption configures [NewThrottle] and [AdaptiveThrottle].
type ThrottleOption interface{ applyThrottle(*throttleConfig) }

type throttleOptionFunc func(*throttleConfig)

func (f throttleOptionFunc) applyThrottle(c *throttleConfig) { f(c) }

type throttleConfig struct {
	k        float64
	window   time.Duration
	key      func(typhon.Request) string
	maxKeys  int
	rand     func() float64
	rejected func(error) bool
}

// WithThrottleK sets K, how many times more requests than accepts the
// backend may see before the client rejects locally (default
// [DefaultThrottleK], 2; the SRE book suggests 1.1 to 2: lower rejects
// sooner). It panics unless k >= 1.
func WithThrottleK(k float64) ThrottleOption {
	if !(k >= 1) || math.IsInf(k, 1) {
		panic("filters: WithThrottleK needs a finite K >= 1")
	}
	return throttleOptionFunc(func(c *throttleConfig) { c.k = k })
}

// WithThrottleWindow sets the span of the sliding window of counts (default
// [DefaultThrottleWindow], 2 minutes). It panics if d is shorter than 20 ns.
func WithThrottleWindow(d time.Duration) ThrottleOption {
	if d < throttleBuckets {
		panic("filters: WithThrottleWindow needs a window of at least 20ns, got " + d.String())
	}
	return throttleOptionFunc(func(c *throttleConfig) { c.window = d })
}

// WithThrottleKey sets how calls are grouped: one window of counts per key.
// The default is the request's target host, req.URL.Host.
func WithThrottleKey(key func(req typhon.Request) string) ThrottleOption {
	if key == nil {
		panic("filters: WithThrottleKey needs a non-nil function")
	}
	return throttleOptionFunc(func(c *throttleConfig) { c.key = key })
}

// WithThrottleMaxKeys bounds how many keys the throttle keeps counts for
// (default [DefaultThrottleMaxKeys]); past it the key used least recently is
// forgotten. It panics if n < 1.
func WithThrottleMaxKeys(n int) ThrottleOption {
	if n < 1 {
		panic("filters: WithThrottleMaxKeys needs at least 1 key")
	}
	return throttleOptionFunc(func(c *throttleConfig) { c.maxKeys = n })
}

// WithThrottleRand sets the source of uniform random numbers in [0, 1) that
// decides each rejection (default math/rand/v2's Float64); it is called only
// when the probability of rejection is above zero, and must be safe for
// concurrent use if the throttle is. For tests.
func WithThrottleRand(f func() float64) ThrottleOption {
	if f == nil {
		panic("filters: WithThrottleRand needs a non-nil function")
	}
	return throttleOptionFunc(func(c *throttleConfig) { c.rand = f })
}

// WithThrottleRejected sets which errors say that the backend rejected the
// call for overload, rather than accepted it. The default,
// [ThrottleRejected], counts unavailable and rate_limited.
func WithThrottleRejected(rejected func(err error) bool) ThrottleOption {
	if rejected == nil {
		panic("filters: WithThrottleRejected needs a non-nil function")
	}
	return throttleOptionFunc(func(c *throttleConfig) { c.rejected = rejected })
}

// ThrottleRejected is the default test of a [Throttle] for an overload
// rejection: an error whose code is unavailable (503, which includes a
// refused connection) or rate_limited (429).
func ThrottleRejected(err error) bool {
	return typhon.IsCode(err, typhon.CodeUnavailable) || typhon.IsCode(err, typhon.CodeRateLimited)
}

// Throttle is client-side adaptive throttling, as the Google SRE book
// describes it ("Handling Overload"). Per key (by default, per target host)
// it counts over a sliding window (2 minutes) the requests the application
// made, including those it rejected locally, and the accepts: answers that
// were not overload rejections. It rejects a new call locally, without
// calling the backend, with probability
//
//	max(0, (requests − K × accepts) / (requests + 1))
//
// (K = 2 by default), so that a backend that rejects most of its traffic
// sees about K times the traffic it accepts instead of all of it, and load
// that would only be rejected is never sent. Calls the caller canceled, and
// calls rejected in this process by a filter of this package inside the
// throttle (a [Breaker], say), are not counted: they say nothing about the
// backend.
//
// The decision is [Throttle.Allow]; [Throttle.Filter] wraps it around a
// Service. A Throttle is safe for concurrent use; make one with
// [NewThrottle].
type Throttle struct {
	cfg   throttleConfig
	width int64 // of a bucket, ns
	keys  *boundedKeys[*throttleEntry]
	err   error
}

type throttleEntry struct {
	mu                sync.Mutex
	last              int64 // bucket number of the newest bucket
	buckets           [throttleBuckets]throttleBucket
	requests, accepts int64 // sums over the buckets
}

type throttleBucket struct{ requests, accepts int64 }

// NewThrottle returns a Throttle with K = 2 over a 2-minute window, keyed by
// target host, counting unavailable and rate_limited as rejections, each
// changed by the options.
func NewThrottle(opts ...ThrottleOption) *Throttle {
	cfg := throttleConfig{
		k:        DefaultThrottleK,
		window:   DefaultThrottleWindow,
		key:      targetHost,
		maxKeys:  DefaultThrottleMaxKeys,
		rand:     rand.Float64,
		rejected: ThrottleRejected,
	}
	for _, o := range opts {
		o.applyThrottle(&cfg)
	}
	return &Throttle{
		cfg:   cfg,
		width: int64(cfg.window / throttleBuckets),
		keys:  newBoundedKeys(cfg.maxKeys, func(string) *throttleEntry { return &throttleEntry{} }),
		// *Error values are immutable once returned: one serves every rejection.
		err: typhon.NotProcessedError(ErrThrottled, typhon.CodeUnavailable, "throttled locally: backend rejecting requests"),
	}
}

// AdaptiveThrottle returns the Filter of a new [Throttle]:
// NewThrottle(opts...).Filter().
func AdaptiveThrottle(opts ...ThrottleOption) typhon.Filter {
	return NewThrottle(opts...).Filter()
}

// Allow decides whether a call to key goes to the backend. If it does, err
// is nil and the caller must call done exactly once with the call's error
// (nil for success). If not, done is nil and err is an unavailable
// *typhon.Error whose cause is [ErrThrottled].
func (t *Throttle) Allow(key string) (done func(err error), err error) {
	e := t.keys.get(key)
	if !t.admit(e) {
		return nil, t.err
	}
	return func(err error) { t.record(e, err) }, nil
}

// RejectProbability returns the probability with which a call to key would
// be rejected now: 0 for a key the Throttle does not know.
func (t *Throttle) RejectProbability(key string) float64 {
	e, ok := t.keys.peek(key)
	if !ok {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advanceLocked(t.now())
	return e.probabilityLocked(t.cfg.k)
}

// Filter returns a Filter that asks the throttle before each call, keyed as
// [WithThrottleKey] says: a rejected call is answered at once with the
// unavailable error of [Throttle.Allow] and the Service is not called; an
// admitted call is counted when the Service returns, as an accept unless
// its error is an overload rejection ([WithThrottleRejected]).
func (t *Throttle) Filter() typhon.Filter {
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		e := t.keys.get(t.cfg.key(req))
		if !t.admit(e) {
			closeRequestBody(req)
			return typhon.ErrorResponse(req, t.err)
		}
		rsp := svc(req)
		t.record(e, rsp.Error)
		return rsp
	}
}

func (t *Throttle) now() int64 { return time.Now().UnixNano() / t.width }

// admit decides one call; a rejection counts as a request at once.
func (t *Throttle) admit(e *throttleEntry) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := t.now()
	e.advanceLocked(now)
	p := e.probabilityLocked(t.cfg.k)
	if p <= 0 || t.cfg.rand() >= p {
		return true
	}
	e.countLocked(now, false)
	return false
}

// record counts the outcome of an admitted call.
func (t *Throttle) record(e *throttleEntry, err error) {
	if typhon.IsCode(err, typhon.CodeCanceled) || rejectedLocally(err) {
		return
	}
	accepted := err == nil || !t.cfg.rejected(err)
	e.mu.Lock()
	defer e.mu.Unlock()
	// Into the newest bucket anyone has seen, which saves reading the clock
	// again: at worst, a call no other call overlapped leaves the window as
	// early as it started.
	e.countLocked(e.last, accepted)
}

func (e *throttleEntry) probabilityLocked(k float64) float64 {
	r, a := float64(e.requests), float64(e.accepts)
	return max(0, (r-k*a)/(r+1))
}

func (e *throttleEntry) countLocked(now int64, accepted bool) {
	b := &e.buckets[now%throttleBuckets]
	b.requests++
	e.requests++
	if accepted {
		b.accepts++
		e.accepts++
	}
}

// advanceLocked makes bucket now the newest, emptying the buckets that fell
// out of the window.
func (e *throttleEntry) advanceLocked(now int64) {
	if now <= e.last {
		return
	}
	if now-e.last >= throttleBuckets {
		e.buckets = [throttleBuckets]throttleBucket{}
		e.requests, e.accepts = 0, 0
	} else {
		for n := e.last + 1; n <= now; n++ {
			b := &e.buckets[n%throttleBuckets]
			e.requests -= b.requests
			e.accepts -= b.accepts
			*b = throttleBucket{}
		}
	}
	e.last = now
}
