package filters

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/typhon-go/typhon"
)

// The defaults of [Retry].
const (
	retryDefaultAttempts      = 3
	retryDefaultBase          = 25 * time.Millisecond
	retryDefaultMax           = 250 * time.Millisecond
	retryDefaultMaxBuffered   = 64 << 10
	retryDefaultMaxRetryAfter = 10 * time.Second
)

// A RetryOption configures [Retry]. The options of other filters are not
// RetryOptions, except [WithRetryBudget], which is one of both Retry and
// [Hedge].
type RetryOption interface{ applyRetry(*retryConfig) }

type retryOptionFunc func(*retryConfig)

func (f retryOptionFunc) applyRetry(c *retryConfig) { f(c) }

type retryConfig struct {
	maxAttempts   int
	base, max     time.Duration
	budget        *RetryBudget
	sharedBudget  bool // budget came from WithRetryBudget
	perAttempt    time.Duration
	retryIf       func(req typhon.Request, rsp typhon.Response) bool
	maxBuffered   int
	maxRetryAfter time.Duration
}

// WithMaxAttempts sets how many attempts [Retry] makes in all, the first
// included: 1 turns retrying off. The default is 3. It panics if n < 1.
func WithMaxAttempts(n int) RetryOption {
	if n < 1 {
		panic("filters: WithMaxAttempts needs at least 1 attempt, got " + strconv.Itoa(n))
	}
	return retryOptionFunc(func(c *retryConfig) { c.maxAttempts = n })
}

// WithBackoff sets the wait before each retry: base before the first,
// doubling for each one after it up to max, of which a random amount up to
// half is taken off (equal jitter), so that callers that failed together do
// not retry together. The defaults are 25 ms and 250 ms; WithBackoff(0, 0)
// retries at once. It panics if base is negative or max is below base.
func WithBackoff(base, max time.Duration) RetryOption {
	if base < 0 || max < base {
		panic("filters: WithBackoff needs 0 <= base <= max, got " + base.String() + " and " + max.String())
	}
	return retryOptionFunc(func(c *retryConfig) { c.base, c.max = base, max })
}

// WithPerAttemptTimeout bounds each attempt to d, apart from the caller's
// deadline, which bounds them all: an attempt that times out is retried
// (an idempotent one) while the caller's deadline allows. The attempt's
// context is cancelled when its Response body is done (see
// typhon.OnBodyDone). The default, 0, is no per-attempt bound. It panics if
// d is negative.
func WithPerAttemptTimeout(d time.Duration) RetryOption {
	if d < 0 {
		panic("filters: WithPerAttemptTimeout needs a duration >= 0, got " + d.String())
	}
	return retryOptionFunc(func(c *retryConfig) { c.perAttempt = d })
}

// WithRetryIf replaces the rule that decides whether an attempt's Response
// may be retried, [IsRetryable] by default. f is called with the Request
// the filter was given and each attempt's Response, successes included, and
// must be safe for concurrent use. Whatever f says, a call is not retried
// once the caller's context is done, past its attempts, budget or deadline,
// or when its body cannot be replayed. It panics if f is nil.
func WithRetryIf(f func(req typhon.Request, rsp typhon.Response) bool) RetryOption {
	if f == nil {
		panic("filters: WithRetryIf needs a function, got nil")
	}
	return retryOptionFunc(func(c *retryConfig) { c.retryIf = f })
}

// WithMaxBufferedBody sets how much of a streamed request body (one without
// GetBody) [Retry] keeps to send it again: a body that attempts read past n
// bytes is passed on, and the call is not retried. The default is 64 KiB; 0
// keeps nothing, so only a body that no attempt read is sent again. It
// panics if n is negative.
func WithMaxBufferedBody(n int) RetryOption {
	if n < 0 {
		panic("filters: WithMaxBufferedBody needs n >= 0, got " + strconv.Itoa(n))
	}
	return retryOptionFunc(func(c *retryConfig) { c.maxBuffered = n })
}

// WithMaxRetryAfter sets the longest Retry-After that [Retry] waits for:
// a failure that asks for a longer wait is returned at once. The default is
// 10 s. It panics if d is negative.
func WithMaxRetryAfter(d time.Duration) RetryOption {
	if d < 0 {
		panic("filters: WithMaxRetryAfter needs a duration >= 0, got " + d.String())
	}
	return retryOptionFunc(func(c *retryConfig) { c.maxRetryAfter = d })
}

