package typhon_test

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// TestFutureFanOut sends 10 calls at once and releases the server's answers
// in reverse order: each future resolves on its own, as its answer comes.
func TestFutureFanOut(t *testing.T) {
	const n = 10
	run(t, func(t *testing.T, e *env) {
		arrived := make(chan int, n)
		gates := make([]chan struct{}, n)
		for i := range gates {
			gates[i] = make(chan struct{})
		}
		released := 0 // gates[n-released:] are closed
		defer func() {
			for _, g := range gates[:n-released] {
				close(g)
			}
		}()
		base := e.serve(func(req typhon.Request) typhon.Response {
			i, err := strconv.Atoi(req.URL.Path[1:])
			if err != nil || i < 0 || i >= n {
				return typhon.Response{Error: typhon.NewError(typhon.CodeBadRequest, "bad index")}
			}
			arrived <- i
			select {
			case <-gates[i]:
				return req.Response(i)
			case <-req.Context().Done():
				return typhon.Response{Error: req.Context().Err()}
			}
		})

		futures := make([]*typhon.ResponseFuture, n)
		for i := range futures {
			futures[i] = typhon.NewRequest(t.Context(), "GET", base+"/"+strconv.Itoa(i), nil).SendVia(e.client)
		}
		for range n {
			within(t, arrived, "all calls to arrive")
		}
		for i, f := range futures {
			select {
			case <-f.Done():
				t.Fatalf("future %d resolved before its answer", i)
			default:
			}
		}

		pending := make(map[int]bool, n)
		for i := range n {
			pending[i] = true
		}
		for i := n - 1; i >= 0; i-- {
			close(gates[i])
			released++
			// Select over every pending future's Done and a time limit.
			var cases []reflect.SelectCase
			var index []int
			for j := range n {
				if pending[j] {
					cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(futures[j].Done())})
					index = append(index, j)
				}
			}
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(waitBound))})
			chosen, _, _ := reflect.Select(cases)
			require.Less(t, chosen, len(index), "timed out waiting for future %d", i)
			require.Equal(t, i, index[chosen], "the future released resolves first")
			delete(pending, i)

			var got int
			require.NoError(t, futures[i].Response().Decode(&got))
			assert.Equal(t, i, got)
		}
	})
}

func TestFutureWithClientStub(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	stub := func(req typhon.Request) typhon.Response {
		calls.Add(1)
		return req.Response(map[string]string{"id": req.URL.Path, "host": req.URL.Host})
	}
	ctx := typhon.WithClient(t.Context(), stub)
	// Nothing listens on port 1: an answer proves the stub gave it.
	const url = "http://127.0.0.1:1/users/1"
	rsp := typhon.NewRequest(ctx, "GET", url, nil).Send().Response()
	var got map[string]string
	require.NoError(t, rsp.Decode(&got))
	assert.Equal(t, map[string]string{"id": "/users/1", "host": "127.0.0.1:1"}, got)
	assert.Equal(t, int32(1), calls.Load())

	// Without WithClient, Send uses DefaultClient, which finds no server.
	rsp = typhon.NewRequest(t.Context(), "GET", url, nil).Send().Response()
	assert.Equal(t, typhon.CodeUnavailable, typhon.ErrorCode(rsp.Error), "%v", rsp.Error)
	assert.Equal(t, int32(1), calls.Load())
}

// TestFutureStubReachesNetwork: a stub installed with WithClient that needs
// the real network calls SendVia(typhon.DefaultClient).
func TestFutureStubReachesNetwork(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		var serverCalls, stubCalls atomic.Int32
		base := e.serve(func(req typhon.Request) typhon.Response {
			serverCalls.Add(1)
			return req.Response("from the server")
		})
		stub := func(req typhon.Request) typhon.Response {
			stubCalls.Add(1)
			req.Header.Set("X-Stub", "1")
			return req.SendVia(typhon.DefaultClient).Response()
		}
		ctx := typhon.WithClient(t.Context(), stub)
		var got string
		require.NoError(t, typhon.NewRequest(ctx, "GET", base+"/", nil).Send().Response().Decode(&got))
		assert.Equal(t, "from the server", got)
		assert.Equal(t, int32(1), stubCalls.Load())
		assert.Equal(t, int32(1), serverCalls.Load())
	}, typhontest.HTTP1) // DefaultClient speaks HTTP/1.1 to http:// URLs
}

