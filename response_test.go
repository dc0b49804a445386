package typhon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

func TestNewResponse(t *testing.T) {
	t.Parallel()
	req := typhon.NewRequest(t.Context(), "GET", "http://x/", nil)
	rsp := typhon.NewResponse(req)
	require.NotNil(t, rsp.Response)
	assert.Equal(t, http.StatusOK, rsp.StatusCode)
	assert.NotNil(t, rsp.Header)
	assert.Same(t, req.Request, rsp.Request)
	assert.NoError(t, rsp.Error)

	zero := typhon.NewResponse(typhon.Request{})
	require.NotNil(t, zero.Response)
	assert.Nil(t, zero.Request)
}

func TestResponseEncode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		body       any
		wantBody   string
		wantType   string
		wantLength int64
	}{
		{name: "string is JSON", body: "hi", wantBody: `"hi"`, wantType: "application/json", wantLength: 4},
		{name: "struct", body: struct{ A int }{1}, wantBody: `{"A":1}`, wantType: "application/json", wantLength: 7},
		{name: "bytes", body: []byte("raw"), wantBody: "raw", wantLength: 3},
		{name: "strings.Reader", body: strings.NewReader("text"), wantBody: "text", wantLength: 4},
		{name: "reader streams", body: iotest.OneByteReader(strings.NewReader("stream")), wantBody: "stream", wantLength: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rsp typhon.Response // the zero Response can be encoded into
			require.NoError(t, rsp.Encode(tc.body))
			require.NotNil(t, rsp.Response)
			assert.Equal(t, http.StatusOK, rsp.StatusCode)
			assert.Equal(t, tc.wantType, rsp.Header.Get("Content-Type"))
			assert.Equal(t, tc.wantLength, rsp.ContentLength)
			assert.Equal(t, tc.wantBody, readAllString(t, rsp.Body))
		})
	}
	t.Run("previous body closed", func(t *testing.T) {
		t.Parallel()
		old := newUTBody("old")
		rsp := typhon.Response{Response: &http.Response{Body: old}}
		require.NoError(t, rsp.Encode(nil))
		assert.Equal(t, int32(1), old.closed.Load())
		assert.True(t, rsp.Body == nil || rsp.Body == http.NoBody)
		assert.NotNil(t, rsp.Header)
	})
	t.Run("keeps Content-Type", func(t *testing.T) {
		t.Parallel()
		rsp := typhon.NewResponse(typhon.NewRequest(t.Context(), "GET", "http://x/", nil))
		rsp.Header.Set("Content-Type", "application/hal+json")
		require.NoError(t, rsp.Encode(map[string]int{}))
		assert.Equal(t, "application/hal+json", rsp.Header.Get("Content-Type"))
	})
	t.Run("unencodable", func(t *testing.T) {
		t.Parallel()
		var rsp typhon.Response
		err := rsp.Encode(func() {})
		assert.True(t, typhon.IsCode(err, typhon.CodeInternalService))
	})
}

