package typhon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// closeSpy is a response body that records that it was closed.
type closeSpy struct {
	io.Reader
	once   sync.Once
	closed chan struct{}
}

func newCloseSpy(r io.Reader) *closeSpy {
	return &closeSpy{Reader: r, closed: make(chan struct{})}
}

func (b *closeSpy) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// problemBody is the JSON of an error response, as any client would read it.
type problemBody struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Params map[string]string `json:"params"`
}

// rawDo sends a request with a plain net/http client and returns the
// response with its whole body, closed.
func rawDo(t *testing.T, e *env, method, url string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	return doAll(t, e.rawClient(), req)
}

// doAll sends req with c and returns the response with its whole body,
// closed.
func doAll(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	rsp, err := c.Do(req)
	require.NoError(t, err)
	defer rsp.Body.Close()
	body, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return rsp, body
}

func decodeProblem(t *testing.T, rsp *http.Response, body []byte) problemBody {
	t.Helper()
	assert.Equal(t, "application/problem+json", rsp.Header.Get("Content-Type"))
	var p problemBody
	require.NoError(t, json.Unmarshal(body, &p), "body %q", body)
	assert.Equal(t, typhon.ProblemType, p.Type)
	assert.Equal(t, rsp.StatusCode, p.Status)
	assert.Equal(t, http.StatusText(rsp.StatusCode), p.Title)
	return p
}

func TestPanicRecovered(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		logs := &logBuffer{}
		base := e.serve(func(req typhon.Request) typhon.Response {
			if req.URL.Path == "/panic" {
				panic("secret panic value")
			}
			return req.Response("ok")
		}, typhon.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))

		var mu sync.Mutex
		var reused []bool
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				mu.Lock()
				defer mu.Unlock()
				reused = append(reused, info.Reused)
			},
		})
		get := func(path string) (*http.Response, []byte) {
			req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
			require.NoError(t, err)
			return doAll(t, e.rawClient(), req)
		}

		rsp, body := get("/panic")
		assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
		p := decodeProblem(t, rsp, body)
		assert.Equal(t, typhon.CodeInternalService, p.Code)
		for _, leak := range []string{"secret", "panic", "goroutine", ".go:", "handler_test", "/work/"} {
			assert.NotContains(t, string(body), leak)
		}

		rsp, body = get("/ok")
		assert.Equal(t, http.StatusOK, rsp.StatusCode)
		assert.JSONEq(t, `"ok"`, string(body))
		mu.Lock()
		assert.Equal(t, []bool{false, true}, reused, "the connection of the panic is reused")
		mu.Unlock()

		log := logs.String()
		assert.Contains(t, log, "secret panic value")
		assert.Contains(t, log, "goroutine ", "the log has the stack")
		assert.Contains(t, log, "handler_test.go", "the stack shows where the panic was")
	})
}

func TestPanicWithoutRecovery(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		logs := &logBuffer{}
		base := e.serve(func(req typhon.Request) typhon.Response {
			panic("unrecovered")
		}, typhon.WithoutRecovery(), quietHTTPServer(), typhon.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))

		rsp := typhon.NewRequest(t.Context(), "GET", base+"/", nil).SendVia(e.client).Response()
		require.Error(t, rsp.Error)
		assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeBadGateway), "a transport error, not an answer: %v", rsp.Error)
		if rsp.Body != nil {
			rsp.Body.Close()
		}
		assert.Empty(t, logs.String(), "typhon did not recover, so it logged nothing")
	})
}

// Service-set headers that an error response keeps, and those it drops.
var (
	keptHeaders = map[string]string{
		"Allow":            "GET, HEAD",
		"Www-Authenticate": `Bearer realm="x"`,
		"X-Request-Id":     "req-123",
	}
	droppedHeaders = map[string]string{
		"Content-Encoding": "gzip",
		"Etag":             `"v1"`,
	}
)

