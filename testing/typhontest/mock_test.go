package typhontest_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

func TestMockScript(t *testing.T) {
	t.Parallel()
	boom := typhon.NewError("unavailable", "try later")
	mock := typhontest.NewMock(t,
		typhontest.Fail(boom),
		typhontest.RespondFunc(func(req typhon.Request) typhon.Response {
			rsp := req.Response([]byte("created"))
			rsp.StatusCode = http.StatusCreated
			return rsp
		}),
		typhontest.Respond("again and again"),
	)
	svc := mock.Serve()
	call := func() typhon.Response { return svc(typhontest.NewRequest(t, "POST", "/things", "body")) }

	rsp := call()
	typhontest.AssertCode(t, rsp, "unavailable")
	typhontest.AssertStatus(t, rsp, 503)
	assert.Same(t, boom, rsp.Error, "in process, the caller gets the error itself")

	rsp = call()
	typhontest.AssertStatus(t, rsp, 201)
	typhontest.AssertBody(t, rsp, "created")

	for range 3 {
		assert.Equal(t, "again and again", typhontest.Decode[string](t, call()), "the last step repeats")
	}
	assert.Equal(t, 5, mock.Count())
	calls := mock.Calls()
	require.Len(t, calls, 5)
	assert.Equal(t, "POST /things", calls[0].String())
	assert.Equal(t, `"body"`, string(calls[4].Body))
}

func TestMockWithoutSteps(t *testing.T) {
	t.Parallel()
	mock := typhontest.NewMock(t)
	rsp := mock.Serve()(typhontest.NewRequest(t, "GET", "/", nil))
	typhontest.AssertStatus(t, rsp, 200)
	typhontest.AssertBody(t, rsp, "")
	rsp = typhontest.NewMock(t, typhontest.Step{}).Serve()(typhontest.NewRequest(t, "GET", "/", nil))
	typhontest.AssertStatus(t, rsp, 200)
}

func TestMockNoMoreCalls(t *testing.T) {
	t.Parallel()
	f := newFakeTB(t)
	mock := typhontest.NewMock(f, typhontest.Respond("once"), typhontest.NoMoreCalls())
	svc := mock.Serve()
	typhontest.AssertOK(t, svc(typhontest.NewRequest(t, "GET", "/a", nil)))
	assert.False(t, f.failed())
	rsp := svc(typhontest.NewRequest(t, "GET", "/b", nil))
	typhontest.AssertCode(t, rsp, typhon.CodeInternalService)
	assert.Equal(t, "typhontest: unexpected call 2 to a Mock with 1 step: GET /b", f.failures())
	svc(typhontest.NewRequest(t, "GET", "/c", nil))
	assert.Contains(t, f.failures(), "unexpected call 3")
}

func TestMockPanic(t *testing.T) {
	t.Parallel()
	mock := typhontest.NewMock(t, typhontest.Panic("boom"))
	assert.PanicsWithValue(t, "boom", func() { mock.Serve()(typhontest.NewRequest(t, "GET", "/", nil)) })
	rsp := typhontest.NewRequest(t, "GET", "/", nil).SendVia(mock.Serve()).Response()
	typhontest.AssertCode(t, rsp, typhon.CodeInternalService)
	assert.Equal(t, 2, mock.Count(), "a call that panics is counted")
	assert.Panics(t, func() { typhontest.RespondFunc(nil) })
}

// Concurrent calls each take their own step, exactly once.
func TestMockConcurrentCalls(t *testing.T) {
	t.Parallel()
	const n = 100
	steps := make([]typhontest.Step, n)
	for i := range steps {
		steps[i] = typhontest.Respond(i)
	}
	mock := typhontest.NewMock(t, append(steps, typhontest.NoMoreCalls())...)
	answers := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			rsp := mock.Serve()(typhon.NewRequest(t.Context(), "GET", "/", nil))
			var i int
			if err := rsp.Decode(&i); err != nil {
				t.Error(err)
			}
			answers <- i
		})
	}
	wg.Wait()
	close(answers)
	seen := make(map[int]bool)
	for i := range answers {
		assert.False(t, seen[i], "step %d answered twice", i)
		seen[i] = true
	}
	assert.Len(t, seen, n)
	assert.Equal(t, n, mock.Count())
	assert.Len(t, mock.Calls(), n)
}

