package typhon_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// waitBound bounds every wait for something that must happen "promptly":
// generous, so that a slow machine never fails a test, yet a hang still does.
const waitBound = 10 * time.Second

// quietLogger is a logger for tests that provoke server logs on purpose.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// quietHTTPServer silences net/http's own error log (panics reaching it,
// aborted handlers).
func quietHTTPServer() typhon.ServerOption {
	return typhon.WithHTTPServer(func(s *http.Server) { s.ErrorLog = log.New(io.Discard, "", 0) })
}

// logBuffer is an io.Writer for a slog handler that the test reads while the
// server may still write.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rawClient is a plain net/http client over the env's transport, to look at
// what is on the wire without typhon's decoding.
func (e *env) rawClient() *http.Client {
	return &http.Client{
		Transport: e.tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// serverOpts are the options that make a server on a listener of the test's
// own speak the env's protocol.
func (e *env) serverOpts(opts ...typhon.ServerOption) []typhon.ServerOption {
	if e.protocol == typhontest.H2 {
		opts = append(opts, typhon.WithHTTPServer(func(s *http.Server) {
			s.TLSConfig, _ = typhontest.TLSConfigs()
		}))
	}
	return opts
}

// notifyListener tells when the server closes its listener and, when
// sniffing, when the server has written an HTTP/2 GOAWAY frame on a
// cleartext (h2c) connection it accepted.
type notifyListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}

	sniff      bool
	goAwayOnce sync.Once
	goAway     chan struct{}
}

func newNotifyListener(t *testing.T) *notifyListener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return &notifyListener{Listener: l, closed: make(chan struct{}), goAway: make(chan struct{})}
}

func (l *notifyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || !l.sniff {
		return c, err
	}
	return &goAwaySniffer{Conn: c, l: l}, nil
}

func (l *notifyListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// goAwaySniffer parses the HTTP/2 frames a server writes on an h2c
// connection and tells its listener when one is a GOAWAY: by then the server
// discards any stream the client opens after the last one it announced.
type goAwaySniffer struct {
	net.Conn
	l    *notifyListener
	mu   sync.Mutex
	hdr  []byte // the frame header read so far
	skip int    // payload bytes of the current frame still to come
}

func (c *goAwaySniffer) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	for rest := p[:n]; len(rest) > 0; {
		if c.skip > 0 {
			k := min(c.skip, len(rest))
			c.skip, rest = c.skip-k, rest[k:]
			continue
		}
		k := min(9-len(c.hdr), len(rest))
		c.hdr, rest = append(c.hdr, rest[:k]...), rest[k:]
		if len(c.hdr) == 9 {
			if c.hdr[3] == 0x7 {
				c.l.goAwayOnce.Do(func() { close(c.l.goAway) })
			}
			c.skip = int(c.hdr[0])<<16 | int(c.hdr[1])<<8 | int(c.hdr[2])
			c.hdr = c.hdr[:0]
		}
	}
	return n, err
}

// within waits for ch, failing the test after waitBound.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		require.FailNow(t, "timed out waiting: "+what)
		panic("unreachable")
	}
}

func okService(req typhon.Request) typhon.Response { return req.Response("ok") }

func TestListenEmptyAddrServesH1AndH2COnOnePort(t *testing.T) {
	t.Parallel()
	srv, err := typhon.Listen(func(req typhon.Request) typhon.Response {
		return req.Response(req.Proto)
	}, "")
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		assert.NoError(t, srv.Stop(ctx))
	})

	addr, ok := srv.Addr().(*net.TCPAddr)
	require.True(t, ok, "Addr is a %T", srv.Addr())
	assert.True(t, addr.IP.Equal(net.IPv4(127, 0, 0, 1)), "listens on %v", addr.IP)
	assert.NotZero(t, addr.Port)

	for _, p := range []typhontest.Protocol{typhontest.HTTP1, typhontest.H2C} {
		e := newEnv(t, p)
		rsp := typhon.NewRequest(t.Context(), "GET", "http://"+srv.Addr().String()+"/", nil).SendVia(e.client).Response()
		var proto string
		require.NoError(t, rsp.Decode(&proto), p.String())
		assert.Equal(t, e.wantProto(), proto, p.String())
		// Close before Stop: an h2 connection left open delays Stop.
		e.tr.CloseIdleConnections()
	}
}

func TestServeNilService(t *testing.T) {
	t.Parallel()
	l := newNotifyListener(t)
	defer l.Close()
	srv, err := typhon.Serve(nil, l)
	assert.Error(t, err)
	assert.Nil(t, srv)
}

