package typhon_test

import (
	"context"
	"net/http"
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
)

// hanger is a Service that blocks until its request's context ends. Each
// call names itself in its X-Call header, so that a test learns when that
// call arrived and when the Service saw its context end.
type hanger struct {
	mu    sync.Mutex
	calls map[string]*hangCall
}

type hangCall struct {
	arrived, ended         chan struct{}
	arrivedOnce, endedOnce sync.Once
	header                 http.Header // the request's headers, set before arrived
}

func newHanger() *hanger { return &hanger{calls: make(map[string]*hangCall)} }

// expect registers the call id before it is made.
func (h *hanger) expect(id string) *hangCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := &hangCall{arrived: make(chan struct{}), ended: make(chan struct{})}
	h.calls[id] = c
	return c
}

// arrivedCalls returns the calls that have reached the Service.
func (h *hanger) arrivedCalls() []*hangCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var cs []*hangCall
	for _, c := range h.calls {
		select {
		case <-c.arrived:
			cs = append(cs, c)
		default:
		}
	}
	return cs
}

func (h *hanger) serve(req typhon.Request) typhon.Response {
	h.mu.Lock()
	c := h.calls[req.Header.Get("X-Call")]
	h.mu.Unlock()
	if c == nil {
		return typhon.Response{Error: typhon.NewError(typhon.CodeBadRequest, "unknown call")}
	}
	c.arrivedOnce.Do(func() {
		c.header = req.Header.Clone()
		close(c.arrived)
	})
	<-req.Context().Done()
	c.endedOnce.Do(func() { close(c.ended) })
	return typhon.Response{Error: req.Context().Err()}
}

// deadlineWhileBlocked calls call with deadlines of 200 ms, 400 ms, ...
// until the call reaches h before its deadline, so that the deadline surely
// hits while the server is blocked however slow the machine, and checks
// each Response with check. It returns once h has seen the call's context
// end.
func deadlineWhileBlocked(t *testing.T, h *hanger, call func(ctx context.Context, id string) typhon.Response, check func(typhon.Response)) {
	t.Helper()
	for i, d := 0, 200*time.Millisecond; ; i, d = i+1, 2*d {
		id := strconv.Itoa(i)
		c := h.expect(id)
		ctx, cancel := context.WithTimeout(t.Context(), d)
		rsp := call(ctx, id)
		cancel()
		check(rsp)
		closeRspBody(rsp)
		select {
		case <-c.arrived:
			within(t, c.ended, "the server to see the caller's deadline")
			return
		default:
		}
		require.Less(t, d, 3*time.Second, "the call never reached the server before its deadline")
	}
}

func TestClientCallerDeadline(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		h := newHanger()
		// The server ignores the deadline it is sent, so that only the
		// caller's deadline ends the call: the server sees the caller go.
		base := e.serve(h.serve, typhon.WithoutInboundDeadlines())
		var budget time.Duration
		deadlineWhileBlocked(t, h, func(ctx context.Context, id string) typhon.Response {
			deadline, _ := ctx.Deadline()
			budget = time.Until(deadline)
			req := typhon.NewRequest(ctx, "GET", base+"/", nil)
			req.Header.Set("X-Call", id)
			return e.client(req)
		}, func(rsp typhon.Response) {
			require.Error(t, rsp.Error)
			assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error))
			assert.ErrorIs(t, rsp.Error, context.DeadlineExceeded)
			assert.Equal(t, http.StatusGatewayTimeout, rsp.StatusCode)
		})
		// The calls that reached the server carried the caller's deadline.
		arrived := h.arrivedCalls()
		require.NotEmpty(t, arrived)
		for _, c := range arrived {
			ms, err := strconv.ParseInt(c.header.Get(typhon.TimeoutHeader), 10, 64)
			require.NoError(t, err)
			assert.Positive(t, ms)
			assert.LessOrEqual(t, ms, budget.Milliseconds()+1)
		}
	})
}

func TestClientCallerCancel(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		h := newHanger()
		base := e.serve(h.serve)
		c := h.expect("1")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		req := typhon.NewRequest(ctx, "GET", base+"/", nil)
		req.Header.Set("X-Call", "1")
		done := make(chan typhon.Response, 1)
		go func() { done <- e.client(req) }()
		within(t, c.arrived, "the call to arrive")
		cancel()
		rsp := within(t, done, "the client to return")
		defer closeRspBody(rsp)
		assert.Equal(t, typhon.CodeCanceled, typhon.ErrorCode(rsp.Error))
		assert.ErrorIs(t, rsp.Error, context.Canceled)
		assert.NotErrorIs(t, rsp.Error, context.DeadlineExceeded)
		assert.Equal(t, typhon.StatusClientClosedRequest, rsp.StatusCode)
		within(t, c.ended, "the server to see the cancellation")
	})
}

