// Package attack holds typhon's attack, conformance and lifecycle suites:
// tests only, run against real typhon servers on loopback (127.0.0.1).
//
// The tests drive a server built with default options (typhon.Listen(svc,
// "")) with raw HTTP/2 frames (golang.org/x/net/http2's Framer and hpack)
// and raw HTTP/1.1 bytes: Rapid Reset, MadeYouReset, CONTINUATION and
// HPACK-bomb headers, PING and SETTINGS floods, stream-limit overrun, idle
// and preface hoarding, zero-window slow reads, slowloris, slow bodies,
// oversized headers and bodies, and a corpus of request-smuggling vectors;
// then graceful shutdown and GOAWAY storms under load. Each attack is
// bounded in count and time. Each test checks that the server stays up and
// keeps serving another client, that no smuggled request reaches the
// Service, and that goroutines come back to where they were; and logs one
// machine-readable line:
//
//	RESULT scenario=h2/rapid-reset attacks=3000 lost=0 leaked=0 ... bar="..."
//
// h2spec.sh runs the h2spec conformance suite against h2specserver, and
// report.sh runs everything and writes docs/RELIABILITY.md from those
// lines.
package attack
