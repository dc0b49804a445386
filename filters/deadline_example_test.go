package filters_test

import (
	"context"
	"fmt"
	"time"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleDeadline() {
	// A client stack on which no call goes without a deadline: stubbed
	// here by a Service that reports the budget it was given.
	client := typhon.Service(func(req typhon.Request) typhon.Response {
		dl, _ := req.Context().Deadline()
		return req.Response(time.Until(dl).Round(time.Second).String())
	}).Filter(filters.Deadline(5 * time.Second))

	var budget string
	_ = client(typhon.NewRequest(context.Background(), "GET", "http://users/", nil)).Decode(&budget)
	fmt.Println("no deadline:", budget)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = client(typhon.NewRequest(ctx, "GET", "http://users/", nil)).Decode(&budget)
	fmt.Println("caller's deadline:", budget)
	// Output:
	// no deadline: 5s
	// caller's deadline: 1m0s
}
