// Package faultproxy is a TCP proxy for tests that puts network faults
// between a client and a server: added latency, a bandwidth limit, a reset
// after some bytes, a blackhole and a slow close, each switchable while the
// test runs.
//
// A test starts its server, puts a [Proxy] in front of it and points the
// client at the proxy:
//
//	srv, _ := typhon.Listen(svc, "")
//	p := faultproxy.NewT(t, srv.Addr().String())
//	url := "http://" + p.Addr() + "/orders"
//	// ... calls succeed ...
//	p.SetFaults(faultproxy.Faults{Downstream: faultproxy.Flow{ResetAfter: 64 << 10}})
//	// ... the next connection is reset after 64 KiB of its answer ...
//
// The proxy works on bytes, below HTTP, so it tests what the client and the
// server make of a broken network, over HTTP/1.1, h2c or TLS alike. It runs
// in user space on loopback: the kernel still acknowledges what fits in its
// socket buffers, so a sender sees a blackhole or a slow link as a stalled
// connection rather than as lost packets.
package faultproxy
