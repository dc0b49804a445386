package typhontest

import (
	"context"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/typhon-go/typhon"
)

// stopTimeout bounds how long a Server's Close waits for requests in flight
// before it closes their connections.
const stopTimeout = 10 * time.Second

// Server is a typhon.Server started by a test, with a client that speaks
// its [Protocol]. It is stopped when the test ends. Its embedded
// *typhon.Server gives Addr, Done, Stop and Wait. Its methods are safe for
// concurrent use.
type Server struct {
	*typhon.Server

	// URL is the server's base URL, without a trailing slash:
	// "http://typhon.test" or "https://typhon.test" in memory,
	// "http://127.0.0.1:port" or "https://127.0.0.1:port" on a loopback port.
	URL string
	// Client sends requests over Protocol, through Transport: to this
	// server only for an in-memory Server (it dials the server's Listener
	// whatever the URL), to any server of the same Protocol for a loopback
	// one.
	Client typhon.Service
	// Transport is the Client's transport, for building other clients
	// (typhon.NewClient(typhon.WithTransport(...)) around a wrapped
	// transport). Close closes its connections.
	Transport *http.Transport
	// Protocol is what Client and the server speak.
	Protocol Protocol

	closeOnce sync.Once
	t         testing.TB
	log       *testLog
	conns     *clientConns
}

// NewServer serves svc over HTTP/1.1 on an in-memory [Listener] (no port is
// opened) until the test ends, as [HTTP1].NewServer does; see
// [Protocol.NewServer].
func NewServer(t testing.TB, svc typhon.Service, opts ...typhon.ServerOption) *Server {
	t.Helper()
	return HTTP1.NewServer(t, svc, opts...)
}

// NewServer serves svc with [typhon.Serve] on a new in-memory [Listener]
// over p, until the test ends, and returns it with a Client that dials the
// listener and speaks p. Requests go over a real connection: net/http
// parses them, canonicalises headers, frames HTTP/2, and runs typhon's
// server bridge, so what the Service sees and what the Client gets back is
// what they would over TCP. opts are passed to typhon.Serve; for H2, the
// server's TLSConfig is set before them.
//
// An in-memory Server made inside a testing/synctest bubble, with the
// bubble's t, runs in the bubble's virtual time: latency and deadlines
// over a real connection take no real time.
//
// What the server logs (net/http's ErrorLog; typhon's logger, which reports
// recovered panics) goes to t.Log until the server is closed; an option in
// opts may send it elsewhere. Failing to start the server fails the test
// with t.Fatalf. At the end of the test (t.Cleanup), [Server.Close] closes
// the Client's connections and stops the server.
func (p Protocol) NewServer(t testing.TB, svc typhon.Service, opts ...typhon.ServerOption) *Server {
	t.Helper()
	if !p.valid() {
		t.Fatalf("typhontest: NewServer with unknown %v", p)
	}
	l := NewListener()
	log := &testLog{t: t}
	srv, err := typhon.Serve(svc, l, p.serverOptions(log, opts)...)
	if err != nil {
		l.Close()
		t.Fatalf("typhontest: cannot serve: %v", err)
	}
	tr := p.Transport()
	tr.DialContext = l.DialContext
	return p.started(t, srv, tr, p.scheme()+"://"+memHost, log)
}

// Listen serves svc over HTTP/1.1 on a loopback port until the test ends,
// as [HTTP1].Listen does; see [Protocol.Listen].
func Listen(t testing.TB, svc typhon.Service, opts ...typhon.ServerOption) *Server {
	t.Helper()
	return HTTP1.Listen(t, svc, opts...)
}

