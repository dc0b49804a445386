package typhon_test

import (
	"context"
	"fmt"

	"github.com/typhon-go/typhon"
)

// exampleCall calls svc as a server would and prints the outcome.
func exampleCall(svc typhon.Service, method, target string) {
	rsp := svc(typhon.NewRequest(context.Background(), method, target, nil))
	if rsp.Error != nil {
		if allow := rsp.Header.Get("Allow"); allow != "" {
			fmt.Println(method, target, "->", rsp.StatusCode, typhon.ErrorCode(rsp.Error), allow)
			return
		}
		fmt.Println(method, target, "->", rsp.StatusCode, typhon.ErrorCode(rsp.Error))
		return
	}
	var body string
	if err := rsp.Decode(&body); err != nil {
		fmt.Println(method, target, "->", err)
		return
	}
	fmt.Println(method, target, "->", rsp.StatusCode, body)
}

// A Router needs no constructor. Path parameters are read with the standard
// PathValue, percent-decoded as http.ServeMux decodes them; a path that
// matches no route is a 404, one that matches a route of other methods a
// 405 with Allow.
func ExampleRouter() {
	var r typhon.Router
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		return req.Response("user " + req.PathValue("id"))
	})
	r.GET("/items/{n:[0-9]+}", func(req typhon.Request) typhon.Response {
		return req.Response("item " + req.PathValue("n"))
	})
	r.GET("/files/*", func(req typhon.Request) typhon.Response {
		return req.Response("file " + req.PathValue("*"))
	})
	svc := r.Serve()

	exampleCall(svc, "GET", "/users/42")
	exampleCall(svc, "GET", "/users/a%2Fb")
	exampleCall(svc, "HEAD", "/users/42")
	exampleCall(svc, "GET", "/items/7")
	exampleCall(svc, "GET", "/items/seven")
	exampleCall(svc, "GET", "/files/css/site.css")
	exampleCall(svc, "DELETE", "/users/42")
	// Output:
	// GET /users/42 -> 200 user 42
	// GET /users/a%2Fb -> 200 user a/b
	// HEAD /users/42 -> 200 user 42
	// GET /items/7 -> 200 item 7
	// GET /items/seven -> 404 not_found
	// GET /files/css/site.css -> 200 file css/site.css
	// DELETE /users/42 -> 405 method_not_allowed GET, HEAD
}

// Route registers a group of routes under a common prefix.
func ExampleRouter_Route() {
	var r typhon.Router
	r.Route("/orgs/{org}", func(r *typhon.Router) {
		r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
			return req.Response(req.PathValue("org") + "/" + req.PathValue("id") + " at " + typhon.RoutePattern(req))
		})
	})
	exampleCall(r.Serve(), "GET", "/orgs/acme/users/7")
	// Output:
	// GET /orgs/acme/users/7 -> 200 acme/7 at /orgs/{org}/users/{id}
}

// With wraps only the routes registered through the view it returns in its
// filters, the first outermost.
func ExampleRouter_With() {
	auth := func(req typhon.Request, svc typhon.Service) typhon.Response {
		if req.Header.Get("Authorization") == "" {
			return typhon.Response{Error: typhon.NewError(typhon.CodeUnauthorized, "who are you?")}
		}
		return svc(req)
	}
	var r typhon.Router
	r.GET("/public", func(req typhon.Request) typhon.Response { return req.Response("hello") })
	r.With(auth).GET("/private", func(req typhon.Request) typhon.Response { return req.Response("secret") })
	svc := r.Serve()

	exampleCall(svc, "GET", "/public")
	exampleCall(svc, "GET", "/private")
	// Output:
	// GET /public -> 200 hello
	// GET /private -> 401 unauthorized
}

// Mount hands a whole subtree to another Service; when it is another
// Router's, that Router routes the rest of the path, sees the mount point's
// parameters, and RoutePattern gives the whole pattern.
func ExampleRouter_Mount() {
	var users typhon.Router
	users.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		return req.Response(req.PathValue("org") + "/" + req.PathValue("id") + " at " + typhon.RoutePattern(req))
	})
	var r typhon.Router
	r.Mount("/orgs/{org}", users.Serve())
	svc := r.Serve()

	exampleCall(svc, "GET", "/orgs/acme/users/7")
	exampleCall(svc, "POST", "/orgs/acme/users/7")
	// Output:
	// GET /orgs/acme/users/7 -> 200 acme/7 at /orgs/{org}/users/{id}
	// POST /orgs/acme/users/7 -> 405 method_not_allowed GET, HEAD
}

// RoutePattern names what was matched, not the raw path, so metrics and
// spans keep a bounded set of names. A Filter around the Router reads it
// once the Router has returned.
func ExampleRoutePattern() {
	var r typhon.Router
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response { return req.Response("ok") })
	svc := r.Serve().Filter(func(req typhon.Request, svc typhon.Service) typhon.Response {
		rsp := svc(req)
		fmt.Printf("%s %s: route %q, status %d\n", req.Method, req.URL.Path, typhon.RoutePattern(req), rsp.StatusCode)
		return rsp
	})

	svc(typhon.NewRequest(context.Background(), "GET", "/users/42", nil))
	svc(typhon.NewRequest(context.Background(), "GET", "/nowhere", nil))
	// Output:
	// GET /users/42: route "/users/{id}", status 200
	// GET /nowhere: route "", status 404
}
