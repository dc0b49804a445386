package typhon_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
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

// utBody is a body that records how often it was closed.
type utBody struct {
	r      io.Reader
	closed atomic.Int32
}

func newUTBody(s string) *utBody { return &utBody{r: strings.NewReader(s)} }

func (b *utBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *utBody) Close() error {
	b.closed.Add(1)
	return nil
}

// utCountingService answers 200 and counts its calls.
func utCountingService(calls *atomic.Int32) typhon.Service {
	return func(req typhon.Request) typhon.Response {
		calls.Add(1)
		return req.Response("ok")
	}
}

func readAllString(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

func TestNewRequestNeverPanics(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		ctx     context.Context
		method  string
		url     string
		body    any
		wantErr bool
	}{
		{name: "ok", ctx: context.Background(), method: "GET", url: "http://example.com/x"},
		{name: "relative url", ctx: context.Background(), method: "GET", url: "/x"},
		{name: "nil ctx", method: "GET", url: "http://example.com/"},
		{name: "empty method", ctx: context.Background(), url: "http://example.com/"},
		{name: "empty url", ctx: context.Background(), method: "GET"},
		{name: "bad url", ctx: context.Background(), method: "GET", url: "://bad", wantErr: true},
		{name: "bad host", ctx: context.Background(), method: "GET", url: "http://[::1", wantErr: true},
		{name: "control char in url", ctx: context.Background(), method: "GET", url: "http://x/\x7f\n", wantErr: true},
		{name: "bad method", ctx: context.Background(), method: "BAD METHOD", url: "http://x/", wantErr: true},
		{name: "channel body", ctx: context.Background(), method: "POST", url: "http://x/", body: make(chan int), wantErr: true},
		{name: "func body", ctx: context.Background(), method: "POST", url: "http://x/", body: func() {}, wantErr: true},
		{name: "NaN body", ctx: context.Background(), method: "POST", url: "http://x/", body: math.NaN(), wantErr: true},
		{name: "bad url and body", method: "", url: "%zz", body: make(chan int), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var req typhon.Request
			require.NotPanics(t, func() { req = typhon.NewRequest(tc.ctx, tc.method, tc.url, tc.body) })
			require.NotNil(t, req.Request)
			require.NotNil(t, req.URL)
			require.NotNil(t, req.Header)
			require.NotNil(t, req.Context())
			assert.NotEmpty(t, req.Method)
			if tc.method == "" {
				assert.Equal(t, http.MethodGet, req.Method)
			}
			if tc.ctx == nil {
				assert.Equal(t, context.Background(), req.Context())
			}

			var calls atomic.Int32
			rsp := req.SendVia(utCountingService(&calls)).Response()
			require.NotNil(t, rsp.Response)
			require.NotNil(t, rsp.Header)
			if !tc.wantErr {
				require.NoError(t, rsp.Error)
				assert.Equal(t, int32(1), calls.Load())
				return
			}
			assert.Zero(t, calls.Load(), "a construction error is answered without calling the Service")
			assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
			assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)

			// Send answers it too, without calling the client in the context.
			var sent atomic.Int32
			ctx := typhon.WithClient(req.Context(), utCountingService(&sent))
			rsp = req.WithContext(ctx).Send().Response()
			assert.Zero(t, sent.Load())
			assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeInternalService))

			// So does a Clone: the construction error is kept.
			rsp = req.Clone(context.Background()).SendVia(utCountingService(&calls)).Response()
			assert.Zero(t, calls.Load())
			assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeInternalService))
		})
	}
}

