package filters_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// concurrencyBlocking is a Service whose calls each wait for a release,
// telling when they arrive.
type concurrencyBlocking struct {
	arrivals atomic.Int32
	arrived  chan struct{}
	release  chan struct{}
}

func newConcurrencyBlocking() *concurrencyBlocking {
	return &concurrencyBlocking{arrived: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *concurrencyBlocking) serve(req typhon.Request) typhon.Response {
	b.arrivals.Add(1)
	b.arrived <- struct{}{}
	<-b.release
	return req.Response("done")
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		limit          int
		opts           []filters.ConcurrencyOption
		calls          int
		wantRetryAfter time.Duration
	}{
		{name: "one", limit: 1, calls: 3, wantRetryAfter: time.Second},
		{name: "some", limit: 4, calls: 10, wantRetryAfter: time.Second},
		{name: "retry after", limit: 2, calls: 5, opts: []filters.ConcurrencyOption{filters.WithConcurrencyRetryAfter(5 * time.Second)}, wantRetryAfter: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := newConcurrencyBlocking()
				svc := typhon.Service(b.serve).Filter(filters.ConcurrencyLimit(tt.limit, tt.opts...))
				var wg sync.WaitGroup
				for range tt.limit {
					wg.Go(func() {
						rsp := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
						assert.NoError(t, rsp.Error)
						rsp.Body.Close()
					})
				}
				synctest.Wait() // every admitted call is in the Service
				for range tt.calls - tt.limit {
					body := timeoutBodyOf("unread")
					rsp := svc(typhon.NewRequest(t.Context(), "POST", "http://svc/", io.Reader(body)))
					require.Error(t, rsp.Error)
					assert.Equal(t, typhon.CodeUnavailable, typhon.ErrorCode(rsp.Error))
					assert.Equal(t, http.StatusServiceUnavailable, rsp.StatusCode)
					ra, ok := typhon.RetryAfter(rsp.Error)
					assert.True(t, ok)
					assert.Equal(t, tt.wantRetryAfter, ra)
					assert.True(t, body.closed.Load(), "shed request's body closed")
				}
				assert.Equal(t, int32(tt.limit), b.arrivals.Load())
				close(b.release)
				wg.Wait()
				rsp := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
				require.NoError(t, rsp.Error, "slots released")
				rsp.Body.Close()
			})
		})
	}
}

// TestConcurrencyLimitHeldUntilBodyDone: the slot is the body's until it is
// read to the end or closed.
func TestConcurrencyLimitHeldUntilBodyDone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		done func(t *testing.T, rsp typhon.Response)
	}{
		{"close", func(t *testing.T, rsp typhon.Response) { require.NoError(t, rsp.Body.Close()) }},
		{"EOF", func(t *testing.T, rsp typhon.Response) {
			_, err := io.ReadAll(rsp.Body)
			require.NoError(t, err)
		}},
		{"decode", func(t *testing.T, rsp typhon.Response) {
			var s string
			require.NoError(t, rsp.Decode(&s))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := typhon.Service(func(req typhon.Request) typhon.Response {
				return req.Response("streamed")
			}).Filter(filters.ConcurrencyLimit(1))
			first := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
			require.NoError(t, first.Error)
			second := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
			assert.Equal(t, typhon.CodeUnavailable, typhon.ErrorCode(second.Error), "slot held while the body is open")
			tt.done(t, first)
			third := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
			require.NoError(t, third.Error, "slot released")
			third.Body.Close()
		})
	}
}

func TestConcurrencyLimitPanicReleases(t *testing.T) {
	t.Parallel()
	f := filters.ConcurrencyLimit(1)
	for range 3 {
		func() {
			defer func() { assert.Equal(t, "boom", recover()) }()
			f(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil), func(typhon.Request) typhon.Response { panic("boom") })
		}()
	}
	rsp := f(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil), benchOKService())
	assert.NoError(t, rsp.Error)
}

func TestConcurrencyLimitPanicsOnBadArguments(t *testing.T) {
	t.Parallel()
	assert.PanicsWithValue(t, "filters: ConcurrencyLimit needs a limit of at least 1, got 0", func() { filters.ConcurrencyLimit(0) })
	assert.PanicsWithValue(t, "filters: WithConcurrencyRetryAfter needs a positive duration, got 0s", func() { filters.WithConcurrencyRetryAfter(0) })
}

// TestConcurrencyLimitOverNetwork: the requests over the limit are shed by
// the server unread, with unavailable and Retry-After, and never reach the
// Service; the client sees that they were not processed.
func TestConcurrencyLimitOverNetwork(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		const limit, extra = 3, 5
		b := newConcurrencyBlocking()
		srv := p.Listen(t, typhon.Service(b.serve).Filter(filters.ConcurrencyLimit(limit)))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for range limit {
			wg.Go(func() {
				var s string
				assert.NoError(t, typhon.NewRequest(ctx, "GET", srv.URL+"/", nil).SendVia(srv.Client).Response().Decode(&s))
				assert.Equal(t, "done", s)
			})
		}
		for range limit {
			select {
			case <-b.arrived:
			case <-ctx.Done():
				t.Fatal("admitted calls did not arrive")
			}
		}
		for range extra {
			rsp := typhon.NewRequest(ctx, "POST", srv.URL+"/", strings.Repeat("x", 1<<10)).SendVia(srv.Client).Response()
			require.Error(t, rsp.Error)
			assert.Equal(t, typhon.CodeUnavailable, typhon.ErrorCode(rsp.Error))
			assert.Equal(t, "1", rsp.Header.Get("Retry-After"))
			ra, ok := typhon.RetryAfter(rsp.Error)
			assert.True(t, ok)
			assert.Equal(t, time.Second, ra)
			assert.True(t, typhon.NotProcessed(rsp.Error))
			rsp.Body.Close()
		}
		assert.Equal(t, int32(limit), b.arrivals.Load(), "arrivals at the Service")
		close(b.release)
		wg.Wait()
		var s string
		require.NoError(t, typhon.NewRequest(ctx, "GET", srv.URL+"/", nil).SendVia(srv.Client).Response().Decode(&s))
		<-b.arrived
		assert.Equal(t, int32(limit+1), b.arrivals.Load())
	})
}

func TestConcurrencyLimitAllocs(t *testing.T) {
	f := filters.ConcurrencyLimit(10)
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	svc := benchOKService()
	allocs := testing.AllocsPerRun(1000, func() { f(req, svc) })
	assert.Zero(t, allocs)
}

func BenchmarkConcurrencyLimit(b *testing.B) {
	f := filters.ConcurrencyLimit(1000)
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	b.Run("no body", func(b *testing.B) {
		svc := benchOKService()
		b.ReportAllocs()
		for b.Loop() {
			f(req, svc)
		}
	})
	b.Run("body", func(b *testing.B) {
		// The slot is held until the body is closed: one wrapper per call.
		body := io.NopCloser(strings.NewReader(""))
		hr := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
		svc := func(typhon.Request) typhon.Response {
			hr.Body = body // OnBodyDone wrapped the last one
			return typhon.Response{Response: hr}
		}
		b.ReportAllocs()
		for b.Loop() {
			f(req, svc).Body.Close()
		}
	})
}
