package filters_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// logCapture is a slog destination that keeps each line, decoded.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// logger returns a JSON logger writing to c at level Info and above.
func (c *logCapture) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(c, nil))
}

// lines returns the lines written so far, each decoded.
func (c *logCapture) lines(t *testing.T) []map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(c.buf.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

func (c *logCapture) raw() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// logServe sends req through typhon.HTTPHandler(svc) in process, so that
// the Service sees an inbound Request, and returns the recorded answer.
func logServe(svc typhon.Service, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	typhon.HTTPHandler(svc).ServeHTTP(w, req)
	return w
}

// logRouter serves GET /users/{id}: 1 is found, 500 fails, others are not.
func logRouter() typhon.Service {
	var r typhon.Router
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		switch req.PathValue("id") {
		case "1":
			rsp := req.Response(map[string]string{"name": "Ada"})
			rsp.Header.Set("Set-Cookie", "session=secret")
			rsp.Header.Set("X-Served-By", "users-1")
			return rsp
		case "500":
			return typhon.Response{Error: typhon.NewError("internal_service.db", "database down")}
		}
		return typhon.Response{Error: typhon.NewError("not_found.user", "no such user").WithParams("id", req.PathValue("id"))}
	})
	return r.Serve()
}

func TestLogServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		path    string
		opts    []filters.LogOption
		headers map[string]string
		status  int
		want    map[string]any // attributes that must be there
		absent  []string       // attributes that must not
	}{
		{
			name: "success", path: "/users/1", status: 200,
			want: map[string]any{
				"level": "INFO", "msg": "http server request", "http.request.method": "GET",
				"http.route": "/users/{id}", "http.response.status_code": 200.0,
				"http.request.body.size": 0.0, "http.response.body.size": float64(len(`{"name":"Ada"}`)),
			},
			absent: []string{"url.path", "server.address", "error", "error.code", "trace_id", "request_id", "http.request.header"},
		},
		{
			name: "client error is Warn", path: "/users/2", status: 404,
			want: map[string]any{
				"level": "WARN", "http.route": "/users/{id}", "http.response.status_code": 404.0,
				"error.code": "not_found.user", "error": "not_found.user: no such user",
			},
			absent: []string{"url.path", "http.response.body.size"},
		},
		{
			name: "server error is Error", path: "/users/500", status: 500,
			want: map[string]any{"level": "ERROR", "error.code": "internal_service.db", "http.response.status_code": 500.0},
		},
		{
			name: "no route: no route, no path", path: "/secret/token-123", status: 404,
			want:   map[string]any{"level": "WARN", "error.code": "not_found"},
			absent: []string{"http.route", "url.path"},
		},
		{
			name: "path on request", path: "/users/1", status: 200, opts: []filters.LogOption{filters.WithLogPath()},
			want: map[string]any{"url.path": "/users/1", "http.route": "/users/{id}"},
		},
		{
			name: "headers named, credentials redacted", path: "/users/1", status: 200,
			opts: []filters.LogOption{filters.WithLogHeaders("authorization", "X-Client", "Cookie", "Set-Cookie", "x-served-by", "X-Absent")},
			headers: map[string]string{
				"Authorization": "Bearer secret", "Cookie": "session=secret", "X-Client": "cli/1.0", "X-Other": "not named",
			},
			want: map[string]any{
				"http.request.header": map[string]any{
					"authorization": "[REDACTED]", "cookie": "[REDACTED]", "x-client": "cli/1.0",
				},
				"http.response.header": map[string]any{"set-cookie": "[REDACTED]", "x-served-by": "users-1"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c logCapture
			opts := append([]filters.LogOption{filters.WithLogger(c.logger())}, tc.opts...)
			svc := logRouter().Filter(filters.Log(opts...))
			hr := httptest.NewRequest("GET", tc.path, nil)
			for k, v := range tc.headers {
				hr.Header.Set(k, v)
			}
			w := logServe(svc, hr)
			assert.Equal(t, tc.status, w.Code)
			lines := c.lines(t)
			require.Len(t, lines, 1)
			line := lines[0]
			for k, v := range tc.want {
				assert.Equal(t, v, line[k], k)
			}
			for _, k := range tc.absent {
				assert.NotContains(t, line, k)
			}
			assert.Contains(t, line, "duration")
			assert.NotContains(t, c.raw(), "secret", "no credentials, no raw paths")
		})
	}
}

