package filters

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/typhon-go/typhon"
)

// The defaults of [Hedge].
const (
	hedgeDefaultPercentile = 95
	hedgeDefaultMinDelay   = time.Millisecond
	hedgeDefaultWindow     = 1000
)

// A HedgeOption configures [Hedge]. The options of other filters are not
// HedgeOptions, except [WithRetryBudget], which is one of both [Retry] and
// Hedge.
type HedgeOption interface{ applyHedge(*hedgeConfig) }

type hedgeOptionFunc func(*hedgeConfig)

func (f hedgeOptionFunc) applyHedge(c *hedgeConfig) { f(c) }

type hedgeConfig struct {
	percentile   float64
	minDelay     time.Duration
	fixed        time.Duration
	hasFixed     bool
	window       int
	budget       *RetryBudget
	sharedBudget bool
}

// WithHedgePercentile sets which percentile of recent latencies [Hedge]
// waits before sending a backup request: 95 by default, so that about one
// call in twenty is hedged. It panics unless 0 < p < 100.
func WithHedgePercentile(p float64) HedgeOption {
	if math.IsNaN(p) || p <= 0 || p >= 100 {
		panic("filters: WithHedgePercentile needs 0 < p < 100, got " + strconv.FormatFloat(p, 'g', -1, 64))
	}
	return hedgeOptionFunc(func(c *hedgeConfig) { c.percentile = p })
}

// WithHedgeMinDelay sets the least [Hedge] waits before a backup request,
// whatever the percentile says: 1 ms by default. It panics if d is negative.
func WithHedgeMinDelay(d time.Duration) HedgeOption {
	if d < 0 {
		panic("filters: WithHedgeMinDelay needs a duration >= 0, got " + d.String())
	}
	return hedgeOptionFunc(func(c *hedgeConfig) { c.minDelay = d })
}

// WithHedgeDelay makes [Hedge] send the backup request after d, always,
// instead of after a percentile of recent latencies; 0 sends both requests at
// once. It panics if d is negative.
func WithHedgeDelay(d time.Duration) HedgeOption {
	if d < 0 {
		panic("filters: WithHedgeDelay needs a duration >= 0, got " + d.String())
	}
	return hedgeOptionFunc(func(c *hedgeConfig) { c.fixed, c.hasFixed = d, true })
}

// WithHedgeWindow sets how many recent latencies [Hedge] takes the
// percentile of: the last 1,000 successful calls by default. It panics if n
// is below 1.
func WithHedgeWindow(n int) HedgeOption {
	if n < 1 {
		panic("filters: WithHedgeWindow needs n >= 1, got " + strconv.Itoa(n))
	}
	return hedgeOptionFunc(func(c *hedgeConfig) { c.window = n })
}

// Hedge returns a Filter that cuts tail latency with backup requests
// ("hedged requests", Finagle's BackupRequestFilter): when an idempotent
// request ([IsIdempotent]) has had no answer after the 95th percentile of
// recent latencies, it sends the request a second time and takes whichever
// answer comes first. With no options:
//   - the delay is the 95th percentile ([WithHedgePercentile]) of the
//     latencies of the last 1,000 successful calls ([WithHedgeWindow]), and
//     at least 1 ms ([WithHedgeMinDelay]); until 20 calls have succeeded (for
//     p95; 100 for p99) no backup is sent. [WithHedgeDelay] fixes the delay
//     instead;
//   - each backup request withdraws from a retry budget and is not sent when
//     it is spent: a budget of the filter's own with Finagle's defaults, or
//     one shared with [Retry] ([WithRetryBudget]). Each hedgeable call
//     deposits into it.
//
// The first success wins; a failure wins only when the other attempt fails
// too, and then the first failure is the answer. A failure that comes before
// the delay is the answer at once, with no backup: retrying failures is
// [Retry]'s work. The losing attempt's context is cancelled, and its
// Response body closed whenever it comes. The winner's context is cancelled
// when its body is done.
//
// Requests that are not idempotent, and those with a streamed body (no
// GetBody), which cannot be sent twice at once, pass through unhedged. The
// first attempt gets a Clone of the request taken before it starts; the
// backup a Clone taken when the delay has passed from the request the filter
// was given, which no attempt ever sees, so it is the same as one taken up
// front, and a call that needs no backup pays for one Clone only.
//
// Attempts run on goroutines of their own, so that the first answer is
// returned at once even from a Service that ignores its context; a panic in
// one is raised again in the caller's goroutine. The Filter is safe for
// concurrent use. Put it inside [Retry], so that each attempt may be hedged.
func Hedge(opts ...HedgeOption) typhon.Filter {
	c := hedgeConfig{
		percentile: hedgeDefaultPercentile,
		minDelay:   hedgeDefaultMinDelay,
		window:     hedgeDefaultWindow,
	}
	for _, o := range opts {
		o.applyHedge(&c)
	}
	if !c.sharedBudget {
		c.budget = &RetryBudget{}
	}
	h := &hedger{hedgeConfig: c}
	if !c.hasFixed {
		h.latencies = newHedgeLatencies(c.window, c.percentile)
	}
	return h.serve
}

