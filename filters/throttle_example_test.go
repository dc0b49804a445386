package filters_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleAdaptiveThrottle() {
	sent := 0
	overloaded := typhon.Service(func(req typhon.Request) typhon.Response {
		sent++
		return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeUnavailable, "overloaded"))
	})
	throttle := filters.NewThrottle(filters.WithThrottleRand(func() float64 { return 0.5 }))
	client := overloaded.Filter(throttle.Filter())

	throttled := 0
	for range 100 {
		rsp := client(typhon.NewRequest(context.Background(), http.MethodGet, "http://search.internal/", nil))
		if errors.Is(rsp.Error, filters.ErrThrottled) {
			throttled++
		}
	}
	fmt.Printf("sent %d, throttled locally %d, p = %.2f\n", sent, throttled, throttle.RejectProbability("search.internal"))
	// Output:
	// sent 2, throttled locally 98, p = 0.99
}