func TestResponseDecode(t *testing.T) {
	t.Parallel()
	wantErr := typhon.NewError("not_found.user", "no user")
	cases := []struct {
		name        string
		rsp         func(body io.ReadCloser) typhon.Response
		body        io.Reader
		wantErr     error  // exactly this error
		wantCode    string // or an error with this code
		wantName    string
		wantClosed  bool
		wantMessage string
	}{
		{
			name: "json",
			rsp: func(b io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}}
			},
			body: strings.NewReader(`{"name":"ada"}`), wantName: "ada", wantClosed: true,
		},
		{
			name: "no content type",
			rsp: func(b io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}, Body: b}}
			},
			body: strings.NewReader(`{"name":"x"}`), wantName: "x", wantClosed: true,
		},
		{
			name: "+json",
			rsp: func(b io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 201, Header: http.Header{"Content-Type": {"application/vnd.foo+json; charset=utf-8"}}, Body: b}}
			},
			body: strings.NewReader(`{"name":"v"}`), wantName: "v", wantClosed: true,
		},
		{
			name: "error set is returned as it is",
			rsp: func(b io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 404, Header: http.Header{}, Body: b}, Error: wantErr}
			},
			body: strings.NewReader(`{"name":"ignored"}`), wantErr: wantErr, wantClosed: true,
		},
		{
			name:    "error without http response",
			rsp:     func(io.ReadCloser) typhon.Response { return typhon.Response{Error: wantErr} },
			wantErr: wantErr,
		},
		{
			name:     "empty response",
			rsp:      func(io.ReadCloser) typhon.Response { return typhon.Response{} },
			wantCode: typhon.CodeBadGateway,
		},
		{
			name: "html",
			rsp: func(b io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/html"}}, Body: b}}
			},
			body: strings.NewReader(`<html/>`), wantCode: typhon.CodeBadGateway, wantClosed: true,
		},
		{
			name: "malformed",
			rsp: func(b io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}, Body: b}}
			},
			body: strings.NewReader(`{"name"`), wantCode: typhon.CodeBadGateway, wantClosed: true,
		},
		{
			name: "empty body",
			rsp: func(io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}}
			},
			wantCode: typhon.CodeBadGateway,
		},
		{
			name: "read error",
			rsp: func(b io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}, Body: b}}
			},
			body: iotest.ErrReader(errors.New("reset")), wantCode: typhon.CodeBadGateway, wantClosed: true,
		},
		{
			name: "error status without Error",
			rsp: func(b io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 409, Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: b}}
			},
			body:     strings.NewReader(`{"code":"conflict.version","detail":"stale"}`),
			wantCode: "conflict.version", wantMessage: "stale", wantClosed: true,
		},
		{
			name: "plain error status",
			rsp: func(b io.ReadCloser) typhon.Response {
				return typhon.Response{Response: &http.Response{StatusCode: 503, Header: http.Header{}, Body: b}}
			},
			body:     strings.NewReader("down for maintenance"),
			wantCode: typhon.CodeUnavailable, wantMessage: "down for maintenance", wantClosed: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := newUTBody("")
			if tc.body != nil {
				body.r = tc.body
			}
			rsp := tc.rsp(body)
			var got struct {
				Name string `json:"name"`
			}
			err := rsp.Decode(&got)
			assert.Equal(t, tc.wantClosed, body.closed.Load() > 0, "body closed")
			switch {
			case tc.wantErr != nil:
				assert.Same(t, tc.wantErr, err)
			case tc.wantCode != "":
				require.Error(t, err)
				var te *typhon.Error
				require.ErrorAs(t, err, &te)
				assert.Equal(t, tc.wantCode, typhon.ErrorCode(err))
				if tc.wantMessage != "" {
					assert.Equal(t, tc.wantMessage, te.Message)
				}
			default:
				require.NoError(t, err)
				assert.Equal(t, tc.wantName, got.Name)
			}
		})
	}
}

func TestResponseDecodeRaw(t *testing.T) {
	t.Parallel()
	rsp := typhon.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader("plain"))}}
	var b []byte
	require.NoError(t, rsp.Decode(&b))
	assert.Equal(t, "plain", string(b))
}

