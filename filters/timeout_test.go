package filters_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
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

// timeoutBody is a response body that records whether it was closed.
type timeoutBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *timeoutBody) Close() error { b.closed.Store(true); return nil }

func timeoutBodyOf(s string) *timeoutBody { return &timeoutBody{Reader: strings.NewReader(s)} }

func TestTimeout(t *testing.T) {
	t.Parallel()
	type svcKind int
	const (
		fast      svcKind = iota // answers after 10ms
		honours                  // waits for its context, answers its error
		ignores                  // ignores its context, answers only when released
		ignoreRes                // ignores its context, then a late success with a body
	)
	tests := []struct {
		name         string
		d            time.Duration
		parent       time.Duration // the request's own deadline; 0: none
		svc          svcKind
		wantCode     string
		wantAt       time.Duration // when the Filter answers
		wantDeadline time.Duration // the deadline the Service sees
	}{
		{name: "in time", d: 100 * time.Millisecond, svc: fast, wantAt: 10 * time.Millisecond, wantDeadline: 100 * time.Millisecond},
		{name: "service honours its context", d: 100 * time.Millisecond, svc: honours, wantCode: typhon.CodeTimeout, wantAt: 100 * time.Millisecond, wantDeadline: 100 * time.Millisecond},
		{name: "service ignores its context", d: 100 * time.Millisecond, svc: ignores, wantCode: typhon.CodeTimeout, wantAt: 100 * time.Millisecond, wantDeadline: 100 * time.Millisecond},
		{name: "late success discarded", d: 100 * time.Millisecond, svc: ignoreRes, wantCode: typhon.CodeTimeout, wantAt: 100 * time.Millisecond, wantDeadline: 100 * time.Millisecond},
		{name: "earlier deadline kept", d: time.Second, parent: 50 * time.Millisecond, svc: ignores, wantCode: typhon.CodeTimeout, wantAt: 50 * time.Millisecond, wantDeadline: 50 * time.Millisecond},
		{name: "later deadline shortened", d: 100 * time.Millisecond, parent: time.Hour, svc: ignores, wantCode: typhon.CodeTimeout, wantAt: 100 * time.Millisecond, wantDeadline: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				release := make(chan struct{})
				late := timeoutBodyOf("late")
				var sawDeadline atomic.Int64 // a time.Duration
				svc := func(req typhon.Request) typhon.Response {
					dl, ok := req.Context().Deadline()
					require.True(t, ok)
					sawDeadline.Store(int64(dl.Sub(start)))
					switch tt.svc {
					case fast:
						<-time.After(10 * time.Millisecond)
						return req.Response("ok")
					case honours:
						<-req.Context().Done()
						return typhon.ErrorResponse(req, req.Context().Err())
					case ignores:
						<-release
						return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeInternalService, "late"))
					default:
						<-release
						rsp := typhon.NewResponse(req)
						rsp.Body = late
						return rsp
					}
				}
				ctx := t.Context()
				if tt.parent > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.parent)
					defer cancel()
				}
				req := typhon.NewRequest(ctx, "GET", "http://svc/", nil)
				rsp := typhon.Service(svc).Filter(filters.Timeout(tt.d))(req)
				assert.Equal(t, tt.wantAt, time.Since(start), "answered at")
				assert.Equal(t, tt.wantDeadline, time.Duration(sawDeadline.Load()), "deadline seen by the Service")
				if tt.wantCode == "" {
					require.NoError(t, rsp.Error)
					var got string
					require.NoError(t, rsp.Decode(&got))
					assert.Equal(t, "ok", got)
				} else {
					require.Error(t, rsp.Error)
					assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error))
					assert.ErrorIs(t, rsp.Error, context.DeadlineExceeded)
					assert.Equal(t, http.StatusGatewayTimeout, rsp.StatusCode)
				}
				close(release)
				synctest.Wait() // the abandoned Service returns; its goroutine ends
				if tt.svc == ignoreRes {
					assert.True(t, late.closed.Load(), "late body closed")
				}
			})
		})
	}
}

