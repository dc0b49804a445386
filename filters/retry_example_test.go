package filters_test

import (
	"context"
	"fmt"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleRetry() {
	ctx := context.Background()
	attempts := 0
	backend := typhon.Service(func(req typhon.Request) typhon.Response {
		attempts++
		if attempts < 3 {
			return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "warming up")}
		}
		return req.Response("hello")
	})
	client := backend.Filter(filters.Retry())

	// A GET is idempotent: retried on unavailable, up to 3 attempts in all.
	rsp := client(typhon.NewRequest(ctx, "GET", "http://greeter/hello", nil))
	var got string
	err := rsp.Decode(&got)
	fmt.Println(got, err, attempts)

	// A POST is not: the server may have acted on it.
	attempts = 0
	rsp = client(typhon.NewRequest(ctx, "POST", "http://greeter/hello", "hi"))
	fmt.Println(rsp.Error, attempts)
	// Output:
	// hello <nil> 3
	// unavailable: warming up 1
}
