package filters_test

import (
	"context"
	"fmt"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// The default stacks: one call each for the whole resilience and
// observability story on each side of the wire.
func ExampleServerStack() {
	var r typhon.Router
	r.GET("/hello", func(req typhon.Request) typhon.Response { return req.Response("hello") })
	svc := filters.ServerStack(r.Serve())

	// typhon.Listen(svc, ":8080") in a real service; here, called in process
	// through a client stack, as another service would call it.
	client := filters.ClientStack(svc)
	var got string
	err := client(typhon.NewRequest(context.Background(), "GET", "http://hello/hello", nil)).Decode(&got)
	fmt.Println(got, err)
	// Output: hello <nil>
}