// IsRetryable is the rule [Retry] uses unless told otherwise
// ([WithRetryIf]): it reports whether rsp, the answer to req, failed in a
// way that sending req again may fix without doing anything twice. It holds
//   - for a failure that proves req was not processed (typhon.NotProcessed:
//     the connection was refused or could not be made, or the server shed the
//     request unread, answering unavailable with a Retry-After), whatever
//     req's method;
//   - for an idempotent req ([IsIdempotent]), also for unavailable,
//     bad_gateway (which covers a broken connection) and timeout (an
//     attempt's own deadline, or a transport's).
//
// It never holds for a success, a 4xx error, other 5xx errors, or once req's
// context is done: the caller's deadline has passed or it gave up.
func IsRetryable(req typhon.Request, rsp typhon.Response) bool {
	err := rsp.Error
	if err == nil || req.Context().Err() != nil {
		return false
	}
	if typhon.NotProcessed(err) {
		return true
	}
	if !IsIdempotent(req) {
		return false
	}
	return typhon.IsCode(err, typhon.CodeUnavailable) ||
		typhon.IsCode(err, typhon.CodeBadGateway) ||
		typhon.IsCode(err, typhon.CodeTimeout)
}

// Retry returns a Filter that sends a request again when an attempt fails
// in a way that may pass, as a client-side filter. With no options:
//   - at most 3 attempts in all ([WithMaxAttempts]);
//   - a failure is retried when [IsRetryable] says so ([WithRetryIf]): an
//     idempotent request (a safe method, PUT, DELETE, or an Idempotency-Key)
//     on unavailable, bad_gateway and timeout; any request when the failure
//     proves it was not processed. Never a 4xx, never once the caller's
//     context is done;
//   - before a retry it waits 25 ms, then 50 ms, … up to 250 ms, less up to
//     half of that at random ([WithBackoff]), and at least as long as a
//     Retry-After in the failure asks, up to 10 s ([WithMaxRetryAfter]);
//   - it never waits past the caller's deadline: when the wait would end
//     there, the last failure is the answer;
//   - each call deposits into a retry budget and each retry withdraws from
//     it: a budget of the filter's own with Finagle's defaults, 20% of calls
//     plus 10 retries a second over 10 s ([RetryBudget], [WithRetryBudget]).
//     With the budget spent, the last failure is the answer;
//   - attempts have no deadline of their own ([WithPerAttemptTimeout]).
//
// Every attempt gets a Clone of the request, so that no attempt sees what
// another changed. The first Clone is taken before the first attempt, and
// the request the filter was given is never handed on: the Clones of later
// attempts are taken from it when they are needed, which is the same as
// taking them up front and costs nothing when the first attempt succeeds.
// In-memory bodies are replayed by Clone (GetBody). A streamed body (no
// GetBody) is recorded as attempts read it, up to 64 KiB
// ([WithMaxBufferedBody]), and a retry sends the record and then the rest of
// the stream; a body that attempts read past the limit makes the call not
// retryable instead of failing it, and goes on streaming. Only what was read
// counts: a body no attempt read (a refused connection) is replayable
// whatever its size. The stream is closed once, when the last attempt is
// done with it.
//
// The Response of a failed attempt that is retried is discarded: its body
// is closed. The answer is the last attempt's Response, whose body the
// caller owns. A derived context (a per-attempt timeout) is cancelled when
// its Response body is done, never on return.
//
// The Filter is safe for concurrent use. Put it outside a CircuitBreaker, so
// that each attempt counts, and inside a Timeout or Deadline, which bounds
// all the attempts together.
func Retry(opts ...RetryOption) typhon.Filter {
	c := retryConfig{
		maxAttempts:   retryDefaultAttempts,
		base:          retryDefaultBase,
		max:           retryDefaultMax,
		retryIf:       IsRetryable,
		maxBuffered:   retryDefaultMaxBuffered,
		maxRetryAfter: retryDefaultMaxRetryAfter,
	}
	for _, o := range opts {
		o.applyRetry(&c)
	}
	if !c.sharedBudget {
		c.budget = &RetryBudget{}
	}
	r := &retrier{c}
	return r.serve
}

type retrier struct{ retryConfig }

