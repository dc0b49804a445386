package typhon_test

import (
	"context"
	"fmt"

	"github.com/typhon-go/typhon"
)

// The quick start of the package documentation: route, unit-test as a pure
// function, serve, call over the network, stop.
func Example() {
	ctx := context.Background()
	var r typhon.Router
	r.GET("/hello/{name}", func(req typhon.Request) typhon.Response {
		if req.PathValue("name") == "nobody" {
			return typhon.Response{Error: typhon.NewError("not_found.person", "nobody is here")}
		}
		return req.Response(map[string]string{"hello": req.PathValue("name")})
	})
	svc := r.Serve()

	// A Service is a function: a unit test calls it, no socket needed.
	var body map[string]string
	err := svc(typhon.NewRequest(ctx, "GET", "/hello/ada", nil)).Decode(&body)
	fmt.Println(body["hello"], err)

	// Served, and called over the network, it answers the same.
	srv, err := typhon.Listen(svc, "")
	if err != nil {
		panic(err)
	}
	defer srv.Stop(ctx)
	base := "http://" + srv.Addr().String()
	err = typhon.NewRequest(ctx, "GET", base+"/hello/grace", nil).Send().Response().Decode(&body)
	fmt.Println(body["hello"], err)

	// Errors cross the wire with their code.
	err = typhon.NewRequest(ctx, "GET", base+"/hello/nobody", nil).Send().Response().Decode(&body)
	fmt.Println(typhon.IsCode(err, "not_found"), err)
	// Output:
	// ada <nil>
	// grace <nil>
	// true not_found.person: nobody is here
}