// Listen serves svc with [typhon.Listen] on 127.0.0.1 on a free port, over
// p, until the test ends, and returns it with a Client that speaks p. Use
// it rather than [Protocol.NewServer] when the test needs a real socket: to
// reach the server from another process or library, or through a proxy.
// opts are passed to typhon.Listen; for H2, the server's TLSConfig is set
// before them.
//
// The server logs to t.Log, as [Protocol.NewServer]'s does. Failing to
// listen fails the test with t.Fatalf. At the end of the test (t.Cleanup),
// [Server.Close] closes the Client's connections and stops the server.
func (p Protocol) Listen(t testing.TB, svc typhon.Service, opts ...typhon.ServerOption) *Server {
	t.Helper()
	if !p.valid() {
		t.Fatalf("typhontest: Listen with unknown %v", p)
	}
	log := &testLog{t: t}
	srv, err := typhon.Listen(svc, "127.0.0.1:0", p.serverOptions(log, opts)...)
	if err != nil {
		t.Fatalf("typhontest: cannot listen: %v", err)
	}
	return p.started(t, srv, p.Transport(), p.scheme()+"://"+srv.Addr().String(), log)
}

// serverOptions puts typhontest's options before the caller's, which may
// change them: logs to the test, and for H2 the test certificate.
func (p Protocol) serverOptions(log *testLog, opts []typhon.ServerOption) []typhon.ServerOption {
	ours := []typhon.ServerOption{
		typhon.WithLogger(slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{ReplaceAttr: dropTime}))),
		typhon.WithHTTPServer(func(s *http.Server) {
			s.ErrorLog = stdlog.New(log, "", 0)
			if p == H2 {
				s.TLSConfig, _ = TLSConfigs()
			}
		}),
	}
	return append(ours, opts...)
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// testLog writes what a server logs to its test (t.Log, shown with -v or
// when the test fails) until the server is closed, and drops it after.
type testLog struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log("server: " + strings.TrimSuffix(string(b), "\n"))
	}
	return len(b), nil
}

func (w *testLog) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

func (p Protocol) started(t testing.TB, srv *typhon.Server, tr *http.Transport, url string, log *testLog) *Server {
	conns := &clientConns{dial: tr.DialContext, conns: make(map[*clientConn]struct{})}
	tr.DialContext = conns.dialContext
	s := &Server{
		Server:    srv,
		URL:       url,
		Client:    typhon.NewClient(typhon.WithTransport(tr)),
		Transport: tr,
		Protocol:  p,
		t:         t,
		log:       log,
		conns:     conns,
	}
	t.Cleanup(s.Close)
	return s
}

// Close tears the server down at the end of a test: it closes the Client's
// connections, idle or not, as a client process that exits does, so that
// the server is not kept waiting for them (an HTTP/2 server waits up to a
// second for a client to leave after its GOAWAY, and a client that has not
// yet forgotten a finished stream does not count its connection as idle);
// then it stops the server, waiting up to 10 s for requests in flight from
// other clients before it closes their connections too (and logs that it
// had to). The Client fails from then on, with unavailable.
//
// Close runs at the end of the test; calling it sooner stops the server
// sooner, and calling it again does nothing. To test a graceful drain, call
// the embedded [typhon.Server.Stop] instead.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.Transport.CloseIdleConnections()
		s.conns.closeAll()
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			s.t.Logf("typhontest: server at %s did not stop within %v; connections closed: %v", s.URL, stopTimeout, err)
		}
		s.log.close()
	})
}

// clientConns tracks the connections a Server's Client dials, so that Close
// can close them.
type clientConns struct {
	dial   func(ctx context.Context, network, address string) (net.Conn, error)
	mu     sync.Mutex
	conns  map[*clientConn]struct{}
	closed bool
}

func (c *clientConns) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := c.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	cc := &clientConn{Conn: conn, owner: c}
	c.conns[cc] = struct{}{}
	return cc, nil
}

// closeAll closes every connection, and those dialed from now on.
func (c *clientConns) closeAll() {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for cc := range conns {
		cc.Conn.Close()
	}
}

type clientConn struct {
	net.Conn
	owner *clientConns
}

func (cc *clientConn) Close() error {
	cc.owner.mu.Lock()
	delete(cc.owner.conns, cc)
	cc.owner.mu.Unlock()
	return cc.Conn.Close()
}
