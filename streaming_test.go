package typhon_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// TestResponseStreams: a body of unknown length is streamed: the client
// reads the first chunk while the second is not written yet.
func TestResponseStreams(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pr.CloseWithError(errors.New("test over")) })
		next := make(chan struct{})
		written := make(chan error, 1)
		go func() {
			_, err := io.WriteString(pw, "first;")
			if err == nil {
				select {
				case <-next:
					_, err = io.WriteString(pw, "second")
				case <-t.Context().Done():
					err = t.Context().Err()
				}
			}
			pw.CloseWithError(err)
			written <- err
		}()

		base := e.serve(func(req typhon.Request) typhon.Response {
			rsp := typhon.NewResponse(req)
			rsp.Header.Set("Content-Type", "text/plain")
			rsp.Body = pr
			return rsp
		})
		rsp := typhon.NewRequest(t.Context(), "GET", base+"/", nil).SendVia(e.client).Response()
		require.NoError(t, rsp.Error)
		defer rsp.Body.Close()
		assert.Equal(t, int64(-1), rsp.ContentLength)
		if e.protocol == typhontest.HTTP1 {
			assert.Equal(t, []string{"chunked"}, rsp.TransferEncoding)
		}

		first := make([]byte, len("first;"))
		_, err := io.ReadFull(rsp.Body, first)
		require.NoError(t, err)
		assert.Equal(t, "first;", string(first))
		select {
		case err := <-written:
			t.Fatalf("the second chunk was written before the first was read (%v)", err)
		default:
		}

		close(next)
		rest, err := io.ReadAll(rsp.Body)
		require.NoError(t, err)
		assert.Equal(t, "second", string(rest))
		require.NoError(t, within(t, written, "writer end"))
	})
}

func TestResponseContentLength(t *testing.T) {
	cases := []struct {
		name       string
		rsp        func(req typhon.Request) typhon.Response
		wantLength int64
		wantBody   string
	}{
		{"known length", func(req typhon.Request) typhon.Response {
			rsp := typhon.NewResponse(req)
			rsp.Body, rsp.ContentLength = io.NopCloser(strings.NewReader("hello")), 5
			return rsp
		}, 5, "hello"},
		{"encoded bytes", func(req typhon.Request) typhon.Response {
			return req.Response([]byte("hello"))
		}, 5, "hello"},
		{"unknown length", func(req typhon.Request) typhon.Response {
			rsp := typhon.NewResponse(req)
			rsp.Body = io.NopCloser(strings.NewReader("hello"))
			return rsp
		}, -1, "hello"},
		{"stale Content-Length header", func(req typhon.Request) typhon.Response {
			rsp := typhon.NewResponse(req)
			rsp.Header.Set("Content-Length", "999")
			rsp.Body = io.NopCloser(strings.NewReader("hello"))
			return rsp
		}, -1, "hello"},
	}
	run(t, func(t *testing.T, e *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				base := e.serve(tc.rsp)
				rsp := typhon.NewRequest(t.Context(), "GET", base+"/", nil).SendVia(e.client).Response()
				require.NoError(t, rsp.Error)
				defer rsp.Body.Close()
				assert.Equal(t, tc.wantLength, rsp.ContentLength)
				body, err := io.ReadAll(rsp.Body)
				require.NoError(t, err)
				assert.Equal(t, tc.wantBody, string(body))
			})
		}
	})
}

// failingReader gives some bytes, then fails.
type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestResponseBodyFailsMidStream: a body that fails half way never reaches
// the client as a clean, short body: the call or the read fails.
func TestResponseBodyFailsMidStream(t *testing.T) {
	cases := []struct {
		name   string
		length int64
		err    error
	}{
		{"unknown length", 0, errors.New("disk on fire")},
		{"known length", 64 << 10, errors.New("disk on fire")},
		{"known length cut short by EOF", 64 << 10, io.EOF},
	}
	run(t, func(t *testing.T, e *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				spy := newCloseSpy(&failingReader{data: strings.Repeat("x", 1000), err: tc.err})
				base := e.serve(func(req typhon.Request) typhon.Response {
					rsp := typhon.NewResponse(req)
					rsp.Body, rsp.ContentLength = spy, tc.length
					return rsp
				}, typhon.WithLogger(quietLogger()), quietHTTPServer())

				rsp := typhon.NewRequest(t.Context(), "GET", base+"/", nil).SendVia(e.client).Response()
				if rsp.Error == nil {
					body, err := io.ReadAll(rsp.Body)
					rsp.Body.Close()
					require.Error(t, err, "a failed body arrived as a clean %d-byte body", len(body))
				} else if rsp.Body != nil {
					rsp.Body.Close()
				}
				within(t, spy.closed, "failed body closed")
			})
		}
	})
}

