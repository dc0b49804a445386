package typhon_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

func TestSendViaSuccess(t *testing.T) {
	t.Parallel()
	req := typhon.NewRequest(t.Context(), "GET", "http://x/", nil)
	f := req.SendVia(func(req typhon.Request) typhon.Response {
		rsp := req.Response("hello")
		rsp.Header.Set("X-Svc", "1")
		return rsp
	})
	<-f.Done()
	rsp := f.Response()
	require.NoError(t, rsp.Error)
	assert.Equal(t, http.StatusOK, rsp.StatusCode)
	assert.Equal(t, "1", rsp.Header.Get("X-Svc"))
	assert.Equal(t, rsp, f.Response(), "Response is stable")
	var s string
	require.NoError(t, rsp.Decode(&s))
	assert.Equal(t, "hello", s)
}

func TestSendViaNormalises(t *testing.T) {
	t.Parallel()
	req := typhon.NewRequest(t.Context(), "GET", "http://x/", nil)
	rsp := req.SendVia(func(typhon.Request) typhon.Response {
		return typhon.Response{Error: typhon.NewError("not_found.user", "")}
	}).Response()
	require.NotNil(t, rsp.Response)
	require.NotNil(t, rsp.Header)
	assert.Equal(t, http.StatusNotFound, rsp.StatusCode)
	assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeNotFound))
	assert.Same(t, req.Request, rsp.Request)
}

func TestSendViaNilService(t *testing.T) {
	t.Parallel()
	req := typhon.NewRequest(t.Context(), "GET", "http://x/", nil)
	f := req.SendVia(nil)
	select {
	case <-f.Done():
	default:
		t.Fatal("a nil Service is answered at once")
	}
	rsp := f.Response()
	require.NotNil(t, rsp.Response)
	assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
	assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
}

func TestSendViaPanic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		value any
	}{
		{"string", "boom"},
		{"error", errors.New("boom")},
		{"*Error", typhon.NewError(typhon.CodeNotFound, "not a not_found: a panic")},
		{"nil", nil},
		{"abort handler", http.ErrAbortHandler},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := typhon.NewRequest(t.Context(), "GET", "http://x/", nil)
			var rsp typhon.Response
			require.NotPanics(t, func() {
				rsp = req.SendVia(func(typhon.Request) typhon.Response { panic(tc.value) }).Response()
			})
			require.NotNil(t, rsp.Response)
			require.NotNil(t, rsp.Header)
			assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
			assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
		})
	}
}

// TestSendViaDeadline: a future resolves when its context ends, not when
// the Service gets round to answering; the late Response's body is closed.
func TestSendViaDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		release := make(chan struct{})
		late := newUTBody("late")
		svc := func(req typhon.Request) typhon.Response {
			<-release
			rsp := req.Response(nil)
			rsp.Body = late
			return rsp
		}
		start := time.Now()
		f := typhon.NewRequest(ctx, "GET", "http://x/", nil).SendVia(svc)

		synctest.Wait()
		select {
		case <-f.Done():
			t.Fatal("resolved before the deadline")
		default:
		}

		rsp := f.Response()
		assert.Equal(t, 3*time.Second, time.Since(start), "resolves exactly at the deadline")
		require.NotNil(t, rsp.Response)
		assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error))
		assert.ErrorIs(t, rsp.Error, context.DeadlineExceeded, "the caller's own deadline")
		assert.Equal(t, http.StatusGatewayTimeout, rsp.StatusCode)
		assert.Zero(t, late.closed.Load())

		close(release)
		synctest.Wait()
		assert.Equal(t, int32(1), late.closed.Load(), "the late Response's body is closed")
		assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(f.Response().Error), "the late Response is discarded")
	})
}