func TestZeroRequest(t *testing.T) {
	t.Parallel()
	var req typhon.Request
	require.NotPanics(t, func() {
		assert.Equal(t, context.Background(), req.Context())

		var v any
		err := req.Decode(&v)
		require.Error(t, err)
		assert.True(t, typhon.IsCode(err, typhon.CodeBadRequest))
		assert.Error(t, req.Encode("x"))

		var calls atomic.Int32
		rsp := req.SendVia(utCountingService(&calls)).Response()
		assert.Zero(t, calls.Load())
		require.NotNil(t, rsp.Response)
		assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeInternalService))
		assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)

		// Send answers an error without calling anything, even the client
		// in the context (the zero Request's context is Background).
		rsp = req.Send().Response()
		require.NotNil(t, rsp.Response)
		assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeInternalService))

		assert.Nil(t, req.WithContext(context.Background()).Request)
		assert.Nil(t, req.Clone(context.Background()).Request)
		assert.Empty(t, typhon.RoutePattern(req))
	})
	assert.Panics(t, func() { _ = req.Method }, "promoted fields panic as on a nil *http.Request")
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	type payload struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	cases := []struct {
		name       string
		body       any
		wantBody   string
		wantType   string // Content-Type; "" for none
		wantLength int64  // -1: streamed, unknown
		replayable bool
	}{
		{name: "nil", body: nil, wantBody: "", wantLength: 0},
		{name: "bytes", body: []byte("raw <bytes>"), wantBody: "raw <bytes>", wantLength: 11, replayable: true},
		{name: "empty bytes", body: []byte{}, wantBody: "", wantLength: 0},
		{name: "string is JSON", body: "hi", wantBody: `"hi"`, wantType: "application/json", wantLength: 4, replayable: true},
		{name: "empty string is JSON", body: "", wantBody: `""`, wantType: "application/json", wantLength: 2, replayable: true},
		{name: "struct", body: payload{1, "x"}, wantBody: `{"a":1,"b":"x"}`, wantType: "application/json", wantLength: 15, replayable: true},
		{name: "map", body: map[string]int{"n": 1}, wantBody: `{"n":1}`, wantType: "application/json", wantLength: 7, replayable: true},
		{name: "slice", body: []int{1, 2}, wantBody: `[1,2]`, wantType: "application/json", wantLength: 5, replayable: true},
		{name: "strings.Reader", body: strings.NewReader("text"), wantBody: "text", wantLength: 4, replayable: true},
		{name: "bytes.Reader", body: bytes.NewReader([]byte("bin")), wantBody: "bin", wantLength: 3, replayable: true},
		{name: "bytes.Buffer", body: bytes.NewBufferString("buf"), wantBody: "buf", wantLength: 3, replayable: true},
		{name: "reader streams", body: io.MultiReader(strings.NewReader("str"), strings.NewReader("eam")), wantBody: "stream", wantLength: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := typhon.NewRequest(t.Context(), "POST", "http://example.com/", tc.body)
			assert.Equal(t, tc.wantType, req.Header.Get("Content-Type"))
			assert.Equal(t, tc.wantLength, req.ContentLength)
			if tc.wantBody == "" && tc.wantLength == 0 {
				assert.True(t, req.Body == nil || req.Body == http.NoBody, "a body-less request has no body, never an empty buffer")
				if req.GetBody != nil {
					b, err := req.GetBody()
					require.NoError(t, err)
					assert.Equal(t, http.NoBody, b)
				}
				return
			}
			require.NotNil(t, req.Body)
			if tc.replayable {
				require.NotNil(t, req.GetBody)
				for range 2 {
					b, err := req.GetBody()
					require.NoError(t, err)
					assert.Equal(t, tc.wantBody, readAllString(t, b))
				}
			} else {
				assert.Nil(t, req.GetBody)
			}
			assert.Equal(t, tc.wantBody, readAllString(t, req.Body))
		})
	}
}

