package faultproxy_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/faultproxy"
)

// A proxy between a typhon client and server: calls go through until the
// network is blackholed, then time out, and go through again once it heals.
func Example() {
	srv, err := typhon.Listen(func(req typhon.Request) typhon.Response {
		return req.Response("pong")
	}, "")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop(context.Background())

	p, err := faultproxy.New(srv.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	tr := typhon.NewTransport()
	defer tr.CloseIdleConnections()
	client := typhon.NewClient(typhon.WithTransport(tr))
	ping := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		var body string
		err := client(typhon.NewRequest(ctx, "GET", "http://"+p.Addr()+"/ping", nil)).Decode(&body)
		if err != nil {
			return typhon.ErrorCode(err)
		}
		return body
	}

	fmt.Println("healthy:", ping())
	p.SetFaults(faultproxy.Faults{Blackhole: true})
	fmt.Println("blackholed:", ping())
	p.SetFaults(faultproxy.Faults{})
	fmt.Println("healed:", ping())
	// Output:
	// healthy: pong
	// blackholed: timeout
	// healed: pong
}

// ResetAfter cuts an answer short with a connection reset: the client's
// Decode fails, rather than returning a short body.
func ExampleFlow_resetAfter() {
	big := make([]byte, 1<<20)
	srv, err := typhon.Listen(func(req typhon.Request) typhon.Response {
		return req.Response(big)
	}, "")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop(context.Background())

	p, err := faultproxy.New(srv.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	p.SetFaults(faultproxy.Faults{Downstream: faultproxy.Flow{ResetAfter: 64 << 10}})

	tr := typhon.NewTransport()
	defer tr.CloseIdleConnections()
	client := typhon.NewClient(typhon.WithTransport(tr))
	var body []byte
	err = client(typhon.NewRequest(context.Background(), "GET", "http://"+p.Addr()+"/big", nil)).Decode(&body)
	fmt.Println(typhon.ErrorCode(err), p.Stats().Resets)
	// Output: bad_gateway 1
}
