// Command demo runs three small typhon services on loopback ports and calls
// them: a gateway that fans out to a users service and an orders service, the
// orders service calling the users service in turn. It prints what each call
// returned, among them an error raised two hops down that reaches the caller
// with its code, message and params intact, and exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/typhon-go/typhon"
)

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type order struct {
	ID    string `json:"id"`
	Item  string `json:"item"`
	Total int    `json:"total_pence"`
}

type profile struct {
	User   user    `json:"user"`
	Orders []order `json:"orders"`
}

// client is how the services call each other: HTTP/2 with prior knowledge.
var client = typhon.NewClient(typhon.WithH2C())

func usersService() typhon.Service {
	people := map[string]string{"1": "Ada Lovelace", "2": "Grace Hopper"}
	var r typhon.Router
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		id := req.PathValue("id")
		if id == "slow" {
			if deadline, ok := req.Context().Deadline(); ok {
				fmt.Printf("   (users: %s arrived with %v of its caller's budget left)\n",
					req.URL.Path, time.Until(deadline).Round(time.Millisecond))
			}
			<-req.Context().Done() // answers only when the caller gives up
			return typhon.Response{Error: req.Context().Err()}
		}
		name, ok := people[id]
		if !ok {
			return typhon.Response{Error: typhon.NewError("not_found.user", "no user with this id").WithParams("user_id", id)}
		}
		return req.Response(user{ID: id, Name: name})
	})
	return r.Serve()
}

func ordersService(usersURL string) typhon.Service {
	var r typhon.Router
	r.GET("/users/{id}/orders", func(req typhon.Request) typhon.Response {
		id := req.PathValue("id")
		// Check the user exists: a second hop. Its error is passed on as it is.
		var u user
		if err := typhon.NewRequest(req.Context(), "GET", usersURL+"/users/"+id, nil).SendVia(client).Response().Decode(&u); err != nil {
			return typhon.Response{Error: err}
		}
		return req.Response([]order{{ID: "o-" + id + "-1", Item: "Analytical Engine manual", Total: 1299}})
	})
	return r.Serve()
}

func gatewayService(usersURL, ordersURL string) typhon.Service {
	var r typhon.Router
	r.GET("/profile/{id}", func(req typhon.Request) typhon.Response {
		id := req.PathValue("id")
		// Fan out: both calls are in flight at once.
		userF := typhon.NewRequest(req.Context(), "GET", usersURL+"/users/"+id, nil).SendVia(client)
		ordersF := typhon.NewRequest(req.Context(), "GET", ordersURL+"/users/"+id+"/orders", nil).SendVia(client)
		var p profile
		if err := ordersF.Response().Decode(&p.Orders); err != nil {
			userF.Response().Decode(nil) // release the other call
			return typhon.Response{Error: err}
		}
		if err := userF.Response().Decode(&p.User); err != nil {
			return typhon.Response{Error: err}
		}
		return req.Response(p)
	})
	return r.Serve()
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	var servers []*typhon.Server
	defer func() {
		for _, s := range servers {
			stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = s.Stop(stopCtx)
			cancel()
		}
	}()
	start := func(name string, svc typhon.Service) (string, error) {
		s, err := typhon.Listen(svc, "")
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		servers = append(servers, s)
		url := "http://" + s.Addr().String()
		fmt.Printf("%-8s listening on %s\n", name, url)
		return url, nil
	}
	usersURL, err := start("users", usersService())
	if err != nil {
		return err
	}
	ordersURL, err := start("orders", ordersService(usersURL))
	if err != nil {
		return err
	}
	gatewayURL, err := start("gateway", gatewayService(usersURL, ordersURL))
	if err != nil {
		return err
	}
	fmt.Println()

	calls := []struct {
		title   string
		path    string
		timeout time.Duration
	}{
		{"a profile: gateway -> users + (orders -> users)", "/profile/1", 5 * time.Second},
		{"an unknown user: the users service's error crosses two hops", "/profile/99", 5 * time.Second},
		{"a route that does not exist", "/profiles/1", 5 * time.Second},
		{"a slow user with a 200ms budget: the deadline travels with each call", "/profile/slow", 200 * time.Millisecond},
	}
	for _, c := range calls {
		callCtx, cancel := context.WithTimeout(ctx, c.timeout)
		begin := time.Now()
		rsp := typhon.NewRequest(callCtx, "GET", gatewayURL+c.path, nil).SendVia(typhon.DefaultClient).Response()
		var body []byte
		err := rsp.Decode(&body)
		took := time.Since(begin).Round(100 * time.Microsecond)
		cancel()
		fmt.Printf("== %s\n   GET %s -> %d in %v\n", c.title, c.path, rsp.StatusCode, took)
		if err != nil {
			var e *typhon.Error
			if errors.As(err, &e) {
				fmt.Printf("   error: code=%q message=%q params=%v\n\n", e.Code, e.Message, e.Params)
			} else {
				fmt.Printf("   error: %v\n\n", err)
			}
			continue
		}
		fmt.Printf("   body:  %s\n\n", strings.TrimSpace(string(body)))
	}
	return nil
}
