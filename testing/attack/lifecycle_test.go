package attack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

// clientFor returns a typhon client speaking HTTP/1.1 or h2c over a
// transport of its own, closed at the end of the test.
func clientFor(t *testing.T, h2c bool) (typhon.Service, *http.Transport) {
	tr := typhon.NewTransport()
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	t.Cleanup(tr.CloseIdleConnections)
	return typhon.NewClient(typhon.WithTransport(tr)), tr
}

var protocols = []struct {
	name string
	h2c  bool
}{{"h1", false}, {"h2c", true}}

// closeListener reports when the server closes it, and whether the
// server's Done channel (its readiness signal) was closed by then.
type closeListener struct {
	net.Listener
	srv       atomic.Pointer[typhon.Server]
	once      sync.Once
	closed    chan struct{}
	doneFirst atomic.Bool
	// lateAccepts counts connections handed to the server after Close.
	lateAccepts atomic.Int64
}

func (l *closeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		select {
		case <-l.closed:
			l.lateAccepts.Add(1)
		default:
		}
	}
	return c, err
}

func (l *closeListener) Close() error {
	l.once.Do(func() {
		if srv := l.srv.Load(); srv != nil {
			select {
			case <-srv.Done():
				l.doneFirst.Store(true)
			default:
			}
		}
		close(l.closed)
	})
	return l.Listener.Close()
}

// inflight starts n POSTs to /block with buffered bodies and waits until
// the Service holds them all.
func inflight(t *testing.T, g *target, client typhon.Service, base string, n int) []*typhon.ResponseFuture {
	futures := make([]*typhon.ResponseFuture, n)
	for i := range futures {
		req := typhon.NewRequest(t.Context(), "POST", base+"/block", []byte(fmt.Sprintf("request %d", i)))
		futures[i] = req.SendVia(client)
	}
	require.True(t, waitUntil(func() bool { return g.held.Load() == int64(n) }), "held %d of %d", g.held.Load(), n)
	return futures
}

// TestGracefulShutdown: 50 requests in flight over HTTP/1.1 and over h2c
// when Stop is called. Readiness (Done) flips before the listener closes,
// no new connection is accepted, and every request in flight completes.
func TestGracefulShutdown(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			s := newScenario(t, "lifecycle/graceful-shutdown/"+p.name,
				"50 requests in flight at Stop: readiness (Done) flips before the listener closes, new connections refused, 50/50 complete, Stop returns nil")
			g := newTarget(t)
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			l := &closeListener{Listener: inner, closed: make(chan struct{})}
			srv, err := typhon.Serve(g.serve, l, quiet()...)
			require.NoError(t, err)
			l.srv.Store(srv)
			base := "http://" + srv.Addr().String()
			client, tr := clientFor(t, p.h2c)

			const n = 50
			futures := inflight(t, g, client, base, n)
			stopped := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), bound)
				defer cancel()
				stopped <- srv.Stop(ctx)
			}()
			select {
			case <-l.closed:
			case <-time.After(bound):
				t.Fatal("the listener was not closed")
			}
			// A dial may still succeed: a test running in parallel can be
			// given the freed port at once. What matters is that this
			// server accepts nothing once its listener is closed.
			if c, err := net.Dial("tcp", srv.Addr().String()); err == nil {
				c.Close()
			}
			assert.Zero(t, l.lateAccepts.Load(), "a connection was accepted after Stop closed the listener")

			released := time.Now()
			g.releaseAll()
			for i, f := range futures {
				s.tried.Add(1)
				var got string
				if err := f.Response().Decode(&got); err != nil || got != "released" {
					s.lost.Add(1)
					t.Errorf("request %d: %q, %v", i, got, err)
				}
			}
			tr.CloseIdleConnections()
			var stopErr error
			select {
			case stopErr = <-stopped:
			case <-time.After(bound):
				t.Fatal("Stop did not return")
			}
			s.set("attacks", 0)
			s.set("inflight", n)
			s.set("ready_flipped_first", l.doneFirst.Load())
			s.set("stop_returned_after_release", time.Since(released).Round(10*time.Millisecond))
			s.set("stop_error", fmt.Sprint(stopErr))
			assert.True(t, l.doneFirst.Load(), "Done was not closed before the listener")
			assert.NoError(t, stopErr)
		})
	}
}

// TestForcedStop: Stop with a context that has already expired returns at
// once with its error, and the 50 requests in flight fail rather than hang.
func TestForcedStop(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			s := newScenario(t, "lifecycle/forced-stop/"+p.name,
				"Stop with an expired context while 50 requests are in flight: returns its error promptly (< 1 s), every in-flight request fails (none hangs, none succeeds)")
			g := newTarget(t)
			srv, err := typhon.Listen(g.serve, "", quiet()...)
			require.NoError(t, err)
			client, _ := clientFor(t, p.h2c)
			futures := inflight(t, g, client, "http://"+srv.Addr().String(), 50)

			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			start := time.Now()
			err = srv.Stop(ctx)
			took := time.Since(start)
			failed := 0
			for _, f := range futures {
				rsp := f.Response()
				if rsp.Error != nil {
					failed++
				}
				if rsp.Body != nil {
					rsp.Body.Close()
				}
			}
			g.releaseAll()
			s.set("inflight", 50)
			s.set("stop_returned_after", took.Round(time.Millisecond))
			s.set("inflight_failed", failed)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, took, time.Second)
			assert.Equal(t, 50, failed, "in-flight requests that did not fail")
		})
	}
}