// TestLogClient: around a client, one line per outbound call.
func TestLogClient(t *testing.T) {
	t.Parallel()
	var c logCapture
	remote := typhon.Service(func(req typhon.Request) typhon.Response {
		if req.URL.Path == "/missing" {
			return typhon.Response{Error: typhon.NewError("not_found", "gone")}
		}
		return req.Response("pong")
	})
	client := remote.Filter(filters.Log(filters.WithLogger(c.logger())))

	var s string
	require.NoError(t, typhon.NewRequest(t.Context(), "POST", "http://users:8080/ping", "ping").SendVia(client).Response().Decode(&s))
	rsp := typhon.NewRequest(t.Context(), "GET", "http://users:8080/missing", nil).SendVia(client).Response()
	require.Error(t, rsp.Error)

	lines := c.lines(t)
	require.Len(t, lines, 2)
	assert.Equal(t, "http client request", lines[0]["msg"])
	assert.Equal(t, "users:8080", lines[0]["server.address"])
	assert.Equal(t, "POST", lines[0]["http.request.method"])
	assert.Equal(t, float64(len(`"ping"`)), lines[0]["http.request.body.size"])
	assert.Equal(t, float64(len(`"pong"`)), lines[0]["http.response.body.size"])
	assert.NotContains(t, lines[0], "http.route")
	assert.NotContains(t, lines[0], "url.path")
	assert.Equal(t, "WARN", lines[1]["level"])
	assert.Equal(t, "not_found", lines[1]["error.code"])
}

// TestLogWhenBodyDone: the line is written when the body is done, with
// every byte of a streamed body counted.
func TestLogWhenBodyDone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		done func(t *testing.T, rsp typhon.Response)
		want float64
	}{
		{"read to EOF", func(t *testing.T, rsp typhon.Response) {
			_, err := io.ReadAll(rsp.Body)
			require.NoError(t, err)
		}, 11},
		{"closed half read", func(t *testing.T, rsp typhon.Response) {
			_, err := io.ReadFull(rsp.Body, make([]byte, 4))
			require.NoError(t, err)
			require.NoError(t, rsp.Body.Close())
		}, 4},
		{"written with WriteTo", func(t *testing.T, rsp typhon.Response) {
			_, err := io.Copy(io.Discard, rsp.Body)
			require.NoError(t, err)
			require.NoError(t, rsp.Body.Close()) // a second end writes no second line
		}, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c logCapture
			pr, pw := io.Pipe()
			svc := typhon.Service(func(req typhon.Request) typhon.Response {
				rsp := req.Response(nil)
				rsp.Body = pr // streamed: unknown length
				go func() {
					_, _ = pw.Write([]byte("hello "))
					_, _ = pw.Write([]byte("world"))
					pw.Close()
				}()
				return rsp
			}).Filter(filters.Log(filters.WithLogger(c.logger())))
			rsp := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/stream", nil))
			assert.Empty(t, c.raw(), "nothing logged before the body is done")
			tc.done(t, rsp)
			pr.Close() // the writer, if still writing, stops
			lines := c.lines(t)
			require.Len(t, lines, 1)
			assert.Equal(t, tc.want, lines[0]["http.response.body.size"])
		})
	}
}

// TestLogSampler: successes are sampled, failures never.
func TestLogSampler(t *testing.T) {
	t.Parallel()
	var c logCapture
	var asked int
	sampler := filters.WithLogSampler(func(req typhon.Request, rsp typhon.Response) bool {
		asked++
		return false
	})
	svc := logRouter().Filter(filters.Log(filters.WithLogger(c.logger()), sampler))
	for _, path := range []string{"/users/1", "/users/2", "/users/1", "/users/500"} {
		w := logServe(svc, httptest.NewRequest("GET", path, nil))
		require.NotZero(t, w.Code)
	}
	lines := c.lines(t)
	require.Len(t, lines, 2)
	assert.Equal(t, "WARN", lines[0]["level"])
	assert.Equal(t, "ERROR", lines[1]["level"])
	assert.Equal(t, 2, asked, "asked about successes only")
}

