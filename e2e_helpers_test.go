package typhon_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// allProtocols are the protocols run runs a test over unless told: HTTP/1.1,
// h2c and TLS h2.
var allProtocols = []typhontest.Protocol{typhontest.HTTP1, typhontest.H2C, typhontest.H2}

// env is one end-to-end setting: a way to serve a Service on a loopback port
// in the env's protocol, and a client that reaches every server it serves.
type env struct {
	t        *testing.T
	protocol typhontest.Protocol
	client   typhon.Service
	tr       *http.Transport // the client's, closed at the end of the test
}

// run runs f once per protocol (every one unless told) as parallel subtests,
// each with an env of its own. It is typhontest.Run's matrix, in parallel:
// Run's leak check after each subtest needs the process to itself, so here
// the package's goleak check in TestMain stands for it.
func run(t *testing.T, f func(t *testing.T, e *env), protocols ...typhontest.Protocol) {
	t.Helper()
	if len(protocols) == 0 {
		protocols = allProtocols
	}
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			f(t, newEnv(t, p))
		})
	}
}

func newEnv(t *testing.T, p typhontest.Protocol) *env {
	tr := p.Transport()
	t.Cleanup(tr.CloseIdleConnections)
	return &env{t: t, protocol: p, client: typhon.NewClient(typhon.WithTransport(tr)), tr: tr}
}

// serve serves svc in the env's protocol on a loopback port until the end of
// the test, and returns its base URL ("http://127.0.0.1:1234").
func (e *env) serve(svc typhon.Service, opts ...typhon.ServerOption) string {
	e.t.Helper()
	return e.listen(svc, opts...).URL
}

// server is serve, returning the Server; it is stopped at the end of the test.
func (e *env) server(svc typhon.Service, opts ...typhon.ServerOption) *typhon.Server {
	e.t.Helper()
	return e.listen(svc, opts...).Server
}

func (e *env) listen(svc typhon.Service, opts ...typhon.ServerOption) *typhontest.Server {
	e.t.Helper()
	s := e.protocol.Listen(e.t, svc, opts...)
	// Registered after the server's Close, so run before it: an HTTP/2
	// server otherwise waits a second after its GOAWAY for the client to go.
	e.t.Cleanup(e.tr.CloseIdleConnections)
	return s
}

// baseURL is the base URL of srv, served in the env's protocol.
func (e *env) baseURL(srv *typhon.Server) string {
	scheme := "http://"
	if e.protocol == typhontest.H2 {
		scheme = "https://"
	}
	return scheme + srv.Addr().String()
}

// wantProto is the Proto a response in the env's protocol carries.
func (e *env) wantProto() string { return e.protocol.Proto() }

// TestRunHelper checks the helper itself: each protocol really is spoken.
func TestRunHelper(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return req.Response(req.Proto)
		})
		rsp := typhon.NewRequest(t.Context(), "GET", base+"/", nil).SendVia(e.client).Response()
		var got string
		require.NoError(t, rsp.Decode(&got))
		require.Equal(t, e.wantProto(), got)
		require.Equal(t, e.wantProto(), rsp.Proto)
	})
}