func TestErrorResponsesOnTheWire(t *testing.T) {
	type want struct {
		status  int
		code    string
		detail  string
		params  map[string]string
		headers map[string]string // exact values
		absent  []string          // header names
		hidden  []string          // text not in the body
	}
	cases := []struct {
		name string
		svc  func(req typhon.Request, body io.ReadCloser) typhon.Response
		opts []typhon.ServerOption
		want want
	}{
		{
			name: "not found with params and status 200",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				rsp := typhon.NewResponse(req)
				rsp.StatusCode = http.StatusOK
				for k, v := range keptHeaders {
					rsp.Header.Set(k, v)
				}
				for k, v := range droppedHeaders {
					rsp.Header.Set(k, v)
				}
				rsp.Header.Set("Content-Length", "12345")
				rsp.Header.Set("Content-Type", "text/plain")
				rsp.Body, rsp.ContentLength = body, 12345
				rsp.Error = typhon.NewError("not_found.user", "x").WithParams("id", "1")
				return rsp
			},
			want: want{
				status:  http.StatusNotFound,
				code:    "not_found.user",
				detail:  "x",
				params:  map[string]string{"id": "1"},
				headers: keptHeaders,
				absent:  []string{"Content-Encoding", "Etag"},
				hidden:  []string{"discarded body"},
			},
		},
		{
			name: "plain error hides its text",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				body.Close()
				return typhon.Response{Error: errors.New("secret db host")}
			},
			want: want{status: 500, code: typhon.CodeInternalService, detail: "Internal Server Error", hidden: []string{"secret"}},
		},
		{
			name: "plain error with WithErrorDetails",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				body.Close()
				return typhon.Response{Error: errors.New("secret db host")}
			},
			opts: []typhon.ServerOption{typhon.WithErrorDetails()},
			want: want{status: 500, code: typhon.CodeInternalService, detail: "secret db host"},
		},
		{
			name: "wrapped cause stays in the server",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				body.Close()
				return typhon.Response{Error: typhon.WrapError(errors.New("secret db host"), "conflict.version", "stale")}
			},
			want: want{status: 409, code: "conflict.version", detail: "stale", hidden: []string{"secret"}},
		},
		{
			name: "retry after",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				body.Close()
				return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "busy").WithRetryAfter(3 * time.Second)}
			},
			want: want{status: 503, code: typhon.CodeUnavailable, detail: "busy", headers: map[string]string{"Retry-After": "3"}},
		},
		{
			name: "deadline exceeded",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				body.Close()
				return typhon.ErrorResponse(req, fmt.Errorf("query: %w", context.DeadlineExceeded))
			},
			want: want{status: 504, code: typhon.CodeTimeout, hidden: []string{"query"}},
		},
		{
			name: "typed nil *Error",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				body.Close()
				var e *typhon.Error
				return typhon.Response{Error: e}
			},
			want: want{status: 500, code: typhon.CodeInternalService},
		},
		{
			name: "invalid status 42",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				rsp := typhon.NewResponse(req)
				rsp.StatusCode, rsp.Body, rsp.ContentLength = 42, body, 14
				return rsp
			},
			want: want{status: 500, code: typhon.CodeInternalService, hidden: []string{"discarded body"}},
		},
		{
			name: "invalid status 1000",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				rsp := typhon.NewResponse(req)
				rsp.StatusCode, rsp.Body = 1000, body
				return rsp
			},
			want: want{status: 500, code: typhon.CodeInternalService, hidden: []string{"discarded body"}},
		},
		{
			name: "informational status",
			svc: func(req typhon.Request, body io.ReadCloser) typhon.Response {
				rsp := typhon.NewResponse(req)
				rsp.StatusCode, rsp.Body = http.StatusContinue, body
				return rsp
			},
			want: want{status: 500, code: typhon.CodeInternalService, hidden: []string{"discarded body"}},
		},
	}
	run(t, func(t *testing.T, e *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				spy := newCloseSpy(strings.NewReader("discarded body"))
				opts := append([]typhon.ServerOption{typhon.WithLogger(quietLogger())}, tc.opts...)
				base := e.serve(func(req typhon.Request) typhon.Response { return tc.svc(req, spy) }, opts...)

				// A plain client sees the problem+json as it is on the wire.
				// (Accept-Encoding set by hand: no transparent gunzip.)
				rsp, body := rawDo(t, e, "GET", base+"/", http.Header{"Accept-Encoding": {"gzip"}})
				assert.Equal(t, tc.want.status, rsp.StatusCode)
				p := decodeProblem(t, rsp, body)
				assert.Equal(t, tc.want.code, p.Code)
				if tc.want.detail != "" {
					assert.Equal(t, tc.want.detail, p.Detail)
				}
				assert.Equal(t, tc.want.params, p.Params)
				assert.Equal(t, int64(len(body)), rsp.ContentLength, "Content-Length is the problem's")
				for k, v := range tc.want.headers {
					assert.Equal(t, v, rsp.Header.Get(k), k)
				}
				for _, k := range tc.want.absent {
					assert.Empty(t, rsp.Header.Values(k), k)
				}
				for _, s := range tc.want.hidden {
					assert.NotContains(t, string(body), s)
				}
				within(t, spy.closed, "discarded body closed")

				// typhon's client turns it back into the *Error.
				trsp := typhon.NewRequest(t.Context(), "GET", base+"/", nil).SendVia(e.client).Response()
				var te *typhon.Error
				require.ErrorAs(t, trsp.Error, &te)
				assert.Equal(t, tc.want.code, te.Code)
				assert.Equal(t, p.Detail, te.Message)
				assert.Equal(t, tc.want.params, te.Params)
				assert.Equal(t, tc.want.status, trsp.StatusCode)
				require.NoError(t, trsp.Body.Close())
			})
		}
	})
}

