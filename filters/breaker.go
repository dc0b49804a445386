package filters

import (
	"errors"
	"math"
	"sync"
	"time"

	"github.com/typhon-go/typhon"
)

// Breaker defaults, github.com/sony/gobreaker's: see [NewBreaker].
const (
	DefaultBreakerOpenFor = 60 * time.Second // how long an open breaker rejects calls
	DefaultBreakerProbes  = 1                // calls let through at once when half-open

	// DefaultBreakerMaxKeys is how many keys (by default, target hosts) a
	// Breaker keeps state for: past it, the key used least recently is
	// forgotten, so a stream of unknown hosts cannot grow memory without
	// limit.
	DefaultBreakerMaxKeys = 1024
)

// ErrCircuitOpen is the cause of the unavailable error a [Breaker] answers
// when it rejects a call: errors.Is(rsp.Error, filters.ErrCircuitOpen) tells
// a local rejection, made without any call, from a remote unavailable.
var ErrCircuitOpen = errors.New("filters: circuit breaker open")

// BreakerState is the state of a [Breaker] for one key.
type BreakerState int

const (
	// BreakerClosed lets every call through and counts the outcomes.
	BreakerClosed BreakerState = iota
	// BreakerHalfOpen lets a bounded number of probe calls through: one
	// failure opens the breaker again, enough successes close it.
	BreakerHalfOpen
	// BreakerOpen rejects every call at once, until its time is up.
	BreakerOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

// BreakerOutcome is how a call's result counts for a [Breaker]: see
// [WithBreakerClassifier].
type BreakerOutcome int

const (
	// BreakerSuccess counts the call as a success.
	BreakerSuccess BreakerOutcome = iota
	// BreakerFailure counts the call as a failure.
	BreakerFailure
	// BreakerIgnore does not count the call at all: it says nothing about
	// the health of what was called (the caller went away, say).
	BreakerIgnore
)

// BreakerCounts are the numbers a [Breaker] keeps for one key since its
// state last changed (in the closed state, since the start of the current
// interval, see [WithBreakerInterval]). Requests counts the calls let
// through, including those whose outcome is not known yet.
type BreakerCounts struct {
	Requests             uint32
	Successes            uint32
	Failures             uint32
	Ignored              uint32
	ConsecutiveSuccesses uint32
	ConsecutiveFailures  uint32
}

// A BreakerOption configures [NewBreaker] and [CircuitBreaker].
type BreakerOption interface{ applyBreaker(*breakerConfig) }

type breakerOptionFunc func(*breakerConfig)

func (f breakerOptionFunc) applyBreaker(c *breakerConfig) { f(c) }

type breakerConfig struct {
	key      func(typhon.Request) string
	trip     func(BreakerCounts) bool
	classify func(error) BreakerOutcome
	onChange func(key string, from, to BreakerState)
	openFor  time.Duration
	interval time.Duration
	probes   uint32
	maxKeys  int
}

// WithBreakerKey sets how calls are grouped: one breaker state per key. The
// default is the request's target host, req.URL.Host ("" for a request
// without one, such as one a server received, so that a server-side breaker
// is one breaker for the whole Service).
func WithBreakerKey(key func(req typhon.Request) string) BreakerOption {
	if key == nil {
		panic("filters: WithBreakerKey needs a non-nil function")
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.key = key })
}

// WithBreakerTrip sets the failure rule: after each failure in the closed
// state, the breaker opens when trip returns true for its counts. The
// default opens after more than 5 consecutive failures. trip runs with the
// key's breaker locked: it must be quick and must not call the Breaker.
func WithBreakerTrip(trip func(BreakerCounts) bool) BreakerOption {
	if trip == nil {
		panic("filters: WithBreakerTrip needs a non-nil function")
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.trip = trip })
}

