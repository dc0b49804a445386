package typhon_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/typhon-go/typhon"
)

// An error a service answers crosses the wire intact: the caller's client
// gives back an *Error with the same code, message and params.
func ExampleNewClient() {
	svc := func(req typhon.Request) typhon.Response {
		return typhon.Response{Error: typhon.NewError("not_found.user", "no user 42").WithParams("id", "42")}
	}
	srv, err := typhon.Listen(svc, "") // 127.0.0.1 on a free port
	if err != nil {
		fmt.Println(err)
		return
	}
	tr := typhon.NewTransport()
	defer func() {
		tr.CloseIdleConnections()
		srv.Stop(context.Background())
	}()
	client := typhon.NewClient(typhon.WithTransport(tr))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rsp := client(typhon.NewRequest(ctx, "GET", "http://"+srv.Addr().String()+"/users/42", nil))
	defer rsp.Body.Close()

	var e *typhon.Error
	if errors.As(rsp.Error, &e) {
		fmt.Println(rsp.StatusCode, e.Code, e.Message, e.Params["id"])
	}
	fmt.Println(typhon.IsCode(rsp.Error, "not_found"))
	// Output:
	// 404 not_found.user no user 42 42
	// true
}

// A test routes a service's outbound calls to a stub with WithClient: Send
// uses the client in the request's context, and nothing goes on the network.
func ExampleWithClient() {
	stub := func(req typhon.Request) typhon.Response {
		if req.URL.Path != "/users/42" {
			return typhon.Response{Error: typhon.NewError(typhon.CodeNotFound, "no such path")}
		}
		return req.Response(map[string]string{"name": "Ada"})
	}
	ctx := typhon.WithClient(context.Background(), stub)

	var user struct{ Name string }
	rsp := typhon.NewRequest(ctx, "GET", "http://users.internal/users/42", nil).Send().Response()
	if err := rsp.Decode(&user); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(user.Name)

	rsp = typhon.NewRequest(ctx, "GET", "http://users.internal/nowhere", nil).Send().Response()
	fmt.Println(rsp.StatusCode, rsp.Error)
	// Output:
	// Ada
	// 404 not_found: no such path
}

// Futures fan out: start every call, then wait for each, or select on
// Done. Each future resolves no later than its request's context ends.
func ExampleResponseFuture() {
	echo := func(req typhon.Request) typhon.Response {
		return req.Response(req.URL.Query().Get("n"))
	}
	ctx := typhon.WithClient(context.Background(), echo)
	futures := make([]*typhon.ResponseFuture, 3)
	for i := range futures {
		futures[i] = typhon.NewRequest(ctx, "GET", fmt.Sprintf("http://echo.internal/?n=%d", i), nil).Send()
	}
	var got []string
	for _, f := range futures {
		select {
		case <-f.Done():
			var n string
			if err := f.Response().Decode(&n); err != nil {
				fmt.Println(err)
				continue
			}
			got = append(got, n)
		case <-time.After(5 * time.Second):
			fmt.Println("too slow")
		}
	}
	fmt.Println(strings.Join(got, " "))
	// Output:
	// 0 1 2
}