// TestErrorDetailsLogged: the text of an error that is not sent is logged.
func TestErrorDetailsLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, typhontest.HTTP1)
	logs := &logBuffer{}
	base := e.serve(func(req typhon.Request) typhon.Response {
		return typhon.Response{Error: errors.New("secret db host")}
	}, typhon.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	rsp, _ := rawDo(t, e, "GET", base+"/", nil)
	assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
	assert.Contains(t, logs.String(), "secret db host")
}

// TestErrorResponseToHEAD: an error answering HEAD has the headers and no body.
func TestErrorResponseToHEAD(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return typhon.Response{Error: typhon.NewError(typhon.CodeForbidden, "no")}
		})
		rsp, body := rawDo(t, e, "HEAD", base+"/", nil)
		assert.Equal(t, http.StatusForbidden, rsp.StatusCode)
		assert.Equal(t, "application/problem+json", rsp.Header.Get("Content-Type"))
		assert.Empty(t, body)
	})
}

// TestHTTPHandlerInPlainNetHTTP: HTTPHandler behaves the same inside a plain
// net/http server, over HTTP/1.1 and TLS h2.
func TestHTTPHandlerInPlainNetHTTP(t *testing.T) {
	t.Parallel()
	svc := func(req typhon.Request) typhon.Response {
		switch req.URL.Path {
		case "/ok":
			return req.Response(map[string]string{"proto": req.Proto})
		case "/error":
			rsp := typhon.ErrorResponse(req, typhon.NewError("not_found.user", "no user").WithParams("id", "7"))
			rsp.Header.Set("X-Request-Id", "r1")
			return rsp
		case "/panic":
			panic("boom")
		case "/stream":
			rsp := typhon.NewResponse(req)
			rsp.Body = io.NopCloser(strings.NewReader("streamed"))
			return rsp
		}
		return typhon.Response{Error: typhon.NewError(typhon.CodeNotFound, "")}
	}
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewUnstartedServer(typhon.HTTPHandler(svc, typhon.WithLogger(quietLogger())))
			if h2 {
				ts.EnableHTTP2 = true
				ts.StartTLS()
			} else {
				ts.Start()
			}
			t.Cleanup(ts.Close)
			c := ts.Client()
			get := func(path string) (*http.Response, []byte) {
				req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL+path, nil)
				require.NoError(t, err)
				return doAll(t, c, req)
			}

			rsp, body := get("/ok")
			assert.Equal(t, http.StatusOK, rsp.StatusCode)
			assert.Equal(t, "application/json", rsp.Header.Get("Content-Type"))
			if h2 {
				assert.JSONEq(t, `{"proto":"HTTP/2.0"}`, string(body))
			} else {
				assert.JSONEq(t, `{"proto":"HTTP/1.1"}`, string(body))
			}

			rsp, body = get("/error")
			assert.Equal(t, http.StatusNotFound, rsp.StatusCode)
			assert.Equal(t, "r1", rsp.Header.Get("X-Request-Id"))
			p := decodeProblem(t, rsp, body)
			assert.Equal(t, "not_found.user", p.Code)
			assert.Equal(t, map[string]string{"id": "7"}, p.Params)

			rsp, body = get("/panic")
			assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
			assert.Equal(t, typhon.CodeInternalService, decodeProblem(t, rsp, body).Code)

			rsp, body = get("/stream")
			assert.Equal(t, http.StatusOK, rsp.StatusCode)
			assert.Equal(t, "streamed", string(body))
		})
	}
}

// TestInbound: a request a server received is inbound; one made to send is not.
func TestInbound(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			out := typhon.NewRequest(req.Context(), "GET", "http://elsewhere/", nil)
			return req.Response([]bool{typhon.Inbound(req), typhon.Inbound(out), typhon.Inbound(req.WithContext(t.Context()))})
		})
		var got []bool
		require.NoError(t, typhon.NewRequest(t.Context(), "GET", base+"/", nil).SendVia(e.client).Response().Decode(&got))
		assert.Equal(t, []bool{true, false, true}, got)
	})
	assert.False(t, typhon.Inbound(typhon.Request{}))
}