func TestRequestEncode(t *testing.T) {
	t.Parallel()
	t.Run("keeps Content-Type", func(t *testing.T) {
		t.Parallel()
		req := typhon.NewRequest(t.Context(), "POST", "http://x/", nil)
		req.Header.Set("Content-Type", "application/vnd.foo+json")
		require.NoError(t, req.Encode(map[string]int{"a": 1}))
		assert.Equal(t, "application/vnd.foo+json", req.Header.Get("Content-Type"))
	})
	t.Run("closes previous body", func(t *testing.T) {
		t.Parallel()
		old := newUTBody("old")
		req := typhon.NewRequest(t.Context(), "POST", "http://x/", old)
		require.NoError(t, req.Encode([]byte("new")))
		assert.Equal(t, int32(1), old.closed.Load())
		assert.Equal(t, "new", readAllString(t, req.Body))
	})
	t.Run("nil removes body", func(t *testing.T) {
		t.Parallel()
		req := typhon.NewRequest(t.Context(), "POST", "http://x/", []byte("x"))
		require.NoError(t, req.Encode(nil))
		assert.True(t, req.Body == nil || req.Body == http.NoBody)
		assert.Zero(t, req.ContentLength)
	})
	t.Run("unencodable", func(t *testing.T) {
		t.Parallel()
		req := typhon.NewRequest(t.Context(), "POST", "http://x/", []byte("keep"))
		err := req.Encode(make(chan int))
		require.Error(t, err)
		assert.True(t, typhon.IsCode(err, typhon.CodeInternalService))
		assert.Equal(t, "keep", readAllString(t, req.Body), "a failed Encode leaves the body")
	})
	t.Run("reader closer kept", func(t *testing.T) {
		t.Parallel()
		b := newUTBody("body")
		req := typhon.NewRequest(t.Context(), "POST", "http://x/", b)
		require.NoError(t, req.Body.Close())
		assert.Equal(t, int32(1), b.closed.Load(), "an io.ReadCloser is sent as it is")
	})
}

func TestRequestDecode(t *testing.T) {
	t.Parallel()
	type payload struct {
		Name string `json:"name"`
	}
	cases := []struct {
		name        string
		contentType string
		body        io.Reader
		limit       int64 // MaxBytesReader limit; 0 for none
		wantCode    string
		wantName    string
	}{
		{name: "json", contentType: "application/json", body: strings.NewReader(`{"name":"ada"}`), wantName: "ada"},
		{name: "json charset", contentType: "application/json; charset=utf-8", body: strings.NewReader(`{"name":"ada"}`), wantName: "ada"},
		{name: "upper case", contentType: "Application/JSON", body: strings.NewReader(`{"name":"ada"}`), wantName: "ada"},
		{name: "problem json", contentType: "application/problem+json", body: strings.NewReader(`{"name":"p"}`), wantName: "p"},
		{name: "vendor json", contentType: "application/vnd.foo+json; charset=utf-8", body: strings.NewReader(`{"name":"v"}`), wantName: "v"},
		{name: "no content type", body: strings.NewReader(`{"name":"none"}`), wantName: "none"},
		{name: "trailing space", contentType: "application/json", body: strings.NewReader("{\"name\":\"t\"}\n  \n"), wantName: "t"},
		{name: "text/xml", contentType: "text/xml", body: strings.NewReader(`<name>x</name>`), wantCode: typhon.CodeUnsupportedMediaType},
		{name: "text/plain", contentType: "text/plain", body: strings.NewReader(`{"name":"x"}`), wantCode: typhon.CodeUnsupportedMediaType},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: strings.NewReader(`name=x`), wantCode: typhon.CodeUnsupportedMediaType},
		{name: "unparsable type", contentType: "application/json; charset", body: strings.NewReader(`{}`), wantCode: typhon.CodeUnsupportedMediaType},
		{name: "malformed", contentType: "application/json", body: strings.NewReader(`{"name":`), wantCode: typhon.CodeBadRequest},
		{name: "trailing garbage", contentType: "application/json", body: strings.NewReader(`{"name":"x"} {}`), wantCode: typhon.CodeBadRequest},
		{name: "wrong type", contentType: "application/json", body: strings.NewReader(`{"name":1}`), wantCode: typhon.CodeBadRequest},
		{name: "empty", contentType: "application/json", body: nil, wantCode: typhon.CodeBadRequest},
		{name: "read error", contentType: "application/json", body: iotest.ErrReader(errors.New("connection reset")), wantCode: typhon.CodeBadRequest},
		{name: "read error midway", contentType: "application/json", body: io.MultiReader(strings.NewReader(`{"na`), iotest.ErrReader(io.ErrUnexpectedEOF)), wantCode: typhon.CodeBadRequest},
		{name: "too large", contentType: "application/json", body: strings.NewReader(`{"name":"` + strings.Repeat("x", 100) + `"}`), limit: 16, wantCode: typhon.CodeRequestTooLarge},
		{name: "within limit", contentType: "application/json", body: strings.NewReader(`{"name":"ok"}`), limit: 64, wantName: "ok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := typhon.NewRequest(t.Context(), "POST", "http://x/", nil)
			if tc.body != nil {
				body := newUTBody("")
				body.r = tc.body
				req.Body = body
				if tc.limit > 0 {
					req.Body = http.MaxBytesReader(httptest.NewRecorder(), body, tc.limit)
				}
				t.Cleanup(func() { assert.Positive(t, body.closed.Load(), "Decode closes the body") })
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			var got payload
			err := req.Decode(&got)
			if tc.wantCode == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.wantName, got.Name)
				return
			}
			require.Error(t, err)
			var te *typhon.Error
			require.ErrorAs(t, err, &te, "Decode fails with an *Error")
			assert.Equal(t, tc.wantCode, typhon.ErrorCode(err))
			if tc.wantCode == typhon.CodeRequestTooLarge {
				var mbe *http.MaxBytesError
				assert.ErrorAs(t, err, &mbe)
				assert.Equal(t, http.StatusRequestEntityTooLarge, typhon.ErrorStatus(err))
			}
			if tc.wantCode == typhon.CodeUnsupportedMediaType {
				assert.Equal(t, http.StatusUnsupportedMediaType, typhon.ErrorStatus(err))
			}
		})
	}
}

