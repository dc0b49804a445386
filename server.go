package typhon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server defaults, each overridable with [WithHTTPServer].
const (
	DefaultReadHeaderTimeout    = 10 * time.Second
	DefaultIdleTimeout          = 2 * time.Minute
	DefaultMaxHeaderBytes       = 1 << 20
	DefaultMaxConcurrentStreams = 250
	DefaultMaxReadFrameSize     = 16 << 10 // the HTTP/2 minimum; net/http's own default is 1 MiB
)

// ErrServerStopped is returned by [Server.Wait] when the listener failed
// before Stop was called; it wraps the listener's error.
var ErrServerStopped = errors.New("typhon: server stopped")

// A ServerOption configures [Listen] and [Serve]. Every [HandlerOption] is a
// ServerOption too.
type ServerOption interface{ applyServer(*serverConfig) }

type serverConfig struct {
	handler  handlerConfig
	httpOpts []func(*http.Server)
	lameDuck time.Duration
}

type serverOptionFunc func(*serverConfig)

func (f serverOptionFunc) applyServer(c *serverConfig) { f(c) }

// WithHTTPServer lets f change the *http.Server after typhon has set its
// defaults: any timeout, TLSConfig (the server then serves TLS, HTTP/2 and
// HTTP/1.1 by ALPN), HTTP2 settings, Protocols, ErrorLog, BaseContext,
// ConnContext, ConnState. f must not change Handler; Listen and Serve fail
// if it does. Several WithHTTPServer options run in order.
func WithHTTPServer(f func(*http.Server)) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.httpOpts = append(c.httpOpts, f) })
}

// WithLameDuck makes Stop wait d after it closes [Server.Done] before it
// closes the listener, still serving: time for load balancers that poll a
// readiness check to see the server go unready and stop sending it traffic.
// A Stop whose context ends sooner waits no longer than that.
func WithLameDuck(d time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.lameDuck = d })
}

// Server serves a Service over HTTP/1.1 and h2c (HTTP/2 with prior
// knowledge) on one port, or over TLS with HTTP/2 and HTTP/1.1 when a
// TLSConfig is set. Its methods are safe for concurrent use.
type Server struct {
	srv      *http.Server
	l        net.Listener
	done     chan struct{} // closed when shutdown starts
	doneOnce sync.Once
	stopped  chan struct{} // closed when Serve has returned
	serveErr error
	stopping atomic.Bool
	lameDuck time.Duration
	stopDone chan struct{}
	stopErr  error
}

// Listen listens on addr and serves svc in the background; see [Serve].
// An empty addr means "127.0.0.1:0": loopback, on a free port that
// [Server.Addr] tells. ":8080" listens on every interface, as net.Listen
// does. Listen reads no environment variables.
func Listen(svc Service, addr string, opts ...ServerOption) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s, err := Serve(svc, l, opts...)
	if err != nil {
		l.Close()
		return nil, err
	}
	return s, nil
}

// Serve serves svc on l in the background with [HTTPHandler], until
// [Server.Stop]. The http.Server has safe defaults: a ReadHeaderTimeout of
// DefaultReadHeaderTimeout, an IdleTimeout of DefaultIdleTimeout,
// MaxHeaderBytes of DefaultMaxHeaderBytes, at most
// DefaultMaxConcurrentStreams HTTP/2 streams per connection (which keeps
// net/http's defence against Rapid Reset), and HTTP/2 frames of at most
// DefaultMaxReadFrameSize from the client. [WithHTTPServer] changes any of
// them.
func Serve(svc Service, l net.Listener, opts ...ServerOption) (*Server, error) {
	if svc == nil {
		return nil, errors.New("typhon: Serve with a nil Service")
	}
	var cfg serverConfig
	for _, o := range opts {
		o.applyServer(&cfg)
	}
	h := newHandler(svc, cfg.handler)
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		Protocols:         &protocols,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: DefaultMaxConcurrentStreams,
			MaxReadFrameSize:     DefaultMaxReadFrameSize,
		},
	}
	for _, f := range cfg.httpOpts {
		f(srv)
	}
	if srv.Handler != h {
		return nil, errors.New("typhon: WithHTTPServer must not change the Handler")
	}
	if srv.TLSConfig != nil && (srv.Protocols == &protocols) {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		srv.Protocols = &p
	}
	s := &Server{
		srv:      srv,
		l:        l,
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
		stopDone: make(chan struct{}),
		lameDuck: cfg.lameDuck,
	}
	go s.serve()
	return s, nil
}

func (s *Server) serve() {
	var err error
	if s.srv.TLSConfig != nil {
		err = s.srv.ServeTLS(s.l, "", "")
	} else {
		err = s.srv.Serve(s.l)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		s.serveErr = errors.Join(ErrServerStopped, err)
	}
	s.doneOnce.Do(func() { close(s.done) })
	close(s.stopped)
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.l.Addr() }

// Done returns a channel closed when the server starts shutting down (Stop
// was called, or the listener failed): the moment to report not ready.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop shuts the server down gracefully: it closes the listener, sends
// HTTP/2 connections a GOAWAY, closes idle connections, and waits for the
// requests in flight to finish. When ctx ends first, it closes every
// connection and returns ctx's error; after a clean drain it returns nil.
// A call made while another drains waits for it and returns its result, or
// forces the close when its own ctx ends first.
func (s *Server) Stop(ctx context.Context) error {
	if s.stopping.CompareAndSwap(false, true) {
		s.doneOnce.Do(func() { close(s.done) })
		if s.lameDuck > 0 {
			t := time.NewTimer(s.lameDuck)
			select {
			case <-t.C:
			case <-ctx.Done():
			case <-s.stopped:
			}
			t.Stop()
		}
		err := s.srv.Shutdown(ctx)
		if err != nil {
			s.srv.Close()
		}
		<-s.stopped
		s.stopErr = err
		close(s.stopDone)
		return err
	}
	select {
	case <-s.stopDone:
		return s.stopErr
	case <-ctx.Done():
		// Another Stop is draining; this caller's patience ran out first.
		s.srv.Close()
		return ctx.Err()
	}
}

// Wait blocks until the server has stopped serving and returns nil after
// Stop, or the error that ended it otherwise (wrapping ErrServerStopped).
func (s *Server) Wait() error {
	<-s.stopped
	return s.serveErr
}
