package typhon_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/typhon-go/typhon"
)

func TestRouterNoConflict(t *testing.T) {
	t.Parallel()
	var r typhon.Router
	r.GET("/u/{id}", routerEcho("get"))
	r.POST("/u/{uid}", routerEcho("post"))         // other method, other name
	r.GET("/u/{id:[0-9]+}", routerEcho("numeric")) // other shape
	r.GET("/u/{id}/", routerEcho("slash"))         // other shape
	r.GET("/u/{id}.json", routerEcho("json"))      // other shape
	r.GET("/u/me", routerEcho("me"))               // static beats param
	r.GET("/w/*", routerEcho("wild"))
	r.POST("/w/*", routerEcho("wild.post"))
	svc := r.Serve()
	for _, c := range []struct {
		method, target, route string
		values                map[string]string
	}{
		{"GET", "/u/ada", "get", map[string]string{"id": "ada"}},
		{"POST", "/u/ada", "post", map[string]string{"uid": "ada"}},
		{"POST", "/u/1", "post", map[string]string{"uid": "1"}},
		{"GET", "/u/1", "numeric", map[string]string{"id": "1"}},
		{"GET", "/u/1/", "slash", map[string]string{"id": "1"}},
		{"GET", "/u/1.json", "json", map[string]string{"id": "1"}},
		{"GET", "/u/me", "me", nil},
		{"GET", "/w/x", "wild", map[string]string{"*": "x"}},
		{"POST", "/w/x", "wild.post", map[string]string{"*": "x"}},
	} {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			t.Parallel()
			info := routerInfo(t, svc, c.method, c.target)
			assert.Equal(t, c.route, info.Route)
			assert.Equal(t, c.values, info.Values)
		})
	}
}

func TestRouterRegisterPanics(t *testing.T) {
	t.Parallel()
	ok := routerEcho("ok")
	for _, c := range []struct {
		name string
		f    func(r *typhon.Router)
	}{
		{"same pattern twice", func(r *typhon.Router) {
			r.GET("/u/{id}", ok)
			r.GET("/u/{id}", ok)
		}},
		{"same shape, other param name", func(r *typhon.Router) {
			r.GET("/u/{id}", ok)
			r.GET("/u/{uid}", ok)
		}},
		{"same shape, other param names, two params", func(r *typhon.Router) {
			r.PUT("/o/{org}/u/{id}", ok)
			r.PUT("/o/{a}/u/{b}", ok)
		}},
		{"same regexp, other param name", func(r *typhon.Router) {
			r.GET("/u/{id:[0-9]+}", ok)
			r.GET("/u/{n:[0-9]+}", ok)
		}},
		{"same regexp once anchored", func(r *typhon.Router) {
			r.GET("/u/{id:[0-9]+}", ok)
			r.GET("/u/{n:^[0-9]+$}", ok)
		}},
		{"static twice", func(r *typhon.Router) {
			r.POST("/x", ok)
			r.POST("/x", ok)
		}},
		{"wildcard twice", func(r *typhon.Router) {
			r.GET("/f/*", ok)
			r.GET("/f/*", ok)
		}},
		{"HEAD twice", func(r *typhon.Router) {
			r.HEAD("/u/{id}", ok)
			r.HEAD("/u/{uid}", ok)
		}},
		{"HEAD twice beside GET", func(r *typhon.Router) {
			r.GET("/u/{id}", ok)
			r.HEAD("/u/{id}", ok)
			r.HEAD("/u/{x}", ok)
		}},
		{"HEAD twice around GET", func(r *typhon.Router) {
			r.HEAD("/u/{uid}", ok)
			r.GET("/u/{id}", ok)
			r.HEAD("/u/{x}", ok)
		}},
		{"through views", func(r *typhon.Router) {
			r.Route("/a", func(a *typhon.Router) { a.GET("/{id}", ok) })
			r.With(routerTrace("x")).GET("/a/{name}", ok)
		}},
		{"Mount twice", func(r *typhon.Router) {
			r.Mount("/m", ok)
			r.Mount("/m", ok)
		}},
		{"Mount over a wildcard", func(r *typhon.Router) {
			r.GET("/m/*", ok)
			r.Mount("/m", ok)
		}},
		{"wildcard over a Mount", func(r *typhon.Router) {
			r.Mount("/m/", ok)
			r.DELETE("/m/*", ok)
		}},
		{"Mount over a param route", func(r *typhon.Router) {
			r.GET("/u/{id}", ok)
			r.Mount("/u/{x}", ok)
		}},
		{"no leading slash", func(r *typhon.Router) { r.GET("users", ok) }},
		{"empty pattern", func(r *typhon.Router) { r.GET("", ok) }},
		{"unclosed brace", func(r *typhon.Router) { r.GET("/u/{id", ok) }},
		{"unopened brace", func(r *typhon.Router) { r.GET("/u/id}", ok) }},
		{"empty param", func(r *typhon.Router) { r.GET("/u/{}", ok) }},
		{"wildcard not at the end", func(r *typhon.Router) { r.GET("/files/*/x", ok) }},
		{"wildcard before a param", func(r *typhon.Router) { r.GET("/files/*/{id}", ok) }},
		{"duplicate param name", func(r *typhon.Router) { r.GET("/a/{id}/b/{id}", ok) }},
		{"invalid regexp", func(r *typhon.Router) { r.GET("/a/{id:[}", ok) }},
		{"invalid regexp, nested braces", func(r *typhon.Router) { r.GET("/a/{id:(}", ok) }},
		{"nil Service", func(r *typhon.Router) { r.GET("/x", nil) }},
		{"nil Service by Register", func(r *typhon.Router) { r.Register("POST", "/x", nil) }},
		{"nil Service by Mount", func(r *typhon.Router) { r.Mount("/x", nil) }},
		{"unknown method", func(r *typhon.Router) { r.Register("PROPFIND", "/x", ok) }},
		{"lower-case method", func(r *typhon.Router) { r.Register("get", "/x", ok) }},
		{"empty method", func(r *typhon.Router) { r.Register("", "/x", ok) }},
		{"Route prefix without slash", func(r *typhon.Router) { r.Route("api", nil) }},
		{"Mount without slash", func(r *typhon.Router) { r.Mount("api", ok) }},
		{"Register after Serve", func(r *typhon.Router) {
			r.GET("/x", ok)
			r.Serve()
			r.GET("/y", ok)
		}},
		{"Register after Serve, nothing registered", func(r *typhon.Router) {
			r.Serve()
			r.POST("/y", ok)
		}},
		{"Register through a view after Serve", func(r *typhon.Router) {
			v := r.With(routerTrace("v"))
			r.Serve()
			v.GET("/y", ok)
		}},
		{"Register after Serve of a view", func(r *typhon.Router) {
			v := r.Route("/v", nil)
			v.Serve()
			r.GET("/y", ok)
		}},
		{"Mount after Serve", func(r *typhon.Router) {
			r.Serve()
			r.Mount("/m", ok)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var r typhon.Router
			requireRouterPanic(t, func() { c.f(&r) })
		})
	}
}