func TestRequestDecodeRaw(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{"", "text/xml", "application/octet-stream", "application/json"} {
		t.Run(ct, func(t *testing.T) {
			t.Parallel()
			req := typhon.NewRequest(t.Context(), "POST", "http://x/", []byte("<raw/>"))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			var b []byte
			require.NoError(t, req.Decode(&b), "*[]byte takes any Content-Type")
			assert.Equal(t, "<raw/>", string(b))
		})
	}
	t.Run("no body", func(t *testing.T) {
		t.Parallel()
		req := typhon.NewRequest(t.Context(), "GET", "http://x/", nil)
		var b []byte
		require.NoError(t, req.Decode(&b))
		assert.Empty(t, b)
	})
}

func TestRequestResponse(t *testing.T) {
	t.Parallel()
	req := typhon.NewRequest(t.Context(), "GET", "http://x/", nil)
	cases := []struct {
		name     string
		body     any
		wantCode string
		wantBody string
		wantType string
	}{
		{name: "nil", body: nil},
		{name: "json", body: map[string]string{"a": "b"}, wantBody: `{"a":"b"}`, wantType: "application/json"},
		{name: "string", body: "s", wantBody: `"s"`, wantType: "application/json"},
		{name: "bytes", body: []byte("raw"), wantBody: "raw"},
		{name: "channel", body: make(chan int), wantCode: typhon.CodeInternalService},
		{name: "func", body: func() {}, wantCode: typhon.CodeInternalService},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rsp := req.Response(tc.body)
			require.NotNil(t, rsp.Response)
			require.NotNil(t, rsp.Header)
			assert.Same(t, req.Request, rsp.Request)
			if tc.wantCode != "" {
				assert.Equal(t, tc.wantCode, typhon.ErrorCode(rsp.Error))
				assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
				return
			}
			require.NoError(t, rsp.Error)
			assert.Equal(t, http.StatusOK, rsp.StatusCode)
			assert.Equal(t, tc.wantType, rsp.Header.Get("Content-Type"))
			if tc.wantBody == "" {
				assert.True(t, rsp.Body == nil || rsp.Body == http.NoBody)
				return
			}
			assert.Equal(t, int64(len(tc.wantBody)), rsp.ContentLength)
			assert.Equal(t, tc.wantBody, readAllString(t, rsp.Body))
		})
	}
}