func TestServerDefaults(t *testing.T) {
	t.Parallel()
	var (
		readHeaderTimeout, idleTimeout time.Duration
		maxHeaderBytes                 int
		h2                             *http.HTTP2Config
		protocols                      *http.Protocols
		handler                        http.Handler
	)
	srv, err := typhon.Listen(okService, "", typhon.WithHTTPServer(func(s *http.Server) {
		readHeaderTimeout, idleTimeout, maxHeaderBytes = s.ReadHeaderTimeout, s.IdleTimeout, s.MaxHeaderBytes
		h2, protocols, handler = s.HTTP2, s.Protocols, s.Handler
	}))
	require.NoError(t, err)
	stopNow(t, srv)

	assert.Positive(t, readHeaderTimeout)
	assert.LessOrEqual(t, readHeaderTimeout, 10*time.Second)
	assert.Positive(t, idleTimeout)
	assert.Positive(t, maxHeaderBytes)
	assert.LessOrEqual(t, maxHeaderBytes, 1<<20)
	require.NotNil(t, h2)
	assert.Equal(t, 250, h2.MaxConcurrentStreams)
	assert.Equal(t, 16<<10, h2.MaxReadFrameSize)
	require.NotNil(t, protocols)
	assert.True(t, protocols.HTTP1())
	assert.True(t, protocols.UnencryptedHTTP2())
	assert.NotNil(t, handler)
}

// TestWithHTTPServerRunsInOrder: each option sees what the previous one set,
// and the last word is the server's.
func TestWithHTTPServerRunsInOrder(t *testing.T) {
	t.Parallel()
	var order []string
	var seen http.Server
	srv, err := typhon.Listen(okService, "",
		typhon.WithHTTPServer(func(s *http.Server) {
			order = append(order, "first")
			s.ReadHeaderTimeout = 3 * time.Second
			s.MaxHeaderBytes = 2048
			s.HTTP2.MaxConcurrentStreams = 7
		}),
		typhon.WithHTTPServer(func(s *http.Server) {
			order = append(order, "second")
			seen.ReadHeaderTimeout, seen.MaxHeaderBytes = s.ReadHeaderTimeout, s.MaxHeaderBytes
			seen.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: s.HTTP2.MaxConcurrentStreams}
			s.IdleTimeout = time.Second
		}),
		typhon.WithHTTPServer(func(s *http.Server) {
			order = append(order, "third")
			seen.IdleTimeout = s.IdleTimeout
		}),
	)
	require.NoError(t, err)
	stopNow(t, srv)
	assert.Equal(t, []string{"first", "second", "third"}, order)
	assert.Equal(t, 3*time.Second, seen.ReadHeaderTimeout)
	assert.Equal(t, 2048, seen.MaxHeaderBytes)
	assert.Equal(t, 7, seen.HTTP2.MaxConcurrentStreams)
	assert.Equal(t, time.Second, seen.IdleTimeout)
}

// TestWithHTTPServerOverrideTakesEffect: a smaller MaxHeaderBytes really
// limits the headers the server accepts.
func TestWithHTTPServerOverrideTakesEffect(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(okService, typhon.WithHTTPServer(func(s *http.Server) {
			s.MaxHeaderBytes = 1024
		}))

		small := typhon.NewRequest(t.Context(), "GET", base+"/", nil)
		rsp := small.SendVia(e.client).Response()
		require.NoError(t, rsp.Error)
		require.NoError(t, rsp.Body.Close())

		big := typhon.NewRequest(t.Context(), "GET", base+"/", nil)
		big.Header.Set("X-Big", strings.Repeat("x", 8<<10))
		if e.protocol == typhontest.HTTP1 {
			// On a fresh connection: net/http lets a request on a reused
			// keep-alive connection read up to 4 KiB past MaxHeaderBytes
			// more before it answers 431.
			fresh := e.tr.Clone()
			defer fresh.CloseIdleConnections()
			raw, err := (&http.Client{Transport: fresh}).Do(big.Request)
			require.NoError(t, err)
			raw.Body.Close()
			assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, raw.StatusCode)
			return
		}
		// The HTTP/2 client refuses to send more than the server accepts.
		rsp = big.SendVia(e.client).Response()
		require.Error(t, rsp.Error, "an 8 KiB header passed a 1 KiB limit")
		if rsp.Body != nil {
			rsp.Body.Close()
		}
	})
}

