package bench_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	monzo "github.com/monzo/typhon"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/bench/servers"
)

// startServer serves impl on a loopback port until the benchmark ends.
func startServer(b *testing.B, impl string) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := servers.Start(impl, l)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	return "http://" + srv.Addr
}

// newTransport returns the client transport for proto, the same for every
// toolkit: typhon.NewTransport, with only h2c prior knowledge for "h2c".
func newTransport(b *testing.B, proto string) *http.Transport {
	tr := typhon.NewTransport()
	if proto == "h2c" {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	b.Cleanup(tr.CloseIdleConnections)
	return tr
}

// getFunc makes one GET and reads the whole answer.
type getFunc func(ctx context.Context, url string) error

// clientFor returns the client of a round-trip variant: impl names the
// server; a "-sendvia" suffix calls the toolkit's client through its
// SendVia future instead of directly.
func clientFor(impl string, tr *http.Transport) getFunc {
	switch impl {
	case "nethttp", "chi":
		c := &http.Client{Transport: tr}
		return func(ctx context.Context, url string) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			rsp, err := c.Do(req)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rsp.Body)
			rsp.Body.Close()
			return err
		}
	case "typhon-bare", "typhon-stack", "typhon-stack-sendvia":
		c := typhon.NewClient(typhon.WithTransport(tr))
		future := impl == "typhon-stack-sendvia"
		return func(ctx context.Context, url string) error {
			req := typhon.NewRequest(ctx, http.MethodGet, url, nil)
			var rsp typhon.Response
			if future {
				rsp = req.SendVia(c).Response()
			} else {
				rsp = c(req)
			}
			if rsp.Error != nil {
				return rsp.Error
			}
			_, err := io.Copy(io.Discard, rsp.Body)
			rsp.Body.Close()
			return err
		}
	case "monzo", "monzo-sendvia":
		c := monzo.HttpService(tr).Filter(monzo.ErrorFilter)
		future := impl == "monzo-sendvia"
		return func(ctx context.Context, url string) error {
			req := monzo.NewRequest(ctx, http.MethodGet, url, nil)
			var rsp monzo.Response
			if future {
				rsp = req.SendVia(c).Response()
			} else {
				rsp = c(req)
			}
			if rsp.Error != nil {
				return rsp.Error
			}
			_, err := io.Copy(io.Discard, rsp.Body)
			rsp.Body.Close()
			return err
		}
	}
	panic("unknown impl " + impl)
}

func serverOf(impl string) string {
	switch impl {
	case "typhon-stack-sendvia":
		return "typhon-stack"
	case "monzo-sendvia":
		return "monzo"
	}
	return impl
}

// BenchmarkRoundTrip makes one GET over loopback and reads the answer, with
// each toolkit on both sides (net/http's client for net/http and chi), the
// same transport settings and server defaults:
//   - proto: h1 (HTTP/1.1) or h2c (HTTP/2 with prior knowledge);
//   - body: small (GET /users/42, a 59-byte JSON answer) or 1MiB (a
//     streamed answer of unknown length);
//   - mode: seq (one request at a time) or par (b.RunParallel, 8 per P);
//   - impl: the server (typhon-bare without filters, typhon-stack in
//     filters.ServerStack); the client is called directly, and through its
//     SendVia future for the -sendvia variants.
//
// Pinned to one CPU, client and server share it, so ns/op is the CPU of
// both ends of one round trip.
func BenchmarkRoundTrip(b *testing.B) {
	impls := append(append([]string{}, servers.Impls...), "typhon-stack-sendvia", "monzo-sendvia")
	for _, proto := range []string{"h1", "h2c"} {
		for _, body := range []string{"small", "1MiB"} {
			for _, mode := range []string{"seq", "par"} {
				if body == "1MiB" && mode == "par" {
					continue
				}
				for _, impl := range impls {
					if body == "1MiB" && serverOf(impl) != impl {
						continue
					}
					name := "proto=" + proto + "/body=" + body + "/mode=" + mode + "/impl=" + impl
					b.Run(name, func(b *testing.B) { benchRoundTrip(b, proto, body, mode, impl) })
				}
			}
		}
	}
}

func benchRoundTrip(b *testing.B, proto, body, mode, impl string) {
	base := startServer(b, serverOf(impl))
	url := base + "/users/42"
	if body == "1MiB" {
		url = base + "/stream"
		b.SetBytes(servers.StreamSize)
	}
	get := clientFor(impl, newTransport(b, proto))
	ctx := context.Background()
	if err := get(ctx, url); err != nil { // connect before the clock starts
		b.Fatal(err)
	}
	b.ReportAllocs()
	if mode == "seq" {
		for b.Loop() {
			if err := get(ctx, url); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := get(ctx, url); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
