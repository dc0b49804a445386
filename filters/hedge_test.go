package filters_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// hedgeStep scripts how a hedgeBackend answers one arrival: after a time,
// or only once its context ends; with a success or with unavailable.
type hedgeStep struct {
	after time.Duration
	block bool // answer only once the context ends
	fail  bool
}

// hedgeArrival is one call a hedgeBackend received.
type hedgeArrival struct {
	at        time.Time
	req       typhon.Request
	body      *retryBody // of its answer
	cancelled bool       // its context had ended when it answered
	done      bool       // it has answered
}

// hedgeBackend is a scripted in-process Service answering arrival n as
// steps[n-1] says (the last step for arrivals past the end); once its
// context ends it answers the context's error. Every answer, failures too,
// has a body that records whether it was closed.
type hedgeBackend struct {
	steps []hedgeStep

	mu       sync.Mutex
	arrivals []*hedgeArrival
}

func (b *hedgeBackend) serve(req typhon.Request) typhon.Response {
	b.mu.Lock()
	n := len(b.arrivals) + 1
	a := &hedgeArrival{at: time.Now(), req: req, body: &retryBody{Reader: strings.NewReader("arrival " + strconv.Itoa(n))}}
	b.arrivals = append(b.arrivals, a)
	step := b.steps[min(n, len(b.steps))-1]
	b.mu.Unlock()

	ctx := req.Context()
	if step.block {
		<-ctx.Done()
	} else {
		t := time.NewTimer(step.after)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	b.mu.Lock()
	a.cancelled, a.done = ctx.Err() != nil, true
	b.mu.Unlock()
	rsp := typhon.Response{Response: &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: a.body}}
	switch {
	case ctx.Err() != nil:
		rsp.StatusCode, rsp.Error = typhon.ErrorStatus(ctx.Err()), ctx.Err()
	case step.fail:
		rsp.StatusCode, rsp.Error = http.StatusServiceUnavailable, typhon.NewError(typhon.CodeUnavailable, "busy")
	}
	return rsp
}

func (b *hedgeBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.arrivals)
}

func (b *hedgeBackend) arrival(n int) hedgeArrival {
	b.mu.Lock()
	defer b.mu.Unlock()
	return *b.arrivals[n-1]
}

// hedgeBody reads the answer's body: "arrival n".
func hedgeBody(t *testing.T, rsp typhon.Response) string {
	t.Helper()
	require.NotNil(t, rsp.Body)
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	require.NoError(t, rsp.Body.Close())
	return string(b)
}

func hedgeReq(ctx context.Context, method string) typhon.Request {
	return typhon.NewRequest(ctx, method, "http://backend/thing", nil)
}

// hedgeWarmSteps are 20 calls taking 1 ms to 20 ms: enough samples for a
// p95, which is 19 ms (the 19th of 20 by nearest rank).
func hedgeWarmSteps() []hedgeStep {
	steps := make([]hedgeStep, 20)
	for i := range steps {
		steps[i] = hedgeStep{after: time.Duration(20-i) * time.Millisecond}
	}
	return steps
}

func TestHedgeFiresAfterPercentile(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := &hedgeBackend{steps: append(hedgeWarmSteps(),
			hedgeStep{block: true}, // the primary: stuck
			hedgeStep{},            // the backup: answers at once
		)}
		svc := typhon.Service(b.serve).Filter(filters.Hedge())
		for range 20 {
			rsp := svc(hedgeReq(t.Context(), "GET"))
			require.NoError(t, rsp.Error)
			rsp.Body.Close()
		}
		require.Equal(t, 20, b.count(), "no backups while warming up")

		start := time.Now()
		rsp := svc(hedgeReq(t.Context(), "GET"))
		require.NoError(t, rsp.Error)
		assert.Equal(t, 19*time.Millisecond, time.Since(start), "the backup went out at p95 and answered at once")
		assert.Equal(t, "arrival 22", hedgeBody(t, rsp), "the backup won")

		synctest.Wait() // the loser's goroutine finishes
		primary := b.arrival(21)
		assert.True(t, primary.cancelled, "the loser was cancelled")
		assert.True(t, primary.body.closed.Load(), "and its answer discarded")
		assert.NotSame(t, primary.req.Request, b.arrival(22).req.Request, "each attempt has a Clone")
	})
}

