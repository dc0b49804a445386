package filters_test

import (
	"context"
	"fmt"
	"time"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleConcurrencyLimit() {
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		return req.Response("streamed")
	}).Filter(filters.ConcurrencyLimit(1, filters.WithConcurrencyRetryAfter(2*time.Second)))

	first := svc(typhon.NewRequest(context.Background(), "GET", "http://svc/", nil))
	// first's body is still open, so it holds the one slot.
	second := svc(typhon.NewRequest(context.Background(), "GET", "http://svc/", nil))
	wait, _ := typhon.RetryAfter(second.Error)
	fmt.Println(second.StatusCode, typhon.ErrorCode(second.Error), wait)

	first.Body.Close() // gives the slot back
	third := svc(typhon.NewRequest(context.Background(), "GET", "http://svc/", nil))
	fmt.Println(third.StatusCode)
	third.Body.Close()
	// Output:
	// 503 unavailable 2s
	// 200
}
