package typhon_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/typhon-go/typhon"
)

// Listen serves a Service on a free loopback port; Stop drains the requests
// in flight and stops it.
func ExampleListen() {
	hello := func(req typhon.Request) typhon.Response {
		return req.Response("hello " + req.URL.Query().Get("name"))
	}
	srv, err := typhon.Listen(hello, "") // "": 127.0.0.1 on a free port
	if err != nil {
		fmt.Println(err)
		return
	}

	// A client of its own, so that its connections close with the example.
	tr := typhon.NewTransport()
	defer tr.CloseIdleConnections()
	client := typhon.NewClient(typhon.WithTransport(tr))
	url := "http://" + srv.Addr().String() + "/?name=typhon"
	var greeting string
	if err := typhon.NewRequest(context.Background(), "GET", url, nil).SendVia(client).Response().Decode(&greeting); err != nil {
		fmt.Println(err)
	}
	fmt.Println(greeting)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("stopped:", srv.Stop(ctx))
	<-srv.Done() // closed as soon as Stop starts: report "not ready" here
	fmt.Println("wait:", srv.Wait())
	// Output:
	// hello typhon
	// stopped: <nil>
	// wait: <nil>
}

// WithHTTPServer changes any setting of the http.Server after typhon's
// defaults; it must leave the Handler alone.
func ExampleWithHTTPServer() {
	svc := func(req typhon.Request) typhon.Response { return req.Response("ok") }
	srv, err := typhon.Listen(svc, "", typhon.WithHTTPServer(func(s *http.Server) {
		s.ReadHeaderTimeout = 2 * time.Second
		s.HTTP2.MaxConcurrentStreams = 100
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stopped:", srv.Stop(context.Background()))

	_, err = typhon.Listen(svc, "", typhon.WithHTTPServer(func(s *http.Server) {
		s.Handler = http.NotFoundHandler()
	}))
	fmt.Println(err)
	// Output:
	// stopped: <nil>
	// typhon: WithHTTPServer must not change the Handler
}