// WithBreakerOpenFor sets how long an open breaker rejects calls before it
// turns half-open (default [DefaultBreakerOpenFor], 60 s). It panics if d is
// not positive.
func WithBreakerOpenFor(d time.Duration) BreakerOption {
	if d <= 0 {
		panic("filters: WithBreakerOpenFor needs a positive duration, got " + d.String())
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.openFor = d })
}

// WithBreakerProbes sets how many calls a half-open breaker lets through at
// once, and how many consecutive successes among them close it (default
// [DefaultBreakerProbes], 1). It panics if n < 1.
func WithBreakerProbes(n int) BreakerOption {
	if n < 1 || int64(n) > math.MaxUint32 {
		panic("filters: WithBreakerProbes needs at least 1 probe")
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.probes = uint32(n) })
}

// WithBreakerInterval makes a closed breaker clear its counts every d, so
// that a rule on totals (say, failures over requests) looks at recent calls
// only. By default counts are cleared only when the state changes, which
// suits the default rule on consecutive failures. It panics if d is not
// positive.
func WithBreakerInterval(d time.Duration) BreakerOption {
	if d <= 0 {
		panic("filters: WithBreakerInterval needs a positive duration, got " + d.String())
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.interval = d })
}

// WithBreakerClassifier sets how a call's error counts. The default,
// [BreakerClassify], counts nil and client errors (4xx) as successes, calls
// the caller canceled as ignored, and every other error as a failure.
func WithBreakerClassifier(classify func(err error) BreakerOutcome) BreakerOption {
	if classify == nil {
		panic("filters: WithBreakerClassifier needs a non-nil function")
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.classify = classify })
}

// WithBreakerStateChange calls f whenever the breaker for a key changes
// state. The change from open to half-open happens on the first use of the
// key after its open time is up. f runs synchronously with that key's
// breaker locked: it must be quick and must not call the Breaker.
func WithBreakerStateChange(f func(key string, from, to BreakerState)) BreakerOption {
	if f == nil {
		panic("filters: WithBreakerStateChange needs a non-nil function")
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.onChange = f })
}

// WithBreakerMaxKeys bounds how many keys the breaker keeps state for
// (default [DefaultBreakerMaxKeys]); past it the key used least recently is
// forgotten, and starts closed when it is seen again. It panics if n < 1.
func WithBreakerMaxKeys(n int) BreakerOption {
	if n < 1 {
		panic("filters: WithBreakerMaxKeys needs at least 1 key")
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.maxKeys = n })
}

// BreakerClassify is the default classifier of a [Breaker]: nil is a
// success; an error whose code is canceled (the caller went away) is
// ignored, and so is a rejection made in this process, without calling
// anything, by a filter of this package inside the breaker (an
// [AdaptiveLimiter], a [Throttle], another [Breaker]); a client error (a 4xx
// status, see typhon.ErrorStatus) is a success, since the server answered;
// anything else (5xx, timeouts, transport errors, refused connections) is a
// failure.
func BreakerClassify(err error) BreakerOutcome {
	if err == nil {
		return BreakerSuccess
	}
	if typhon.IsCode(err, typhon.CodeCanceled) || rejectedLocally(err) {
		return BreakerIgnore
	}
	if s := typhon.ErrorStatus(err); s >= 400 && s < 500 {
		return BreakerSuccess
	}
	return BreakerFailure
}

// rejectedLocally reports whether err is a rejection made in this process by
// a filter of this package, which says nothing about what it would have
// called: such rejections must not feed another filter's statistics.
func rejectedLocally(err error) bool {
	return errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrThrottled) || errors.Is(err, ErrAdaptiveLimit)
}

// Breaker is a circuit breaker per key (by default, per target host), with
// the semantics and defaults of github.com/sony/gobreaker. A key's breaker
// starts closed and lets calls through; when the failure rule holds
// ([WithBreakerTrip]; by default, more than 5 consecutive failures) it opens
// and rejects every call at once for a while ([WithBreakerOpenFor]; 60 s);
// then it turns half-open and lets a bounded number of probe calls through
// ([WithBreakerProbes]; 1): a failed probe opens it again, as many
// consecutive successes as probes close it. Every change of state starts a
// new generation: outcomes of calls let through before it are not counted.
//
// The decision is [Breaker.Allow]; [Breaker.Filter] wraps it around a
// Service. A Breaker is safe for concurrent use; its zero value is not
// usable: make one with [NewBreaker].
type Breaker struct {
	cfg  breakerConfig
	keys *boundedKeys[*breakerEntry]
}

