package filters_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func TestDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		d      time.Duration
		parent time.Duration // 0: no deadline
		want   time.Duration
	}{
		{"none: set", time.Second, 0, time.Second},
		{"sooner: kept", time.Second, 100 * time.Millisecond, 100 * time.Millisecond},
		{"later: kept", time.Second, time.Hour, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				ctx := t.Context()
				if tt.parent > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.parent)
					defer cancel()
				}
				var svcCtx context.Context
				rsp := filters.Deadline(tt.d)(typhon.NewRequest(ctx, "GET", "http://svc/", nil), func(req typhon.Request) typhon.Response {
					svcCtx = req.Context()
					return req.Response("body")
				})
				dl, ok := svcCtx.Deadline()
				require.True(t, ok)
				assert.Equal(t, tt.want, dl.Sub(start))
				require.NoError(t, svcCtx.Err(), "context ended on return")
				var s string
				require.NoError(t, rsp.Decode(&s))
				if tt.parent == 0 {
					assert.ErrorIs(t, svcCtx.Err(), context.Canceled, "context released when the body is done")
				}
			})
		})
	}
}

// TestDeadlineExpires: the Service that honours its context sees it end at
// the deadline.
func TestDeadlineExpires(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		rsp := typhon.Service(func(req typhon.Request) typhon.Response {
			<-req.Context().Done()
			return typhon.ErrorResponse(req, req.Context().Err())
		}).Filter(filters.Deadline(time.Second))(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
		assert.Equal(t, time.Second, time.Since(start))
		assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error))
	})
}

func TestDeadlinePanicReleases(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var svcCtx context.Context
		func() {
			defer func() { assert.Equal(t, "boom", recover()) }()
			filters.Deadline(time.Hour)(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil), func(req typhon.Request) typhon.Response {
				svcCtx = req.Context()
				panic("boom")
			})
		}()
		assert.ErrorIs(t, svcCtx.Err(), context.Canceled)
	})
}

func TestDeadlinePanicsOnBadDuration(t *testing.T) {
	t.Parallel()
	assert.PanicsWithValue(t, "filters: Deadline needs a positive duration, got 0s", func() { filters.Deadline(0) })
}

func TestDeadlineAllocs(t *testing.T) {
	f := filters.Deadline(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	req := typhon.NewRequest(ctx, "GET", "http://svc/", nil)
	svc := benchOKService()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { f(req, svc) }), "a request that has a deadline")
}

func BenchmarkDeadline(b *testing.B) {
	svc := benchOKService()
	f := filters.Deadline(time.Minute)
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"has deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Hour)
		}},
		{"sets deadline", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx, cancel := tc.ctx()
			defer cancel()
			req := typhon.NewRequest(ctx, "GET", "http://svc/", nil)
			b.ReportAllocs()
			for b.Loop() {
				f(req, svc)
			}
		})
	}
}
