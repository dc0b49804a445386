// Package servers builds the servers the benchmarks compare, one per
// toolkit, all doing the same work, so that only the toolkit differs:
//
//   - GET /users/{id} answers a small JSON object built from the path
//     parameter (about 60 bytes), encoded with encoding/json;
//   - GET /stream answers 1 MiB of unknown length, written in 32 KiB pieces,
//     each flushed (a streamed body);
//   - anything else is a 404.
//
// The variants are [Impls]: plain net/http (http.ServeMux), net/http with
// chi, typhon without filters, typhon with filters.ServerStack (the default
// server filters), and github.com/monzo/typhon v1.1.10. The net/http and chi
// servers get the same safe defaults as typhon's server (read-header and idle
// timeouts, header size limit, at most 250 HTTP/2 streams per connection,
// HTTP/2 read frame size), and serve HTTP/1.1 and h2c on one port, as typhon
// does. monzo/typhon's server takes only its timeouts; it serves h2c by
// hijacking the HTTP/1.1 connection (its H2cFilter).
package servers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/go-chi/chi/v5"
	monzo "github.com/monzo/typhon"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// Impls names the server variants, net/http first: it is the baseline.
var Impls = []string{"nethttp", "chi", "typhon-bare", "typhon-stack", "monzo"}

// User is the small JSON body the servers answer.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// NewUser returns the User the servers answer for id.
func NewUser(id string) User { return User{ID: id, Name: "Ada Lovelace", Email: "ada@example.com"} }

// StreamSize is the size of the /stream body, StreamChunk of each write.
const (
	StreamSize  = 1 << 20
	StreamChunk = 32 << 10
)

var streamData = make([]byte, StreamSize)

// StreamReader returns a reader of the /stream body that hands out at most
// StreamChunk bytes per Read.
func StreamReader() io.ReadCloser { return &chunkReader{b: streamData} }

type chunkReader struct{ b []byte }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), StreamChunk)], r.b)
	r.b = r.b[n:]
	return n, nil
}

func (r *chunkReader) Close() error { return nil }

// Server is a running server of one variant.
type Server struct {
	Addr string // host:port
	stop func()
}

// Close stops the server at once.
func (s *Server) Close() { s.stop() }

// Start serves impl on l in the background.
func Start(impl string, l net.Listener) (*Server, error) {
	addr := l.Addr().String()
	switch impl {
	case "nethttp", "chi":
		h := NetHTTPHandler()
		if impl == "chi" {
			h = ChiHandler()
		}
		srv := NewHTTPServer(h)
		go func() { _ = srv.Serve(l) }()
		return &Server{Addr: addr, stop: func() { srv.Close() }}, nil
	case "typhon-bare", "typhon-stack":
		srv, err := typhon.Serve(TyphonService(impl == "typhon-stack"), l)
		if err != nil {
			return nil, err
		}
		return &Server{Addr: addr, stop: func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = srv.Stop(ctx)
		}}, nil
	case "monzo":
		srv, err := monzo.Serve(MonzoService(), l, monzo.WithTimeout(monzo.TimeoutOptions{
			ReadHeader: typhon.DefaultReadHeaderTimeout,
			Idle:       typhon.DefaultIdleTimeout,
		}))
		if err != nil {
			return nil, err
		}
		return &Server{Addr: addr, stop: func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			srv.Stop(ctx)
		}}, nil
	}
	return nil, fmt.Errorf("unknown server %q (want one of %v)", impl, Impls)
}

// NewHTTPServer returns an *http.Server for h with typhon's server defaults:
// HTTP/1.1 and h2c on one port, the same timeouts and limits.
func NewHTTPServer(h http.Handler) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: typhon.DefaultReadHeaderTimeout,
		IdleTimeout:       typhon.DefaultIdleTimeout,
		MaxHeaderBytes:    typhon.DefaultMaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: typhon.DefaultMaxConcurrentStreams,
			MaxReadFrameSize:     typhon.DefaultMaxReadFrameSize,
		},
	}
}

// writeJSON is what a net/http handler does to answer v.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// writeStream streams the /stream body, flushing each piece, as typhon's
// server does for a body of unknown length.
func writeStream(w http.ResponseWriter) {
	f, _ := w.(http.Flusher)
	r := StreamReader()
	buf := make([]byte, StreamChunk)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

// NetHTTPHandler is the plain net/http variant, on http.ServeMux.
func NetHTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, NewUser(r.PathValue("id")))
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) { writeStream(w) })
	return mux
}

// ChiHandler is the net/http + chi variant.
func ChiHandler() http.Handler {
	r := chi.NewRouter()
	r.Get("/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, NewUser(chi.URLParam(r, "id")))
	})
	r.Get("/stream", func(w http.ResponseWriter, r *http.Request) { writeStream(w) })
	return r
}

// TyphonService is the typhon variant: a Router, in filters.ServerStack
// when stack is set.
func TyphonService(stack bool) typhon.Service {
	var r typhon.Router
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		return req.Response(NewUser(req.PathValue("id")))
	})
	r.GET("/stream", func(req typhon.Request) typhon.Response {
		return req.Response(StreamReader())
	})
	svc := r.Serve()
	if stack {
		svc = filters.ServerStack(svc)
	}
	return svc
}

// MonzoService is the monzo/typhon variant, with the filters its servers
// use: ErrorFilter and H2cFilter.
func MonzoService() monzo.Service {
	var r monzo.Router
	r.GET("/users/:id", func(req monzo.Request) monzo.Response {
		return req.Response(NewUser(monzo.RouterForRequest(req).Params(req)["id"]))
	})
	r.GET("/stream", func(req monzo.Request) monzo.Response {
		rsp := monzo.NewResponse(req)
		rsp.Encode(StreamReader()) // an io.ReadCloser: streamed
		return rsp
	})
	return r.Serve().Filter(monzo.ErrorFilter).Filter(monzo.H2cFilter)
}