func TestSendViaCanceled(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cause := errors.New("user went away")
		ctx, cancel := context.WithCancelCause(context.Background())
		release := make(chan struct{})
		late := newUTBody("late")
		f := typhon.NewRequest(ctx, "GET", "http://x/", nil).SendVia(func(req typhon.Request) typhon.Response {
			<-release
			rsp := req.Response(nil)
			rsp.Body = late
			return rsp
		})
		time.AfterFunc(time.Second, func() { cancel(cause) })
		rsp := f.Response()
		assert.Equal(t, typhon.CodeCanceled, typhon.ErrorCode(rsp.Error))
		assert.ErrorIs(t, rsp.Error, context.Canceled)
		assert.ErrorIs(t, rsp.Error, cause)
		assert.Equal(t, typhon.StatusClientClosedRequest, rsp.StatusCode)

		close(release)
		synctest.Wait()
		assert.Equal(t, int32(1), late.closed.Load())
	})
}

// TestSendViaBeforeDeadline: once the Service has answered, the end of the
// context changes nothing.
func TestSendViaBeforeDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		body := newUTBody("body")
		f := typhon.NewRequest(ctx, "GET", "http://x/", nil).SendVia(func(req typhon.Request) typhon.Response {
			rsp := req.Response(nil)
			rsp.Body = body
			return rsp
		})
		rsp := f.Response()
		require.NoError(t, rsp.Error)
		cancel()
		synctest.Wait()
		assert.NoError(t, f.Response().Error)
		assert.Zero(t, body.closed.Load(), "the Response handed out is not closed under its owner")
		assert.Equal(t, "body", readAllString(t, rsp.Body))
	})
}

// TestSendViaDoneSelect: Done serves select-based fan-out; each future
// resolves when its own Service answers.
func TestSendViaDoneSelect(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const n = 3
		var release [n]chan struct{}
		var futures [n]*typhon.ResponseFuture
		for i := range n {
			release[i] = make(chan struct{})
			req := typhon.NewRequest(context.Background(), "GET", "http://x/", nil)
			futures[i] = req.SendVia(func(req typhon.Request) typhon.Response {
				<-release[i]
				return req.Response(i)
			})
		}
		done := func(i int) <-chan struct{} {
			if futures[i] == nil {
				return nil // already collected: a nil channel never fires
			}
			return futures[i].Done()
		}
		var order []int
		for _, next := range []int{2, 0, 1} {
			synctest.Wait()
			select {
			case <-done(0):
				t.Fatal("0 resolved early")
			case <-done(1):
				t.Fatal("1 resolved early")
			case <-done(2):
				t.Fatal("2 resolved early")
			default:
			}
			close(release[next])
			var got int
			select {
			case <-done(0):
				got = 0
			case <-done(1):
				got = 1
			case <-done(2):
				got = 2
			}
			var v int
			require.NoError(t, futures[got].Response().Decode(&v))
			assert.Equal(t, got, v)
			order = append(order, got)
			futures[got] = nil
		}
		assert.Equal(t, []int{2, 0, 1}, order)
	})
}

func TestSendViaConcurrentResponse(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := typhon.NewRequest(t.Context(), "GET", "http://x/", nil).SendVia(func(req typhon.Request) typhon.Response {
		<-release
		return req.Response("v")
	})
	var wg sync.WaitGroup
	got := make([]typhon.Response, 8)
	for i := range got {
		wg.Go(func() { got[i] = f.Response() })
	}
	close(release)
	wg.Wait()
	for _, rsp := range got {
		assert.Same(t, got[0].Response, rsp.Response)
	}
	assert.Same(t, got[0].Response, f.Response().Response)
}

func TestContextError(t *testing.T) {
	t.Parallel()
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	canceled, cancel2 := context.WithCancelCause(context.Background())
	cancel2(errors.New("caller left"))

	err := typhon.ContextError(expired)
	assert.True(t, typhon.IsCode(err, typhon.CodeTimeout))
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	err = typhon.ContextError(canceled)
	assert.True(t, typhon.IsCode(err, typhon.CodeCanceled))
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, errors.Unwrap(err), "caller left", "the cause is kept")
}
