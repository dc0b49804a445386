package filters

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"
)

// The defaults of a [RetryBudget]: Finagle's.
const (
	budgetDefaultRatio = 0.2              // retries per call: 20%
	budgetDefaultFloor = 10               // retries per second allowed whatever the traffic
	budgetDefaultTTL   = 10 * time.Second // how long a deposit or a withdrawal counts

	budgetSlots = 10   // the window moves in steps of ttl/budgetSlots
	budgetScale = 1000 // tokens one Deposit adds (when the ratio is not 0)
)

// RetryBudget bounds the extra attempts that [Retry] and [Hedge] make to a
// share of the calls they see, plus a floor per second, over a sliding
// window: Finagle's RetryBudget, which tower's TpsBudget also follows.
//
// Each call credits the budget ([RetryBudget.Deposit]); each retry or backup
// request draws on it first ([RetryBudget.Withdraw]) and is not made when
// the budget is spent. Deposits and withdrawals count for ttl (the window
// moves in tenths of it), so within any window of ttl at most
//
//	ratio × calls + minPerSecond × ttl
//
// withdrawals succeed. The floor is what makes the budget behave at low
// traffic: with Finagle's defaults (ratio 0.2, a floor of 10 per second,
// ttl 10 s) a client making one call a second may still retry every failure,
// while a client making 1,000 calls a second to a backend that fails them
// all adds at most 200 + 10 retries a second. A new budget starts with its
// floor available (minPerSecond × ttl withdrawals), so a fresh client can
// retry at once.
//
// The zero value is a budget with Finagle's defaults. A nil *RetryBudget
// allows every withdrawal. A RetryBudget is safe for concurrent use and may
// be shared between filters (see [WithRetryBudget]); it must not be copied
// after first use.
type RetryBudget struct {
	mu         sync.Mutex
	deposit    int64 // tokens a Deposit adds
	withdrawal int64 // tokens a Withdraw takes; 0 until set up
	reserve    int64 // tokens always there: the floor
	slot       time.Duration
	start      time.Time // the window's origin, set on first use
	head       int64     // index of the newest slot since start
	slots      [budgetSlots]int64
	sum        int64 // of slots
}

// NewRetryBudget returns a budget that allows ratio retries per call (0.2:
// 20% of calls; at most 1,000) plus minPerSecond retries a second, counted
// over a sliding window of ttl. A ratio and a floor of 0 make a budget that
// allows nothing. Finagle's defaults are NewRetryBudget(0.2, 10, 10*time.Second),
// which is also what the zero RetryBudget holds.
//
// NewRetryBudget panics if ratio is not between 0 and 1,000, minPerSecond
// is negative, or ttl is not positive.
func NewRetryBudget(ratio float64, minPerSecond int, ttl time.Duration) *RetryBudget {
	switch {
	case math.IsNaN(ratio) || ratio < 0 || ratio > 1000:
		panic("filters: NewRetryBudget: ratio must be between 0 and 1000, got " + strconv.FormatFloat(ratio, 'g', -1, 64))
	case minPerSecond < 0:
		panic("filters: NewRetryBudget: minPerSecond must not be negative, got " + strconv.Itoa(minPerSecond))
	case ttl <= 0:
		panic("filters: NewRetryBudget: ttl must be positive, got " + ttl.String())
	}
	b := &RetryBudget{}
	b.setup(ratio, minPerSecond, ttl)
	return b
}

// setup fixes the token amounts, as Finagle's TokenRetryBudget does: a
// deposit adds budgetScale tokens and a withdrawal costs budgetScale/ratio,
// so that ratio withdrawals cost what one deposit adds; with a ratio of 0
// deposits add nothing and only the floor is spent.
func (b *RetryBudget) setup(ratio float64, minPerSecond int, ttl time.Duration) {
	b.deposit, b.withdrawal = 0, 1
	if ratio > 0 {
		b.deposit = budgetScale
		b.withdrawal = int64(math.Max(1, math.Min(math.Round(budgetScale/ratio), 1<<40)))
	}
	floor := float64(minPerSecond) * ttl.Seconds() // withdrawals the floor allows per window
	b.reserve = int64(math.Min(floor*float64(b.withdrawal), 1<<62))
	b.slot = max(ttl/budgetSlots, 1)
}

// Deposit credits the budget with one call. A nil budget ignores it.
func (b *RetryBudget) Deposit() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.advance()
	b.add(b.deposit)
	b.mu.Unlock()
}

// Withdraw takes one retry from the budget and reports whether it could: a
// false means the budget is spent and the retry must not be made. A nil
// budget always allows it.
func (b *RetryBudget) Withdraw() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	if b.reserve+b.sum < b.withdrawal {
		return false
	}
	b.add(-b.withdrawal)
	return true
}

// Balance returns how many withdrawals would succeed now: for metrics and
// tests. A nil budget returns math.MaxInt.
func (b *RetryBudget) Balance() int {
	if b == nil {
		return math.MaxInt
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	return int(max(b.reserve+b.sum, 0) / b.withdrawal)
}

func (b *RetryBudget) add(n int64) {
	b.slots[b.head%budgetSlots] += n
	b.sum += n
}

// advance sets the budget up on first use and expires the slots that have
// left the window. b.mu is held.
func (b *RetryBudget) advance() {
	if b.withdrawal == 0 {
		b.setup(budgetDefaultRatio, budgetDefaultFloor, budgetDefaultTTL)
	}
	now := time.Now()
	if b.start.IsZero() {
		b.start = now
		return
	}
	idx := int64(now.Sub(b.start) / b.slot)
	if idx <= b.head {
		return
	}
	for i := b.head + 1; i <= idx && i <= b.head+budgetSlots; i++ {
		b.sum -= b.slots[i%budgetSlots]
		b.slots[i%budgetSlots] = 0
	}
	b.head = idx
}

// BudgetOption is the option [WithRetryBudget] returns: both a [RetryOption]
// and a [HedgeOption].
type BudgetOption struct{ b *RetryBudget }

// WithRetryBudget makes a [Retry] or [Hedge] filter draw its extra attempts
// from b instead of a budget of its own: share one budget between the
// filters that call one backend, so that retries and backup requests
// together stay within it. A nil b turns the budget off: every retry the
// other rules allow is made.
//
// A shared budget is credited once per call: a filter marks the contexts of
// the attempts it makes with its shared budget, and a filter inside it that
// finds its own budget marked there does not credit it again. So in
// Retry(WithRetryBudget(b)) around Hedge(WithRetryBudget(b)) each call
// deposits once, and every retry and every backup request withdraws once.
func WithRetryBudget(b *RetryBudget) BudgetOption { return BudgetOption{b: b} }

func (o BudgetOption) applyRetry(c *retryConfig) { c.budget, c.sharedBudget = o.b, true }
func (o BudgetOption) applyHedge(c *hedgeConfig) { c.budget, c.sharedBudget = o.b, true }

// budgetKey marks a context with the shared budget of the filter that made
// the attempt it belongs to.
type budgetKey struct{}

// budgetCredit deposits a call into b unless ctx shows that a filter sharing
// b has already done so, and returns the context for the call's attempts:
// ctx marked with b when b is shared.
func budgetCredit(ctx context.Context, b *RetryBudget, shared bool) context.Context {
	if !shared || b == nil {
		b.Deposit()
		return ctx
	}
	if v, ok := ctx.Value(budgetKey{}).(*RetryBudget); ok && v == b {
		return ctx
	}
	b.Deposit()
	return context.WithValue(ctx, budgetKey{}, b)
}