func TestWithHTTPServerMustNotReplaceHandler(t *testing.T) {
	t.Parallel()
	srv, err := typhon.Listen(okService, "", typhon.WithHTTPServer(func(s *http.Server) {
		s.Handler = http.NotFoundHandler()
	}))
	require.Error(t, err)
	assert.Nil(t, srv)
	assert.True(t, strings.HasPrefix(err.Error(), "typhon: "), err.Error())

	// Serve fails the same way and leaves the listener to its owner.
	l := newNotifyListener(t)
	defer l.Close()
	srv, err = typhon.Serve(okService, l, typhon.WithHTTPServer(func(s *http.Server) {
		s.Handler = nil
	}))
	require.Error(t, err)
	assert.Nil(t, srv)
}

// stopNow stops srv, which has nothing in flight, and checks a clean stop.
func stopNow(t *testing.T, srv *typhon.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	require.NoError(t, srv.Stop(ctx))
	require.NoError(t, srv.Wait())
}

// blocker is a Service that answers requests for /block when released (or
// when the request's context ends), and others at once, reporting each
// request as it arrives.
type blocker struct {
	entered chan struct{} // a request for /block arrived
	others  chan string   // the path of any other request
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan struct{}, 16), others: make(chan string, 16), release: make(chan struct{})}
}

func (b *blocker) serve(req typhon.Request) typhon.Response {
	if req.URL.Path != "/block" {
		b.others <- req.URL.Path
		return req.Response("ok")
	}
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return req.Response("drained")
	case <-req.Context().Done():
		return typhon.ErrorResponse(req, req.Context().Err())
	}
}

// TestStopDrains: Stop waits for the request in flight, which succeeds;
// meanwhile Done is closed, the listener is closed, and a new request on a
// client with a live connection fails at once instead of being served or
// hanging.
func TestStopDrains(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		b := newBlocker()
		l := newNotifyListener(t)
		l.sniff = e.protocol == typhontest.H2C
		srv, err := typhon.Serve(b.serve, l, e.serverOpts()...)
		require.NoError(t, err)
		base := e.baseURL(srv)

		// A first request leaves a live connection in the client's pool.
		rsp := typhon.NewRequest(t.Context(), "GET", base+"/warm", nil).SendVia(e.client).Response()
		require.NoError(t, rsp.Decode(new(string)))
		<-b.others

		inflight := typhon.NewRequest(t.Context(), "GET", base+"/block", nil).SendVia(e.client)
		within(t, b.entered, "in-flight request")

		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			stopped <- srv.Stop(ctx)
		}()
		within(t, srv.Done(), "Done")
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned %v with a request in flight", err)
		default:
		}
		within(t, l.closed, "listener closed")

		// The listener is closed, so no new connection reaches this
		// server. (A dial can still succeed: a test running in parallel
		// may have been given the freed port at once.)
		if conn, err := net.Dial("tcp", srv.Addr().String()); err == nil {
			conn.Close()
		}

		// A new request, sent once the server has said GOAWAY on the live
		// connection (HTTP/2), or while that connection is busy (HTTP/1.1),
		// is not served: it fails, well before its deadline. Over TLS the
		// GOAWAY cannot be seen on the wire, so the request may still race
		// it; it must not hang either way.
		if e.protocol == typhontest.H2C {
			within(t, l.goAway, "GOAWAY written")
		}
		ctx, cancel := context.WithTimeout(t.Context(), waitBound)
		defer cancel()
		late := typhon.NewRequest(ctx, "GET", base+"/late", nil).SendVia(e.client).Response()
		if late.Body != nil {
			late.Body.Close()
		}
		assert.False(t, typhon.IsCode(late.Error, typhon.CodeTimeout), "late request hung: %v", late.Error)
		if e.protocol != typhontest.H2 {
			require.Error(t, late.Error, "a request sent after Stop was served")
			assert.True(t, typhon.IsCode(late.Error, typhon.CodeUnavailable), "%v", late.Error)
			select {
			case p := <-b.others:
				t.Fatalf("a request sent after Stop reached the Service: %s", p)
			default:
			}
		}

		close(b.release)
		var got string
		require.NoError(t, inflight.Response().Decode(&got))
		assert.Equal(t, "drained", got)

		require.NoError(t, within(t, stopped, "Stop"))
		require.NoError(t, srv.Stop(context.Background()), "second Stop")
		require.NoError(t, srv.Wait())
	})
}

