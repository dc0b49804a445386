package typhon_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

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