func TestTimeoutRequestAlreadyDone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ctx      func() context.Context
		wantCode string
		wantIs   error
	}{
		{"expired", func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			cancel()
			return ctx
		}, typhon.CodeTimeout, context.DeadlineExceeded},
		{"canceled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, typhon.CodeCanceled, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := timeoutBodyOf("request")
			req := typhon.NewRequest(tt.ctx(), "POST", "http://svc/", io.Reader(body))
			called := false
			rsp := filters.Timeout(time.Second)(req, func(req typhon.Request) typhon.Response {
				called = true
				return req.Response(nil)
			})
			assert.False(t, called, "Service called")
			assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error))
			assert.ErrorIs(t, rsp.Error, tt.wantIs)
			assert.True(t, body.closed.Load(), "request body closed")
		})
	}
}

// TestTimeoutCallerCanceled: the caller's context is cancelled while the
// Service, ignoring it, runs: the Filter answers canceled at once.
func TestTimeoutCallerCanceled(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		release := make(chan struct{})
		svc := typhon.Service(func(req typhon.Request) typhon.Response {
			<-release
			return req.Response(nil)
		})
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		rsp := svc.Filter(filters.Timeout(time.Second))(typhon.NewRequest(ctx, "GET", "http://svc/", nil))
		assert.Equal(t, 20*time.Millisecond, time.Since(start))
		assert.Equal(t, typhon.CodeCanceled, typhon.ErrorCode(rsp.Error))
		assert.ErrorIs(t, rsp.Error, context.Canceled)
		close(release)
	})
}

// TestTimeoutStreamedBody: the context the Service got stays alive after
// the Filter returns, while the caller reads a streamed body, and ends when
// the body is closed.
func TestTimeoutStreamedBody(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var svcCtx context.Context
		svc := typhon.Service(func(req typhon.Request) typhon.Response {
			svcCtx = req.Context()
			pr, pw := io.Pipe()
			go func() {
				for i := range 3 {
					select {
					case <-time.After(10 * time.Millisecond):
					case <-svcCtx.Done():
						pw.CloseWithError(svcCtx.Err())
						return
					}
					if _, err := pw.Write([]byte{'a' + byte(i)}); err != nil {
						return
					}
				}
				pw.Close()
			}()
			rsp := typhon.NewResponse(req)
			rsp.Body = pr
			return rsp
		})
		rsp := svc.Filter(filters.Timeout(time.Second))(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
		require.NoError(t, rsp.Error)
		require.NoError(t, svcCtx.Err(), "context cancelled on return")
		b, err := io.ReadAll(rsp.Body)
		require.NoError(t, err)
		assert.Equal(t, "abc", string(b))
		assert.ErrorIs(t, svcCtx.Err(), context.Canceled, "context released at EOF")
		require.NoError(t, rsp.Body.Close())
	})
}

// TestTimeoutStreamedBodyOverNetwork: Timeout on a client stack must not
// cut a body that net/http ties to the request's context.
func TestTimeoutStreamedBodyOverNetwork(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		const chunks = 20
		stream := func(req typhon.Request) typhon.Response {
			pr, pw := io.Pipe()
			go func() {
				for range chunks {
					if _, err := pw.Write(bytes.Repeat([]byte("x"), 1024)); err != nil {
						return
					}
				}
				pw.Close()
			}()
			rsp := typhon.NewResponse(req)
			rsp.Body = pr
			return rsp
		}
		srv := p.Listen(t, stream)
		rsp := srv.Client.Filter(filters.Timeout(30 * time.Second))(typhon.NewRequest(t.Context(), "GET", srv.URL+"/", nil))
		require.NoError(t, rsp.Error)
		b, err := io.ReadAll(rsp.Body)
		require.NoError(t, err)
		assert.Len(t, b, chunks*1024)
		require.NoError(t, rsp.Body.Close())
	})
}

