package typhon_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// countConns returns a ServerOption that counts the connections the server
// accepts.
func countConns(n *atomic.Int32) typhon.ServerOption {
	return typhon.WithHTTPServer(func(s *http.Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				n.Add(1)
			}
		}
	})
}

var leakBody = strings.Repeat("x", 4<<10)

// stopAtOnce stops srv without waiting for its connections to go idle.
func stopAtOnce(srv *typhon.Server) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = srv.Stop(ctx)
}

// goroutinesAtMost waits, a few seconds at most, for the number of
// goroutines to fall to n, and fails the test if it does not.
func goroutinesAtMost(t *testing.T, n int) {
	t.Helper()
	limit := time.After(3 * time.Second)
	for runtime.NumGoroutine() > n {
		select {
		case <-limit:
			t.Fatalf("%d goroutines, want at most %d", runtime.NumGoroutine(), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestLeakUnreadBodies makes 1,000 calls whose response bodies the caller
// neither reads nor closes, cancelling each call's context after it: the
// bodies are released when the contexts end, so the goroutines come back to
// where they were, with the server still running. Not parallel: it counts
// the process's goroutines, and typhontest.Run checks for leaks after each
// protocol.
func TestLeakUnreadBodies(t *testing.T) {
	typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
		e := newEnv(t, p)
		var served atomic.Int32
		srv := e.server(func(req typhon.Request) typhon.Response {
			served.Add(1)
			if req.URL.Path == "/stream" { // of unknown length, never ending by itself
				rsp := req.Response(nil)
				pr, pw := io.Pipe()
				go func() {
					<-req.Context().Done()
					pw.CloseWithError(req.Context().Err())
				}()
				rsp.Body = pr
				return rsp
			}
			return req.Response(leakBody)
		})
		base := e.baseURL(srv)
		// The h2 client forgets a reset stream a moment after the call:
		// a graceful Stop might find the connection busy and wait a
		// second for it. What matters here has been checked by then.
		t.Cleanup(func() {
			e.tr.CloseIdleConnections()
			stopAtOnce(srv)
		})
		// Warm up: the connection (h2) or the pool (HTTP/1.1) exists.
		var s string
		require.NoError(t, e.client(typhon.NewRequest(t.Context(), "GET", base+"/", nil)).Decode(&s))
		baseline := runtime.NumGoroutine()

		const calls = 1000
		for i := range calls {
			path := "/"
			if i%10 == 0 {
				path = "/stream"
			}
			ctx, cancel := context.WithCancel(t.Context())
			rsp := e.client(typhon.NewRequest(ctx, "GET", base+path, nil))
			require.NoError(t, rsp.Error, "call %d", i)
			cancel() // the body is left alone
		}
		goroutinesAtMost(t, baseline+4)
		assert.Equal(t, int32(calls+1), served.Load())
	})
}

// TestLeakConnectionReuse: bodies read to EOF, decoded, or error answers
// (which the client reads for their *Error) leave the connection reusable,
// even when the caller cancels its context afterwards and never closes.
func TestLeakConnectionReuse(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		var conns atomic.Int32
		srv := e.server(func(req typhon.Request) typhon.Response {
			if req.URL.Path == "/error" {
				return typhon.Response{Error: typhon.NewError("conflict.version", "stale")}
			}
			return req.Response(leakBody)
		}, countConns(&conns))
		base := e.baseURL(srv)
		const calls = 300
		for i := range calls {
			ctx, cancel := context.WithCancel(t.Context())
			path := "/"
			if i%4 == 3 {
				path = "/error"
			}
			rsp := e.client(typhon.NewRequest(ctx, "GET", base+path, nil))
			switch i % 4 {
			case 0: // decoded
				var s string
				require.NoError(t, rsp.Decode(&s), "call %d", i)
				require.Equal(t, leakBody, s)
			case 1: // read to EOF, never closed
				require.NoError(t, rsp.Error)
				b, err := io.ReadAll(rsp.Body)
				require.NoError(t, err)
				require.Len(t, b, len(leakBody)+2)
			case 2: // read to EOF and closed
				require.NoError(t, rsp.Error)
				_, err := io.Copy(io.Discard, rsp.Body)
				require.NoError(t, err)
				require.NoError(t, rsp.Body.Close())
			case 3: // an error answer, body never touched
				require.Equal(t, "conflict.version", typhon.ErrorCode(rsp.Error))
			}
			cancel()
		}
		most := int32(2)
		if e.protocol == typhontest.HTTP1 {
			most = 3
		}
		assert.LessOrEqual(t, conns.Load(), most, "connections for %d calls", calls)
	})
}
