package filters_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleAdaptiveLimit() {
	limiter := filters.NewAdaptiveLimiter(filters.WithAdaptiveLimits(1, 100), filters.WithAdaptiveInitialLimit(1))
	var shed *typhon.Response
	var svc typhon.Service
	svc = typhon.Service(func(req typhon.Request) typhon.Response {
		// A second call while this one is in flight is over the limit of 1.
		rsp := svc(typhon.NewRequest(req.Context(), http.MethodGet, "/", nil))
		shed = &rsp
		return req.Response("done")
	}).Filter(limiter.Filter())

	rsp := svc(typhon.NewRequest(context.Background(), http.MethodGet, "/", nil))
	var s string
	_ = rsp.Decode(&s) // reading the body to EOF frees the slot
	fmt.Println(s, limiter.Limit(), limiter.Inflight())
	wait, _ := typhon.RetryAfter(shed.Error)
	fmt.Println(shed.StatusCode, shed.Error, wait)
	// Output:
	// done 1 0
	// 503 unavailable: server overloaded: concurrency limit reached 1s
}
