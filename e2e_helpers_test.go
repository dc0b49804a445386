package typhon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

// mode is one way a client and a server talk.
type mode string

const (
	modeH1    mode = "h1"    // HTTP/1.1, cleartext
	modeH2C   mode = "h2c"   // HTTP/2 with prior knowledge, cleartext
	modeH2TLS mode = "h2tls" // HTTP/2 over TLS (ALPN)
)

var allModes = []mode{modeH1, modeH2C, modeH2TLS}

// env is one end-to-end setting: a way to serve a Service and a client that
// reaches it over the network in the env's mode.
type env struct {
	t      *testing.T
	mode   mode
	client typhon.Service
	tr     *http.Transport
}

// run runs f once per mode (HTTP/1.1, h2c, TLS h2) as parallel subtests,
// each with its own client transport, closed at the end of the subtest.
func run(t *testing.T, f func(t *testing.T, e *env), modes ...mode) {
	t.Helper()
	if len(modes) == 0 {
		modes = allModes
	}
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			f(t, newEnv(t, m))
		})
	}
}

func newEnv(t *testing.T, m mode) *env {
	tr := typhon.NewTransport()
	switch m {
	case modeH2C:
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	case modeH2TLS:
		var p http.Protocols
		p.SetHTTP2(true)
		tr.Protocols = &p
		tr.TLSClientConfig = &tls.Config{RootCAs: testCertPool()}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &env{t: t, mode: m, client: typhon.NewClient(typhon.WithTransport(tr)), tr: tr}
}

// serve serves svc in the env's mode on a loopback port until the end of
// the test, and returns its base URL ("http://127.0.0.1:1234").
func (e *env) serve(svc typhon.Service, opts ...typhon.ServerOption) string {
	e.t.Helper()
	srv := e.server(svc, opts...)
	return e.baseURL(srv)
}

// server is serve, returning the Server; it is stopped at the end of the test.
func (e *env) server(svc typhon.Service, opts ...typhon.ServerOption) *typhon.Server {
	e.t.Helper()
	if e.mode == modeH2TLS {
		opts = append(opts, typhon.WithHTTPServer(func(s *http.Server) {
			s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{testCert()}}
		}))
	}
	srv, err := typhon.Listen(svc, "", opts...)
	require.NoError(e.t, err)
	e.t.Cleanup(func() {
		// Close the client's idle connections first: an HTTP/2 server
		// otherwise waits a second after its GOAWAY for the client to go.
		e.tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	return srv
}

func (e *env) baseURL(srv *typhon.Server) string {
	scheme := "http://"
	if e.mode == modeH2TLS {
		scheme = "https://"
	}
	return scheme + srv.Addr().String()
}

// wantProto is the Proto a response in the env's mode carries.
func (e *env) wantProto() string {
	if e.mode == modeH1 {
		return "HTTP/1.1"
	}
	return "HTTP/2.0"
}

var (
	certOnce sync.Once
	certTLS  tls.Certificate
	certPool *x509.CertPool
)

func makeTestCert() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "typhon test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	certTLS = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	certPool = x509.NewCertPool()
	certPool.AddCert(leaf)
}

func testCert() tls.Certificate {
	certOnce.Do(makeTestCert)
	return certTLS
}

func testCertPool() *x509.CertPool {
	certOnce.Do(makeTestCert)
	return certPool
}

// TestRunHelper checks the helper itself: each mode really speaks its
// protocol.
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