type hedger struct {
	hedgeConfig
	latencies *hedgeLatencies // nil with a fixed delay
}

// delay returns how long to wait before a backup, and false when there are
// too few samples to tell.
func (h *hedger) delay() (time.Duration, bool) {
	if h.hasFixed {
		return h.fixed, true
	}
	d, ok := h.latencies.percentile()
	return max(d, h.minDelay), ok
}

func (h *hedger) record(d time.Duration) {
	if h.latencies != nil {
		h.latencies.record(d)
	}
}

func (h *hedger) serve(req typhon.Request, svc typhon.Service) typhon.Response {
	if req.Request == nil || retryStreamed(req.Request) || !IsIdempotent(req) {
		return svc(req)
	}
	ctx := req.Context()
	base := budgetCredit(ctx, h.budget, h.sharedBudget)
	if base != ctx {
		req = req.WithContext(base)
	}
	delay, ok := h.delay()
	if !ok || ctx.Err() != nil {
		start := time.Now()
		rsp := svc(req)
		if rsp.Error == nil {
			h.record(time.Since(start))
		}
		return rsp
	}
	return h.race(req, svc, delay)
}

// race runs the primary attempt and, after delay, a backup, and returns the
// first success (else the first failure).
func (h *hedger) race(req typhon.Request, svc typhon.Service, delay time.Duration) typhon.Response {
	ctx := req.Context()
	call := &hedgeCall{results: make(chan hedgeResult, 2)}
	pctx, pcancel := context.WithCancel(ctx)
	call.cancels[0] = pcancel
	go call.attempt(svc, req.Clone(pctx), 0)

	timer := time.NewTimer(delay)
	defer timer.Stop()
	timerC := timer.C
	inflight := 1
	var failed hedgeResult
	haveFailed := false
	for inflight > 0 { // at most two results and one timer
		select {
		case <-timerC:
			timerC = nil
			if ctx.Err() != nil || !h.budget.Withdraw() {
				continue
			}
			bctx, bcancel := context.WithCancel(ctx)
			backup := req.Clone(bctx)
			if backup.Body != nil && backup.Body != http.NoBody && backup.Body == req.Body {
				bcancel() // GetBody failed: the primary is reading the only body
				continue
			}
			call.cancels[1] = bcancel
			inflight++
			go call.attempt(svc, backup, 1)
		case res := <-call.results:
			inflight--
			if res.panicked {
				call.settle(-1)
				panic(res.panicVal)
			}
			if res.rsp.Error == nil {
				h.record(res.latency)
				call.settle(res.idx)
				if haveFailed {
					retryDiscard(failed.rsp)
				}
				return typhon.OnBodyDone(res.rsp, call.cancels[res.idx])
			}
			timerC = nil // no backup once the primary has failed
			if haveFailed {
				retryDiscard(res.rsp)
				continue
			}
			failed, haveFailed = res, true
		}
	}
	call.settle(failed.idx)
	return typhon.OnBodyDone(failed.rsp, call.cancels[failed.idx])
}

// hedgeResult is what one attempt answered.
type hedgeResult struct {
	rsp      typhon.Response
	idx      int // 0: the primary, 1: the backup
	latency  time.Duration
	panicked bool
	panicVal any
}

// hedgeCall is one hedged call: its attempts report to results until the
// caller has settled; after that they discard what they answer.
type hedgeCall struct {
	results chan hedgeResult // room for both attempts: a send never blocks
	// cancels holds each attempt's cancel func, set by the caller's
	// goroutine before the attempt starts.
	cancels [2]context.CancelFunc

	mu      sync.Mutex
	settled bool
}

// attempt calls svc and reports the answer, or discards it once the call
// has settled.
func (c *hedgeCall) attempt(svc typhon.Service, req typhon.Request, idx int) {
	start := time.Now()
	res := hedgeResult{idx: idx, panicked: true}
	cancel := c.cancels[idx]
	defer func() {
		if res.panicked {
			res.panicVal = recover()
		}
		c.mu.Lock()
		settled := c.settled
		if !settled {
			c.results <- res
		}
		c.mu.Unlock()
		if settled {
			retryDiscard(res.rsp)
			cancel()
		}
	}()
	res.rsp = svc(req)
	res.latency = time.Since(start)
	res.panicked = false
}

// settle marks the call answered and cancels every attempt but the one
// whose answer is handed on (keep; -1 for none), whose context ends with
// its body. Answers that came in meanwhile are discarded, and those still
// to come will be.
func (c *hedgeCall) settle(keep int) {
	c.mu.Lock()
	c.settled = true
	c.mu.Unlock()
	for i, cancel := range c.cancels {
		if i != keep && cancel != nil {
			cancel()
		}
	}
	for range len(c.results) { // bounded: nothing is sent once settled
		res := <-c.results
		retryDiscard(res.rsp)
	}
}
