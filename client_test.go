package typhon_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

// e2eWait bounds every wait on another goroutine or process in these
// tests: far longer than anything takes, so only a bug reaches it.
const e2eWait = 10 * time.Second

// recvWithin waits for ch to be closed (or to deliver), failing the test
// after e2eWait.
func recvWithin[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(e2eWait):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// servePlain serves h with a plain net/http server, no typhon on the server
// side, in the env's mode until the end of the test, and returns its base URL.
func servePlain(t *testing.T, e *env, h http.Handler) string {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	switch e.mode {
	case modeH1:
		s.Start()
	case modeH2C:
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		s.Config.Protocols = &p
		s.Start()
	case modeH2TLS:
		s.TLS = &tls.Config{Certificates: []tls.Certificate{testCert()}}
		s.EnableHTTP2 = true
		s.StartTLS()
	}
	t.Cleanup(func() {
		e.tr.CloseIdleConnections()
		s.Close()
	})
	return s.URL
}

// closeRspBody closes rsp's body, if it has one.
func closeRspBody(rsp typhon.Response) {
	if rsp.Response != nil && rsp.Body != nil {
		rsp.Body.Close()
	}
}

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
			recvWithin(t, c.ended, "the server to see the caller's deadline")
			return
		default:
		}
		require.Less(t, d, 3*time.Second, "the call never reached the server before its deadline")
	}
}

func TestClientErrorFromTyphonServer(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return typhon.Response{Error: typhon.NewError("not_found.user", "no user 42").WithParams("id", "42")}
		})
		rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/users/42", nil))
		defer closeRspBody(rsp)
		var te *typhon.Error
		require.ErrorAs(t, rsp.Error, &te)
		assert.Equal(t, "not_found.user", te.Code)
		assert.Equal(t, "no user 42", te.Message)
		assert.Equal(t, map[string]string{"id": "42"}, te.Params)
		assert.Nil(t, te.Unwrap(), "an error decoded from the wire has no cause")
		assert.Equal(t, http.StatusNotFound, rsp.StatusCode)
		assert.Equal(t, "application/problem+json", rsp.Header.Get("Content-Type"))
		assert.Equal(t, e.wantProto(), rsp.Proto)
		assert.NotNil(t, rsp.Request, "the Response carries the request sent")

		// The body read for the error stays readable.
		var p map[string]any
		require.NoError(t, json.NewDecoder(rsp.Body).Decode(&p))
		assert.Equal(t, "not_found.user", p["code"])
		assert.Equal(t, typhon.ProblemType, p["type"])

		// Decode answers the same error.
		assert.Same(t, rsp.Error, rsp.Decode(&p))

		// A HEAD answer has no body: the code comes from the status.
		head := e.client(typhon.NewRequest(t.Context(), "HEAD", base+"/users/42", nil))
		defer closeRspBody(head)
		assert.Equal(t, typhon.CodeNotFound, typhon.ErrorCode(head.Error))
		assert.Equal(t, http.StatusNotFound, head.StatusCode)
	})
}

