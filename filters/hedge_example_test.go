package filters_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleHedge() {
	var arrivals atomic.Int32
	backend := typhon.Service(func(req typhon.Request) typhon.Response {
		if arrivals.Add(1) == 1 { // the first request is stuck on a slow replica
			<-req.Context().Done()
			return typhon.Response{Error: req.Context().Err()}
		}
		return req.Response("fast")
	})
	// In production, leave the delay to the default: the p95 of recent calls.
	client := backend.Filter(filters.Hedge(filters.WithHedgeDelay(10 * time.Millisecond)))

	rsp := client(typhon.NewRequest(context.Background(), "GET", "http://search/q", nil))
	var got string
	err := rsp.Decode(&got)
	fmt.Println(got, err, arrivals.Load())
	// Output: fast <nil> 2
}
