package filters

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/typhon-go/typhon"
)

// DefaultConcurrencyRetryAfter is how long a request shed by
// [ConcurrencyLimit] is told to wait before trying again, unless
// [WithConcurrencyRetryAfter] says otherwise.
const DefaultConcurrencyRetryAfter = time.Second

// A ConcurrencyOption configures [ConcurrencyLimit]:
// [WithConcurrencyRetryAfter].
type ConcurrencyOption interface{ applyConcurrency(*concurrencyConfig) }

type concurrencyOptionFunc func(*concurrencyConfig)

func (f concurrencyOptionFunc) applyConcurrency(c *concurrencyConfig) { f(c) }

type concurrencyConfig struct{ retryAfter time.Duration }

// WithConcurrencyRetryAfter sets how long a shed request is told to wait
// before trying again (the Retry-After header, whole seconds rounded up).
// The default is [DefaultConcurrencyRetryAfter]. It panics if d is not
// positive.
func WithConcurrencyRetryAfter(d time.Duration) ConcurrencyOption {
	if d <= 0 {
		panic("filters: WithConcurrencyRetryAfter needs a positive duration, got " + d.String())
	}
	return concurrencyOptionFunc(func(c *concurrencyConfig) { c.retryAfter = d })
}

// ConcurrencyLimit returns a Filter that lets at most n calls be in flight
// at once through it. A call over the limit is shed at once, without calling
// the Service and before its body is read (the body is closed), with an
// unavailable error that carries a Retry-After of
// [DefaultConcurrencyRetryAfter] (see [WithConcurrencyRetryAfter]):
// typhon.NotProcessed holds for it on the caller's
// side, so a client may safely retry it elsewhere.
//
// A call holds its slot until its Response body is read to EOF, fails or is
// closed (see typhon.OnBodyDone), not merely until the Service returns: a
// streamed response counts while it streams. Whoever gets the Response
// closes its body, as always; a body never closed holds its slot for good.
// A Service that panics gives its slot back.
//
// ConcurrencyLimit panics if n < 1. The Filter is safe for concurrent use; an
// admitted call allocates nothing but what typhon.OnBodyDone needs when the
// Response has a body: nothing for an in-memory body, one small wrapper for
// a streamed one.
func ConcurrencyLimit(n int, opts ...ConcurrencyOption) typhon.Filter {
	if n < 1 {
		panic("filters: ConcurrencyLimit needs a limit of at least 1, got " + strconv.Itoa(n))
	}
	c := concurrencyConfig{retryAfter: DefaultConcurrencyRetryAfter}
	for _, o := range opts {
		o.applyConcurrency(&c)
	}
	l := &concurrencyLimiter{max: int64(n)}
	release := l.release // made once: OnBodyDone keeps it
	// *typhon.Error values are immutable: one serves every shed call.
	shed := typhon.NewError(typhon.CodeUnavailable, "too many requests in flight").WithRetryAfter(c.retryAfter)
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		if !l.acquire() {
			closeRequestBody(req)
			return typhon.ErrorResponse(req, shed)
		}
		returned := false
		defer func() {
			if !returned { // svc panicked
				release()
			}
		}()
		rsp := svc(req)
		returned = true
		return typhon.OnBodyDone(rsp, release)
	}
}

// concurrencyLimiter counts the calls in flight.
type concurrencyLimiter struct {
	inFlight atomic.Int64
	max      int64
}

func (l *concurrencyLimiter) acquire() bool {
	for {
		v := l.inFlight.Load()
		if v >= l.max {
			return false
		}
		if l.inFlight.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

func (l *concurrencyLimiter) release() { l.inFlight.Add(-1) }