func TestClientErrorFromPlainServer(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantCode   string
		wantMsg    string
		wantRetry  time.Duration // 0: none
	}{{
		name:       "404 NotFoundHandler",
		handler:    http.NotFoundHandler().ServeHTTP,
		wantStatus: 404, wantCode: typhon.CodeNotFound, wantMsg: "404 page not found",
	}, {
		name: "409 plain JSON",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"error":"x"}`)
		},
		wantStatus: 409, wantCode: typhon.CodeConflict, wantMsg: `{"error":"x"}`,
	}, {
		name: "503 text with Retry-After",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "  down for maintenance\n")
		},
		wantStatus: 503, wantCode: typhon.CodeUnavailable, wantMsg: "down for maintenance", wantRetry: 7 * time.Second,
	}, {
		name: "403 foreign problem+json",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"type":"about:blank","title":"Forbidden","status":403,"detail":"not yours"}`)
		},
		wantStatus: 403, wantCode: typhon.CodeForbidden, wantMsg: "not yours",
	}, {
		name: "problem+json with title only",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"title":"Slow down"}`)
		},
		wantStatus: 429, wantCode: typhon.CodeRateLimited, wantMsg: "Slow down",
	}, {
		name: "code in a JSON body wins over the status",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"code":"forbidden.scope","detail":"needs admin","params":{"scope":"admin"}}`)
		},
		wantStatus: 500, wantCode: "forbidden.scope", wantMsg: "needs admin",
	}, {
		name:       "500 empty body",
		handler:    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
		wantStatus: 500, wantCode: typhon.CodeInternalService, wantMsg: "Internal Server Error",
	}, {
		name:       "418 unknown 4xx",
		handler:    func(w http.ResponseWriter, r *http.Request) { http.Error(w, "short and stout", http.StatusTeapot) },
		wantStatus: 418, wantCode: typhon.CodeBadRequest, wantMsg: "short and stout",
	}, {
		name:       "599 unknown 5xx",
		handler:    func(w http.ResponseWriter, r *http.Request) { http.Error(w, "odd", 599) },
		wantStatus: 599, wantCode: typhon.CodeInternalService, wantMsg: "odd",
	}}
	run(t, func(t *testing.T, e *env) {
		mux := http.NewServeMux()
		for i, tt := range tests {
			mux.Handle("/"+strconv.Itoa(i), tt.handler)
		}
		base := servePlain(t, e, mux)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/"+strconv.Itoa(i), nil))
				defer closeRspBody(rsp)
				var te *typhon.Error
				require.ErrorAs(t, rsp.Error, &te)
				assert.Equal(t, tt.wantStatus, rsp.StatusCode)
				assert.Equal(t, tt.wantCode, te.Code)
				assert.Equal(t, tt.wantMsg, te.Message)
				d, ok := typhon.RetryAfter(rsp.Error)
				assert.Equal(t, tt.wantRetry != 0, ok)
				assert.Equal(t, tt.wantRetry, d)
			})
		}
	})
}

