package typhon_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

// TestChunkedHTTP1RequestClosesConnection: a request with both
// Content-Length and Transfer-Encoding (RFC 9112 §6.1), or any chunked
// HTTP/1.1 request since net/http hides the Content-Length, is answered
// with Connection: close, and the request smuggled behind its body is never
// read. A request with a Content-Length keeps its connection.
func TestChunkedHTTP1RequestClosesConnection(t *testing.T) {
	t.Parallel()
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	body := "0\r\n\r\n" + smuggled
	cases := []struct {
		name      string
		raw       string
		wantClose bool
	}{
		{"cl-te", fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(body), body), true},
		{"te", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + smuggled, true},
		{"cl", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var smuggledCalls atomic.Int32
			srv, err := typhon.Listen(func(req typhon.Request) typhon.Response {
				if req.URL.Path == "/smuggled" {
					smuggledCalls.Add(1)
				}
				_, _ = io.Copy(io.Discard, req.Body)
				return req.Response("ok")
			}, "")
			require.NoError(t, err)
			t.Cleanup(func() {
				ctx, cancel := context.WithCancel(context.Background())
				cancel() // no drain: nothing is left in flight
				_ = srv.Stop(ctx)
			})

			conn, err := net.Dial("tcp", srv.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
			_, err = io.WriteString(conn, tc.raw)
			require.NoError(t, err)
			br := bufio.NewReader(conn)
			rsp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, rsp.Body)
			rsp.Body.Close()
			assert.Equal(t, http.StatusOK, rsp.StatusCode)
			assert.Equal(t, tc.wantClose, rsp.Close, "Connection: close on the response")
			if tc.wantClose {
				_, err = br.ReadByte()
				assert.ErrorIs(t, err, io.EOF, "the connection stayed open")
			}
			assert.Zero(t, smuggledCalls.Load(), "the smuggled request was served")
		})
	}
}
