package filters_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// Fault makes a fraction of calls fail, here with a seeded source so that
// the run is the same every time. In staging, leave WithFaultRand out.
func ExampleFault() {
	orders := typhon.Service(func(req typhon.Request) typhon.Response {
		return req.Response("ok")
	})
	unavailable := typhon.NewError(typhon.CodeUnavailable, "injected fault")
	r := rand.New(rand.NewPCG(1, 2))
	svc := orders.Filter(filters.Fault(
		filters.WithFaultError(0.1, unavailable), // 10% of calls
		filters.WithFaultRand(r.Float64),
	))

	failed := 0
	for range 1000 {
		rsp := svc(typhon.NewRequest(context.Background(), "GET", "http://orders/", nil))
		if typhon.IsCode(rsp.Error, typhon.CodeUnavailable) {
			failed++
		}
	}
	fmt.Printf("%d of 1000 calls failed\n", failed)
	// Output: 91 of 1000 calls failed
}

// WithFaultMatch keeps the chaos to some requests: here, calls that ask for
// it with a header, so that a staging test can opt in.
func ExampleWithFaultMatch() {
	orders := typhon.Service(func(req typhon.Request) typhon.Response {
		return req.Response("ok")
	})
	svc := orders.Filter(filters.Fault(
		filters.WithFaultError(1, typhon.NewError(typhon.CodeUnavailable, "injected fault")),
		filters.WithFaultMatch(func(req typhon.Request) bool {
			return req.Header.Get("Chaos") == "on"
		}),
	))

	for _, chaos := range []string{"off", "on"} {
		req := typhon.NewRequest(context.Background(), "GET", "http://orders/", nil)
		req.Header.Set("Chaos", chaos)
		rsp := svc(req)
		fmt.Printf("chaos %s: %v\n", chaos, rsp.Error)
	}
	// Output:
	// chaos off: <nil>
	// chaos on: unavailable: injected fault
}