// breakerEntry is the state machine of one key.
type breakerEntry struct {
	key    string
	mu     sync.Mutex
	state  BreakerState
	gen    uint64
	counts BreakerCounts
	expiry time.Time // open: when it turns half-open; closed with an interval: when counts clear
}

// NewBreaker returns a Breaker with the options applied over gobreaker's
// defaults: opens after more than 5 consecutive failures, stays open 60 s,
// lets 1 probe through when half-open, classifies with [BreakerClassify],
// keys by target host, holds at most [DefaultBreakerMaxKeys] keys.
func NewBreaker(opts ...BreakerOption) *Breaker {
	cfg := breakerConfig{
		key:      targetHost,
		trip:     breakerDefaultTrip,
		classify: BreakerClassify,
		openFor:  DefaultBreakerOpenFor,
		probes:   DefaultBreakerProbes,
		maxKeys:  DefaultBreakerMaxKeys,
	}
	for _, o := range opts {
		o.applyBreaker(&cfg)
	}
	b := &Breaker{cfg: cfg}
	b.keys = newBoundedKeys(cfg.maxKeys, b.newEntry)
	return b
}

func targetHost(req typhon.Request) string {
	if req.Request == nil || req.URL == nil {
		return ""
	}
	return req.URL.Host
}

func breakerDefaultTrip(c BreakerCounts) bool { return c.ConsecutiveFailures > 5 }

func (b *Breaker) newEntry(key string) *breakerEntry {
	e := &breakerEntry{key: key}
	if b.cfg.interval > 0 {
		e.expiry = time.Now().Add(b.cfg.interval)
	}
	return e
}

// Allow decides whether a call to key may go ahead now. If it may, err is
// nil and the caller must call done exactly once with the call's error (nil
// for success), which the breaker classifies ([WithBreakerClassifier]); a
// half-open breaker holds the probe slot until then. If it may not, done is
// nil and err is an unavailable *typhon.Error whose cause is
// [ErrCircuitOpen], with a Retry-After of the time the breaker stays open
// (1 s when a half-open breaker's probes are all in flight).
func (b *Breaker) Allow(key string) (done func(err error), err error) {
	e := b.keys.get(key)
	gen, err := e.allow(&b.cfg)
	if err != nil {
		return nil, err
	}
	return func(err error) { e.report(&b.cfg, gen, b.cfg.classify(err)) }, nil
}

