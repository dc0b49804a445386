package typhontest

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/typhon-go/typhon"
)

// Stubs routes outbound calls to in-process Services by the host of their
// URL, for one test, with no global state: the Service under test sends
// with a context from [Stubs.Context] (its Request.Send then goes to
// [Stubs.Client]), and tests that each make their own Stubs can run in
// parallel.
//
// A call to "http://users/users/1" goes to the stub handled for "users",
// whatever the port; one handled for "users:8080" takes only calls to that
// host and port, ahead of a stub for "users". A call reaches its stub as it
// would over the wire: through [typhon.ErrorFilter], so that the caller sees
// the *typhon.Error a remote caller would (code, message and params, no
// cause) with its status and problem+json body; and a panic in the stub is
// answered 500 internal_service, as a typhon server answers it.
//
// A call to a host that no stub handles fails the test (t.Errorf, naming
// the host and the URL) and is answered unavailable, as a client answers a
// host that does not resolve: a not_found would look like an answer from a
// stub, which the Service under test might take for a missing resource.
//
// The stub gets the Request with the caller's context, so it sees the
// caller's deadline and cancellation, and its own Send goes to the Stubs
// too (a stub may call another). Every call is recorded, before its stub
// runs, with its body; the stub still reads the body. Stubs is safe for concurrent use. Calls after the
// test has ended are still answered, but reported to no one (a late report
// would panic).
type Stubs struct {
	t     testing.TB
	mu    sync.Mutex
	hosts map[hostPort]typhon.Service
	calls []Call
	ended bool
}

// NewStubs returns Stubs with no stub, for the test t.
func NewStubs(t testing.TB) *Stubs {
	s := &Stubs{t: t, hosts: make(map[hostPort]typhon.Service)}
	t.Cleanup(func() {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	})
	return s
}

// Handle routes calls to host to svc. host is a host name or IP ("users",
// "10.0.0.1", "::1"), which takes calls on any port, or a host and port
// ("users:8080", "[::1]:8080"), which takes calls to that port only. It is
// compared without regard to case. Handling a host twice, or a host with a
// scheme or path, fails the test with t.Fatalf.
func (s *Stubs) Handle(host string, svc typhon.Service) {
	s.t.Helper()
	key, ok := hostKey(host)
	if !ok {
		s.t.Fatalf("typhontest: Stubs.Handle(%q): want a host or host:port, such as \"users\" or \"users:8080\"", host)
	}
	if svc == nil {
		s.t.Fatalf("typhontest: Stubs.Handle(%q) with a nil Service", host)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.hosts[key]; dup {
		s.t.Fatalf("typhontest: Stubs.Handle(%q): host already handled", host)
	}
	s.hosts[key] = svc
}

// hostPort is a host as Handle takes it: a lower-case host name or IP
// (without brackets), and a port or "" for any port.
type hostPort struct{ host, port string }

// hostKey parses a host for Handle.
func hostKey(host string) (hostPort, bool) {
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return hostPort{}, false
	}
	if strings.Count(host, ":") > 1 && !strings.HasPrefix(host, "[") {
		return hostPort{host: strings.ToLower(host)}, true // a bare IPv6 address
	}
	u := &url.URL{Host: host}
	hp := hostPort{host: strings.ToLower(u.Hostname()), port: u.Port()}
	return hp, hp.host != ""
}

// Context returns a context derived from parent (the test's context when
// parent is nil) in which Request.Send sends through [Stubs.Client]: give it
// to the Requests of the Service under test ([WithContext], or
// req.WithContext). It is built on [typhon.WithClient].
func (s *Stubs) Context(parent context.Context) context.Context {
	if parent == nil {
		parent = s.t.Context()
	}
	return typhon.WithClient(parent, s.serve)
}

// Client returns the Service that routes each Request to its stub, for
// callers that take a client rather than a context
// (req.SendVia(stubs.Client())).
func (s *Stubs) Client() typhon.Service {
	return s.serve
}

// Filter returns a Filter that gives each Request a context from
// [Stubs.Context], so that the calls a Service makes while serving it go to
// the stubs: wrap a Service served with [NewServer] in it, whose Requests
// have the server's context.
func (s *Stubs) Filter() typhon.Filter {
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		return svc(req.WithContext(s.Context(req.Context())))
	}
}

// Calls returns a copy of every call made so far, in the order they
// arrived.
func (s *Stubs) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the calls made so far to host, matched as [Stubs.Handle]
// matches it (whether or not a stub handles it).
func (s *Stubs) CallsTo(host string) []Call {
	key, ok := hostKey(host)
	if !ok {
		return nil
	}
	var out []Call
	for _, c := range s.Calls() {
		if c.URL != nil && matches(key, c.URL) {
			out = append(out, c)
		}
	}
	return out
}

func matches(key hostPort, u *url.URL) bool {
	return strings.EqualFold(key.host, u.Hostname()) && (key.port == "" || key.port == u.Port())
}

func (s *Stubs) lookup(u *url.URL) typhon.Service {
	if u == nil {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" {
		if svc, ok := s.hosts[hostPort{host, port}]; ok {
			return svc
		}
	}
	return s.hosts[hostPort{host: host}]
}

func (s *Stubs) serve(req typhon.Request) typhon.Response {
	if req.Request == nil {
		return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeInternalService, "typhontest: Stubs called with a zero Request"))
	}
	call := recordCall(req)
	s.mu.Lock()
	s.calls = append(s.calls, call)
	svc := s.lookup(req.URL)
	ended := s.ended
	s.mu.Unlock()
	if svc == nil {
		host := ""
		if req.URL != nil {
			host = req.URL.Host
		}
		if !ended {
			s.t.Errorf("typhontest: no stub for host %q: %s (add one with Stubs.Handle)", host, call)
		}
		return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeUnavailable, "typhontest: no stub for host "+host))
	}
	return typhon.Service(s.recovering(svc)).Filter(typhon.ErrorFilter)(req)
}

// recovering answers a panic in svc as a typhon server does: 500
// internal_service; the panic is logged to the test.
func (s *Stubs) recovering(svc typhon.Service) typhon.Service {
	return func(req typhon.Request) (rsp typhon.Response) {
		defer func() {
			if p := recover(); p != nil {
				s.mu.Lock()
				ended := s.ended
				s.mu.Unlock()
				if !ended {
					s.t.Logf("typhontest: stub for %s panicked: %v", req.URL, p)
				}
				rsp = typhon.ErrorResponse(req, typhon.NewError(typhon.CodeInternalService, "internal error"))
			}
		}()
		return svc(req)
	}
}
