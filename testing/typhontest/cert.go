package typhontest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"time"
)

// memHost is the host name of in-memory servers' URLs. The .test top-level
// domain never resolves (RFC 6761), so a request sent to it by a client that
// is not the server's own fails at once instead of reaching the network.
const memHost = "typhon.test"

// testCert is the self-signed certificate TLS servers use, made once per
// process in memory. It is valid for 127.0.0.1, ::1, localhost and
// typhon.test, from 1999 to 2100 so that it is valid inside a
// testing/synctest bubble too (whose clock starts in 2000).
var testCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("typhontest: cannot generate a test key: " + err.Error())
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "typhontest"},
		NotBefore:             time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost", memHost},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic("typhontest: cannot make a test certificate: " + err.Error())
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic("typhontest: cannot parse the test certificate: " + err.Error())
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

// TLSConfigs returns new TLS configurations for a server that presents
// typhontest's test certificate and for a client that trusts it, and
// nothing else: the pair that [H2] servers and their clients use. The
// certificate is self-signed, made once per process in memory, and valid
// for 127.0.0.1, ::1, localhost and typhon.test from 1999 to 2100, so inside
// a testing/synctest bubble too.
//
// Use them to serve or reach over TLS what [Protocol.NewServer] and
// [Protocol.Listen] do not: a plain net/http server (httptest.Server's TLS
// field), a typhon server on a listener of the test's own, a client of the
// test's own. Each call returns new configurations, which the caller may
// change. TLSConfigs is safe for concurrent use.
func TLSConfigs() (server, client *tls.Config) {
	cert, pool := testCert()
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool.Clone()}
}