// State returns the state of key's breaker (closed for a key the Breaker
// does not know) and its counts.
func (b *Breaker) State(key string) (BreakerState, BreakerCounts) {
	e, ok := b.keys.peek(key)
	if !ok {
		return BreakerClosed, BreakerCounts{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advanceLocked(&b.cfg, time.Now())
	return e.state, e.counts
}

// Filter returns a Filter that asks the breaker before each call, keyed as
// [WithBreakerKey] says: a rejected call is answered at once with the
// unavailable error of [Breaker.Allow] and the Service is not called; an
// allowed call's Response error is classified as soon as the Service
// returns. A panic in the Service counts as a failure and goes on.
func (b *Breaker) Filter() typhon.Filter {
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		e := b.keys.get(b.cfg.key(req))
		gen, err := e.allow(&b.cfg)
		if err != nil {
			closeRequestBody(req)
			return typhon.ErrorResponse(req, err)
		}
		reported := false
		defer func() {
			if !reported {
				e.report(&b.cfg, gen, BreakerFailure)
			}
		}()
		rsp := svc(req)
		reported = true
		e.report(&b.cfg, gen, b.cfg.classify(rsp.Error))
		return rsp
	}
}

// CircuitBreaker returns the Filter of a new [Breaker]:
// NewBreaker(opts...).Filter(). With no options it uses gobreaker's
// defaults (see [NewBreaker]).
func CircuitBreaker(opts ...BreakerOption) typhon.Filter {
	return NewBreaker(opts...).Filter()
}

// needsClockLocked reports whether the entry's state depends on the time:
// reading the clock would be most of the cost of a call through a closed
// breaker.
func (e *breakerEntry) needsClockLocked() bool {
	return e.state != BreakerClosed || !e.expiry.IsZero()
}

// advanceLocked applies what the passing of time does: an open breaker whose
// time is up turns half-open; a closed one past its interval clears counts.
func (e *breakerEntry) advanceLocked(cfg *breakerConfig, now time.Time) {
	switch e.state {
	case BreakerOpen:
		if !now.Before(e.expiry) {
			e.setStateLocked(cfg, BreakerHalfOpen, now)
		}
	case BreakerClosed:
		if !e.expiry.IsZero() && !now.Before(e.expiry) {
			e.newGenerationLocked(cfg, now)
		}
	}
}

func (e *breakerEntry) allow(cfg *breakerConfig) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var now time.Time
	if e.needsClockLocked() {
		now = time.Now()
		e.advanceLocked(cfg, now)
	}
	switch {
	case e.state == BreakerOpen:
		return 0, breakerRejection("circuit breaker open", max(e.expiry.Sub(now), time.Millisecond))
	case e.state == BreakerHalfOpen && e.counts.Requests-e.counts.Ignored >= cfg.probes:
		return 0, breakerRejection("circuit breaker half-open: probes in flight", time.Second)
	}
	e.counts.Requests++
	return e.gen, nil
}

func breakerRejection(msg string, wait time.Duration) error {
	return typhon.NotProcessedError(ErrCircuitOpen, typhon.CodeUnavailable, msg).WithRetryAfter(wait)
}

// report counts the outcome of a call let through in generation gen.
func (e *breakerEntry) report(cfg *breakerConfig, gen uint64, o BreakerOutcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.needsClockLocked() {
		e.advanceLocked(cfg, time.Now())
	}
	if gen != e.gen {
		return // let through before the state last changed
	}
	c := &e.counts
	switch o {
	case BreakerSuccess:
		c.Successes++
		c.ConsecutiveSuccesses++
		c.ConsecutiveFailures = 0
		if e.state == BreakerHalfOpen && c.ConsecutiveSuccesses >= cfg.probes {
			e.setStateLocked(cfg, BreakerClosed, time.Now())
		}
	case BreakerFailure:
		c.Failures++
		c.ConsecutiveFailures++
		c.ConsecutiveSuccesses = 0
		switch e.state {
		case BreakerClosed:
			if cfg.trip(*c) {
				e.setStateLocked(cfg, BreakerOpen, time.Now())
			}
		case BreakerHalfOpen:
			e.setStateLocked(cfg, BreakerOpen, time.Now())
		}
	default:
		c.Ignored++
	}
}

func (e *breakerEntry) setStateLocked(cfg *breakerConfig, to BreakerState, now time.Time) {
	from := e.state
	if from == to {
		return
	}
	e.state = to
	e.newGenerationLocked(cfg, now)
	if cfg.onChange != nil {
		cfg.onChange(e.key, from, to)
	}
}

func (e *breakerEntry) newGenerationLocked(cfg *breakerConfig, now time.Time) {
	e.gen++
	e.counts = BreakerCounts{}
	switch e.state {
	case BreakerOpen:
		e.expiry = now.Add(cfg.openFor)
	case BreakerClosed:
		e.expiry = time.Time{}
		if cfg.interval > 0 {
			e.expiry = now.Add(cfg.interval)
		}
	default:
		e.expiry = time.Time{}
	}
}