func TestFuturePanickingStub(t *testing.T) {
	t.Parallel()
	ctx := typhon.WithClient(t.Context(), func(req typhon.Request) typhon.Response { panic("boom") })
	var rsp typhon.Response
	require.NotPanics(t, func() {
		rsp = typhon.NewRequest(ctx, "GET", "http://127.0.0.1/", nil).Send().Response()
	})
	assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
	assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
	assert.NotContains(t, rsp.Error.Error(), "boom", "the panic value stays in the log")
}

// closeSignal is a response body that closes closed when it is closed.
type closeSignal struct {
	io.ReadCloser
	closed chan struct{}
	once   sync.Once
}

func (b *closeSignal) Close() error {
	b.once.Do(func() { close(b.closed) })
	return b.ReadCloser.Close()
}

// TestFutureResolvesAtDeadline: a Service that ignores its context does not
// hold the caller past its deadline; its late Response has its body closed.
func TestFutureResolvesAtDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ctx      func(context.Context) (context.Context, context.CancelFunc)
		cancel   bool // cancel by hand instead of waiting for the deadline
		wantCode string
		wantIs   error
	}{
		{"deadline", func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 5*time.Second)
		}, false, typhon.CodeTimeout, context.DeadlineExceeded},
		{"cancel", context.WithCancel, true, typhon.CodeCanceled, context.Canceled},
	}
	for _, tt := range tests {
		for _, via := range []string{"SendVia", "Send"} {
			t.Run(tt.name+"/"+via, func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					release := make(chan struct{})
					body := &closeSignal{ReadCloser: io.NopCloser(strings.NewReader("late")), closed: make(chan struct{})}
					svc := func(req typhon.Request) typhon.Response {
						<-release // ignores its context
						rsp := req.Response(nil)
						rsp.Body = body
						return rsp
					}
					ctx, cancel := tt.ctx(t.Context())
					defer cancel()
					start := time.Now()
					req := typhon.NewRequest(ctx, "GET", "http://127.0.0.1:1/", nil)
					var f *typhon.ResponseFuture
					if via == "Send" {
						f = req.WithContext(typhon.WithClient(ctx, svc)).Send()
					} else {
						f = req.SendVia(svc)
					}
					synctest.Wait()
					select {
					case <-f.Done():
						t.Fatal("resolved before the deadline")
					default:
					}
					if tt.cancel {
						cancel()
					}
					rsp := f.Response()
					if !tt.cancel {
						assert.Equal(t, 5*time.Second, time.Since(start), "resolved at the deadline")
					}
					assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error))
					assert.ErrorIs(t, rsp.Error, tt.wantIs)
					assert.Same(t, f.Response().Error, rsp.Error, "a future holds one Response")

					close(release) // the late Response is discarded and its body closed
					synctest.Wait()
					select {
					case <-body.closed:
					default:
						t.Error("the late Response's body was not closed")
					}
				})
			})
		}
	}
}

// TestFutureDeadlineOverNetwork: a Service that sends the call with its
// caller's context detached (it ignores the deadline) over the network to a
// server that hangs: the future still resolves at the caller's deadline, and
// the late Response that arrives when the server answers is closed.
func TestFutureDeadlineOverNetwork(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		base := e.serve(func(req typhon.Request) typhon.Response {
			select {
			case <-release:
			case <-req.Context().Done():
			}
			return req.Response("late")
		})
		bodyClosed := make(chan struct{})
		detached := func(req typhon.Request) typhon.Response {
			rsp := e.client(req.WithContext(context.WithoutCancel(req.Context())))
			if rsp.Body != nil {
				rsp.Body = &closeSignal{ReadCloser: rsp.Body, closed: bodyClosed}
			}
			return rsp
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		f := typhon.NewRequest(ctx, "GET", base+"/", nil).SendVia(detached)
		within(t, f.Done(), "the future to resolve at the deadline")
		got := f.Response()
		assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(got.Error))
		assert.ErrorIs(t, got.Error, context.DeadlineExceeded)
		close(release)
		within(t, bodyClosed, "the late Response's body to be closed")
	})
}