func (r *retrier) serve(req typhon.Request, svc typhon.Service) typhon.Response {
	if req.Request == nil {
		return svc(req)
	}
	ctx := req.Context()
	base := budgetCredit(ctx, r.budget, r.sharedBudget)
	if r.maxAttempts == 1 {
		actx, cancel := r.attemptContext(base)
		if actx != ctx {
			req = req.WithContext(actx)
		}
		return r.try(svc, req, cancel)
	}
	var replay *retryReplay
	if retryStreamed(req.Request) {
		replay = newRetryReplay(req.Body, r.maxBuffered, req.ContentLength)
		defer replay.finish()
	}
	areq, cancel, _ := r.attemptRequest(req, base, replay, true)
	rsp := r.try(svc, areq, cancel)
	for attempt := 1; attempt < r.maxAttempts; attempt++ {
		wait, ok := r.decide(req, rsp, attempt, replay)
		if !ok || !retryWait(ctx, wait) {
			break
		}
		areq, cancel, ok = r.attemptRequest(req, base, replay, false)
		if !ok {
			break
		}
		retryDiscard(rsp)
		rsp = r.try(svc, areq, cancel)
	}
	return rsp
}

// attemptContext returns the context of one attempt, and its cancel func
// when it is a derived one.
func (r *retrier) attemptContext(base context.Context) (context.Context, context.CancelFunc) {
	if r.perAttempt <= 0 {
		return base, nil
	}
	return context.WithTimeout(base, r.perAttempt)
}

// attemptRequest returns the Clone of req for one attempt, or ok false when
// its body cannot be sent again.
func (r *retrier) attemptRequest(req typhon.Request, base context.Context, replay *retryReplay, first bool) (areq typhon.Request, cancel context.CancelFunc, ok bool) {
	actx, cancel := r.attemptContext(base)
	areq = req.Clone(actx)
	if replay != nil {
		body, getBody, length, replayed := replay.next()
		if replayed {
			areq.Body, areq.GetBody = body, getBody
			if length >= 0 {
				areq.ContentLength = length
			}
			return areq, cancel, true
		}
	} else if first || areq.Body == nil || areq.Body == http.NoBody || areq.Body != req.Body {
		return areq, cancel, true
	}
	// The body cannot be replayed: a streamed one outgrew its buffer (or
	// broke), or GetBody failed and the Clone shares a body already read.
	if cancel != nil {
		cancel()
	}
	return areq, nil, false
}

// try makes one attempt. A derived context is cancelled when the Response
// body is done.
func (r *retrier) try(svc typhon.Service, areq typhon.Request, cancel context.CancelFunc) typhon.Response {
	if cancel == nil {
		return svc(areq)
	}
	returned := false
	defer func() {
		if !returned { // svc panicked
			cancel()
		}
	}()
	rsp := svc(areq)
	returned = true
	return typhon.OnBodyDone(rsp, cancel)
}

// decide reports whether to retry after attempt number attempt answered
// rsp, and how long to wait first. A yes has withdrawn from the budget.
func (r *retrier) decide(req typhon.Request, rsp typhon.Response, attempt int, replay *retryReplay) (time.Duration, bool) {
	ctx := req.Context()
	if ctx.Err() != nil || !r.retryIf(req, rsp) {
		return 0, false
	}
	if replay != nil && !replay.replayable() {
		return 0, false
	}
	wait := r.backoff(attempt)
	if d, ok := typhon.RetryAfter(rsp.Error); ok {
		if d > r.maxRetryAfter {
			return 0, false
		}
		wait = max(wait, d)
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(deadline) {
		return 0, false
	}
	if !r.budget.Withdraw() {
		return 0, false
	}
	return wait, true
}

// backoff returns the wait before retry number n (from 1): base·2^(n-1),
// at most max, less a random part of up to half.
func (r *retrier) backoff(n int) time.Duration {
	d := r.base
	for i := 1; i < n && d < r.max; i++ {
		d *= 2
	}
	d = min(d, r.max)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return d - rand.N(half+1)
}

// retryWait waits d, and reports false if ctx ended first.
func retryWait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryDiscard closes the body of a Response that is not handed on.
func retryDiscard(rsp typhon.Response) {
	if rsp.Response != nil && rsp.Body != nil {
		rsp.Body.Close()
	}
}
