package typhontest

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/typhon-go/typhon"
)

// Protocol is a way for a client and a server to talk. The zero Protocol is
// HTTP1.
type Protocol int

const (
	// HTTP1 is HTTP/1.1 in cleartext.
	HTTP1 Protocol = iota
	// H2C is HTTP/2 in cleartext with prior knowledge, as typhon servers
	// accept and typhon.WithH2C clients speak.
	H2C
	// H2 is HTTP/2 over TLS, negotiated by ALPN, with a self-signed
	// certificate made in memory that the server's client trusts.
	H2
)

// allProtocols lists every Protocol, in the order Run runs them.
var allProtocols = [...]Protocol{HTTP1, H2C, H2}

// String returns "http1", "h2c" or "h2": the name of the subtest [Run]
// runs for p.
func (p Protocol) String() string {
	switch p {
	case HTTP1:
		return "http1"
	case H2C:
		return "h2c"
	case H2:
		return "h2"
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

// Proto returns the Proto of a response received over p: "HTTP/1.1" or
// "HTTP/2.0".
func (p Protocol) Proto() string {
	if p == HTTP1 {
		return "HTTP/1.1"
	}
	return "HTTP/2.0"
}

func (p Protocol) valid() bool { return p >= HTTP1 && p <= H2 }

func (p Protocol) scheme() string {
	if p == H2 {
		return "https"
	}
	return "http"
}

// Transport returns a new client transport that speaks p, and only p, with
// typhon's defaults ([typhon.NewTransport]); for H2 it trusts the test
// certificate that H2 servers present ([TLSConfigs]), and nothing else. It
// is the transport a [Server]'s Client is built on, for a client of the
// test's own: one that reaches several servers, or one behind a
// RoundTripper of the test's. It dials the network, so it reaches servers
// made by [Protocol.Listen] (or any other on a real socket), not in-memory
// ones.
//
// The caller owns it: close its idle connections (CloseIdleConnections)
// before the servers it reached stop, or an HTTP/2 server waits a moment for
// it to leave. Transport panics if p is not HTTP1, H2C or H2.
func (p Protocol) Transport() *http.Transport {
	if !p.valid() {
		panic("typhontest: Transport with unknown " + p.String())
	}
	tr := typhon.NewTransport()
	var protos http.Protocols
	switch p {
	case HTTP1:
		protos.SetHTTP1(true)
	case H2C:
		protos.SetUnencryptedHTTP2(true)
	case H2:
		protos.SetHTTP2(true)
		_, tr.TLSClientConfig = TLSConfigs()
	}
	tr.Protocols = &protos
	return tr
}

// Run runs f as a subtest for each of protocols, or for every Protocol
// (HTTP1, H2C, H2) when none is given, as net/http's tests run each test in
// each mode. f serves what it tests with p.NewServer (in memory) or
// p.Listen (on a loopback port) and calls it with the returned Server's
// Client, which speaks p.
//
// Each subtest ends with a goroutine leak check (go.uber.org/goleak) that
// fails it if any goroutine started during the subtest is still running
// once its cleanups (which stop its servers) have run. Because the check
// cannot tell whose goroutines it sees, the subtests run one after the other,
// f must not call t.Parallel, and the test calling Run should not run in
// parallel with other tests that start goroutines: call Run from a test that
// does not call t.Parallel.
func Run(t *testing.T, f func(t *testing.T, p Protocol), protocols ...Protocol) {
	t.Helper()
	if len(protocols) == 0 {
		protocols = allProtocols[:]
	}
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			// Registered first, so it runs last: after the cleanups that
			// stop the subtest's servers and close its clients.
			opt := goleak.IgnoreCurrent()
			t.Cleanup(func() { verifyNoLeaks(t, opt) })
			f(t, p)
		})
	}
}

// leakPatience is how long verifyNoLeaks gives goroutines to end: connection
// goroutines end shortly after their server stops, but on a loaded machine
// more slowly than goleak's own retries (about 0.4 s) allow.
const leakPatience = 5 * time.Second

// verifyNoLeaks fails t if goroutines other than those opt ignores are still
// running after leakPatience.
func verifyNoLeaks(t *testing.T, opt goleak.Option) {
	deadline := time.Now().Add(leakPatience)
	for time.Now().Before(deadline) {
		if goleak.Find(opt) == nil { // retries for a while itself
			return
		}
	}
	goleak.VerifyNone(t, opt)
}