func TestOnBodyDone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		rsp  func() typhon.Response
		use  func(t *testing.T, rsp typhon.Response, calls *atomic.Int32)
		// wantAtOnce: f ran before the body was used.
		wantAtOnce bool
	}{
		{
			name: "read to EOF",
			rsp:  func() typhon.Response { return bodyResponse(io.NopCloser(strings.NewReader("data"))) },
			use: func(t *testing.T, rsp typhon.Response, calls *atomic.Int32) {
				buf := make([]byte, 2)
				_, err := io.ReadFull(rsp.Body, buf)
				require.NoError(t, err)
				assert.Zero(t, calls.Load(), "not done halfway")
				assert.Equal(t, "ta", readAllString(t, rsp.Body))
				_, _ = rsp.Body.Read(buf) // another EOF
			},
		},
		{
			name: "read error",
			rsp:  func() typhon.Response { return bodyResponse(io.NopCloser(iotest.ErrReader(errors.New("reset")))) },
			use: func(t *testing.T, rsp typhon.Response, calls *atomic.Int32) {
				_, err := io.ReadAll(rsp.Body)
				require.Error(t, err)
			},
		},
		{
			name: "close",
			rsp:  func() typhon.Response { return bodyResponse(newUTBody("unread")) },
			use: func(t *testing.T, rsp typhon.Response, calls *atomic.Int32) {
				require.NoError(t, rsp.Body.Close())
				require.NoError(t, rsp.Body.Close())
			},
		},
		{
			name: "read then close",
			rsp:  func() typhon.Response { return bodyResponse(newUTBody("x")) },
			use: func(t *testing.T, rsp typhon.Response, calls *atomic.Int32) {
				assert.Equal(t, "x", readAllString(t, rsp.Body))
				require.NoError(t, rsp.Body.Close())
			},
		},
		{
			name: "io.Copy",
			rsp:  func() typhon.Response { return bodyResponse(io.NopCloser(strings.NewReader("copied"))) },
			use: func(t *testing.T, rsp typhon.Response, calls *atomic.Int32) {
				var b bytes.Buffer
				n, err := io.Copy(&b, rsp.Body)
				require.NoError(t, err)
				assert.Equal(t, int64(6), n)
				assert.Equal(t, "copied", b.String())
			},
		},
		{
			name: "decode",
			rsp:  func() typhon.Response { return bodyResponse(io.NopCloser(strings.NewReader(`"s"`))) },
			use: func(t *testing.T, rsp typhon.Response, calls *atomic.Int32) {
				var s string
				require.NoError(t, rsp.Decode(&s))
				assert.Equal(t, "s", s)
			},
		},
		{
			name: "in-memory body read to EOF",
			rsp:  func() typhon.Response { return inMemoryResponse("data") },
			use: func(t *testing.T, rsp typhon.Response, calls *atomic.Int32) {
				buf := make([]byte, 2)
				_, err := io.ReadFull(rsp.Body, buf)
				require.NoError(t, err)
				assert.Zero(t, calls.Load(), "not done halfway")
				assert.Equal(t, "ta", readAllString(t, rsp.Body))
			},
		},
		{
			name: "in-memory body closed unread",
			rsp:  func() typhon.Response { return inMemoryResponse("unread") },
			use: func(t *testing.T, rsp typhon.Response, calls *atomic.Int32) {
				require.NoError(t, rsp.Body.Close())
			},
		},
		{
			name: "in-memory body io.Copy",
			rsp:  func() typhon.Response { return inMemoryResponse("copied") },
			use: func(t *testing.T, rsp typhon.Response, calls *atomic.Int32) {
				var b bytes.Buffer
				n, err := io.Copy(&b, rsp.Body)
				require.NoError(t, err)
				assert.Equal(t, int64(6), n)
				assert.Equal(t, "copied", b.String())
			},
		},
		{
			name:       "no http response",
			rsp:        func() typhon.Response { return typhon.Response{Error: errors.New("x")} },
			wantAtOnce: true,
		},
		{
			name:       "nil body",
			rsp:        func() typhon.Response { return bodyResponse(nil) },
			wantAtOnce: true,
		},
		{
			name:       "NoBody",
			rsp:        func() typhon.Response { return bodyResponse(http.NoBody) },
			wantAtOnce: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			rsp := typhon.OnBodyDone(tc.rsp(), func() { calls.Add(1) })
			if tc.wantAtOnce {
				assert.Equal(t, int32(1), calls.Load(), "f runs at once without a body")
				return
			}
			assert.Zero(t, calls.Load(), "f waits for the body")
			tc.use(t, rsp, &calls)
			assert.Equal(t, int32(1), calls.Load(), "f runs exactly once")
			_ = rsp.Body.Close()
			assert.Equal(t, int32(1), calls.Load(), "still once after a later Close")
		})
	}
}

func inMemoryResponse(body string) typhon.Response {
	return typhon.NewRequest(context.Background(), "GET", "http://svc/", nil).Response([]byte(body))
}

