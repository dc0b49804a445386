package typhon_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/typhon-go/typhon"
)

var benchBody = []byte(`{"id":"42","name":"Ada Lovelace","email":"ada@example.com"}`)

// benchTransport returns a transport for proto ("h1" or "h2c") with the same
// settings for every implementation, so only the toolkit differs.
func benchTransport(proto string) *http.Transport {
	tr := typhon.NewTransport()
	if proto == "h2c" {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	return tr
}

// BenchmarkRoundTrip compares one client->server round trip over loopback
// with plain net/http on both sides against typhon on both sides: the same
// small JSON answer, the same transport settings, the body read and closed.
func BenchmarkRoundTrip(b *testing.B) {
	for _, proto := range []string{"h1", "h2c"} {
		b.Run("proto="+proto+"/impl=nethttp", func(b *testing.B) { benchNetHTTP(b, proto) })
		b.Run("proto="+proto+"/impl=typhon", func(b *testing.B) { benchTyphon(b, proto) })
	}
}

func benchNetHTTP(b *testing.B, proto string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(benchBody)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	tr := benchTransport(proto)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + l.Addr().String() + "/users/42"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		rsp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rsp.Body); err != nil {
			b.Fatal(err)
		}
		rsp.Body.Close()
	}
}

func benchTyphon(b *testing.B, proto string) {
	svc := func(req typhon.Request) typhon.Response {
		rsp := typhon.NewResponse(req)
		rsp.Header.Set("Content-Type", "application/json")
		_ = rsp.Encode(benchBody)
		return rsp
	}
	srv, err := typhon.Listen(svc, "")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop(context.Background())
	tr := benchTransport(proto)
	defer tr.CloseIdleConnections()
	client := typhon.NewClient(typhon.WithTransport(tr))
	url := "http://" + srv.Addr().String() + "/users/42"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rsp := client(typhon.NewRequest(ctx, http.MethodGet, url, nil))
		if rsp.Error != nil {
			b.Fatal(rsp.Error)
		}
		if _, err := io.Copy(io.Discard, rsp.Body); err != nil {
			b.Fatal(err)
		}
		rsp.Body.Close()
	}
}
