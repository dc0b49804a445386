// Command h2specserver serves a typhon Service with typhon's default
// server options on 127.0.0.1, HTTP/1.1 and h2c on one port, for the h2spec
// conformance suite (see ../h2spec.sh). The Service drains the request body
// and answers 200 "ok".
//
// It prints the address it listens on as its first line of output and
// serves until it is interrupted (SIGINT), then stops gracefully.
//
//	go run ./testing/attack/h2specserver [-addr 127.0.0.1:0]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/typhon-go/typhon"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (loopback)")
	flag.Parse()

	svc := func(req typhon.Request) typhon.Response {
		if req.Body != nil {
			_, _ = io.Copy(io.Discard, req.Body)
		}
		return req.Response("ok")
	}
	// Quiet: h2spec provokes a connection error in most of its tests.
	srv, err := typhon.Listen(svc, *addr,
		typhon.WithLogger(slog.New(slog.DiscardHandler)),
		typhon.WithHTTPServer(func(s *http.Server) { s.ErrorLog = log.New(io.Discard, "", 0) }))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(srv.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	select {
	case <-ctx.Done():
	case <-srv.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Stop(sctx)
	if err := srv.Wait(); err != nil {
		log.Fatal(err)
	}
}