// TestOnBodyDoneTwice: filters stack their hooks on one body (an in-memory
// one takes the first without a wrapper); each runs once, the innermost
// first, and the server still writes the whole body.
func TestOnBodyDoneTwice(t *testing.T) {
	t.Parallel()
	for _, use := range []string{"read", "close", "serve"} {
		t.Run(use, func(t *testing.T) {
			t.Parallel()
			var order []string
			rsp := inMemoryResponse("payload")
			rsp = typhon.OnBodyDone(rsp, func() { order = append(order, "inner") })
			rsp = typhon.OnBodyDone(rsp, func() { order = append(order, "outer") })
			switch use {
			case "read":
				assert.Equal(t, "payload", readAllString(t, rsp.Body))
			case "close":
				require.NoError(t, rsp.Body.Close())
			case "serve":
				rec := httptest.NewRecorder()
				typhon.HTTPHandler(func(typhon.Request) typhon.Response { return rsp }).
					ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				assert.Equal(t, "payload", rec.Body.String())
			}
			_ = rsp.Body.Close()
			assert.Equal(t, []string{"inner", "outer"}, order)
		})
	}
}

func bodyResponse(body io.ReadCloser) typhon.Response {
	return typhon.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}, Body: body}}
}

// TestServiceFilterNormalises: a Service may answer Response{Error: err}
// with a nil *http.Response; a Filter sees, and its caller gets, a complete
// Response whose status is the error's.
func TestServiceFilterNormalises(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		rsp        typhon.Response
		wantStatus int
	}{
		{"not found", typhon.Response{Error: typhon.NewError("not_found", "")}, 404},
		{"dotted", typhon.Response{Error: typhon.NewError("rate_limited.user", "")}, 429},
		{"plain error", typhon.Response{Error: errors.New("boom")}, 500},
		{"canceled", typhon.Response{Error: context.Canceled}, 499},
		{"deadline", typhon.Response{Error: fmt.Errorf("w: %w", context.DeadlineExceeded)}, 504},
		{"typed nil", typhon.Response{Error: (*typhon.Error)(nil)}, 500},
		{"empty success", typhon.Response{}, 200},
		{"no header", typhon.Response{Response: &http.Response{StatusCode: 201}}, 201},
		{"no status", typhon.Response{Response: &http.Response{}}, 200},
		{"error with wrong status", typhon.Response{Response: &http.Response{StatusCode: 200}, Error: typhon.NewError("conflict", "")}, 409},
	}
	check := func(t *testing.T, req typhon.Request, rsp typhon.Response, want typhon.Response, status int) {
		t.Helper()
		require.NotNil(t, rsp.Response)
		require.NotNil(t, rsp.Header)
		assert.Equal(t, status, rsp.StatusCode)
		assert.Equal(t, want.Error, rsp.Error)
		if want.Response == nil || want.Request == nil {
			assert.Same(t, req.Request, rsp.Request)
		}
		if rsp.Error != nil {
			assert.Equal(t, typhon.ErrorStatus(rsp.Error), rsp.StatusCode)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			copyRsp := func() typhon.Response {
				r := tc.rsp
				if r.Response != nil {
					hr := *r.Response
					r.Response = &hr
				}
				return r
			}
			req := typhon.NewRequest(t.Context(), "GET", "http://x/", nil)

			// What the filter receives from the inner Service.
			var seen bool
			inner := typhon.Service(func(typhon.Request) typhon.Response { return copyRsp() })
			svc := inner.Filter(func(req typhon.Request, next typhon.Service) typhon.Response {
				rsp := next(req)
				check(t, req, rsp, tc.rsp, tc.wantStatus)
				seen = true
				return rsp
			})
			check(t, req, svc(req), tc.rsp, tc.wantStatus)
			assert.True(t, seen)

			// What comes out of a filter that answers by itself.
			short := inner.Filter(func(typhon.Request, typhon.Service) typhon.Response { return copyRsp() })
			check(t, req, short(req), tc.rsp, tc.wantStatus)
		})
	}
}