// TestTimeoutPanic: a panic in the Service reaches the caller's goroutine,
// where Recover answers it and logs the stack of where it happened.
func TestTimeoutPanic(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var log bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&log, nil))
		svc := typhon.Service(timeoutPanickingService).
			Filter(filters.Timeout(time.Second)).
			Filter(filters.Recover(filters.WithLogger(logger)))
		rsp := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
		assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
		assert.Contains(t, log.String(), "boom")
		assert.Contains(t, log.String(), "timeoutPanickingService", "the stack is where the panic happened")
	})
}

func timeoutPanickingService(typhon.Request) typhon.Response { panic("boom") }

// TestTimeoutLatePanic: a panic after the answer is logged, not lost and
// not fatal.
func TestTimeoutLatePanic(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var log bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&log, nil))
		release := make(chan struct{})
		svc := typhon.Service(func(req typhon.Request) typhon.Response {
			<-release
			panic("late boom")
		}).Filter(filters.Timeout(time.Second, filters.WithLogger(logger)))
		rsp := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
		assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error))
		close(release)
		synctest.Wait()
		assert.Contains(t, log.String(), "late boom")
	})
}

// TestTimeoutAbortHandler: http.ErrAbortHandler goes through as it is, for
// net/http.
func TestTimeoutAbortHandler(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		defer func() {
			assert.Equal(t, http.ErrAbortHandler, recover())
		}()
		filters.Timeout(time.Second)(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil),
			func(typhon.Request) typhon.Response { panic(http.ErrAbortHandler) })
		t.Error("no panic")
	})
}

func TestTimeoutPanicsOnBadDuration(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, -time.Second} {
		assert.PanicsWithValue(t, "filters: Timeout needs a positive duration, got "+d.String(), func() { filters.Timeout(d) })
	}
}

// TestTimeoutManyCalls runs many calls, half of them late, and checks
// that every late body is closed.
func TestTimeoutManyCalls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var opened, closed atomic.Int32
		svc := typhon.Service(func(req typhon.Request) typhon.Response {
			d := 5 * time.Millisecond
			if req.URL.Path == "/slow" {
				d = 50 * time.Millisecond
			}
			<-time.After(d) // ignores its context
			opened.Add(1)
			rsp := typhon.NewResponse(req)
			rsp.Body = &timeoutCountingBody{Reader: strings.NewReader("x"), closed: &closed}
			return rsp
		}).Filter(filters.Timeout(20 * time.Millisecond))
		for i := range 100 {
			path := "/fast"
			if i%2 == 0 {
				path = "/slow"
			}
			rsp := svc(typhon.NewRequest(t.Context(), "GET", "http://svc"+path, nil))
			if rsp.Body != nil {
				rsp.Body.Close()
			}
			if path == "/slow" {
				require.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error))
			} else {
				require.NoError(t, rsp.Error)
			}
		}
		synctest.Wait()
		<-time.After(time.Second)
		synctest.Wait()
		assert.Equal(t, int32(100), opened.Load())
		assert.Equal(t, int32(100), closed.Load())
	})
}

type timeoutCountingBody struct {
	io.Reader
	closed *atomic.Int32
	once   atomic.Bool
}

func (b *timeoutCountingBody) Close() error {
	if b.once.CompareAndSwap(false, true) {
		b.closed.Add(1)
	}
	return nil
}

func TestTimeoutErrorIsNotARemoteTimeout(t *testing.T) {
	t.Parallel()
	// A downstream's timeout passes through unchanged: it does not become
	// this caller's DeadlineExceeded.
	remote := typhon.NewError(typhon.CodeTimeout, "downstream timed out")
	rsp := filters.Timeout(time.Second)(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil),
		func(req typhon.Request) typhon.Response { return typhon.ErrorResponse(req, remote) })
	assert.Same(t, remote, rsp.Error)
	assert.NotErrorIs(t, rsp.Error, context.DeadlineExceeded)
}

func BenchmarkTimeout(b *testing.B) {
	f := filters.Timeout(time.Minute)
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	svc := benchOKService()
	b.ReportAllocs()
	for b.Loop() {
		rsp := f(req, svc)
		if rsp.Error != nil {
			b.Fatal(rsp.Error)
		}
	}
}