func TestHedgeRules(t *testing.T) {
	t.Parallel()
	const delay = 10 * time.Millisecond
	ms := time.Millisecond
	tests := []struct {
		name      string
		method    string
		key       string // Idempotency-Key
		opts      []filters.HedgeOption
		steps     []hedgeStep // primary, backup
		deadline  time.Duration
		want      int           // arrivals
		wantAt    time.Duration // when the answer comes
		wantFrom  int           // the arrival whose answer it is; -1: either
		wantErr   bool
		wantLoser int // the arrival that lost and must be cancelled and closed; 0: none
	}{
		{name: "fast primary: no backup", method: "GET", steps: []hedgeStep{{after: 5 * ms}},
			want: 1, wantAt: 5 * ms, wantFrom: 1},
		{name: "stuck primary: the backup wins", method: "GET", steps: []hedgeStep{{block: true}, {after: 3 * ms}},
			want: 2, wantAt: 13 * ms, wantFrom: 2, wantLoser: 1},
		{name: "slow primary still first", method: "GET", steps: []hedgeStep{{after: 15 * ms}, {after: 20 * ms}},
			want: 2, wantAt: 15 * ms, wantFrom: 1, wantLoser: 2},
		{name: "primary fails before the delay: no backup", method: "GET", steps: []hedgeStep{{after: 5 * ms, fail: true}},
			want: 1, wantAt: 5 * ms, wantFrom: 1, wantErr: true},
		{name: "primary fails after the backup went out", method: "GET", steps: []hedgeStep{{after: 15 * ms, fail: true}, {after: 10 * ms}},
			want: 2, wantAt: 20 * ms, wantFrom: 2, wantLoser: 1},
		{name: "backup fails, primary succeeds", method: "GET", steps: []hedgeStep{{after: 30 * ms}, {after: 2 * ms, fail: true}},
			want: 2, wantAt: 30 * ms, wantFrom: 1, wantLoser: 2},
		{name: "both fail: the first failure", method: "GET", steps: []hedgeStep{{after: 25 * ms, fail: true}, {after: 5 * ms, fail: true}},
			want: 2, wantAt: 25 * ms, wantFrom: 2, wantErr: true, wantLoser: 1},
		{name: "POST is not hedged", method: "POST", steps: []hedgeStep{{after: 50 * ms}},
			want: 1, wantAt: 50 * ms, wantFrom: 1},
		{name: "PATCH is not hedged", method: "PATCH", steps: []hedgeStep{{after: 50 * ms}},
			want: 1, wantAt: 50 * ms, wantFrom: 1},
		{name: "POST with Idempotency-Key is", method: "POST", key: "k", steps: []hedgeStep{{block: true}, {after: 0}},
			want: 2, wantAt: 10 * ms, wantFrom: 2, wantLoser: 1},
		{name: "PUT is", method: "PUT", steps: []hedgeStep{{block: true}, {after: 0}},
			want: 2, wantAt: 10 * ms, wantFrom: 2, wantLoser: 1},
		{name: "budget spent: no backup", method: "GET", opts: []filters.HedgeOption{filters.WithRetryBudget(filters.NewRetryBudget(0, 0, time.Second))},
			steps: []hedgeStep{{after: 50 * ms}}, want: 1, wantAt: 50 * ms, wantFrom: 1},
		{name: "caller's deadline before the delay: no backup", method: "GET", deadline: 5 * ms, steps: []hedgeStep{{block: true}},
			want: 1, wantAt: 5 * ms, wantFrom: 1, wantErr: true},
		{name: "caller's deadline after the delay", method: "GET", deadline: 30 * ms, steps: []hedgeStep{{block: true}},
			want: 2, wantAt: 30 * ms, wantFrom: -1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := &hedgeBackend{steps: tt.steps}
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				req := hedgeReq(ctx, tt.method)
				if tt.key != "" {
					req.Header.Set("Idempotency-Key", tt.key)
				}
				opts := append([]filters.HedgeOption{filters.WithHedgeDelay(delay)}, tt.opts...)
				start := time.Now()
				rsp := typhon.Service(b.serve).Filter(filters.Hedge(opts...))(req)
				assert.Equal(t, tt.wantAt, time.Since(start), "answered at")
				assert.Equal(t, tt.wantErr, rsp.Error != nil, "%v", rsp.Error)

				synctest.Wait() // the loser, if any, has answered
				require.Equal(t, tt.want, b.count(), "arrivals")
				if tt.wantFrom > 0 {
					winner := b.arrival(tt.wantFrom)
					assert.False(t, winner.body.closed.Load(), "the answer's body is the caller's")
					assert.Equal(t, "arrival "+strconv.Itoa(tt.wantFrom), hedgeBody(t, rsp))
				} else {
					hedgeBody(t, rsp)
					for n := 1; n <= b.count(); n++ {
						assert.True(t, b.arrival(n).body.closed.Load(), "arrival %d: answered and closed, or discarded", n)
					}
				}
				if tt.wantLoser > 0 {
					loser := b.arrival(tt.wantLoser)
					assert.True(t, loser.done)
					assert.True(t, loser.body.closed.Load(), "the loser's answer is discarded")
					if tt.steps[tt.wantLoser-1].block || tt.wantAt < tt.steps[tt.wantLoser-1].after+delay*time.Duration(tt.wantLoser-1) {
						assert.True(t, loser.cancelled, "the loser still running was cancelled")
					}
				}
				for n := 1; tt.want > 1 && n <= b.count(); n++ {
					assert.NotSame(t, req.Request, b.arrival(n).req.Request, "attempt %d has a Clone", n)
				}
			})
		})
	}
}