// TestLogDisabledLevel: a line the logger does not want leaves the body
// unwrapped.
func TestLogDisabledLevel(t *testing.T) {
	t.Parallel()
	var c logCapture
	logger := slog.New(slog.NewJSONHandler(&c, &slog.HandlerOptions{Level: slog.LevelWarn}))
	body := &logTestBody{Reader: strings.NewReader("x")}
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		rsp := req.Response(nil)
		rsp.Body = body
		return rsp
	}).Filter(filters.Log(filters.WithLogger(logger)))
	rsp := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
	assert.Same(t, body, rsp.Body)
	require.NoError(t, rsp.Body.Close())
	assert.Empty(t, c.raw())
}

type logTestBody struct{ io.Reader }

func (*logTestBody) Close() error { return nil }

// TestLogTraceIDs: the IDs of the span in the request's context, or else in
// the context of the request the Response answers.
func TestLogTraceIDs(t *testing.T) {
	t.Parallel()
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	for _, tc := range []struct {
		name  string
		outer bool // the span is in the context Log sees; else only inside
	}{
		{"span in context", true},
		{"span set inside (Log outside Trace)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c logCapture
			inner := typhon.Service(func(req typhon.Request) typhon.Response {
				return req.Response(nil)
			})
			tracing := func(req typhon.Request, svc typhon.Service) typhon.Response {
				return svc(req.WithContext(trace.ContextWithSpanContext(req.Context(), sc)))
			}
			var svc typhon.Service
			if tc.outer {
				svc = inner.Filter(filters.Log(filters.WithLogger(c.logger()))).Filter(tracing)
			} else {
				svc = inner.Filter(tracing).Filter(filters.Log(filters.WithLogger(c.logger())))
			}
			svc(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil))
			lines := c.lines(t)
			require.Len(t, lines, 1)
			assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", lines[0]["trace_id"])
			assert.Equal(t, "00f067aa0ba902b7", lines[0]["span_id"])
		})
	}
}

// TestLogRequestID: with RequestID outside, the line carries the ID.
func TestLogRequestID(t *testing.T) {
	t.Parallel()
	var c logCapture
	svc := logRouter().Filter(filters.Log(filters.WithLogger(c.logger()))).Filter(filters.RequestID)
	hr := httptest.NewRequest("GET", "/users/1", nil)
	hr.Header.Set(typhon.RequestIDHeader, "req-42")
	logServe(svc, hr)
	lines := c.lines(t)
	require.Len(t, lines, 1)
	assert.Equal(t, "req-42", lines[0]["request_id"])
}

// TestLogZeroRequest: a zero Request passes through, unlogged.
func TestLogZeroRequest(t *testing.T) {
	t.Parallel()
	var c logCapture
	called := false
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		called = true
		return typhon.Response{Error: typhon.NewError("bad_request", "zero")}
	}).Filter(filters.Log(filters.WithLogger(c.logger())))
	svc(typhon.Request{})
	assert.True(t, called)
	assert.Empty(t, c.raw())
}

func BenchmarkLog(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []filters.LogOption
	}{
		// Every line formatted as JSON, then thrown away.
		{"json-discard", []filters.LogOption{filters.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil)))}},
		// A handler that enables nothing: the level check alone.
		{"disabled", []filters.LogOption{filters.WithLogger(slog.New(slog.DiscardHandler))}},
		// Successes sampled out.
		{"sampled-out", []filters.LogOption{
			filters.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))),
			filters.WithLogSampler(func(typhon.Request, typhon.Response) bool { return false }),
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := filters.Log(bc.opts...)
			req := typhon.NewRequest(context.Background(), "GET", "http://svc/users/1", nil)
			svc := benchOKService()
			b.ReportAllocs()
			for b.Loop() {
				f(req, svc)
			}
		})
	}
}

func TestLogSampledOutAllocs(t *testing.T) {
	f := filters.Log(
		filters.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))),
		filters.WithLogSampler(func(typhon.Request, typhon.Response) bool { return false }))
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	svc := benchOKService()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { f(req, svc) }))
}
