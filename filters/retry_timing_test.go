package filters_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func TestRetryBackoff(t *testing.T) {
	t.Parallel()
	unavailable := typhon.NewError(typhon.CodeUnavailable, "busy")
	tests := []struct {
		name      string
		opts      []filters.RetryOption
		attempts  int
		wantWaits [][2]time.Duration // bounds of each wait, inclusive
	}{
		{"defaults: 25 ms, then 50 ms, less up to half", nil, 3,
			[][2]time.Duration{{12500 * time.Microsecond, 25 * time.Millisecond}, {25 * time.Millisecond, 50 * time.Millisecond}}},
		{"capped at max", []filters.RetryOption{filters.WithMaxAttempts(5), filters.WithBackoff(100*time.Millisecond, 150*time.Millisecond)}, 5,
			[][2]time.Duration{{50 * time.Millisecond, 100 * time.Millisecond}, {75 * time.Millisecond, 150 * time.Millisecond},
				{75 * time.Millisecond, 150 * time.Millisecond}, {75 * time.Millisecond, 150 * time.Millisecond}}},
		{"no backoff", []filters.RetryOption{filters.WithBackoff(0, 0)}, 3, [][2]time.Duration{{0, 0}, {0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range 20 { // the jitter is random: try it a few times
				synctest.Test(t, func(t *testing.T) {
					b, svc := retryErrors(unavailable, unavailable, unavailable, unavailable, unavailable)
					rsp := svc.Filter(filters.Retry(tt.opts...))(retryReq(t.Context(), "GET", nil))
					require.Error(t, rsp.Error)
					require.Equal(t, tt.attempts, b.count())
					for i, w := range tt.wantWaits {
						wait := b.arrival(i + 2).at.Sub(b.arrival(i + 1).at)
						assert.GreaterOrEqual(t, wait, w[0], "wait %d", i+1)
						assert.LessOrEqual(t, wait, w[1], "wait %d", i+1)
					}
				})
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	shed := func(d time.Duration) error {
		return typhon.NewError(typhon.CodeUnavailable, "shed").WithRetryAfter(d)
	}
	tests := []struct {
		name     string
		deadline time.Duration // 0: none
		opts     []filters.RetryOption
		errs     []error
		want     int           // arrivals
		wantWait time.Duration // between the first two arrivals
		wantAt   time.Duration // when the answer comes
		wantCode string
	}{
		{name: "honoured", errs: []error{shed(2 * time.Second)}, want: 2, wantWait: 2 * time.Second, wantAt: 2 * time.Second},
		{name: "honoured twice", errs: []error{shed(time.Second), shed(3 * time.Second)}, want: 3, wantWait: time.Second, wantAt: 4 * time.Second},
		{name: "within the deadline", deadline: 3 * time.Second, errs: []error{shed(2 * time.Second)}, want: 2, wantWait: 2 * time.Second, wantAt: 2 * time.Second},
		{name: "past the deadline: the failure at once", deadline: time.Second, errs: []error{shed(2 * time.Second)},
			want: 1, wantAt: 0, wantCode: typhon.CodeUnavailable},
		{name: "ending at the deadline: the failure at once", deadline: 2 * time.Second, errs: []error{shed(2 * time.Second)},
			want: 1, wantAt: 0, wantCode: typhon.CodeUnavailable},
		{name: "longer than the maximum: the failure at once", errs: []error{shed(11 * time.Second)},
			want: 1, wantAt: 0, wantCode: typhon.CodeUnavailable},
		{name: "maximum raised", opts: []filters.RetryOption{filters.WithMaxRetryAfter(time.Minute)}, errs: []error{shed(11 * time.Second)},
			want: 2, wantWait: 11 * time.Second, wantAt: 11 * time.Second},
		{name: "shorter than the backoff: the backoff", opts: []filters.RetryOption{filters.WithBackoff(5*time.Second, 5*time.Second)},
			errs: []error{shed(time.Second)}, want: 2, wantAt: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				start := time.Now()
				b, svc := retryErrors(tt.errs...)
				rsp := svc.Filter(filters.Retry(tt.opts...))(retryReq(ctx, "POST", "x"))
				at := time.Since(start)
				require.Equal(t, tt.want, b.count(), "arrivals")
				assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error))
				if tt.wantWait > 0 {
					assert.Equal(t, tt.wantWait, b.arrival(2).at.Sub(b.arrival(1).at))
				}
				switch {
				case tt.wantAt >= 0:
					assert.Equal(t, tt.wantAt, at)
				default: // the backoff's jitter: between 2.5 s and 5 s
					assert.GreaterOrEqual(t, at, 2500*time.Millisecond)
					assert.LessOrEqual(t, at, 5*time.Second)
				}
			})
		})
	}
}

