package typhon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
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
	rsp, err := e.rawClient().Do(req)
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
			rsp, err := e.rawClient().Do(req)
			require.NoError(t, err)
			defer rsp.Body.Close()
			body, err := io.ReadAll(rsp.Body)
			require.NoError(t, err)
			return rsp, body
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
	e := newEnv(t, modeH1)
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

// rawHTTP1 sends raw bytes on a new connection to addr and reads one
// response.
func rawHTTP1(t *testing.T, addr, raw string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(waitBound)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	rsp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer rsp.Body.Close()
	body, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return rsp, body
}

// TestMalformedRequestBody: a body that fails to read is answered 400, even
// when the Service ignores the failure and answers 200.
func TestMalformedRequestBody(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		svc  func(req typhon.Request, spy *closeSpy) typhon.Response
	}{
		{"ignored", func(req typhon.Request, spy *closeSpy) typhon.Response {
			_, _ = io.Copy(io.Discard, req.Body)
			rsp := typhon.NewResponse(req)
			rsp.Body = spy
			return rsp
		}},
		{"decoded", func(req typhon.Request, spy *closeSpy) typhon.Response {
			spy.Close()
			var v map[string]any
			if err := req.Decode(&v); err != nil {
				return typhon.ErrorResponse(req, err)
			}
			return req.Response(v)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spy := newCloseSpy(strings.NewReader("all is well"))
			srv, err := typhon.Listen(func(req typhon.Request) typhon.Response { return tc.svc(req, spy) }, "",
				typhon.WithLogger(quietLogger()))
			require.NoError(t, err)
			t.Cleanup(func() { stopNow(t, srv) })

			rsp, body := rawHTTP1(t, srv.Addr().String(), "POST / HTTP/1.1\r\nHost: x\r\n"+
				"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"2\r\n{}\r\nzz\r\nnot a chunk\r\n0\r\n\r\n")
			assert.Equal(t, http.StatusBadRequest, rsp.StatusCode)
			p := decodeProblem(t, rsp, body)
			assert.Equal(t, typhon.CodeBadRequest, p.Code)
			within(t, spy.closed, "the Service's body closed")
		})
	}
}

// TestRequestBodyLimit: a body cut by http.MaxBytesReader in a Filter is
// answered 413 request_too_large.
func TestRequestBodyLimit(t *testing.T) {
	limit := func(req typhon.Request, svc typhon.Service) typhon.Response {
		req.Body = http.MaxBytesReader(nil, req.Body, 16)
		return svc(req)
	}
	cases := []struct {
		name string
		svc  typhon.Service
		gap  string // a known gap: the case is skipped with this reason
	}{
		{name: "decoded", svc: func(req typhon.Request) typhon.Response {
			var v map[string]string
			if err := req.Decode(&v); err != nil {
				return typhon.ErrorResponse(req, err)
			}
			return req.Response(v)
		}},
		{name: "error returned", svc: func(req typhon.Request) typhon.Response {
			if _, err := io.ReadAll(req.Body); err != nil {
				return typhon.ErrorResponse(req, err)
			}
			return req.Response("ok")
		}},
		{
			name: "error ignored",
			svc: func(req typhon.Request) typhon.Response {
				_, _ = io.ReadAll(req.Body)
				return req.Response("ok")
			},
			// HTTPHandler tracks the body it hands out; a reader a Filter
			// puts above it fails without HTTPHandler seeing it.
			gap: "a limit set by a Filter is not seen by HTTPHandler when the Service ignores it",
		},
	}
	run(t, func(t *testing.T, e *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				if tc.gap != "" {
					t.Skip("known gap: " + tc.gap)
				}
				base := e.serve(tc.svc.Filter(limit))
				big := map[string]string{"name": strings.Repeat("x", 1000)}
				rsp := typhon.NewRequest(t.Context(), "POST", base+"/", big).SendVia(e.client).Response()
				require.Error(t, rsp.Error)
				assert.Equal(t, http.StatusRequestEntityTooLarge, rsp.StatusCode)
				assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeRequestTooLarge), "%v", rsp.Error)
				require.NoError(t, rsp.Body.Close())

				small := map[string]string{"a": "b"}
				rsp = typhon.NewRequest(t.Context(), "POST", base+"/", small).SendVia(e.client).Response()
				require.NoError(t, rsp.Error)
				require.NoError(t, rsp.Body.Close())
			})
		}
	})
}