// TestRouterAfterPanic checks that a Register that panicked left the
// Router as it was.
func TestRouterAfterPanic(t *testing.T) {
	t.Parallel()
	var r typhon.Router
	r.GET("/u/{id}", routerEcho("first"))
	requireRouterPanic(t, func() { r.GET("/u/{uid}", routerEcho("second")) })
	requireRouterPanic(t, func() { r.GET("/v/*/x", routerEcho("bad")) })
	requireRouterPanic(t, func() { r.GET("/w/{a}/{a}", routerEcho("bad")) })
	r.POST("/u/{uid}", routerEcho("post"))
	svc := r.Serve()
	info := routerInfo(t, svc, "GET", "/u/1")
	assert.Equal(t, "first", info.Route)
	assert.Equal(t, map[string]string{"id": "1"}, info.Values)
	assert.Equal(t, "post", routerInfo(t, svc, "POST", "/u/1").Route)
	for _, target := range []string{"/v/1/x", "/w/1/2"} {
		assert.Equal(t, http.StatusNotFound, routerCall(t, svc, "GET", target).StatusCode, target)
	}
}

func TestRouterConcurrent(t *testing.T) {
	t.Parallel()
	r := newRouterFixture()
	inner := &typhon.Router{}
	inner.GET("/users/{id}", routerEcho("inner"))
	r.Mount("/mounted/{org}", inner.Serve())
	svc := r.Serve()
	cases := append(slices.Clip(routerCases), routerCase{
		name: "mounted", method: "GET", target: "/mounted/acme/users/3", status: 200, route: "inner",
		pattern: "/mounted/{org}/users/{id}", values: map[string]string{"org": "acme", "id": "3"},
	})

	const goroutines, calls = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				c := cases[(g*calls+i)%len(cases)]
				req := typhon.NewRequest(context.Background(), c.method, c.target, nil)
				rsp := svc(req)
				if !assert.NotNil(t, rsp.Response) || !assert.Equal(t, c.status, rsp.StatusCode, c.name) {
					return
				}
				switch c.status {
				case http.StatusOK:
					var info routeInfo
					if !assert.NoError(t, rsp.Decode(&info)) {
						return
					}
					assert.Equal(t, c.route, info.Route, c.name)
					assert.Equal(t, c.pattern, info.Pattern, c.name)
					assert.Equal(t, c.values, info.Values, c.name)
					assert.Equal(t, c.pattern, typhon.RoutePattern(req), c.name)
				case http.StatusMethodNotAllowed:
					assert.Equal(t, c.allow, rsp.Header.Get("Allow"), c.name)
					assert.Empty(t, typhon.RoutePattern(req), c.name)
				default:
					assert.Empty(t, typhon.RoutePattern(req), c.name)
				}
			}
		})
	}
	wg.Wait()
}

// TestRouterRegisterWhileServing registers routes while another goroutine
// calls Serve and routes: under -race this checks that Serve orders itself
// after every Register that started before it.
func TestRouterRegisterWhileServing(t *testing.T) {
	t.Parallel()
	var r typhon.Router
	r.GET("/first", routerEcho("first"))
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		<-start
		for i := range 200 {
			func() {
				defer func() { _ = recover() }() // after Serve: panics
				r.GET(fmt.Sprintf("/r/%d/{id}", i), routerEcho("r"))
			}()
		}
	})
	close(start)
	svc := r.Serve()
	for i := range 200 {
		rsp := routerCall(t, svc, "GET", fmt.Sprintf("/r/%d/x", i))
		assert.Contains(t, []int{http.StatusOK, http.StatusNotFound}, rsp.StatusCode)
	}
	wg.Wait()
	assert.Equal(t, "first", routerInfo(t, svc, "GET", "/first").Route)
}
