package filters

import (
	"github.com/typhon-go/typhon"
)

// DefaultServerConcurrency is the in-flight limit of [ServerStack]'s default
// admission filter: a safety valve that sheds only a real pile-up. Use
// [WithStackLimit] to set another, or [AdaptiveLimit].
const DefaultServerConcurrency = 1000

// A StackOption configures [ServerStack] or [ClientStack]. [WithLogger]
// is a StackOption too: it sets the logger of Recover and of Log.
type StackOption interface{ applyStack(*stackConfig) }

type stackConfig struct {
	trace   []TraceOption
	metrics []MetricsOption
	log     []LogOption
	logOn   bool
	limit   typhon.Filter
	retry   []RetryOption
	breaker []BreakerOption
	recover []RecoverOption
	reqID   []RequestIDOption
	// throttle is nil unless WithStackThrottle turned it on.
	throttle []ThrottleOption
}

type stackOptionFunc func(*stackConfig)

func (f stackOptionFunc) applyStack(c *stackConfig) { f(c) }

func (o LoggerOption) applyStack(c *stackConfig) {
	c.recover = append(c.recover, o)
	c.log = append(c.log, o)
}

// WithStackTracing passes opts (a tracer provider, a propagator) to the
// stack's [Trace].
func WithStackTracing(opts ...TraceOption) StackOption {
	return stackOptionFunc(func(c *stackConfig) { c.trace = append(c.trace, opts...) })
}

// WithStackRequestID passes opts (which responses echo the ID) to the
// stack's [RequestID].
func WithStackRequestID(opts ...RequestIDOption) StackOption {
	return stackOptionFunc(func(c *stackConfig) { c.reqID = append(c.reqID, opts...) })
}

// WithStackMetrics passes opts (a meter provider) to the stack's [Metrics].
func WithStackMetrics(opts ...MetricsOption) StackOption {
	return stackOptionFunc(func(c *stackConfig) { c.metrics = append(c.metrics, opts...) })
}

// WithStackLogging turns on access logs ([Log], with opts), which the
// stacks leave off by default: a line per request is a cost and a choice.
func WithStackLogging(opts ...LogOption) StackOption {
	return stackOptionFunc(func(c *stackConfig) { c.logOn = true; c.log = append(c.log, opts...) })
}

// WithStackLimit sets the admission filter of [ServerStack], in place of
// ConcurrencyLimit(DefaultServerConcurrency): [AdaptiveLimit], a
// [RateLimit], or nil for none.
func WithStackLimit(f typhon.Filter) StackOption {
	return stackOptionFunc(func(c *stackConfig) { c.limit = f })
}

// WithStackRetry passes opts to the [Retry] of [ClientStack].
func WithStackRetry(opts ...RetryOption) StackOption {
	return stackOptionFunc(func(c *stackConfig) { c.retry = append(c.retry, opts...) })
}

// WithStackBreaker passes opts to the [CircuitBreaker] of [ClientStack].
func WithStackBreaker(opts ...BreakerOption) StackOption {
	return stackOptionFunc(func(c *stackConfig) { c.breaker = append(c.breaker, opts...) })
}

// WithStackThrottle adds [AdaptiveThrottle] (with opts) to [ClientStack],
// inside the breaker. It is off by default: at low traffic its formula
// rejects half the retries that follow a single failure, which suits a
// client that sends a backend much of its traffic, and few others.
func WithStackThrottle(opts ...ThrottleOption) StackOption {
	return stackOptionFunc(func(c *stackConfig) { c.throttle = append(make([]ThrottleOption, 0, len(opts)), opts...) })
}

func newStackConfig(opts []StackOption) stackConfig {
	c := stackConfig{limit: ConcurrencyLimit(DefaultServerConcurrency)}
	for _, o := range opts {
		o.applyStack(&c)
	}
	return c
}

// ServerStack wraps svc, usually a Router's Service, in typhon's default
// server filters. From the outside in:
//
//  1. [RequestID]: the request's ID is in the context before anything logs
//     or traces, and is echoed on error answers ([WithStackRequestID] to
//     echo it on all).
//  2. [Trace]: the server span, named after the route once the Router has
//     matched it.
//  3. [Metrics]: duration, active requests and sizes, by route.
//  4. [Log], only with [WithStackLogging]: one access-log line per request.
//  5. [Recover]: a panic below becomes internal_service, which the filters
//     above record as the 500 it is.
//  6. The admission filter, ConcurrencyLimit(DefaultServerConcurrency)
//     unless [WithStackLimit] says otherwise: excess requests are shed with
//     unavailable and Retry-After before their body is read, and are still
//     traced, counted and logged above.
//
// Deadlines need no filter here: the server applies the caller's deadline
// (see typhon.WithMaxTimeout to cap it). With no tracer or meter provider
// set, Trace and Metrics cost a few nanoseconds and allocate nothing.
func ServerStack(svc typhon.Service, opts ...StackOption) typhon.Service {
	c := newStackConfig(opts)
	if c.limit != nil {
		svc = svc.Filter(c.limit)
	}
	svc = svc.Filter(Recover(c.recover...))
	if c.logOn {
		svc = svc.Filter(Log(c.log...))
	}
	return svc.Filter(Metrics(c.metrics...)).
		Filter(Trace(c.trace...)).
		Filter(NewRequestID(c.reqID...))
}

// ClientStack wraps svc, usually typhon.NewClient(...), in typhon's default
// client filters. From the outside in:
//
//  1. [Trace]: one client span per logical call, retries included.
//  2. [Metrics]: the call's duration and sizes, by target host.
//  3. [Log], only with [WithStackLogging].
//  4. [Recover]: a panic in a filter below becomes an error Response.
//  5. [Retry] with its defaults: up to 3 attempts for idempotent requests
//     (and for any request provably never sent), within a retry budget of
//     20% plus 10/s, so a failing backend sees at most ~1.2x the traffic.
//  6. [CircuitBreaker], per target host, inside Retry: each attempt asks
//     it, and an open breaker answers at once, unsent (its Retry-After is
//     longer than Retry waits, so the call fails fast).
//  7. [AdaptiveThrottle], only with [WithStackThrottle].
//
// The caller's deadline travels with every attempt (the client sends
// Typhon-Timeout-Ms); add [Timeout] or [Deadline] outside the stack for a
// bound of the client's own. A stack holds per-host state (breaker,
// throttle, budget): make one per client and reuse it.
func ClientStack(svc typhon.Service, opts ...StackOption) typhon.Service {
	c := newStackConfig(opts)
	if c.throttle != nil {
		svc = svc.Filter(AdaptiveThrottle(c.throttle...))
	}
	svc = svc.Filter(CircuitBreaker(c.breaker...)).
		Filter(Retry(c.retry...)).
		Filter(Recover(c.recover...))
	if c.logOn {
		svc = svc.Filter(Log(c.log...))
	}
	return svc.Filter(Metrics(c.metrics...)).
		Filter(Trace(c.trace...))
}