func TestRetryNeverPastDeadline(t *testing.T) {
	t.Parallel()
	for _, deadline := range []time.Duration{time.Millisecond, 20 * time.Millisecond, 60 * time.Millisecond, 200 * time.Millisecond, time.Second} {
		t.Run(deadline.String(), func(t *testing.T) {
			t.Parallel()
			for range 10 {
				synctest.Test(t, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), deadline)
					defer cancel()
					start := time.Now()
					b := &retryBackend{answer: func(int, typhon.Request) typhon.Response {
						return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "busy")}
					}}
					rsp := typhon.Service(b.serve).Filter(filters.Retry(filters.WithMaxAttempts(50)))(retryReq(ctx, "GET", nil))
					require.Error(t, rsp.Error)
					assert.Less(t, time.Since(start), deadline, "answered before the deadline")
					for i := 1; i <= b.count(); i++ {
						assert.Less(t, b.arrival(i).at.Sub(start), deadline)
					}
				})
			}
		})
	}
}

func TestRetryStopsWhenCallerDone(t *testing.T) {
	t.Parallel()
	t.Run("context ended during an attempt", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			b := &retryBackend{answer: func(int, typhon.Request) typhon.Response {
				cancel()
				return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "busy")}
			}}
			rsp := typhon.Service(b.serve).Filter(filters.Retry())(retryReq(ctx, "GET", nil))
			assert.Equal(t, 1, b.count())
			assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeUnavailable), "the last answer: %v", rsp.Error)
		})
	})
	t.Run("context ended during the backoff", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			b, svc := retryErrors(typhon.NewError(typhon.CodeUnavailable, "busy"))
			time.AfterFunc(time.Second, cancel)
			start := time.Now()
			opts := filters.WithBackoff(10*time.Second, 10*time.Second)
			rsp := svc.Filter(filters.Retry(opts))(retryReq(ctx, "GET", nil))
			assert.Equal(t, time.Second, time.Since(start))
			assert.Equal(t, 1, b.count())
			assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeUnavailable), "the last answer: %v", rsp.Error)
		})
	})
	t.Run("caller's deadline is not an attempt's timeout", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			b := &retryBackend{answer: func(_ int, req typhon.Request) typhon.Response {
				<-req.Context().Done()
				return typhon.Response{Error: req.Context().Err()}
			}}
			f := filters.Retry(filters.WithPerAttemptTimeout(time.Second))
			rsp := typhon.Service(b.serve).Filter(f)(retryReq(ctx, "GET", nil))
			assert.Equal(t, 1, b.count())
			assert.True(t, errors.Is(rsp.Error, context.DeadlineExceeded))
		})
	})
}

func TestRetryPerAttemptTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := &retryBackend{answer: func(n int, req typhon.Request) typhon.Response {
			if n == 1 {
				<-req.Context().Done() // too slow: the attempt times out
				return typhon.Response{Error: req.Context().Err()}
			}
			return req.Response("second")
		}}
		start := time.Now()
		f := filters.Retry(filters.WithPerAttemptTimeout(100*time.Millisecond), filters.WithBackoff(0, 0))
		rsp := typhon.Service(b.serve).Filter(f)(retryReq(t.Context(), "GET", nil))
		require.NoError(t, rsp.Error)
		require.Equal(t, 2, b.count())
		assert.Equal(t, 100*time.Millisecond, time.Since(start))

		first, second := b.arrival(1).req.Context(), b.arrival(2).req.Context()
		d1, ok := first.Deadline()
		require.True(t, ok)
		assert.Equal(t, start.Add(100*time.Millisecond), d1, "each attempt has its own deadline")
		d2, ok := second.Deadline()
		require.True(t, ok)
		assert.Equal(t, start.Add(200*time.Millisecond), d2)

		// The answer's context lives until its body is done, not until return.
		require.NoError(t, second.Err())
		var got string
		require.NoError(t, rsp.Decode(&got))
		assert.Equal(t, "second", got)
		assert.ErrorIs(t, second.Err(), context.Canceled)
	})
}