func TestClientExpiredContextMakesNoCall(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		var calls atomic.Int32
		base := e.serve(func(req typhon.Request) typhon.Response {
			calls.Add(1)
			return req.Response("hi")
		})
		expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		canceled, cancel2 := context.WithCancel(t.Context())
		cancel2()
		tests := []struct {
			name     string
			ctx      context.Context
			wantCode string
			wantIs   error
		}{
			{"expired", expired, typhon.CodeTimeout, context.DeadlineExceeded},
			{"canceled", canceled, typhon.CodeCanceled, context.Canceled},
		}
		for _, tt := range tests {
			for _, via := range []string{"client", "SendVia"} {
				req := typhon.NewRequest(tt.ctx, "GET", base+"/", nil)
				var rsp typhon.Response
				if via == "client" {
					rsp = e.client(req)
				} else {
					rsp = req.SendVia(e.client).Response()
				}
				assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error), "%s via %s", tt.name, via)
				assert.ErrorIs(t, rsp.Error, tt.wantIs, "%s via %s", tt.name, via)
				closeRspBody(rsp)
			}
		}
		// A call with a live context proves the server counts.
		rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/", nil))
		var got string
		require.NoError(t, rsp.Decode(&got))
		assert.Equal(t, int32(1), calls.Load(), "only the live call reached the server")
	})
}

func TestClientWireTimeoutIsNotCallerDeadline(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode string
	}{
		{"typhon timeout", typhon.NewError(typhon.CodeTimeout, "downstream too slow"), typhon.CodeTimeout},
		{"bare DeadlineExceeded", context.DeadlineExceeded, typhon.CodeTimeout},
		{"wrapped DeadlineExceeded", typhon.WrapError(context.DeadlineExceeded, "timeout.db", "db too slow"), "timeout.db"},
		{"typhon canceled", typhon.NewError(typhon.CodeCanceled, "caller left"), typhon.CodeCanceled},
		{"bare Canceled", context.Canceled, typhon.CodeCanceled},
	}
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return typhon.Response{Error: tests[orPanic(strconv.Atoi(req.URL.Path[1:]))].err}
		})
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/"+strconv.Itoa(i), nil))
				defer closeRspBody(rsp)
				assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error))
				assert.Equal(t, typhon.ErrorStatus(tt.err), rsp.StatusCode)
				assert.NotErrorIs(t, rsp.Error, context.DeadlineExceeded, "a downstream's timeout is not the caller's deadline")
				assert.NotErrorIs(t, rsp.Error, context.Canceled)
			})
		}
	})
}

func TestClientDeadlineHeader(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		type seen struct {
			Value   string
			Present bool
		}
		base := e.serve(func(req typhon.Request) typhon.Response {
			v, ok := req.Header[typhon.TimeoutHeader]
			return req.Response(seen{strings.Join(v, ","), ok})
		})
		noProp := typhon.NewClient(typhon.WithTransport(e.tr), typhon.WithoutPropagation())
		withDeadline, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		tests := []struct {
			name   string
			ctx    context.Context
			client typhon.Service
			stale  string // a Typhon-Timeout-Ms the Request already carries
			want   bool
		}{
			{"deadline", withDeadline, e.client, "", true},
			{"deadline replaces stale", withDeadline, e.client, "1", true},
			{"no deadline", t.Context(), e.client, "", false},
			{"no deadline drops stale", t.Context(), e.client, "5", false},
			{"without propagation", withDeadline, noProp, "", false},
			{"without propagation drops stale", withDeadline, noProp, "5", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req := typhon.NewRequest(tt.ctx, "GET", base+"/", nil)
				if tt.stale != "" {
					req.Header.Set(typhon.TimeoutHeader, tt.stale)
				}
				rsp := tt.client(req)
				var got seen
				require.NoError(t, rsp.Decode(&got))
				require.Equal(t, tt.want, got.Present, "header %q", got.Value)
				if !tt.want {
					return
				}
				ms, err := strconv.ParseInt(got.Value, 10, 64)
				require.NoError(t, err, "header %q", got.Value)
				assert.LessOrEqual(t, ms, int64(20000))
				assert.Greater(t, ms, int64(10000), "most of the 20 s budget remains")
			})
		}
	})
}

// fakeTransport is an in-memory http.RoundTripper.
type fakeTransport func(*http.Request) (*http.Response, error)

func (f fakeTransport) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestClientDeadlineHeaderValue checks the exact value on a fake clock: the
// remaining time in whole milliseconds rounded up, at least 1; an expired
// deadline fails locally without a round trip.
func TestClientDeadlineHeaderValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		remaining time.Duration
		want      string // "" : not sent
	}{
		{time.Nanosecond, "1"},
		{time.Millisecond - 1, "1"},
		{time.Millisecond, "1"},
		{time.Millisecond + 1, "2"},
		{1500 * time.Microsecond, "2"},
		{2*time.Second + time.Nanosecond, "2001"},
		{time.Hour, "3600000"},
		{0, ""},
		{-time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.remaining.String(), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var got []string
				var calls int
				client := typhon.NewClient(typhon.WithTransport(fakeTransport(func(r *http.Request) (*http.Response, error) {
					calls++
					got = r.Header.Values(typhon.TimeoutHeader)
					return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
				})))
				ctx, cancel := context.WithTimeout(t.Context(), tt.remaining)
				defer cancel()
				rsp := client(typhon.NewRequest(ctx, "GET", "http://127.0.0.1/", nil))
				if tt.want == "" {
					assert.Equal(t, 0, calls, "an expired context is not sent")
					assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error))
					assert.ErrorIs(t, rsp.Error, context.DeadlineExceeded)
					return
				}
				require.NoError(t, rsp.Error)
				assert.Equal(t, []string{tt.want}, got)
			})
		})
	}
}