func TestRequestClone(t *testing.T) {
	t.Parallel()
	type ctxKey struct{}
	orig := typhon.NewRequest(t.Context(), "PUT", "http://example.com/a?q=1", map[string]int{"n": 1})
	orig.Header.Set("X-Test", "orig")
	orig.SetPathValue("id", "7")
	orig.Trailer = http.Header{"X-Trailer": {"t"}}

	ctx := context.WithValue(t.Context(), ctxKey{}, "clone")
	c := orig.Clone(ctx)
	require.NotSame(t, orig.Request, c.Request)
	assert.Equal(t, "clone", c.Context().Value(ctxKey{}))
	assert.Nil(t, orig.Context().Value(ctxKey{}))

	c.Header.Set("X-Test", "clone")
	c.Header.Add("X-New", "1")
	c.URL.Path = "/b"
	c.URL.RawQuery = "q=2"
	c.Trailer.Set("X-Trailer", "changed")
	c.SetPathValue("id", "8")
	assert.Equal(t, "orig", orig.Header.Get("X-Test"))
	assert.Empty(t, orig.Header.Get("X-New"))
	assert.Equal(t, "/a", orig.URL.Path)
	assert.Equal(t, "q=1", orig.URL.RawQuery)
	assert.Equal(t, "t", orig.Trailer.Get("X-Trailer"))
	assert.Equal(t, "7", orig.PathValue("id"))
	assert.Equal(t, "8", c.PathValue("id"))

	// The body is replayed: both can be read in full, independently.
	c2 := orig.Clone(t.Context())
	assert.Equal(t, `{"n":1}`, readAllString(t, c.Body))
	assert.Equal(t, `{"n":1}`, readAllString(t, orig.Body))
	assert.Equal(t, `{"n":1}`, readAllString(t, c2.Body))
	assert.Equal(t, orig.ContentLength, c.ContentLength)
	require.NotNil(t, c.GetBody)

	// A clone sends on its own.
	var calls atomic.Int32
	var nilCtx context.Context // documented: means Background
	rsp := orig.Clone(nilCtx).SendVia(utCountingService(&calls)).Response()
	require.NoError(t, rsp.Error)
	assert.Equal(t, int32(1), calls.Load())
}

func TestRequestCloneStreamedBody(t *testing.T) {
	t.Parallel()
	body := newUTBody("stream")
	orig := typhon.NewRequest(t.Context(), "POST", "http://x/", body)
	c := orig.Clone(t.Context())
	assert.Equal(t, orig.Body, c.Body, "a body that cannot be replayed is shared")
}

func TestRequestWithContext(t *testing.T) {
	t.Parallel()
	type ctxKey struct{}
	req := typhon.NewRequest(t.Context(), "GET", "http://x/users/42", nil)
	ctx := context.WithValue(t.Context(), ctxKey{}, "v")
	w := req.WithContext(ctx)
	assert.Equal(t, "v", w.Context().Value(ctxKey{}))
	assert.Nil(t, req.Context().Value(ctxKey{}))
	w.Header.Set("X-Shared", "yes")
	assert.Equal(t, "yes", req.Header.Get("X-Shared"), "a shallow copy shares headers")
	var nilCtx context.Context // documented: means Background
	assert.Equal(t, context.Background(), req.WithContext(nilCtx).Context())

	// The exchange record is shared: the route pattern the Router sets on
	// a WithContext copy is seen by the caller's copy.
	var r typhon.Router
	var inside string
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		inner := req.WithContext(context.WithValue(req.Context(), ctxKey{}, "inner"))
		inside = typhon.RoutePattern(inner)
		return req.Response(req.PathValue("id"))
	})
	svc := r.Serve()
	rsp := svc(req.WithContext(ctx))
	require.NoError(t, rsp.Error)
	assert.Equal(t, "/users/{id}", inside)
	assert.Equal(t, "/users/{id}", typhon.RoutePattern(req))
	assert.Equal(t, "/users/{id}", typhon.RoutePattern(w))
	assert.Empty(t, typhon.RoutePattern(req.Clone(t.Context())), "a Clone starts a new exchange")
}