// TestGoAwayStorm: 20 clients each send 25 POSTs with buffered (replayable)
// bodies while every 10th response asks for its connection to be closed
// ("Connection: close": the HTTP/1.1 connection closes after it, an h2c
// one gets GOAWAY). No request is lost, none is served twice: the client
// replays on a new connection what the server proves it did not process.
//
// A typhon Service cannot set Connection (the handler drops hop-by-hop
// headers), so the server here is typhon's HTTPHandler behind a small
// net/http handler that adds the header: the subject is the client.
func TestGoAwayStorm(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			s := newScenario(t, "lifecycle/goaway-storm/"+p.name,
				"20 clients x 25 POSTs with replayable bodies, every 10th response closes its connection (GOAWAY on h2c): 500/500 succeed, each served exactly once")
			var (
				mu       sync.Mutex
				seen     = map[string]int{}
				closes   atomic.Int64
				answered atomic.Int64
				opened   atomic.Int64
			)
			svc := func(req typhon.Request) typhon.Response {
				b, err := io.ReadAll(req.Body)
				if err != nil {
					return typhon.ErrorResponse(req, err)
				}
				mu.Lock()
				seen[string(b)]++
				mu.Unlock()
				return req.Response(string(b))
			}
			h := typhon.HTTPHandler(svc, typhon.WithLogger(quietLogger()))
			var protos http.Protocols
			protos.SetHTTP1(true)
			protos.SetUnencryptedHTTP2(true)
			hs := &http.Server{
				Protocols:         &protos,
				ReadHeaderTimeout: typhon.DefaultReadHeaderTimeout,
				HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: typhon.DefaultMaxConcurrentStreams},
				ErrorLog:          log.New(io.Discard, "", 0),
				ConnState: func(_ net.Conn, cs http.ConnState) {
					if cs == http.StateNew {
						opened.Add(1)
					}
				},
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if answered.Add(1)%10 == 0 {
						closes.Add(1)
						w.Header().Set("Connection", "close")
					}
					h.ServeHTTP(w, r)
				}),
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			served := make(chan struct{})
			go func() { defer close(served); _ = hs.Serve(l) }()
			t.Cleanup(func() { hs.Close(); <-served })
			base := "http://" + l.Addr().String()
			client, _ := clientFor(t, p.h2c)

			// Each attempt takes a connection: more attempts than requests
			// are transparent replays.
			var attempts atomic.Int64
			trace := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				GotConn: func(httptrace.GotConnInfo) { attempts.Add(1) },
			})
			const workers, each = 20, 25
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						body := fmt.Sprintf("worker %d request %d %s", w, i, bytes.Repeat([]byte{'p'}, 512))
						ctx, cancel := context.WithTimeout(trace, bound)
						var got string
						s.tried.Add(1)
						err := client(typhon.NewRequest(ctx, "POST", base+"/", []byte(body))).Decode(&got)
						cancel()
						if err != nil || got != body {
							s.lost.Add(1)
							t.Errorf("worker %d request %d: %v", w, i, err)
						}
					}
				})
			}
			wg.Wait()
			twice := 0
			mu.Lock()
			for _, n := range seen {
				if n > 1 {
					twice++
				}
			}
			mu.Unlock()
			s.set("requests", workers*each)
			s.set("connection_closes_sent", closes.Load())
			s.set("connections_opened", opened.Load())
			s.set("served_twice", twice)
			s.set("replays", attempts.Load()-workers*each)
			assert.Zero(t, twice, "requests served more than once")
		})
	}
}

// quiet is the options of a server that logs nothing.
func quiet() []typhon.ServerOption {
	return []typhon.ServerOption{
		typhon.WithLogger(quietLogger()),
		typhon.WithHTTPServer(func(s *http.Server) { s.ErrorLog = log.New(io.Discard, "", 0) }),
	}
}

// TestUnclosedBodies: 1,000 calls whose caller neither reads nor closes the
// response body, ending each call's context afterwards (the documented way
// a typhon client releases a body left alone). No goroutine stays behind.
// Over h2c one connection carries them all; over HTTP/1.1 the client reads
// small bodies of known length before it returns, which frees the
// connection for the next call (net/http would otherwise close the
// connection of a body abandoned before EOF).
func TestUnclosedBodies(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			bar := "1,000 calls, 100-byte bodies never read nor closed, each call's context ended after it: goroutines back to baseline, at most 2 connections"
			s := newScenario(t, "lifecycle/unclosed-bodies/"+p.name, bar)
			srv, st := serve(t, func(req typhon.Request) typhon.Response {
				return req.Response(bytes.Repeat([]byte{'u'}, 100))
			})
			client, tr := clientFor(t, p.h2c)
			base := "http://" + srv.Addr().String()
			const calls = 1000
			for i := range calls {
				ctx, cancel := context.WithCancel(context.Background())
				s.tried.Add(1)
				rsp := client(typhon.NewRequest(ctx, "GET", base+"/", nil))
				if rsp.Error != nil {
					s.lost.Add(1)
					t.Errorf("call %d: %v", i, rsp.Error)
				}
				cancel() // the body is left alone
			}
			tr.CloseIdleConnections()
			s.set("calls", calls)
			s.set("connections_opened", st.opened.Load())
			assert.LessOrEqual(t, st.opened.Load(), int64(2), "connections for %d calls", calls)
		})
	}
}
