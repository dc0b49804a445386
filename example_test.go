package typhon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/typhon-go/typhon"
)

func ExampleNewError() {
	err := typhon.NewError("not_found.user", "no user with id 42").WithParams("id", "42")
	fmt.Println(err)
	fmt.Println(typhon.ErrorStatus(err), err.Params["id"])
	// Output:
	// not_found.user: no user with id 42
	// 404 42
}

func ExampleIsCode() {
	err := fmt.Errorf("loading profile: %w", typhon.NewError("not_found.user", "no such user"))
	fmt.Println(typhon.IsCode(err, typhon.CodeNotFound))
	fmt.Println(typhon.IsCode(err, "not_found.user"))
	fmt.Println(typhon.IsCode(typhon.NewError("not_foundx", ""), typhon.CodeNotFound))
	// Output:
	// true
	// true
	// false
}

func ExampleErrorCode() {
	fmt.Printf("%q\n", typhon.ErrorCode(nil))
	fmt.Println(typhon.ErrorCode(typhon.NewError(typhon.CodeConflict, "version mismatch")))
	fmt.Println(typhon.ErrorCode(fmt.Errorf("calling users: %w", context.DeadlineExceeded)))
	fmt.Println(typhon.ErrorCode(context.Canceled))
	fmt.Println(typhon.ErrorCode(errors.New("disk full")))
	// Output:
	// ""
	// conflict
	// timeout
	// canceled
	// internal_service
}

func ExampleWrapError() {
	cause := errors.New("sql: no rows in result set")
	err := typhon.WrapError(cause, "not_found.order", "no such order")
	fmt.Println(typhon.ErrorCode(err), errors.Is(err, cause))
	// Output:
	// not_found.order true
}

func ExampleCodeForStatus() {
	for _, status := range []int{404, 418, 499, 503, 505} {
		fmt.Println(status, typhon.CodeForStatus(status))
	}
	// Output:
	// 404 not_found
	// 418 bad_request
	// 499 canceled
	// 503 unavailable
	// 505 internal_service
}

func ExampleNewRequest() {
	type order struct {
		Item  string `json:"item"`
		Count int    `json:"count"`
	}
	// Any value but []byte and io.Reader is sent as JSON.
	req := typhon.NewRequest(context.Background(), "POST", "http://orders/orders", order{"tea", 2})
	fmt.Println(req.Method, req.URL.Path, req.Header.Get("Content-Type"), req.ContentLength)

	var got order
	if err := req.Decode(&got); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", got)

	// NewRequest never panics: a bad URL is answered when the request is sent.
	bad := typhon.NewRequest(context.Background(), "GET", "http://[::1", nil)
	fmt.Println(typhon.ErrorCode(bad.Send().Response().Error))
	// Output:
	// POST /orders application/json 24
	// {Item:tea Count:2}
	// internal_service
}

func ExampleRequest_Decode() {
	req := typhon.NewRequest(context.Background(), "POST", "/", []byte("<order/>"))
	req.Header.Set("Content-Type", "text/xml")
	var v map[string]any
	err := req.Decode(&v)
	fmt.Println(typhon.ErrorCode(err), typhon.ErrorStatus(err))

	req = typhon.NewRequest(context.Background(), "POST", "/", []byte(`{"item":`))
	err = req.Decode(&v)
	fmt.Println(typhon.ErrorCode(err), typhon.ErrorStatus(err))
	// Output:
	// unsupported_media_type 415
	// bad_request 400
}