// TestRequestFromHTTPRequest: a Request made by hand around an *http.Request
// works as one made by NewRequest.
func TestRequestFromHTTPRequest(t *testing.T) {
	t.Parallel()
	hr := httptest.NewRequestWithContext(t.Context(), "POST", "/users/1", strings.NewReader(`{"n":2}`))
	req := typhon.Request{Request: hr}
	assert.Equal(t, t.Context(), req.Context())
	assert.Empty(t, typhon.RoutePattern(req))

	var r typhon.Router
	r.POST("/users/{id}", func(req typhon.Request) typhon.Response {
		var v map[string]int
		if err := req.Decode(&v); err != nil {
			return typhon.Response{Error: err}
		}
		return req.Response(v["n"])
	})
	rsp := req.SendVia(r.Serve()).Response()
	var n int
	require.NoError(t, rsp.Decode(&n))
	assert.Equal(t, 2, n)
}

// bodyKinds makes one body of each kind Encode treats apart: in memory,
// JSON or raw, readers it can replay or must stream, and one it cannot
// encode.
var bodyKinds = map[string]func() any{
	"struct":         func() any { return struct{ A int }{1} },
	"string":         func() any { return "s" },
	"bytes":          func() any { return []byte("raw") },
	"empty bytes":    func() any { return []byte{} },
	"bytes.Buffer":   func() any { return bytes.NewBufferString("buf") },
	"strings.Reader": func() any { return strings.NewReader("sr") },
	"reader":         func() any { return io.NopCloser(strings.NewReader("stream")) },
	"unencodable":    func() any { return func() {} },
}

// TestNewRequestMatchesEncode: NewRequest with a body gives the Request that
// NewRequest without one followed by Encode gives, whatever the body is (it
// takes a shorter path for in-memory bodies): the same headers, length,
// bytes, replay and construction error.
func TestNewRequestMatchesEncode(t *testing.T) {
	t.Parallel()
	for name, v := range bodyKinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := typhon.NewRequest(context.Background(), "POST", "http://svc/", v())
			want := typhon.NewRequest(context.Background(), "POST", "http://svc/", nil)
			wantErr := want.Encode(v())
			assert.Equal(t, want.Header, got.Header)
			assert.Equal(t, want.ContentLength, got.ContentLength)
			assert.Equal(t, want.GetBody == nil, got.GetBody == nil)
			sent := got.SendVia(func(req typhon.Request) typhon.Response { return req.Response(nil) }).Response()
			assert.Equal(t, wantErr != nil, sent.Error != nil, "construction error")
			if wantErr != nil {
				return
			}
			if want.Body == nil || want.Body == http.NoBody {
				assert.Equal(t, want.Body, got.Body)
				return
			}
			wantBytes := readAllString(t, want.Body)
			if got.GetBody != nil {
				replay, err := got.GetBody()
				require.NoError(t, err)
				assert.Equal(t, wantBytes, readAllString(t, replay))
			}
			assert.Equal(t, wantBytes, readAllString(t, got.Body))
		})
	}
}

// TestDecodeInMemoryBody: an in-memory body is decoded without a copy, but
// raw bytes decoded with *[]byte are the decoder's own, and the body is
// done (read and closed) either way.
func TestDecodeInMemoryBody(t *testing.T) {
	t.Parallel()
	src := []byte(`{"A":1}`)
	req := typhon.NewRequest(context.Background(), "POST", "http://svc/", src)
	var v struct{ A int }
	require.NoError(t, req.Decode(&v))
	assert.Equal(t, 1, v.A)
	n, err := req.Body.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.Equal(t, io.EOF, err, "read to the end")

	req = typhon.NewRequest(context.Background(), "POST", "http://svc/", src)
	var raw []byte
	require.NoError(t, req.Decode(&raw))
	raw[0] = 'x'
	assert.Equal(t, `{"A":1}`, string(src), "raw bytes are a copy")

	var released atomic.Int32
	rsp := typhon.OnBodyDone(req.Response([]byte(`{"A":2}`)), func() { released.Add(1) })
	rsp.Header.Set("Content-Type", "application/json")
	require.NoError(t, rsp.Decode(&v))
	assert.Equal(t, 2, v.A)
	assert.Equal(t, int32(1), released.Load(), "the body is done")
}