func TestClientSuccessFromPlainServer(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := servePlain(t, e, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints) // 1xx before the answer
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"ok":true}`)
		}))
		rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/", nil))
		require.NoError(t, rsp.Error)
		assert.Equal(t, http.StatusOK, rsp.StatusCode)
		var got struct{ OK bool }
		require.NoError(t, rsp.Decode(&got))
		assert.True(t, got.OK)
	})
}

func TestClientLargeErrorBody(t *testing.T) {
	const size = 200 << 10
	text := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	problem := append([]byte(`{"code":"conflict.version","detail":"stale","params":{"v":"3"}}`), bytes.Repeat([]byte(" "), size)...)
	// A multi-byte rune straddles byte 512: the message must stay valid UTF-8.
	runes := append([]byte("x"), bytes.Repeat([]byte("é"), size/2)...)
	tests := []struct {
		name     string
		ct       string
		body     []byte
		wantCode string
		wantMsg  string
	}{
		{"text", "text/plain", text, typhon.CodeUnavailable, string(text[:512])},
		{"problem padded", "application/problem+json", problem, "conflict.version", "stale"},
		{"multi-byte text", "text/plain; charset=utf-8", runes, typhon.CodeUnavailable, string(runes[:511])},
		{"chunked text", "", text, typhon.CodeUnavailable, string(text[:512])},
	}
	run(t, func(t *testing.T, e *env) {
		base := servePlain(t, e, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tt := tests[orPanic(strconv.Atoi(r.URL.Path[1:]))]
			if tt.ct != "" {
				w.Header().Set("Content-Type", tt.ct)
				w.Header().Set("Content-Length", strconv.Itoa(len(tt.body)))
			} else {
				w.Header().Set("Content-Type", "text/plain")
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			if tt.ct == "" { // no Content-Length: streamed in pieces
				for b := tt.body; len(b) > 0; b = b[min(len(b), 1000):] {
					w.Write(b[:min(len(b), 1000)])
					w.(http.Flusher).Flush()
				}
				return
			}
			w.Write(tt.body)
		}))
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/"+strconv.Itoa(i), nil))
				defer closeRspBody(rsp)
				var te *typhon.Error
				require.ErrorAs(t, rsp.Error, &te)
				assert.Equal(t, tt.wantCode, te.Code)
				assert.Equal(t, tt.wantMsg, te.Message)
				assert.LessOrEqual(t, len(te.Message), 512)
				assert.True(t, utf8.ValidString(te.Message))
				got, err := io.ReadAll(rsp.Body)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(tt.body, got), "the whole body stays readable: got %d bytes, want %d", len(got), len(tt.body))
			})
		}
	})
}

func orPanic[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
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
		recvWithin(t, c.arrived, "the call to arrive")
		cancel()
		rsp := recvWithin(t, done, "the client to return")
		defer closeRspBody(rsp)
		assert.Equal(t, typhon.CodeCanceled, typhon.ErrorCode(rsp.Error))
		assert.ErrorIs(t, rsp.Error, context.Canceled)
		assert.NotErrorIs(t, rsp.Error, context.DeadlineExceeded)
		assert.Equal(t, typhon.StatusClientClosedRequest, rsp.StatusCode)
		recvWithin(t, c.ended, "the server to see the cancellation")
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

func TestClientRefusedDial(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		scheme := "http://"
		if e.mode == modeH2TLS {
			scheme = "https://"
		}
		rsp := e.client(typhon.NewRequest(t.Context(), "GET", scheme+addr+"/", nil))
		defer closeRspBody(rsp)
		assert.Equal(t, typhon.CodeUnavailable, typhon.ErrorCode(rsp.Error), "%v", rsp.Error)
		assert.Equal(t, http.StatusServiceUnavailable, rsp.StatusCode)
	})
}

func TestClientBadRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, url string
	}{
		{"no host", "GET", "http:///path"},
		{"relative", "GET", "/users/1"},
		{"empty URL", "GET", ""},
		{"ftp scheme", "GET", "ftp://127.0.0.1/file"},
		{"no scheme", "GET", "//127.0.0.1/x"},
		{"unparsable URL", "GET", "http://[::1/x"},
		{"control character", "GET", "http://127.0.0.1/\x00"},
		{"colon in first segment", "GET", "127.0.0.1:80/x"},
		{"invalid method", "BAD METHOD", "http://127.0.0.1/"},
	}
	// No call reaches the network: the client answers first. The URLs point
	// at loopback in case one ever did.
	clients := map[string]typhon.Service{
		"h1":  typhon.NewClient(),
		"h2c": typhon.NewClient(typhon.WithH2C()),
	}
	for _, tt := range tests {
		for name, client := range clients {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				check := func(via string, rsp typhon.Response) {
					t.Helper()
					assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error), "via %s: %v", via, rsp.Error)
					require.NotNil(t, rsp.Response, "via %s", via)
					assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode, "via %s", via)
					closeRspBody(rsp)
				}
				var rsp typhon.Response
				require.NotPanics(t, func() {
					rsp = client(typhon.NewRequest(t.Context(), tt.method, tt.url, nil))
				})
				check("client", rsp)
				check("SendVia", typhon.NewRequest(t.Context(), tt.method, tt.url, nil).SendVia(client).Response())
				ctx := typhon.WithClient(t.Context(), client)
				check("Send", typhon.NewRequest(ctx, tt.method, tt.url, nil).Send().Response())
			})
		}
	}
	t.Run("zero Request", func(t *testing.T) {
		t.Parallel()
		require.NotPanics(t, func() {
			rsp := typhon.NewClient()(typhon.Request{})
			assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
			rsp = typhon.Request{}.Send().Response()
			assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
		})
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

func TestClientDoesNotFollowRedirects(t *testing.T) {
	tests := []struct {
		path   string
		status int
	}{
		{"/301", http.StatusMovedPermanently},
		{"/302", http.StatusFound},
		{"/303", http.StatusSeeOther},
		{"/307", http.StatusTemporaryRedirect},
		{"/308", http.StatusPermanentRedirect},
		{"/304", http.StatusNotModified},
		{"/204", http.StatusNoContent},
		{"/202", http.StatusAccepted},
	}
	run(t, func(t *testing.T, e *env) {
		var targetCalls atomic.Int32
		base := e.serve(func(req typhon.Request) typhon.Response {
			if req.URL.Path == "/target" {
				targetCalls.Add(1)
				return req.Response("target")
			}
			rsp := typhon.NewResponse(req)
			rsp.StatusCode = orPanic(strconv.Atoi(req.URL.Path[1:]))
			if rsp.StatusCode/100 == 3 {
				rsp.Header.Set("Location", "/target")
			}
			return rsp
		})
		for _, tt := range tests {
			t.Run(tt.path, func(t *testing.T) {
				rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+tt.path, nil))
				defer closeRspBody(rsp)
				require.NoError(t, rsp.Error)
				assert.Equal(t, tt.status, rsp.StatusCode)
				if tt.status/100 == 3 && tt.status != http.StatusNotModified {
					assert.Equal(t, "/target", rsp.Header.Get("Location"))
				}
			})
		}
		assert.Zero(t, targetCalls.Load(), "redirects are not followed")
	})
}

// bodySeen is what a server saw of a request body.
type bodySeen struct {
	ContentLength int64
	ContentType   string
	Body          []byte
}

func echoRequestBody(req typhon.Request) typhon.Response {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return typhon.Response{Error: typhon.WrapError(err, typhon.CodeBadRequest, err.Error())}
	}
	return req.Response(bodySeen{req.ContentLength, req.Header.Get("Content-Type"), b})
}

func TestClientRequestBodies(t *testing.T) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	// body makes the body afresh for each call: readers are used up.
	tests := []struct {
		name     string
		method   string
		body     func() any
		noBody   bool   // set req.Body = http.NoBody after NewRequest
		wantCL   int64  // the ContentLength the server sees
		wantCT   string // the Content-Type the server sees
		wantBody []byte
	}{
		{"bytes", "POST", bodyOf(binary), false, 256, "", binary},
		{"JSON", "POST", bodyOf(map[string]int{"a": 1}), false, 7, "application/json", []byte(`{"a":1}`)},
		{"JSON string", "PUT", bodyOf("hi"), false, 4, "application/json", []byte(`"hi"`)},
		{"bytes.Buffer", "POST", func() any { return bytes.NewBufferString("buffer") }, false, 6, "", []byte("buffer")},
		{"strings.Reader", "POST", func() any { return strings.NewReader("reader") }, false, 6, "", []byte("reader")},
		{"stream", "POST", func() any { return io.MultiReader(strings.NewReader("str"), strings.NewReader("eam")) }, false, -1, "", []byte("stream")},
		{"GET nil", "GET", bodyOf(nil), false, 0, "", nil},
		{"GET empty bytes", "GET", bodyOf([]byte{}), false, 0, "", nil},
		{"GET nil bytes", "GET", bodyOf([]byte(nil)), false, 0, "", nil},
		{"GET NoBody", "GET", bodyOf(nil), true, 0, "", nil},
		{"GET empty strings.Reader", "GET", func() any { return strings.NewReader("") }, false, 0, "", nil},
		{"GET empty bytes.Buffer", "GET", func() any { return new(bytes.Buffer) }, false, 0, "", nil},
		{"POST nil", "POST", bodyOf(nil), false, 0, "", nil},
		{"POST empty bytes", "POST", bodyOf([]byte{}), false, 0, "", nil},
		{"DELETE NoBody", "DELETE", bodyOf(nil), true, 0, "", nil},
	}
	run(t, func(t *testing.T, e *env) {
		base := e.serve(echoRequestBody)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req := typhon.NewRequest(t.Context(), tt.method, base+"/", tt.body())
				if tt.noBody {
					req.Body = http.NoBody
				}
				rsp := e.client(req)
				var got bodySeen
				require.NoError(t, rsp.Decode(&got))
				assert.Equal(t, tt.wantCL, got.ContentLength, "ContentLength at the server")
				assert.Equal(t, tt.wantCT, got.ContentType)
				assert.Equal(t, string(tt.wantBody), string(got.Body))
			})
		}
	})
}

// bodyOf returns a func that returns v.
func bodyOf(v any) func() any { return func() any { return v } }

func TestClientRequestBodiesReplay(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(echoRequestBody)
		bodies := map[string]func() any{
			"bytes":  bodyOf([]byte("abc")),
			"JSON":   bodyOf([]int{1, 2, 3}),
			"buffer": func() any { return bytes.NewBufferString("buf") },
			"reader": func() any { return strings.NewReader("rdr") },
		}
		for name, body := range bodies {
			t.Run(name, func(t *testing.T) {
				req := typhon.NewRequest(t.Context(), "POST", base+"/", body())
				require.NotNil(t, req.GetBody, "an in-memory body is replayable")
				want := string(orPanic(io.ReadAll(orPanic(req.GetBody()))))
				// Clones taken before the first attempt each send the whole body.
				clones := []typhon.Request{req.Clone(t.Context()), req.Clone(t.Context()), req}
				for i, c := range clones {
					var got bodySeen
					require.NoError(t, e.client(c).Decode(&got))
					assert.Equal(t, want, string(got.Body), "attempt %d", i)
				}
			})
		}
		t.Run("stream", func(t *testing.T) {
			req := typhon.NewRequest(t.Context(), "POST", base+"/", io.MultiReader(strings.NewReader("x")))
			assert.Nil(t, req.GetBody, "a stream cannot be replayed")
			var got bodySeen
			require.NoError(t, e.client(req).Decode(&got))
			assert.Equal(t, "x", string(got.Body))
		})
	})
}

// TestClientSharedTransport checks that clients made without WithTransport
// share one pool: many clients, one connection.
func TestClientSharedTransport(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		var conns atomic.Int32
		srv, err := typhon.Listen(func(req typhon.Request) typhon.Response { return req.Response(req.Proto) }, "",
			typhon.WithHTTPServer(func(s *http.Server) {
				s.ConnState = func(_ net.Conn, st http.ConnState) {
					if st == http.StateNew {
						conns.Add(1)
					}
				}
			}))
		require.NoError(t, err)
		// The shared transports cannot be told to close their idle
		// connections: close them from the server's side at once rather
		// than wait for the client after an HTTP/2 GOAWAY.
		t.Cleanup(func() { stopAtOnce(srv) })
		base := e.baseURL(srv)
		var opts []typhon.ClientOption
		if e.mode == modeH2C {
			opts = append(opts, typhon.WithH2C())
		}
		for i := range 20 {
			var got string
			require.NoError(t, typhon.NewClient(opts...)(typhon.NewRequest(t.Context(), "GET", base+"/", nil)).Decode(&got), "call %d", i)
			assert.Equal(t, e.wantProto(), got)
		}
		assert.LessOrEqual(t, conns.Load(), int32(2), "clients share one pool")
	}, modeH1, modeH2C) // the shared transports do not trust the test certificate
}

// TestClientPropagatesRequestID: the request ID in the caller's context
// travels as X-Request-Id, unless the request sets its own or the client
// propagates nothing.
func TestClientPropagatesRequestID(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return req.Response(req.Header.Get(typhon.RequestIDHeader))
		})
		ctx := typhon.WithRequestID(t.Context(), "req-1")
		cases := []struct {
			name   string
			client typhon.Service
			own    string
			want   string
		}{
			{"from context", e.client, "", "req-1"},
			{"own header wins", e.client, "mine", "mine"},
			{"without propagation", typhon.NewClient(typhon.WithTransport(e.tr), typhon.WithoutPropagation()), "", ""},
		}
		for _, c := range cases {
			req := typhon.NewRequest(ctx, "GET", base+"/", nil)
			if c.own != "" {
				req.Header.Set(typhon.RequestIDHeader, c.own)
			}
			var got string
			require.NoError(t, c.client(req).Decode(&got), c.name)
			assert.Equal(t, c.want, got, c.name)
		}
		assert.Equal(t, "req-1", typhon.RequestID(ctx))
		assert.Equal(t, "", typhon.RequestID(t.Context()))
	})
}

// TestWithoutPropagationDropsTraceContext: a client for third parties sends
// no trace context, even one a tracing filter put on the request.
func TestWithoutPropagationDropsTraceContext(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return req.Response([]string{req.Header.Get("Traceparent"), req.Header.Get("Tracestate"), req.Header.Get("Baggage")})
		})
		client := typhon.NewClient(typhon.WithTransport(e.tr), typhon.WithoutPropagation())
		req := typhon.NewRequest(t.Context(), "GET", base+"/", nil)
		req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		req.Header.Set("Tracestate", "a=b")
		req.Header.Set("Baggage", "user=1")
		var got []string
		require.NoError(t, client(req).Decode(&got))
		assert.Equal(t, []string{"", "", ""}, got)
	})
}