// TestMockLatencyInSynctest: latency runs in the bubble's virtual time, so
// a 5 s latency takes exactly 5 s of it and no real time.
func TestMockLatencyInSynctest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		mock := typhontest.NewMock(t, typhontest.Respond("slow").After(5*time.Second))
		start := time.Now()
		rsp := mock.Serve()(typhontest.NewRequest(t, "GET", "/", nil))
		assert.Equal(t, 5*time.Second, time.Since(start))
		assert.Equal(t, "slow", typhontest.Decode[string](t, rsp))

		// Concurrent calls wait together.
		start = time.Now()
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { mock.Serve()(typhon.NewRequest(t.Context(), "GET", "/", nil)) })
		}
		wg.Wait()
		assert.Equal(t, 5*time.Second, time.Since(start))
	})
}

func TestMockLatencyEndsWithTheContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		mock := typhontest.NewMock(t, typhontest.Respond("too late").After(time.Minute))
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		rsp := mock.Serve()(typhontest.NewRequest(t, "GET", "/", nil, typhontest.WithContext(ctx)))
		assert.Equal(t, 2*time.Second, time.Since(start))
		typhontest.AssertCode(t, rsp, typhon.CodeTimeout)
		assert.ErrorIs(t, rsp.Error, context.DeadlineExceeded)
	})
}

func TestMockHang(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		mock := typhontest.NewMock(t, typhontest.Hang())
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		rsp := typhontest.NewRequest(t, "GET", "/", nil, typhontest.WithContext(ctx)).SendVia(mock.Serve()).Response()
		assert.Equal(t, 3*time.Second, time.Since(start))
		typhontest.AssertCode(t, rsp, typhon.CodeTimeout)

		ctx, cancel = context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		start = time.Now()
		rsp = mock.Serve()(typhontest.NewRequest(t, "GET", "/", nil, typhontest.WithContext(ctx)))
		assert.Equal(t, time.Second, time.Since(start))
		typhontest.AssertCode(t, rsp, typhon.CodeCanceled)
	})
}

// A Mock made outside a bubble still waits durably inside it: its waits
// are on contexts of the bubble, never on the outer test's.
func TestMockMadeOutsideTheBubble(t *testing.T) {
	t.Parallel()
	mock := typhontest.NewMock(t, typhontest.Hang(), typhontest.Respond("ok").After(time.Hour))
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		typhontest.AssertCode(t, mock.Serve()(typhontest.NewRequest(t, "GET", "/", nil, typhontest.WithContext(ctx))), typhon.CodeTimeout)
		start := time.Now()
		typhontest.AssertOK(t, mock.Serve()(typhontest.NewRequest(t, "GET", "/", nil)))
		assert.Equal(t, time.Hour, time.Since(start))
	})
}

// A call left hanging with a context that never ends is released when its
// test ends, so it does not outlive the test.
func TestMockHangEndsWithTheTest(t *testing.T) {
	t.Parallel()
	done := make(chan typhon.Response, 1)
	t.Run("hangs", func(t *testing.T) {
		mock := typhontest.NewMock(t, typhontest.Hang())
		go func() {
			done <- mock.Serve()(typhon.NewRequest(context.Background(), "GET", "/", nil))
		}()
	})
	rsp := <-done
	typhontest.AssertCode(t, rsp, typhon.CodeCanceled)
	assert.EqualError(t, rsp.Error, "canceled: typhontest: the test has ended")
}

func TestMockAfterTheTest(t *testing.T) {
	t.Parallel()
	var mock *typhontest.Mock
	t.Run("ended", func(t *testing.T) { mock = typhontest.NewMock(t, typhontest.NoMoreCalls()) })
	rsp := mock.Serve()(typhon.NewRequest(t.Context(), "GET", "/", nil))
	typhontest.AssertCode(t, rsp, typhon.CodeInternalService)
}