// TestStopForced: when Stop's context ends before the drain, Stop returns the
// context's error promptly, the request in flight fails, and every later
// call gives the same answer.
func TestStopForced(t *testing.T) {
	cases := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"expired", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}},
		{"short", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run(t, func(t *testing.T, e *env) {
				b := newBlocker()
				defer close(b.release) // the handler ends whatever happens
				srv := e.server(b.serve, quietHTTPServer())
				base := e.baseURL(srv)

				inflight := typhon.NewRequest(t.Context(), "GET", base+"/block", nil).SendVia(e.client)
				within(t, b.entered, "in-flight request")

				stopped := make(chan error, 1)
				go func() {
					ctx, cancel := tc.ctx()
					defer cancel()
					stopped <- srv.Stop(ctx)
				}()
				err := within(t, stopped, "forced Stop")
				require.ErrorIs(t, err, context.DeadlineExceeded)

				within(t, inflight.Done(), "in-flight failure")
				got := inflight.Response()
				require.Error(t, got.Error, "the request in flight succeeded after a forced stop")
				if got.Body != nil {
					got.Body.Close()
				}

				assert.ErrorIs(t, srv.Stop(context.Background()), context.DeadlineExceeded, "second Stop")
				assert.NoError(t, srv.Wait())
			})
		})
	}
}

// TestServerWaitReportsListenerFailure: a listener that fails ends the
// server: Done is closed and Wait returns the error.
func TestServerWaitReportsListenerFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	l := &failingListener{notifyListener: newNotifyListener(t), err: boom}
	srv, err := typhon.Serve(okService, l)
	require.NoError(t, err)
	err = srv.Wait()
	require.ErrorIs(t, err, typhon.ErrServerStopped)
	require.ErrorIs(t, err, boom)
	within(t, srv.Done(), "Done after a listener failure")
	within(t, l.closed, "listener closed")
	assert.NoError(t, srv.Stop(context.Background()))
}

type failingListener struct {
	*notifyListener
	err error
}

func (l *failingListener) Accept() (net.Conn, error) { return nil, l.err }

// TestStopSendsGoAway reads the frames of a raw h2c connection: Stop sends a
// graceful GOAWAY (NO_ERROR) to a connection that is open.
func TestStopSendsGoAway(t *testing.T) {
	t.Parallel()
	srv, err := typhon.Listen(okService, "")
	require.NoError(t, err)
	conn, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(waitBound)))

	// The client preface and an empty SETTINGS frame.
	_, err = io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	require.NoError(t, err)
	_, err = conn.Write(frameHeader(0, 0x4, 0, 0))
	require.NoError(t, err)
	typ, _, _ := readFrame(t, conn)
	require.Equal(t, byte(0x4), typ, "the server's first frame is SETTINGS")

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		stopped <- srv.Stop(ctx)
	}()
	for {
		typ, _, payload := readFrame(t, conn)
		if typ != 0x7 { // not GOAWAY: SETTINGS ack, WINDOW_UPDATE, ...
			continue
		}
		require.Len(t, payload, 8)
		assert.Equal(t, uint32(0), binary.BigEndian.Uint32(payload[4:8]), "GOAWAY error code")
		break
	}
	conn.Close()
	require.NoError(t, within(t, stopped, "Stop"))
}

func frameHeader(length int, typ, flags byte, stream uint32) []byte {
	h := make([]byte, 9)
	h[0], h[1], h[2] = byte(length>>16), byte(length>>8), byte(length)
	h[3], h[4] = typ, flags
	binary.BigEndian.PutUint32(h[5:], stream)
	return h
}

func readFrame(t *testing.T, r io.Reader) (typ, flags byte, payload []byte) {
	t.Helper()
	h := make([]byte, 9)
	_, err := io.ReadFull(r, h)
	require.NoError(t, err)
	n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	payload = make([]byte, n)
	_, err = io.ReadFull(r, payload)
	require.NoError(t, err)
	return h[3], h[4], payload
}

// TestLameDuck: with WithLameDuck, Done closes at once and the server keeps
// serving for the lame-duck period before it closes its listener.
func TestLameDuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := typhon.Serve(func(req typhon.Request) typhon.Response { return req.Response("ok") },
			newLameDuckListener(t), typhon.WithLameDuck(5*time.Second))
		require.NoError(t, err)
		stopped := make(chan error, 1)
		start := time.Now()
		go func() { stopped <- srv.Stop(context.Background()) }()
		synctest.Wait()
		select {
		case <-srv.Done():
		default:
			t.Fatal("Done not closed when Stop began")
		}
		select {
		case <-stopped:
			t.Fatal("Stop returned during the lame-duck period")
		default:
		}
		require.NoError(t, <-stopped)
		assert.Equal(t, 5*time.Second, time.Since(start))
	})
}

// newLameDuckListener is a listener that accepts nothing until closed, for
// use inside a synctest bubble (no real sockets).
func newLameDuckListener(t *testing.T) net.Listener {
	return &idleListener{closed: make(chan struct{})}
}

type idleListener struct {
	once   sync.Once
	closed chan struct{}
}

func (l *idleListener) Accept() (net.Conn, error) {
	<-l.closed
	return nil, net.ErrClosed
}

func (l *idleListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *idleListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