func TestDecodeJSONRequestBody(t *testing.T) {
	type greeting struct {
		Name string `json:"name"`
	}
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			var in greeting
			if err := req.Decode(&in); err != nil {
				return typhon.ErrorResponse(req, err)
			}
			return req.Response(greeting{Name: "hello " + in.Name})
		})
		rsp := typhon.NewRequest(t.Context(), "POST", base+"/", greeting{Name: "ada"}).SendVia(e.client).Response()
		var out greeting
		require.NoError(t, rsp.Decode(&out))
		assert.Equal(t, "hello ada", out.Name)

		// Not JSON: the Service's Decode error reaches the caller.
		bad := typhon.NewRequest(t.Context(), "POST", base+"/", []byte("{"))
		rsp = bad.SendVia(e.client).Response()
		assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeBadRequest), "%v", rsp.Error)
		require.NoError(t, rsp.Body.Close())
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
				rsp, err := c.Do(req)
				require.NoError(t, err)
				defer rsp.Body.Close()
				b, err := io.ReadAll(rsp.Body)
				require.NoError(t, err)
				return rsp, b
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

func TestFromHandler(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		h     http.Handler
		check func(t *testing.T, rsp typhon.Response)
	}{
		{"not found", http.NotFoundHandler(), func(t *testing.T, rsp typhon.Response) {
			assert.Equal(t, http.StatusNotFound, rsp.StatusCode)
			assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeNotFound), "%v", rsp.Error)
		}},
		{"json", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"name":"ada"}`)
		}), func(t *testing.T, rsp typhon.Response) {
			require.NoError(t, rsp.Error)
			assert.Equal(t, http.StatusOK, rsp.StatusCode)
			var v struct{ Name string }
			require.NoError(t, rsp.Decode(&v))
			assert.Equal(t, "ada", v.Name)
		}},
		{"typhon problem", typhon.HTTPHandler(func(req typhon.Request) typhon.Response {
			return typhon.Response{Error: typhon.NewError("conflict.version", "stale").WithParams("v", "2")}
		}), func(t *testing.T, rsp typhon.Response) {
			var e *typhon.Error
			require.ErrorAs(t, rsp.Error, &e)
			assert.Equal(t, "conflict.version", e.Code)
			assert.Equal(t, "stale", e.Message)
			assert.Equal(t, map[string]string{"v": "2"}, e.Params)
		}},
		{"panic", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic("handler panic")
		}), func(t *testing.T, rsp typhon.Response) {
			assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeInternalService), "%v", rsp.Error)
			assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
		}},
		{"no content", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}), func(t *testing.T, rsp typhon.Response) {
			require.NoError(t, rsp.Error)
			assert.Equal(t, http.StatusNoContent, rsp.StatusCode)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rsp := typhon.FromHandler(tc.h)(typhon.NewRequest(t.Context(), "GET", "http://example.test/x", nil))
			require.NotNil(t, rsp.Response)
			require.NotNil(t, rsp.Header)
			tc.check(t, rsp)
			if rsp.Body != nil {
				rsp.Body.Close()
			}
		})
	}
}

// TestFromHandlerStreams: the Response comes back at the handler's first
// Flush, while the handler still runs; its body gives the rest.
func TestFromHandlerStreams(t *testing.T) {
	t.Parallel()
	more := make(chan struct{})
	finished := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(finished)
		w.Header().Set("X-Stream", "yes")
		_, _ = io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second")
	})
	rsp := typhon.FromHandler(h)(typhon.NewRequest(t.Context(), "GET", "http://example.test/", nil))
	require.NoError(t, rsp.Error)
	defer rsp.Body.Close()
	assert.Equal(t, "yes", rsp.Header.Get("X-Stream"))
	first := make([]byte, len("first;"))
	_, err := io.ReadFull(rsp.Body, first)
	require.NoError(t, err)
	assert.Equal(t, "first;", string(first))
	select {
	case <-finished:
		t.Fatal("the handler finished before it was let go")
	default:
	}
	close(more)
	rest, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	assert.Equal(t, "second", string(rest))
	within(t, finished, "handler end")
}

// TestFromHandlerMiddleware: a net/http middleware wraps a Service through
// FromHandler(mw(HTTPHandler(svc))), in process and over the network.
func TestFromHandlerMiddleware(t *testing.T) {
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Middleware", "seen "+r.URL.Path)
			next.ServeHTTP(w, r)
		})
	}
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		if req.URL.Path == "/missing" {
			return typhon.Response{Error: typhon.NewError("not_found.user", "no").WithParams("id", "1")}
		}
		return req.Response(map[string]string{"path": req.URL.Path})
	})
	wrapped := typhon.FromHandler(mw(typhon.HTTPHandler(svc)))

	check := func(t *testing.T, call func(path string) typhon.Response) {
		rsp := call("/hello")
		assert.Equal(t, "seen /hello", rsp.Header.Get("X-Middleware"))
		var v map[string]string
		require.NoError(t, rsp.Decode(&v))
		assert.Equal(t, "/hello", v["path"])

		rsp = call("/missing")
		assert.Equal(t, "seen /missing", rsp.Header.Get("X-Middleware"))
		var e *typhon.Error
		require.ErrorAs(t, rsp.Error, &e)
		assert.Equal(t, "not_found.user", e.Code)
		assert.Equal(t, map[string]string{"id": "1"}, e.Params)
		require.NoError(t, rsp.Body.Close())
	}

	t.Run("in process", func(t *testing.T) {
		t.Parallel()
		check(t, func(path string) typhon.Response {
			return wrapped(typhon.NewRequest(t.Context(), "GET", "http://example.test"+path, nil))
		})
	})
	run(t, func(t *testing.T, e *env) {
		base := e.serve(wrapped)
		check(t, func(path string) typhon.Response {
			return typhon.NewRequest(t.Context(), "GET", base+path, nil).SendVia(e.client).Response()
		})
	})
}

// TestWithMaxBodyBytes: the server's own body limit is seen by the server
// even when the Service ignores the read error, and a declared length over
// the limit is refused before the Service is called.
func TestWithMaxBodyBytes(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		var calls atomic.Int32
		base := e.serve(func(req typhon.Request) typhon.Response {
			calls.Add(1)
			_, _ = io.ReadAll(req.Body) // ignores the error
			return req.Response("ok")
		}, typhon.WithMaxBodyBytes(16))

		// Declared too long: refused before the Service runs.
		rsp := typhon.NewRequest(t.Context(), "POST", base+"/", []byte(strings.Repeat("x", 100))).SendVia(e.client).Response()
		assert.Equal(t, http.StatusRequestEntityTooLarge, rsp.StatusCode)
		assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeRequestTooLarge), "%v", rsp.Error)
		require.NoError(t, rsp.Body.Close())
		assert.Equal(t, int32(0), calls.Load())

		// Unknown length, cut while streaming: 413 although the Service said 200.
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write([]byte(strings.Repeat("y", 100)))
			pw.Close()
		}()
		rsp = typhon.NewRequest(t.Context(), "POST", base+"/", io.Reader(pr)).SendVia(e.client).Response()
		assert.Equal(t, http.StatusRequestEntityTooLarge, rsp.StatusCode)
		require.NoError(t, rsp.Body.Close())
		assert.Equal(t, int32(1), calls.Load())

		// Within the limit: served.
		rsp = typhon.NewRequest(t.Context(), "POST", base+"/", []byte("small")).SendVia(e.client).Response()
		require.NoError(t, rsp.Error)
		require.NoError(t, rsp.Body.Close())
	})
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
