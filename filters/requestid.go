package filters

import (
	"net/http"

	"github.com/typhon-go/typhon"
)

// MaxRequestIDLen is the longest request ID [RequestID] accepts.
const MaxRequestIDLen = 128

// RequestID is a Filter that gives every request an ID, carried in its
// context (typhon.WithRequestID, read with typhon.RequestID) and in the
// typhon.RequestIDHeader header, X-Request-Id. It is NewRequestID() with
// the defaults.
//
// On a server (a typhon.Inbound request) it accepts the caller's
// X-Request-Id when it is valid: 1 to [MaxRequestIDLen] characters out of
// A-Z a-z 0-9 . _ : -. Otherwise (absent, too long, anything else in it,
// several values) it replaces it with a new ID: 32 lower-case hex digits,
// 128 random bits from math/rand/v2 (unpredictable enough to be unique, not
// a secret: never use a request ID for authorisation), and an invalid
// X-Request-Id is removed from the request's header, so that nothing reads,
// logs or passes it on. Error responses
// (an Error, or a status of 400 or more) echo the ID in X-Request-Id, so
// that whoever reports a failure can quote it; see [WithRequestIDEcho] for
// the other answers.
//
// On a client (an outbound request) the header is left to the client,
// which sends the context's ID downstream (unless
// typhon.WithoutPropagation): RequestID only makes sure there is one. A
// valid X-Request-Id set on the request wins and goes into the context; an
// invalid one is removed; with neither a valid header nor an ID in the
// context, a new ID goes into the context. A call that is the first of its
// chain (a job, a CLI) thus has an ID in its client logs and downstream.
//
// Put RequestID outermost on a server, outside [Log] (whose lines carry
// request_id) and Trace: a Filter inside it sees the ID with
// typhon.RequestID(req.Context()), and a tracing filter can record it as a
// span attribute from there. Calls made with the request's context carry
// the ID to the next hop, so every service on a request's path logs the same
// one.
//
// The Filter is safe for concurrent use. On a server it costs one
// allocation, the request with its new context; a new ID is made there, the
// first time something asks for it (typhon.RequestID: a log line, a call
// downstream, an echo), so a request whose ID nothing reads never pays for
// one. On a client it allocates nothing when the context already has a
// valid ID.
var RequestID typhon.Filter = NewRequestID()

// Echo says which responses [RequestID] gives an X-Request-Id.
type Echo int

const (
	// EchoErrors echoes the ID on error responses: an Error, or a status
	// of 400 or more. It is the default.
	EchoErrors Echo = iota
	// EchoAll echoes the ID on every response.
	EchoAll
	// EchoNone never echoes the ID.
	EchoNone
)

// A RequestIDOption configures [NewRequestID].
type RequestIDOption func(*requestIDConfig)

type requestIDConfig struct{ echo Echo }

// WithRequestIDEcho sets which responses of a server echo the request ID:
// [EchoErrors] (the default), [EchoAll] or [EchoNone].
//
// Echoing on errors only is a matter of cost. A new ID is a header value
// never seen before, which HTTP/2's header compression (HPACK) adds to the
// connection's table, pushing out entries that would have been reused, on
// the server and again on the client: measured at about 1 µs of server CPU
// per request over h2c under load, a twentieth of a small request's
// whole cost. A caller that keeps the IDs of its successful calls too
// sends its own X-Request-Id (which the server then uses) or asks for
// EchoAll.
func WithRequestIDEcho(e Echo) RequestIDOption {
	return func(c *requestIDConfig) { c.echo = e }
}

// NewRequestID returns the [RequestID] Filter configured by opts.
func NewRequestID(opts ...RequestIDOption) typhon.Filter {
	var c requestIDConfig
	for _, o := range opts {
		o(&c)
	}
	echo := c.echo
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		return requestID(req, svc, echo)
	}
}

func requestID(req typhon.Request, svc typhon.Service, echo Echo) typhon.Response {
	if req.Request == nil {
		return svc(req)
	}
	ctx := req.Context()
	vs := req.Header[typhon.RequestIDHeader]
	if !typhon.Inbound(req) {
		switch {
		case len(vs) == 1 && validRequestID(vs[0]):
			if typhon.RequestID(ctx) != vs[0] {
				req = req.WithRequestID(vs[0])
			}
			return svc(req)
		case len(vs) > 0:
			delete(req.Header, typhon.RequestIDHeader)
		}
		if validRequestID(typhon.RequestID(ctx)) {
			return svc(req)
		}
		return svc(req.WithNewRequestID())
	}
	if len(vs) == 1 && validRequestID(vs[0]) {
		req = req.WithRequestID(vs[0])
	} else {
		if len(vs) > 0 {
			// Not to be logged or passed on by anyone reading the header.
			delete(req.Header, typhon.RequestIDHeader)
			vs = nil
		}
		req = req.WithNewRequestID()
	}
	rsp := svc(req)
	if rsp.Response != nil && echo != EchoNone &&
		(echo == EchoAll || rsp.Error != nil || rsp.StatusCode >= http.StatusBadRequest) {
		if rsp.Header == nil {
			rsp.Header = make(http.Header)
		}
		if vs == nil {
			vs = []string{typhon.RequestID(req.Context())}
		}
		// The request header's slice, when it is the ID: header values
		// are replaced, never changed in place.
		rsp.Header[typhon.RequestIDHeader] = vs
	}
	return rsp
}

// validRequestID reports whether id may be used as a request ID as it is:
// 1 to MaxRequestIDLen characters out of A-Z a-z 0-9 . _ : -.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}
