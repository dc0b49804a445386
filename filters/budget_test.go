package filters_test

import (
	"math"
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

// budgetWithdrawAll withdraws until the budget refuses, at most limit
// times, and returns how many withdrawals succeeded.
func budgetWithdrawAll(b *filters.RetryBudget, limit int) int {
	n := 0
	for n < limit && b.Withdraw() {
		n++
	}
	return n
}

func TestRetryBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		budget      func() *filters.RetryBudget
		deposits    int
		want        int // withdrawals that succeed after the deposits
		wantBalance int // before any withdrawal
	}{
		{"zero value: Finagle's floor, 10/s over 10 s", func() *filters.RetryBudget { return &filters.RetryBudget{} }, 0, 100, 100},
		{"zero value after 1,000 calls: 20% more", func() *filters.RetryBudget { return &filters.RetryBudget{} }, 1000, 300, 300},
		{"defaults spelled out", func() *filters.RetryBudget { return filters.NewRetryBudget(0.2, 10, 10*time.Second) }, 1000, 300, 300},
		{"ratio alone", func() *filters.RetryBudget { return filters.NewRetryBudget(0.2, 0, 10*time.Second) }, 1000, 200, 200},
		{"ratio alone, too few calls for one retry", func() *filters.RetryBudget { return filters.NewRetryBudget(0.2, 0, 10*time.Second) }, 4, 0, 0},
		{"ratio alone, five calls for one retry", func() *filters.RetryBudget { return filters.NewRetryBudget(0.2, 0, 10*time.Second) }, 5, 1, 1},
		{"floor alone ignores calls", func() *filters.RetryBudget { return filters.NewRetryBudget(0, 5, 2*time.Second) }, 1000, 10, 10},
		{"nothing allowed", func() *filters.RetryBudget { return filters.NewRetryBudget(0, 0, time.Second) }, 1000, 0, 0},
		{"one retry per call", func() *filters.RetryBudget { return filters.NewRetryBudget(1, 0, time.Second) }, 7, 7, 7},
		{"ten retries per call", func() *filters.RetryBudget { return filters.NewRetryBudget(10, 0, time.Second) }, 7, 70, 70},
		{"short window scales the floor", func() *filters.RetryBudget { return filters.NewRetryBudget(0.2, 10, 500*time.Millisecond) }, 0, 5, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := tt.budget()
				for range tt.deposits {
					b.Deposit()
				}
				assert.Equal(t, tt.wantBalance, b.Balance())
				assert.Equal(t, tt.want, budgetWithdrawAll(b, 10_000))
				assert.Zero(t, b.Balance())
			})
		})
	}
}

func TestRetryBudgetWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b filters.RetryBudget
		require.Equal(t, 100, budgetWithdrawAll(&b, 1000), "the floor, available at once")
		<-time.After(9 * time.Second)
		assert.Zero(t, b.Balance(), "withdrawals count for the whole window")
		<-time.After(time.Second)
		assert.Equal(t, 100, b.Balance(), "10 s later they have left the window")

		// Deposits leave the window too.
		for range 500 {
			b.Deposit()
		}
		assert.Equal(t, 200, b.Balance())
		<-time.After(5 * time.Second)
		for range 500 {
			b.Deposit()
		}
		assert.Equal(t, 300, b.Balance())
		<-time.After(5 * time.Second)
		assert.Equal(t, 200, b.Balance(), "the first 500 calls have left the window")
		<-time.After(5 * time.Second)
		assert.Equal(t, 100, b.Balance(), "and the next 500")
		<-time.After(time.Hour)
		assert.Equal(t, 100, b.Balance(), "a long pause leaves the floor")
	})
}

func TestRetryBudgetNil(t *testing.T) {
	t.Parallel()
	var b *filters.RetryBudget
	b.Deposit()
	for range 1000 {
		require.True(t, b.Withdraw())
	}
	assert.Equal(t, math.MaxInt, b.Balance())
}

func TestRetryBudgetConcurrent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := filters.NewRetryBudget(0.2, 10, 10*time.Second)
		var wg sync.WaitGroup
		var withdrawn atomic.Int64
		for range 8 {
			wg.Go(func() {
				for range 1000 {
					b.Deposit()
					if b.Withdraw() {
						withdrawn.Add(1)
					}
				}
			})
		}
		wg.Wait()
		// 8,000 calls: 0.2 × 8,000 + 100 = 1,700 at most, all of it at the end.
		assert.LessOrEqual(t, withdrawn.Load(), int64(1700))
		assert.Equal(t, int64(1700), withdrawn.Load()+int64(b.Balance()))
	})
}

func TestNewRetryBudgetPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"negative ratio": func() { filters.NewRetryBudget(-0.1, 10, time.Second) },
		"NaN ratio":      func() { filters.NewRetryBudget(math.NaN(), 10, time.Second) },
		"huge ratio":     func() { filters.NewRetryBudget(1001, 10, time.Second) },
		"negative floor": func() { filters.NewRetryBudget(0.2, -1, time.Second) },
		"zero ttl":       func() { filters.NewRetryBudget(0.2, 10, 0) },
		"negative ttl":   func() { filters.NewRetryBudget(0.2, 10, -time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			assert.PanicsWithValue(t, budgetPanicValue(f), f)
		})
	}
}

// budgetPanicValue returns what f panics with, checking the package prefix.
func budgetPanicValue(f func()) (v any) {
	defer func() {
		v = recover()
		if s, ok := v.(string); !ok || len(s) < 9 || s[:9] != "filters: " {
			v = "no filters: panic"
		}
	}()
	f()
	return nil
}