func TestHedgeWaitsForSamples(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		opts     []filters.HedgeOption
		warm     int           // calls that succeed in 1 ms before the stuck one
		want     int           // arrivals of the stuck call
		wantWait time.Duration // when its backup goes out
	}{
		{"p95 needs 20 samples: 19 are not enough", nil, 19, 1, 0},
		{"p95 with 20", nil, 20, 2, time.Millisecond},
		{"p99 needs 100", []filters.HedgeOption{filters.WithHedgePercentile(99)}, 99, 1, 0},
		{"p99 with 100", []filters.HedgeOption{filters.WithHedgePercentile(99)}, 100, 2, time.Millisecond},
		{"p50 needs 10", []filters.HedgeOption{filters.WithHedgePercentile(50)}, 10, 2, time.Millisecond},
		{"a small window caps what is needed", []filters.HedgeOption{filters.WithHedgeWindow(5)}, 5, 2, time.Millisecond},
		{"the minimum delay", []filters.HedgeOption{filters.WithHedgeMinDelay(7 * time.Millisecond)}, 20, 2, 7 * time.Millisecond},
		{"no minimum delay", []filters.HedgeOption{filters.WithHedgeMinDelay(0)}, 20, 2, time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				steps := make([]hedgeStep, tt.warm, tt.warm+2)
				for i := range steps {
					steps[i] = hedgeStep{after: time.Millisecond}
				}
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				b := &hedgeBackend{steps: append(steps, hedgeStep{block: true}, hedgeStep{block: true})}
				svc := typhon.Service(b.serve).Filter(filters.Hedge(tt.opts...))
				for range tt.warm {
					rsp := svc(hedgeReq(ctx, "GET"))
					require.NoError(t, rsp.Error)
					rsp.Body.Close()
				}
				rsp := svc(hedgeReq(ctx, "GET")) // stuck until the deadline
				assert.ErrorIs(t, rsp.Error, context.DeadlineExceeded)
				synctest.Wait()
				require.Equal(t, tt.warm+tt.want, b.count())
				if tt.want == 2 {
					assert.Equal(t, tt.wantWait, b.arrival(tt.warm+2).at.Sub(b.arrival(tt.warm+1).at), "the backup went out after")
				}
			})
		})
	}
}