// TestResponsesWithoutBody: HEAD to a GET route, 204 and 304 send no body,
// and the server closes the body the Service set all the same.
func TestResponsesWithoutBody(t *testing.T) {
	cases := []struct {
		name       string
		method     string
		status     int
		length     int64
		wantLength string // Content-Length header, "" for none
		wantBody   string
	}{
		{"GET", "GET", http.StatusOK, 5, "5", "hello"},
		{"HEAD known length", "HEAD", http.StatusOK, 5, "5", ""},
		{"HEAD unknown length", "HEAD", http.StatusOK, 0, "", ""},
		{"204 with a body", "GET", http.StatusNoContent, 5, "", ""},
		{"304 with a body", "GET", http.StatusNotModified, 0, "", ""},
	}
	run(t, func(t *testing.T, e *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				spy := newCloseSpy(strings.NewReader("hello"))
				var r typhon.Router
				r.GET("/thing", func(req typhon.Request) typhon.Response {
					rsp := typhon.NewResponse(req)
					rsp.StatusCode = tc.status
					rsp.Body, rsp.ContentLength = spy, tc.length
					return rsp
				})
				base := e.serve(r.Serve())

				rsp, body := rawDo(t, e, tc.method, base+"/thing", nil)
				assert.Equal(t, tc.status, rsp.StatusCode)
				assert.Equal(t, tc.wantBody, string(body))
				assert.Equal(t, tc.wantLength, rsp.Header.Get("Content-Length"))
				within(t, spy.closed, "body closed")
			})
		}
	})
}

// TestRequestBodyStreams: the server reads a request body as the client
// sends it: the first chunk arrives before the second is written.
func TestRequestBodyStreams(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		gotFirst := make(chan struct{})
		base := e.serve(func(req typhon.Request) typhon.Response {
			first := make([]byte, len("first;"))
			if _, err := io.ReadFull(req.Body, first); err != nil {
				return typhon.ErrorResponse(req, typhon.WrapError(err, typhon.CodeBadRequest, "first chunk"))
			}
			close(gotFirst)
			rest, err := io.ReadAll(req.Body)
			if err != nil {
				return typhon.ErrorResponse(req, typhon.WrapError(err, typhon.CodeBadRequest, "rest"))
			}
			return req.Response(string(first) + string(rest))
		})

		pr, pw := io.Pipe()
		f := typhon.NewRequest(t.Context(), "POST", base+"/", pr).SendVia(e.client)

		sent := make(chan error, 1)
		go func() {
			_, err := io.WriteString(pw, "first;")
			if err == nil {
				select {
				case <-gotFirst:
					_, err = io.WriteString(pw, "second")
				case <-f.Done():
					err = errors.New("the call ended before the server read the first chunk")
				}
			}
			pw.CloseWithError(err)
			sent <- err
		}()

		var got string
		require.NoError(t, f.Response().Decode(&got))
		assert.Equal(t, "first;second", got)
		require.NoError(t, within(t, sent, "client writer"))
	})
}

// TestResponseBodyClosedWhenClientGoes: when the client stops reading a
// stream, the server stops copying and closes the Service's body.
func TestResponseBodyClosedWhenClientGoes(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		pr, pw := io.Pipe()
		spy := newCloseSpy(pr)
		t.Cleanup(func() { pr.CloseWithError(errors.New("test over")) })
		writerDone := make(chan struct{})
		go func() {
			defer close(writerDone)
			for {
				if _, err := io.WriteString(pw, "chunk;"); err != nil {
					return
				}
			}
		}()
		base := e.serve(func(req typhon.Request) typhon.Response {
			rsp := typhon.NewResponse(req)
			rsp.Body = spy
			return rsp
		}, typhon.WithLogger(quietLogger()))

		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rsp := typhon.NewRequest(ctx, "GET", base+"/", nil).SendVia(e.client).Response()
		require.NoError(t, rsp.Error)
		first := make([]byte, len("chunk;"))
		_, err := io.ReadFull(rsp.Body, first)
		require.NoError(t, err)
		cancel()
		rsp.Body.Close()

		within(t, spy.closed, "body closed after the client left")
		pr.CloseWithError(errors.New("closed")) // the spy's Close does not close the pipe
		within(t, writerDone, "writer end")
	})
}
