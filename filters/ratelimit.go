package filters

import (
	"container/list"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/typhon-go/typhon"
)

// DefaultRateLimitMaxKeys is how many keys a per-key [RateLimit] tracks at
// most, unless [WithRateLimitMaxKeys] says otherwise.
const DefaultRateLimitMaxKeys = 10_000

// A RateLimitOption configures [RateLimit]: [WithRateLimitKey],
// [WithRateLimitMaxKeys].
type RateLimitOption interface{ applyRateLimit(*rateLimitConfig) }

type rateLimitOptionFunc func(*rateLimitConfig)

func (f rateLimitOptionFunc) applyRateLimit(c *rateLimitConfig) { f(c) }

type rateLimitConfig struct {
	key     func(typhon.Request) string
	maxKeys int
}

// WithRateLimitKey gives each key its own token bucket: key is called with
// each request and names the bucket it draws from (a client's IP address,
// an API key header, a tenant). Requests with the same key share a bucket;
// "" is a key like any other. key must be safe for concurrent use, and
// cheap: it runs on every request. WithRateLimitKey panics if key is nil.
func WithRateLimitKey(key func(req typhon.Request) string) RateLimitOption {
	if key == nil {
		panic("filters: WithRateLimitKey needs a key function")
	}
	return rateLimitOptionFunc(func(c *rateLimitConfig) { c.key = key })
}

// WithRateLimitMaxKeys bounds the number of keys a per-key limiter
// remembers (see [WithRateLimitKey]) to n, by default
// [DefaultRateLimitMaxKeys]: when a new key comes and n are known, the least
// recently used is forgotten, in constant time. A forgotten key that comes
// back starts with a full bucket, so n should exceed the number of keys
// active within the time a bucket takes to refill (burst / r). Each key
// costs about 200 bytes. WithRateLimitMaxKeys panics if n < 1.
func WithRateLimitMaxKeys(n int) RateLimitOption {
	if n < 1 {
		panic("filters: WithRateLimitMaxKeys needs at least 1 key, got " + strconv.Itoa(n))
	}
	return rateLimitOptionFunc(func(c *rateLimitConfig) { c.maxKeys = n })
}

// RateLimit returns a Filter that admits requests at rate r (events per
// second; rate.Every(d) for one per d) with bursts of up to burst, from a
// token bucket (golang.org/x/time/rate). A request that finds the bucket
// empty is answered at once, without calling the Service and before its
// body is read (the body is closed), with a rate_limited error (429) whose
// Retry-After is the time until the bucket holds a token again: the delay a
// reservation would get, worked out without reserving, so that rejected
// requests consume nothing.
//
// By default one bucket serves every request through the Filter; with
// [WithRateLimitKey], each key has its own, and at most
// [WithRateLimitMaxKeys] buckets are kept (least recently used first out).
//
// RateLimit panics if r is not positive (rate.Inf admits everything) or
// burst < 1 with a finite r. The Filter is safe for concurrent use; an
// admitted request allocates nothing, nor does one whose key is known.
func RateLimit(r rate.Limit, burst int, opts ...RateLimitOption) typhon.Filter {
	if !(r > 0) {
		panic("filters: RateLimit needs a positive rate, got " + strconv.FormatFloat(float64(r), 'g', -1, 64))
	}
	if burst < 1 && r != rate.Inf {
		panic("filters: RateLimit needs a burst of at least 1, got " + strconv.Itoa(burst))
	}
	c := rateLimitConfig{maxKeys: DefaultRateLimitMaxKeys}
	for _, o := range opts {
		o.applyRateLimit(&c)
	}
	var keys *rateLimitKeys
	var global *rate.Limiter
	if c.key != nil {
		keys = &rateLimitKeys{r: r, burst: burst, max: c.maxKeys, m: make(map[string]*list.Element)}
	} else {
		global = rate.NewLimiter(r, burst)
	}
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		lim := global
		if keys != nil {
			lim = keys.limiter(c.key(req))
		}
		if wait, ok := rateLimitAllow(lim, time.Now()); !ok {
			closeRequestBody(req)
			err := typhon.NewError(typhon.CodeRateLimited, "rate limit exceeded").WithRetryAfter(wait)
			return typhon.ErrorResponse(req, err)
		}
		return svc(req)
	}
}

// rateLimitAllow takes a token from lim if it has one; else it reports how
// long until it will.
func rateLimitAllow(lim *rate.Limiter, now time.Time) (wait time.Duration, ok bool) {
	if lim.AllowN(now, 1) {
		return 0, true
	}
	missing := 1 - lim.TokensAt(now)
	wait = time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
	return max(wait, time.Nanosecond), false
}

// rateLimitKeys is a bounded set of limiters by key, least recently used
// first out.
type rateLimitKeys struct {
	r     rate.Limit
	burst int
	max   int

	mu  sync.Mutex
	m   map[string]*list.Element // of *rateLimitEntry
	lru list.List                // most recently used at the front
}

type rateLimitEntry struct {
	key string
	lim *rate.Limiter
}

func (k *rateLimitKeys) limiter(key string) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.m[key]; ok {
		k.lru.MoveToFront(e)
		return e.Value.(*rateLimitEntry).lim
	}
	key = strings.Clone(key) // key may point into a larger string: keep only the key
	lim := rate.NewLimiter(k.r, k.burst)
	if k.lru.Len() >= k.max {
		e := k.lru.Back()
		ent := e.Value.(*rateLimitEntry)
		delete(k.m, ent.key)
		ent.key, ent.lim = key, lim
		k.lru.MoveToFront(e)
		k.m[key] = e
		return lim
	}
	k.m[key] = k.lru.PushFront(&rateLimitEntry{key: key, lim: lim})
	return lim
}

// len returns the number of keys known.
func (k *rateLimitKeys) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lru.Len()
}