func TestServiceFilterOrder(t *testing.T) {
	t.Parallel()
	var trace []string
	tracing := func(name string) typhon.Filter {
		return func(req typhon.Request, svc typhon.Service) typhon.Response {
			trace = append(trace, name+" in")
			req.Header.Add("X-Filters", name)
			rsp := svc(req)
			trace = append(trace, name+" out")
			return rsp
		}
	}
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		trace = append(trace, "svc")
		return req.Response(req.Header.Values("X-Filters"))
	}).Filter(tracing("a")).Filter(tracing("b")).Filter(tracing("c"))

	rsp := svc(typhon.NewRequest(t.Context(), "GET", "/", nil))
	var got []string
	require.NoError(t, rsp.Decode(&got))
	assert.Equal(t, []string{"c", "b", "a"}, got)
	assert.Equal(t, []string{"c in", "b in", "a in", "svc", "a out", "b out", "c out"}, trace)
}

// TestServiceAsFunction: a Service is a function, tested by calling it.
func TestServiceAsFunction(t *testing.T) {
	t.Parallel()
	type in struct {
		A, B int
	}
	add := typhon.Service(func(req typhon.Request) typhon.Response {
		var v in
		if err := req.Decode(&v); err != nil {
			return typhon.Response{Error: err}
		}
		return req.Response(v.A + v.B)
	})
	cases := []struct {
		name     string
		body     any
		ct       string
		wantCode string
		want     int
	}{
		{name: "sum", body: in{2, 3}, want: 5},
		{name: "bad json", body: []byte("{"), wantCode: typhon.CodeBadRequest},
		{name: "xml", body: []byte("<a/>"), ct: "text/xml", wantCode: typhon.CodeUnsupportedMediaType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := typhon.NewRequest(t.Context(), "POST", "/add", tc.body)
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			rsp := add.Filter(func(req typhon.Request, svc typhon.Service) typhon.Response { return svc(req) })(req)
			var got int
			err := rsp.Decode(&got)
			if tc.wantCode != "" {
				assert.Equal(t, tc.wantCode, typhon.ErrorCode(err))
				assert.Equal(t, typhon.ErrorStatus(err), rsp.StatusCode)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestErrorResponse(t *testing.T) {
	t.Parallel()
	req := typhon.NewRequest(t.Context(), "GET", "http://x/", nil)
	cases := []struct {
		name       string
		err        error
		wantCode   string
		wantStatus int
	}{
		{"error", typhon.NewError("forbidden.scope", "no"), "forbidden.scope", 403},
		{"plain", errors.New("x"), typhon.CodeInternalService, 500},
		{"nil", nil, typhon.CodeInternalService, 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rsp := typhon.ErrorResponse(req, tc.err)
			require.NotNil(t, rsp.Response)
			require.NotNil(t, rsp.Header)
			assert.Equal(t, tc.wantCode, typhon.ErrorCode(rsp.Error))
			assert.Equal(t, tc.wantStatus, rsp.StatusCode)
			assert.Same(t, req.Request, rsp.Request)
		})
	}
}

// TestRequestResponseMatchesEncode: Request.Response(v) gives the Response
// that NewResponse followed by Encode(v) gives, whatever v is (it takes a
// shorter path for in-memory bodies).
func TestRequestResponseMatchesEncode(t *testing.T) {
	t.Parallel()
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	for name, v := range bodyKinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := req.Response(v())
			want := typhon.NewResponse(req)
			if err := want.Encode(v()); err != nil {
				want.Error, want.StatusCode = err, typhon.ErrorStatus(err)
			}
			assert.Equal(t, want.StatusCode, got.StatusCode)
			assert.Equal(t, want.Header, got.Header)
			assert.Equal(t, want.ContentLength, got.ContentLength)
			assert.Equal(t, want.Error != nil, got.Error != nil)
			assert.Same(t, req.Request, got.Request)
			if want.Body == nil || want.Body == http.NoBody {
				assert.Equal(t, want.Body, got.Body)
				return
			}
			assert.Equal(t, readAllString(t, want.Body), readAllString(t, got.Body))
		})
	}
}