// A Service is a function, so a unit test calls it directly: no server, no
// socket.
func ExampleService() {
	greet := typhon.Service(func(req typhon.Request) typhon.Response {
		var in struct {
			Name string `json:"name"`
		}
		if err := req.Decode(&in); err != nil {
			return typhon.Response{Error: err}
		}
		if in.Name == "" {
			return typhon.Response{Error: typhon.NewError("bad_request.missing_param", "name is required").WithParams("param", "name")}
		}
		return req.Response(map[string]string{"greeting": "hello " + in.Name})
	})

	ctx := context.Background()
	var out map[string]string
	rsp := greet(typhon.NewRequest(ctx, "POST", "/greet", map[string]string{"name": "Ada"}))
	err := rsp.Decode(&out)
	fmt.Println(rsp.StatusCode, out["greeting"], err)

	rsp = greet(typhon.NewRequest(ctx, "POST", "/greet", map[string]string{}))
	var e *typhon.Error
	if errors.As(rsp.Error, &e) {
		fmt.Println(typhon.ErrorStatus(e), e.Code, e.Params["param"])
	}
	// Output:
	// 200 hello Ada <nil>
	// 400 bad_request.missing_param name
}

// Filters wrap a Service; the last one added runs first. A Service may answer
// Response{Error: err} alone: Filter fills in the status.
func ExampleService_Filter() {
	logged := func(name string) typhon.Filter {
		return func(req typhon.Request, svc typhon.Service) typhon.Response {
			fmt.Println("->", name)
			rsp := svc(req)
			fmt.Println("<-", name, rsp.StatusCode)
			return rsp
		}
	}
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		fmt.Println("service")
		return typhon.Response{Error: typhon.NewError(typhon.CodeRateLimited, "slow down")}
	}).Filter(logged("inner")).Filter(logged("outer"))

	rsp := svc(typhon.NewRequest(context.Background(), "GET", "/", nil))
	fmt.Println(rsp.StatusCode, typhon.ErrorCode(rsp.Error))
	// Output:
	// -> outer
	// -> inner
	// service
	// <- inner 429
	// <- outer 429
	// 429 rate_limited
}

// SendVia calls a Service on its own goroutine: start every call, then collect
// the futures. Here the Services are in process; typhon.DefaultClient would
// call them over the network.
func ExampleRequest_SendVia() {
	lookup := typhon.Service(func(req typhon.Request) typhon.Response {
		id := strings.TrimPrefix(req.URL.Path, "/users/")
		if id == "3" {
			return typhon.Response{Error: typhon.NewError("not_found.user", "no user "+id)}
		}
		return req.Response(map[string]string{"id": id, "name": "user " + id})
	})

	ctx := context.Background()
	var futures []*typhon.ResponseFuture
	for _, id := range []string{"1", "2", "3"} {
		futures = append(futures, typhon.NewRequest(ctx, "GET", "/users/"+id, nil).SendVia(lookup))
	}
	for _, f := range futures {
		var user map[string]string
		if err := f.Response().Decode(&user); err != nil {
			fmt.Println("error:", typhon.ErrorCode(err))
			continue
		}
		fmt.Println(user["name"])
	}
	// Output:
	// user 1
	// user 2
	// error: not_found.user
}

// Done lets a caller take whichever answer comes first.
func ExampleResponseFuture_Done() {
	slowMayGo := make(chan struct{})
	slow := typhon.NewRequest(context.Background(), "GET", "/slow", nil).SendVia(func(req typhon.Request) typhon.Response {
		<-slowMayGo
		return req.Response("slow")
	})
	fast := typhon.NewRequest(context.Background(), "GET", "/fast", nil).SendVia(func(req typhon.Request) typhon.Response {
		return req.Response("fast")
	})

	fastDone, slowDone := fast.Done(), slow.Done()
	for range 2 {
		var winner string
		select {
		case <-fastDone:
			_ = fast.Response().Decode(&winner)
			fastDone = nil // a nil channel is never ready
			close(slowMayGo)
		case <-slowDone:
			_ = slow.Response().Decode(&winner)
		}
		fmt.Println(winner)
	}
	// Output:
	// fast
	// slow
}

func ExampleOnBodyDone() {
	req := typhon.NewRequest(context.Background(), "GET", "/", nil)
	rsp := typhon.OnBodyDone(req.Response("payload"), func() { fmt.Println("released") })
	fmt.Println("before read")
	b, _ := io.ReadAll(rsp.Body)
	fmt.Println(string(b))
	// Output:
	// before read
	// released
	// "payload"
}