// TestRetryBudgetBoundsArrivals: 1,000 calls to a backend that fails them
// all arrive at most 1,000 + 20% + the floor times.
//
// The default budget (Finagle's) is 20% of calls plus 10 retries a second
// counted over a 10 s window, and starts with its floor, 10 × 10 s = 100
// retries. In tokens: a call deposits 1,000, a retry costs 1,000 / 0.2 =
// 5,000, and the floor is a reserve of 100 × 5,000 = 500,000. 1,000 calls
// made within one window deposit 1,000,000, so all of them together may
// withdraw (500,000 + 1,000,000) / 5,000 = 300 retries: at most 1,000 + 200
// + 100 = 1,300 arrivals, where without a budget each call's 3 attempts
// would make 3,000.
func TestRetryBudgetBoundsArrivals(t *testing.T) {
	t.Parallel()
	failing := func() *retryBackend {
		return &retryBackend{answer: func(int, typhon.Request) typhon.Response {
			return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "down")}
		}}
	}
	t.Run("one after the other", func(t *testing.T) {
		t.Parallel()
		// With no backoff, virtual time stands still: every call is in the
		// same slot of the window and the bound is reached exactly. The
		// first 55 calls or so take 2 retries each from the floor; after
		// that every fifth call has saved up one.
		synctest.Test(t, func(t *testing.T) {
			b := failing()
			svc := typhon.Service(b.serve).Filter(filters.Retry(filters.WithBackoff(0, 0)))
			for range 1000 {
				rsp := svc(retryReq(t.Context(), "GET", nil))
				require.Error(t, rsp.Error)
			}
			assert.Equal(t, 1300, b.count())
		})
	})
	t.Run("all at once", func(t *testing.T) {
		t.Parallel()
		// 1,000 concurrent callers with the default backoff: each retry
		// waits at most 25 ms then 50 ms, so every call ends within 75 ms of
		// virtual time, well inside one window. The order of deposits and
		// withdrawals varies, so the count does too, between the floor's
		// 1,100 and the bound.
		synctest.Test(t, func(t *testing.T) {
			b := failing()
			svc := typhon.Service(b.serve).Filter(filters.Retry())
			start := time.Now()
			var wg sync.WaitGroup
			for range 1000 {
				wg.Go(func() {
					rsp := svc(retryReq(t.Context(), "GET", nil))
					assert.Error(t, rsp.Error)
				})
			}
			wg.Wait()
			assert.LessOrEqual(t, time.Since(start), 75*time.Millisecond)
			n := b.count()
			assert.GreaterOrEqual(t, n, 1100)
			assert.LessOrEqual(t, n, 1300)
		})
	})
	t.Run("low traffic retries every failure", func(t *testing.T) {
		t.Parallel()
		// One call a second for a minute: 20% of calls alone would allow
		// 0.2 retries a second; the floor of 10 a second lets every call
		// make its 3 attempts.
		synctest.Test(t, func(t *testing.T) {
			b := failing()
			svc := typhon.Service(b.serve).Filter(filters.Retry())
			for range 60 {
				rsp := svc(retryReq(t.Context(), "GET", nil))
				require.Error(t, rsp.Error)
				<-time.After(time.Second)
			}
			assert.Equal(t, 180, b.count())
		})
	})
	t.Run("shared budget", func(t *testing.T) {
		t.Parallel()
		// Two filters share one budget: the bound holds across them.
		synctest.Test(t, func(t *testing.T) {
			budget := &filters.RetryBudget{}
			b := failing()
			one := typhon.Service(b.serve).Filter(filters.Retry(filters.WithBackoff(0, 0), filters.WithRetryBudget(budget)))
			two := typhon.Service(b.serve).Filter(filters.Retry(filters.WithBackoff(0, 0), filters.WithRetryBudget(budget)))
			for i := range 1000 {
				svc := one
				if i%2 == 1 {
					svc = two
				}
				require.Error(t, svc(retryReq(t.Context(), "GET", nil)).Error)
			}
			assert.Equal(t, 1300, b.count())
		})
	})
	t.Run("budget off", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := failing()
			svc := typhon.Service(b.serve).Filter(filters.Retry(filters.WithBackoff(0, 0), filters.WithRetryBudget(nil)))
			for range 1000 {
				require.Error(t, svc(retryReq(t.Context(), "GET", nil)).Error)
			}
			assert.Equal(t, 3000, b.count())
		})
	})
}

// TestRetryBudgetCreditedOncePerCall: nested filters sharing a budget
// deposit once per call, and each extra attempt withdraws once.
func TestRetryBudgetCreditedOncePerCall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		budget := filters.NewRetryBudget(1, 0, 10*time.Second) // a retry per call, no floor
		ok := func(req typhon.Request) typhon.Response { return req.Response("ok") }
		inner := typhon.Service(ok).Filter(filters.Retry(filters.WithRetryBudget(budget)))
		outer := inner.Filter(filters.Retry(filters.WithRetryBudget(budget)))
		for range 10 {
			require.NoError(t, outer(retryReq(t.Context(), "GET", nil)).Error)
		}
		assert.Equal(t, 10, budget.Balance(), "10 calls through two filters: 10 deposits")

		own := typhon.Service(ok).Filter(filters.Retry(filters.WithRetryBudget(filters.NewRetryBudget(1, 0, 10*time.Second))))
		outer = own.Filter(filters.Retry(filters.WithRetryBudget(budget)))
		require.NoError(t, outer(retryReq(t.Context(), "GET", nil)).Error)
		assert.Equal(t, 11, budget.Balance(), "a filter with another budget credits its own")
	})
}