func TestHedgeSharesRetryBudget(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		budget := filters.NewRetryBudget(1, 0, 10*time.Second) // a retry per call, no floor
		steps := make([]hedgeStep, 10, 12)
		for i := range steps {
			steps[i] = hedgeStep{after: time.Millisecond}
		}
		b := &hedgeBackend{steps: append(steps, hedgeStep{block: true}, hedgeStep{after: 0})}
		svc := typhon.Service(b.serve).
			Filter(filters.Hedge(filters.WithRetryBudget(budget), filters.WithHedgeDelay(time.Second))).
			Filter(filters.Retry(filters.WithRetryBudget(budget)))
		for range 10 {
			rsp := svc(hedgeReq(t.Context(), "GET"))
			require.NoError(t, rsp.Error)
			rsp.Body.Close()
		}
		assert.Equal(t, 10, budget.Balance(), "10 calls through Retry and Hedge: deposited once each")

		rsp := svc(hedgeReq(t.Context(), "GET"))
		require.NoError(t, rsp.Error)
		rsp.Body.Close()
		synctest.Wait()
		assert.Equal(t, 12, b.count(), "the 11th call was hedged")
		assert.Equal(t, 10, budget.Balance(), "a call deposits one, its backup withdraws one")
	})
}

func TestHedgeStreamedBodyNotHedged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := &hedgeBackend{steps: []hedgeStep{{after: 50 * time.Millisecond}}}
		src := &retryStream{r: strings.NewReader("stream")}
		req := typhon.NewRequest(t.Context(), "PUT", "http://backend/blob", src)
		rsp := typhon.Service(b.serve).Filter(filters.Hedge(filters.WithHedgeDelay(0)))(req)
		require.NoError(t, rsp.Error)
		rsp.Body.Close()
		assert.Equal(t, 1, b.count())
		assert.Same(t, req.Request, b.arrival(1).req.Request, "passed through")
	})
}

func TestHedgePanicReachesCaller(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		svc := typhon.Service(func(req typhon.Request) typhon.Response { panic("boom") })
		f := filters.Hedge(filters.WithHedgeDelay(time.Second))
		assert.PanicsWithValue(t, "boom", func() { f(hedgeReq(t.Context(), "GET"), svc) })
	})
}

func TestHedgeOptions(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"WithHedgePercentile(0)":   func() { filters.WithHedgePercentile(0) },
		"WithHedgePercentile(100)": func() { filters.WithHedgePercentile(100) },
		"WithHedgeMinDelay(-1)":    func() { filters.WithHedgeMinDelay(-1) },
		"WithHedgeDelay(-1)":       func() { filters.WithHedgeDelay(-1) },
		"WithHedgeWindow(0)":       func() { filters.WithHedgeWindow(0) },
	} {
		t.Run(name, func(t *testing.T) {
			assert.PanicsWithValue(t, budgetPanicValue(f), f)
			assert.NotEqual(t, "no filters: panic", budgetPanicValue(f))
		})
	}
	for _, o := range []any{
		filters.WithHedgePercentile(90), filters.WithHedgeMinDelay(0), filters.WithHedgeDelay(0), filters.WithHedgeWindow(1),
	} {
		_, isRetry := o.(filters.RetryOption)
		assert.False(t, isRetry, "%T must not configure Retry", o)
	}
}

// BenchmarkHedge measures a call answered before any backup is due.
func BenchmarkHedge(b *testing.B) {
	ok := typhon.Response{Response: &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}}
	svc := typhon.Service(func(typhon.Request) typhon.Response { return ok })
	req := typhon.NewRequest(context.Background(), "GET", "http://backend/thing", nil)
	for _, bc := range []struct {
		name string
		f    typhon.Filter
		warm bool
	}{
		{"hedging on", filters.Hedge(), true},
		{"fixed delay", filters.Hedge(filters.WithHedgeDelay(time.Second)), false},
		{"not idempotent", filters.Hedge(), true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := req
			if bc.name == "not idempotent" {
				r = typhon.NewRequest(context.Background(), "POST", "http://backend/thing", nil)
			}
			if bc.warm {
				for range 100 {
					bc.f(req, svc)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				rsp := bc.f(r, svc)
				if rsp.Error != nil {
					b.Fatal(rsp.Error)
				}
			}
		})
	}
}
