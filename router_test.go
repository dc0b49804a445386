package typhon_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

// routeInfo is what routerEcho answers: which route ran, the pattern it saw,
// the path values it read and the filters the request went through.
type routeInfo struct {
	Route   string            `json:"route"`
	Pattern string            `json:"pattern"`
	Method  string            `json:"method"`
	Values  map[string]string `json:"values,omitempty"`
	Trace   []string          `json:"trace,omitempty"`
}

// routerValueNames are the path values routerEcho reports, when set.
var routerValueNames = []string{"id", "uid", "org", "name", "*"}

// routerEcho is a Service that answers a routeInfo named name.
func routerEcho(name string) typhon.Service {
	return func(req typhon.Request) typhon.Response {
		info := routeInfo{
			Route:   name,
			Pattern: typhon.RoutePattern(req),
			Method:  req.Method,
			Trace:   req.Header.Values("X-Trace"),
		}
		for _, k := range routerValueNames {
			if v := req.PathValue(k); v != "" {
				if info.Values == nil {
					info.Values = map[string]string{}
				}
				info.Values[k] = v
			}
		}
		return req.Response(info)
	}
}

// routerTrace is a Filter that records name in the request's X-Trace header.
func routerTrace(name string) typhon.Filter {
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		req.Header.Add("X-Trace", name)
		return svc(req)
	}
}

// routerCall calls svc with a new Request for method and target.
func routerCall(t *testing.T, svc typhon.Service, method, target string) typhon.Response {
	t.Helper()
	req := typhon.NewRequest(t.Context(), method, target, nil)
	rsp := svc(req)
	require.NotNil(t, rsp.Response, "%s %s: nil *http.Response", method, target)
	return rsp
}

// routerInfo calls svc and decodes the routeInfo it answers.
func routerInfo(t *testing.T, svc typhon.Service, method, target string) routeInfo {
	t.Helper()
	rsp := routerCall(t, svc, method, target)
	require.NoError(t, rsp.Error, "%s %s", method, target)
	require.Equal(t, http.StatusOK, rsp.StatusCode)
	var info routeInfo
	require.NoError(t, rsp.Decode(&info))
	return info
}

// requireRouterPanic runs f and requires it to panic with a message that
// starts "typhon:".
func requireRouterPanic(t *testing.T, f func()) {
	t.Helper()
	msg := func() (msg any) {
		defer func() { msg = recover() }()
		f()
		return nil
	}()
	require.NotNil(t, msg, "no panic")
	s, ok := msg.(string)
	require.True(t, ok, "panic value %T %v is not a string", msg, msg)
	require.True(t, strings.HasPrefix(s, "typhon:"), "panic %q", s)
}

// routerFixtureRoutes are the routes of newRouterFixture: method, pattern
// and the name routerEcho answers.
var routerFixtureRoutes = []struct{ method, pattern, name string }{
	{"GET", "/", "root"},
	{"GET", "/health", "health"},
	{"GET", "/users", "users.list"},
	{"POST", "/users", "users.create"},
	{"GET", "/users/{id}", "users.get"},
	{"PUT", "/users/{id}", "users.put"},
	{"DELETE", "/users/{id}", "users.delete"},
	{"GET", "/users/{id}/", "users.get.slash"},
	{"GET", "/items/{id:[0-9]+}", "items.get"},
	{"GET", "/files/*", "files"},
	{"GET", "/orgs/{org}/users/{id}", "orgs.users.get"},
	{"GET", "/a", "a"},
	{"GET", "/b/", "b.slash"},
	{"GET", "/explicit-head", "explicit.get"},
	{"HEAD", "/explicit-head", "explicit.head"},
	{"POST", "/post-only", "post-only"},
	{"OPTIONS", "/users", "users.options"},
	{"PATCH", "/users/{id}", "users.patch"},
}

// newRouterFixture is the Router most routing tests run against.
func newRouterFixture() *typhon.Router {
	r := &typhon.Router{}
	for _, rt := range routerFixtureRoutes {
		r.Register(rt.method, rt.pattern, routerEcho(rt.name))
	}
	return r
}

// routerCase is one request against a fixture and what it must give.
type routerCase struct {
	name    string
	method  string
	target  string
	status  int
	route   string            // for a 200
	pattern string            // for a 200
	values  map[string]string // for a 200
	allow   string            // for a 405
}

var routerCases = []routerCase{
	{name: "root", method: "GET", target: "/", status: 200, route: "root", pattern: "/"},
	{name: "static", method: "GET", target: "/health", status: 200, route: "health", pattern: "/health"},
	{name: "static with query", method: "GET", target: "/health?x=1", status: 200, route: "health", pattern: "/health"},
	{name: "absolute URL", method: "GET", target: "http://example.com/health", status: 200, route: "health", pattern: "/health"},
	{name: "POST", method: "POST", target: "/users", status: 200, route: "users.create", pattern: "/users"},
	{name: "OPTIONS", method: "OPTIONS", target: "/users", status: 200, route: "users.options", pattern: "/users"},
	{name: "param", method: "GET", target: "/users/42", status: 200, route: "users.get", pattern: "/users/{id}", values: map[string]string{"id": "42"}},
	{name: "param PUT", method: "PUT", target: "/users/42", status: 200, route: "users.put", pattern: "/users/{id}", values: map[string]string{"id": "42"}},
	{name: "param DELETE", method: "DELETE", target: "/users/42", status: 200, route: "users.delete", pattern: "/users/{id}", values: map[string]string{"id": "42"}},
	{name: "param PATCH", method: "PATCH", target: "/users/42", status: 200, route: "users.patch", pattern: "/users/{id}", values: map[string]string{"id": "42"}},
	{name: "two params", method: "GET", target: "/orgs/acme/users/7", status: 200, route: "orgs.users.get", pattern: "/orgs/{org}/users/{id}", values: map[string]string{"org": "acme", "id": "7"}},
	{name: "regexp", method: "GET", target: "/items/123", status: 200, route: "items.get", pattern: "/items/{id:[0-9]+}", values: map[string]string{"id": "123"}},
	{name: "regexp non-match", method: "GET", target: "/items/abc", status: 404},
	{name: "regexp partial match", method: "GET", target: "/items/12a", status: 404},
	{name: "regexp empty", method: "GET", target: "/items/", status: 404},
	{name: "wildcard", method: "GET", target: "/files/a/b/c.txt", status: 200, route: "files", pattern: "/files/*", values: map[string]string{"*": "a/b/c.txt"}},
	{name: "wildcard one segment", method: "GET", target: "/files/x", status: 200, route: "files", pattern: "/files/*", values: map[string]string{"*": "x"}},
	{name: "wildcard empty", method: "GET", target: "/files/", status: 200, route: "files", pattern: "/files/*"},
	{name: "wildcard without slash", method: "GET", target: "/files", status: 404},
	{name: "wildcard escaped slash", method: "GET", target: "/files/a%2Fb/c", status: 200, route: "files", pattern: "/files/*", values: map[string]string{"*": "a/b/c"}},
	{name: "wildcard escaped space", method: "GET", target: "/files/a%20b", status: 200, route: "files", pattern: "/files/*", values: map[string]string{"*": "a b"}},
	{name: "escaped slash stays one segment", method: "GET", target: "/users/a%2Fb", status: 200, route: "users.get", pattern: "/users/{id}", values: map[string]string{"id": "a/b"}},
	{name: "escaped slash in two params", method: "GET", target: "/orgs/a%2Fb/users/c%2fd", status: 200, route: "orgs.users.get", pattern: "/orgs/{org}/users/{id}", values: map[string]string{"org": "a/b", "id": "c/d"}},
	{name: "escaped space", method: "GET", target: "/users/a%20b", status: 200, route: "users.get", pattern: "/users/{id}", values: map[string]string{"id": "a b"}},
	{name: "escaped percent decoded once", method: "GET", target: "/users/%2541", status: 200, route: "users.get", pattern: "/users/{id}", values: map[string]string{"id": "%41"}},
	{name: "escaped percent and slash", method: "GET", target: "/users/%2541%2F", status: 200, route: "users.get", pattern: "/users/{id}", values: map[string]string{"id": "%41/"}},
	{name: "literal percent", method: "GET", target: "/users/100%25", status: 200, route: "users.get", pattern: "/users/{id}", values: map[string]string{"id": "100%"}},
	{name: "utf-8", method: "GET", target: "/users/caf%C3%A9", status: 200, route: "users.get", pattern: "/users/{id}", values: map[string]string{"id": "café"}},
	{name: "plus is not space", method: "GET", target: "/users/a+b", status: 200, route: "users.get", pattern: "/users/{id}", values: map[string]string{"id": "a+b"}},
	// Matching uses the escaped path: a regexp sees the escapes.
	{name: "escaped regexp digits", method: "GET", target: "/items/%31%32", status: 404},
	{name: "trailing slash route", method: "GET", target: "/users/42/", status: 200, route: "users.get.slash", pattern: "/users/{id}/", values: map[string]string{"id": "42"}},
	{name: "no trailing slash", method: "GET", target: "/a", status: 200, route: "a", pattern: "/a"},
	{name: "trailing slash not registered", method: "GET", target: "/a/", status: 404},
	{name: "trailing slash registered", method: "GET", target: "/b/", status: 200, route: "b.slash", pattern: "/b/"},
	{name: "without trailing slash not registered", method: "GET", target: "/b", status: 404},
	{name: "list trailing slash not registered", method: "GET", target: "/users/", status: 404},
	{name: "double slash", method: "GET", target: "/users//42", status: 404},
	{name: "unknown path", method: "GET", target: "/nope", status: 404},
	{name: "unknown nested path", method: "GET", target: "/users/42/friends", status: 404},
	{name: "405 lists GET and HEAD", method: "POST", target: "/health", status: 405, allow: "GET, HEAD"},
	{name: "405 in standard order", method: "POST", target: "/users/42", status: 405, allow: "GET, HEAD, PUT, PATCH, DELETE"},
	{name: "405 on list", method: "DELETE", target: "/users", status: 405, allow: "GET, HEAD, POST, OPTIONS"},
	{name: "405 POST only", method: "GET", target: "/post-only", status: 405, allow: "POST"},
	{name: "405 HEAD on POST only", method: "HEAD", target: "/post-only", status: 405, allow: "POST"},
	{name: "405 with explicit HEAD", method: "PUT", target: "/explicit-head", status: 405, allow: "GET, HEAD"},
	{name: "405 wildcard", method: "POST", target: "/files/x", status: 405, allow: "GET, HEAD"},
	{name: "405 regexp", method: "PUT", target: "/items/1", status: 405, allow: "GET, HEAD"},
	{name: "regexp non-match 404 for other methods", method: "PUT", target: "/items/x", status: 404},
	{name: "unknown method on a path", method: "PROPFIND", target: "/health", status: 405, allow: "GET, HEAD"},
	{name: "lower-case method on a path", method: "get", target: "/health", status: 405, allow: "GET, HEAD"},
	{name: "unknown method on no path", method: "PROPFIND", target: "/nope", status: 404},
	{name: "TRACE on a path", method: "TRACE", target: "/users", status: 405, allow: "GET, HEAD, POST, OPTIONS"},
	{name: "HEAD by GET route", method: "HEAD", target: "/health", status: 200, route: "health", pattern: "/health"},
	{name: "HEAD by GET param route", method: "HEAD", target: "/users/9", status: 200, route: "users.get", pattern: "/users/{id}", values: map[string]string{"id": "9"}},
	{name: "explicit HEAD wins", method: "HEAD", target: "/explicit-head", status: 200, route: "explicit.head", pattern: "/explicit-head"},
	{name: "GET beside explicit HEAD", method: "GET", target: "/explicit-head", status: 200, route: "explicit.get", pattern: "/explicit-head"},
}

// checkRouterCase serves c with svc and checks the answer.
func checkRouterCase(t *testing.T, svc typhon.Service, c routerCase) {
	t.Helper()
	rsp := routerCall(t, svc, c.method, c.target)
	require.Equal(t, c.status, rsp.StatusCode, "error: %v", rsp.Error)
	switch c.status {
	case http.StatusOK:
		require.NoError(t, rsp.Error)
		var info routeInfo
		require.NoError(t, rsp.Decode(&info))
		assert.Equal(t, c.route, info.Route)
		assert.Equal(t, c.pattern, info.Pattern)
		assert.Equal(t, c.method, info.Method)
		assert.Equal(t, c.values, info.Values)
		assert.Empty(t, rsp.Header.Values("Allow"))
	case http.StatusNotFound:
		assert.Equal(t, typhon.CodeNotFound, typhon.ErrorCode(rsp.Error))
		assert.Empty(t, rsp.Header.Values("Allow"))
	case http.StatusMethodNotAllowed:
		assert.Equal(t, typhon.CodeMethodNotAllowed, typhon.ErrorCode(rsp.Error))
		assert.Equal(t, []string{c.allow}, rsp.Header.Values("Allow"))
	}
}

func TestRouterRouting(t *testing.T) {
	t.Parallel()
	svc := newRouterFixture().Serve()
	for _, c := range routerCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			checkRouterCase(t, svc, c)
		})
	}
}

func TestRouterZeroValue(t *testing.T) {
	t.Parallel()
	t.Run("no routes", func(t *testing.T) {
		t.Parallel()
		var r typhon.Router
		svc := r.Serve()
		for _, m := range []string{"GET", "POST", "PROPFIND"} {
			rsp := routerCall(t, svc, m, "/")
			assert.Equal(t, http.StatusNotFound, rsp.StatusCode)
			assert.Equal(t, typhon.CodeNotFound, typhon.ErrorCode(rsp.Error))
		}
	})
	t.Run("routes", func(t *testing.T) {
		t.Parallel()
		var r typhon.Router
		r.GET("/x/{id}", routerEcho("x"))
		info := routerInfo(t, r.Serve(), "GET", "/x/1")
		assert.Equal(t, "x", info.Route)
		assert.Equal(t, map[string]string{"id": "1"}, info.Values)
	})
	t.Run("view of a zero Router", func(t *testing.T) {
		t.Parallel()
		var r typhon.Router
		r.With(routerTrace("f")).GET("/x", routerEcho("x"))
		info := routerInfo(t, r.Serve(), "GET", "/x")
		assert.Equal(t, []string{"f"}, info.Trace)
	})
	t.Run("Serve twice", func(t *testing.T) {
		t.Parallel()
		var r typhon.Router
		r.GET("/x", routerEcho("x"))
		a, b := r.Serve(), r.Serve()
		assert.Equal(t, "x", routerInfo(t, a, "GET", "/x").Route)
		assert.Equal(t, "x", routerInfo(t, b, "GET", "/x").Route)
	})
}

// TestRouterPathValuesLikeServeMux checks that path values are decoded as
// http.ServeMux decodes them, for a single segment and for the rest of a path.
func TestRouterPathValuesLikeServeMux(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.PathValue("id"))
	})
	mux.HandleFunc("GET /files/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.PathValue("rest"))
	})
	var r typhon.Router
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		return req.Response([]byte(req.PathValue("id")))
	})
	r.GET("/files/*", func(req typhon.Request) typhon.Response {
		return req.Response([]byte(req.PathValue("*")))
	})
	svc := r.Serve()

	paths := []string{
		"/users/plain",
		"/users/a%2Fb",
		"/users/a%2fb",
		"/users/a%20b",
		"/users/%2541",
		"/users/100%25",
		"/users/caf%C3%A9",
		"/users/caf%c3%a9",
		"/users/a+b",
		"/users/%7Euser",
		"/users/a;b",
		"/users/%3Fq",
		"/users/%23frag",
		"/files/a/b",
		"/files/a%2Fb/c",
		"/files/x%20y/z%2541",
		"/files/%2F",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
			require.Equal(t, http.StatusOK, rec.Code, "ServeMux: %s", rec.Body)

			rsp := routerCall(t, svc, "GET", p)
			require.NoError(t, rsp.Error)
			var got []byte
			require.NoError(t, rsp.Decode(&got))
			assert.Equal(t, rec.Body.String(), string(got))
		})
	}
}

// TestRoutePatternOutside checks RoutePattern in a Filter around the
// Router's Service, after the Router has returned.
func TestRoutePatternOutside(t *testing.T) {
	t.Parallel()
	r := newRouterFixture()
	// A view whose filter hands a copy of the Request on: copies share the
	// exchange record.
	r.With(func(req typhon.Request, svc typhon.Service) typhon.Response {
		type key struct{}
		return svc(req.WithContext(context.WithValue(req.Context(), key{}, 1)))
	}).GET("/copied/{id}", routerEcho("copied"))
	inner := &typhon.Router{}
	inner.GET("/users/{id}", routerEcho("inner"))
	r.Mount("/orgs/{org}/mounted", inner.Serve())

	var seen string
	svc := r.Serve()
	outer := func(req typhon.Request) typhon.Response {
		if p := typhon.RoutePattern(req); p != "" {
			return typhon.Response{Error: fmt.Errorf("pattern %q before routing", p)}
		}
		rsp := svc(req)
		seen = typhon.RoutePattern(req)
		return rsp
	}
	for _, c := range []struct {
		method, target, want string
	}{
		{"GET", "/users/42", "/users/{id}"},
		{"HEAD", "/users/42", "/users/{id}"},
		{"GET", "/items/7", "/items/{id:[0-9]+}"},
		{"GET", "/files/a/b", "/files/*"},
		{"GET", "/copied/1", "/copied/{id}"},
		{"GET", "/orgs/acme/mounted/users/1", "/orgs/{org}/mounted/users/{id}"},
		{"GET", "/nope", ""},
		{"GET", "/items/x", ""},
		{"POST", "/health", ""},
		{"PROPFIND", "/health", ""},
	} {
		// Not parallel: seen is shared.
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			seen = "unset"
			req := typhon.NewRequest(t.Context(), c.method, c.target, nil)
			rsp := outer(req)
			require.NotNil(t, rsp.Response)
			assert.Equal(t, c.want, seen)
			assert.Equal(t, c.want, typhon.RoutePattern(req))
			if c.want != "" {
				assert.NoError(t, rsp.Error)
			}
		})
	}
}

func TestRoutePatternNeverRawPath(t *testing.T) {
	t.Parallel()
	var r typhon.Router
	r.GET("/users/{id}", routerEcho("u"))
	svc := r.Serve().Filter(func(req typhon.Request, svc typhon.Service) typhon.Response {
		rsp := svc(req)
		rsp.Header.Set("X-Pattern", typhon.RoutePattern(req))
		return rsp
	})
	for _, target := range []string{"/users/42", "/users/a%2Fb", "/users/42/x", "/x", "/"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			rsp := routerCall(t, svc, "GET", target)
			p := rsp.Header.Get("X-Pattern")
			assert.NotEqual(t, target, p)
			assert.Contains(t, []string{"", "/users/{id}"}, p)
		})
	}
	// A fresh Request has no pattern.
	assert.Empty(t, typhon.RoutePattern(typhon.NewRequest(t.Context(), "GET", "/users/1", nil)))
	assert.Empty(t, typhon.RoutePattern(typhon.Request{}))
}

func TestRouterViews(t *testing.T) {
	t.Parallel()
	r := &typhon.Router{}
	ab := r.With(routerTrace("a"), routerTrace("b"))
	ab.GET("/ab", routerEcho("ab"))
	ab.Route("/nested", func(n *typhon.Router) {
		n.With(routerTrace("c")).GET("/abc", routerEcho("abc"))
		n.GET("/ab", routerEcho("nested.ab"))
	})
	ab.With(routerTrace("c")).With(routerTrace("d")).GET("/abcd", routerEcho("abcd"))
	r.GET("/plain", routerEcho("plain")) // registered after With: not filtered
	r.Route("/api", func(api *typhon.Router) {
		api.GET("/v", routerEcho("api.v"))
		api.Route("/orgs/{org}", func(o *typhon.Router) {
			o.GET("/users/{id}", routerEcho("api.orgs.users"))
			o.With(routerTrace("o")).POST("/", routerEcho("api.orgs.post"))
		})
	})
	v := r.Route("/view", nil)
	v.GET("/x", routerEcho("view.x"))
	v.With(routerTrace("v")).Route("/deeper", nil).DELETE("/{id}", routerEcho("view.deeper"))
	r.Route("/", func(root *typhon.Router) {
		root.GET("/rooted", routerEcho("rooted"))
	})
	r.Route("/slash/", func(s *typhon.Router) {
		s.GET("/", routerEcho("slash.root"))
		s.GET("/x", routerEcho("slash.x"))
	})
	svc := r.Serve()

	for _, c := range []struct {
		method, target, route, pattern string
		trace                          []string
		values                         map[string]string
	}{
		{"GET", "/ab", "ab", "/ab", []string{"a", "b"}, nil},
		{"HEAD", "/ab", "ab", "/ab", []string{"a", "b"}, nil},
		{"GET", "/nested/abc", "abc", "/nested/abc", []string{"a", "b", "c"}, nil},
		{"GET", "/nested/ab", "nested.ab", "/nested/ab", []string{"a", "b"}, nil},
		{"GET", "/abcd", "abcd", "/abcd", []string{"a", "b", "c", "d"}, nil},
		{"GET", "/plain", "plain", "/plain", nil, nil},
		{"GET", "/api/v", "api.v", "/api/v", nil, nil},
		{"GET", "/api/orgs/acme/users/1", "api.orgs.users", "/api/orgs/{org}/users/{id}", nil, map[string]string{"org": "acme", "id": "1"}},
		{"POST", "/api/orgs/acme/", "api.orgs.post", "/api/orgs/{org}/", []string{"o"}, map[string]string{"org": "acme"}},
		{"GET", "/view/x", "view.x", "/view/x", nil, nil},
		{"DELETE", "/view/deeper/3", "view.deeper", "/view/deeper/{id}", []string{"v"}, map[string]string{"id": "3"}},
		{"GET", "/rooted", "rooted", "/rooted", nil, nil},
		{"GET", "/slash/", "slash.root", "/slash/", nil, nil},
		{"GET", "/slash/x", "slash.x", "/slash/x", nil, nil},
	} {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			t.Parallel()
			info := routerInfo(t, svc, c.method, c.target)
			assert.Equal(t, c.route, info.Route)
			assert.Equal(t, c.pattern, info.Pattern)
			assert.Equal(t, c.trace, info.Trace)
			assert.Equal(t, c.values, info.Values)
		})
	}
	t.Run("filters do not run on a miss", func(t *testing.T) {
		t.Parallel()
		req := typhon.NewRequest(t.Context(), "GET", "/nested/none", nil)
		rsp := svc(req)
		assert.Equal(t, http.StatusNotFound, rsp.StatusCode)
		assert.Empty(t, req.Header.Values("X-Trace"))
	})
}

// TestRouterFilterShortCircuit checks that a view's filter may answer
// without calling the route, and that RoutePattern is already set for it.
func TestRouterFilterShortCircuit(t *testing.T) {
	t.Parallel()
	var r typhon.Router
	deny := func(req typhon.Request, svc typhon.Service) typhon.Response {
		return typhon.Response{Error: typhon.NewError(typhon.CodeForbidden, typhon.RoutePattern(req))}
	}
	r.With(deny).GET("/secret/{id}", routerEcho("secret"))
	rsp := routerCall(t, r.Serve(), "GET", "/secret/1")
	assert.Equal(t, http.StatusForbidden, rsp.StatusCode)
	var e *typhon.Error
	require.ErrorAs(t, rsp.Error, &e)
	assert.Equal(t, "/secret/{id}", e.Message)
}

func TestRouterMount(t *testing.T) {
	t.Parallel()
	inner := &typhon.Router{}
	inner.GET("/", routerEcho("inner.root"))
	inner.GET("/users/{id}", routerEcho("inner.users.get"))
	inner.POST("/users", routerEcho("inner.users.create"))
	inner.GET("/files/*", routerEcho("inner.files"))

	deepest := &typhon.Router{}
	deepest.GET("/c/{name}", routerEcho("deepest"))
	middle := &typhon.Router{}
	middle.Mount("/b/{id}", deepest.Serve())

	var static typhon.Service = routerEcho("static")

	outer := &typhon.Router{}
	outer.GET("/orgs", routerEcho("orgs.list"))
	outer.Mount("/orgs/{org}", inner.Serve())
	outer.Mount("/static", static)
	outer.Mount("/a/", middle.Serve())
	outer.With(routerTrace("m")).Route("/v1", func(v1 *typhon.Router) {
		v1.Mount("/inner", inner.Serve())
	})
	svc := outer.Serve()

	for _, c := range []struct {
		method, target, route, pattern string
		values                         map[string]string
		trace                          []string
	}{
		{"GET", "/orgs", "orgs.list", "/orgs", nil, nil},
		{"GET", "/orgs/acme/users/7", "inner.users.get", "/orgs/{org}/users/{id}", map[string]string{"org": "acme", "id": "7"}, nil},
		{"HEAD", "/orgs/acme/users/7", "inner.users.get", "/orgs/{org}/users/{id}", map[string]string{"org": "acme", "id": "7"}, nil},
		{"POST", "/orgs/acme/users", "inner.users.create", "/orgs/{org}/users", map[string]string{"org": "acme"}, nil},
		{"GET", "/orgs/acme/", "inner.root", "/orgs/{org}/", map[string]string{"org": "acme"}, nil},
		{"GET", "/orgs/acme", "inner.root", "/orgs/{org}/", map[string]string{"org": "acme"}, nil},
		{"GET", "/orgs/a%2Fb/users/c%2Fd", "inner.users.get", "/orgs/{org}/users/{id}", map[string]string{"org": "a/b", "id": "c/d"}, nil},
		{"GET", "/orgs/acme/files/x/y%20z", "inner.files", "/orgs/{org}/files/*", map[string]string{"org": "acme", "*": "x/y z"}, nil},
		{"GET", "/a/b/1/c/ada", "deepest", "/a/b/{id}/c/{name}", map[string]string{"id": "1", "name": "ada"}, nil},
		{"GET", "/v1/inner/users/3", "inner.users.get", "/v1/inner/users/{id}", map[string]string{"id": "3"}, []string{"m"}},
		// A Service that is not a Router sees every method and sub-path.
		{"GET", "/static", "static", "/static", nil, nil},
		{"GET", "/static/", "static", "/static/*", nil, nil},
		{"GET", "/static/css/site.css", "static", "/static/*", map[string]string{"*": "css/site.css"}, nil},
		{"POST", "/static/x", "static", "/static/*", map[string]string{"*": "x"}, nil},
		{"PUT", "/static/x", "static", "/static/*", map[string]string{"*": "x"}, nil},
		{"PATCH", "/static", "static", "/static", nil, nil},
		{"DELETE", "/static/x/y", "static", "/static/*", map[string]string{"*": "x/y"}, nil},
		{"OPTIONS", "/static/x", "static", "/static/*", map[string]string{"*": "x"}, nil},
		{"HEAD", "/static/x", "static", "/static/*", map[string]string{"*": "x"}, nil},
		{"TRACE", "/static/x", "static", "/static/*", map[string]string{"*": "x"}, nil},
		{"CONNECT", "/static/x", "static", "/static/*", map[string]string{"*": "x"}, nil},
	} {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			t.Parallel()
			info := routerInfo(t, svc, c.method, c.target)
			assert.Equal(t, c.route, info.Route)
			assert.Equal(t, c.method, info.Method)
			assert.Equal(t, c.pattern, info.Pattern)
			assert.Equal(t, c.values, info.Values)
			assert.Equal(t, c.trace, info.Trace)
		})
	}

	for _, c := range []struct {
		method, target string
		status         int
		allow          string
		pattern        string // RoutePattern after the Router returns
	}{
		// The inner Router answers for its own paths; the outer Router
		// matched the mount point, the innermost Router that matched.
		{"GET", "/orgs/acme/nope", 404, "", "/orgs/{org}/*"},
		{"DELETE", "/orgs/acme/users/7", 405, "GET, HEAD", "/orgs/{org}/*"},
		{"GET", "/orgs/acme/users", 405, "POST", "/orgs/{org}/*"},
		{"GET", "/a/b/1/c", 404, "", "/a/b/{id}/*"},
		{"GET", "/orgsx", 404, "", ""},
		{"PROPFIND", "/orgs/acme/users/7", 405, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE", ""},
	} {
		t.Run("miss "+c.method+" "+c.target, func(t *testing.T) {
			t.Parallel()
			req := typhon.NewRequest(t.Context(), c.method, c.target, nil)
			rsp := svc(req)
			require.Equal(t, c.status, rsp.StatusCode)
			assert.Equal(t, typhon.CodeForStatus(c.status), typhon.ErrorCode(rsp.Error))
			assert.Equal(t, c.allow, rsp.Header.Get("Allow"))
			assert.Equal(t, c.pattern, typhon.RoutePattern(req))
		})
	}

	t.Run("inner Router alone", func(t *testing.T) {
		t.Parallel()
		// The inner Router still routes requests that do not come
		// through the mount.
		info := routerInfo(t, inner.Serve(), "GET", "/users/5")
		assert.Equal(t, "/users/{id}", info.Pattern)
	})
}

func TestRouterHEAD(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		register func(r *typhon.Router)
		head     string // route answering HEAD
		get      string // route answering GET
		values   map[string]string
	}{
		{"GET answers HEAD", func(r *typhon.Router) {
			r.GET("/x/{id}", routerEcho("get"))
		}, "get", "get", map[string]string{"id": "1"}},
		{"HEAD after GET", func(r *typhon.Router) {
			r.GET("/x/{id}", routerEcho("get"))
			r.HEAD("/x/{id}", routerEcho("head"))
		}, "head", "get", map[string]string{"id": "1"}},
		{"HEAD before GET", func(r *typhon.Router) {
			r.HEAD("/x/{id}", routerEcho("head"))
			r.GET("/x/{id}", routerEcho("get"))
		}, "head", "get", map[string]string{"id": "1"}},
		{"HEAD after GET, other param name", func(r *typhon.Router) {
			r.GET("/x/{id}", routerEcho("get"))
			r.HEAD("/x/{uid}", routerEcho("head"))
		}, "head", "get", map[string]string{"uid": "1"}},
		{"HEAD before GET, other param name", func(r *typhon.Router) {
			r.HEAD("/x/{uid}", routerEcho("head"))
			r.GET("/x/{id}", routerEcho("get"))
		}, "head", "get", map[string]string{"uid": "1"}},
		{"HEAD by Register", func(r *typhon.Router) {
			r.Register("GET", "/x/{id}", routerEcho("get"))
			r.Register("HEAD", "/x/{id}", routerEcho("head"))
		}, "head", "get", map[string]string{"id": "1"}},
		{"HEAD after GET through views", func(r *typhon.Router) {
			r.Route("/x", func(x *typhon.Router) { x.GET("/{id}", routerEcho("get")) })
			r.With(routerTrace("t")).HEAD("/x/{id}", routerEcho("head"))
		}, "head", "get", map[string]string{"id": "1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var r typhon.Router
			c.register(&r)
			svc := r.Serve()
			head := routerInfo(t, svc, "HEAD", "/x/1")
			assert.Equal(t, c.head, head.Route)
			assert.Equal(t, "HEAD", head.Method)
			assert.Equal(t, c.values, head.Values)
			assert.Equal(t, c.get, routerInfo(t, svc, "GET", "/x/1").Route)
			rsp := routerCall(t, svc, "POST", "/x/1")
			assert.Equal(t, http.StatusMethodNotAllowed, rsp.StatusCode)
			assert.Equal(t, "GET, HEAD", rsp.Header.Get("Allow"))
		})
	}
	t.Run("HEAD only", func(t *testing.T) {
		t.Parallel()
		var r typhon.Router
		r.HEAD("/x", routerEcho("head"))
		svc := r.Serve()
		assert.Equal(t, "head", routerInfo(t, svc, "HEAD", "/x").Route)
		rsp := routerCall(t, svc, "GET", "/x")
		assert.Equal(t, http.StatusMethodNotAllowed, rsp.StatusCode)
		assert.Equal(t, "HEAD", rsp.Header.Get("Allow"))
	})
}

func TestRouterAllowOrder(t *testing.T) {
	t.Parallel()
	var r typhon.Router
	// Registered in reverse: Allow still lists them in the standard order.
	for _, m := range []string{"TRACE", "CONNECT", "OPTIONS", "DELETE", "PATCH", "PUT", "POST"} {
		r.Register(m, "/all", routerEcho(m))
	}
	r.HEAD("/all-but-get", routerEcho("head"))
	r.DELETE("/all-but-get", routerEcho("delete"))
	r.POST("/all-but-get", routerEcho("post"))
	r.GET("/all/{id}", routerEcho("get"))
	svc := r.Serve()
	for target, want := range map[string]string{
		"/all":         "POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE",
		"/all-but-get": "HEAD, POST, DELETE",
		"/all/1":       "GET, HEAD",
	} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			rsp := routerCall(t, svc, "PROPFIND", target)
			assert.Equal(t, http.StatusMethodNotAllowed, rsp.StatusCode)
			assert.Equal(t, []string{want}, rsp.Header.Values("Allow"))
		})
	}
	for _, m := range []string{"TRACE", "CONNECT", "OPTIONS", "DELETE", "PATCH", "PUT", "POST"} {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, m, routerInfo(t, svc, m, "/all").Route)
		})
	}
}

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

func TestRouterUnusualRequests(t *testing.T) {
	t.Parallel()
	svc := newRouterFixture().Serve()
	t.Run("zero Request", func(t *testing.T) {
		t.Parallel()
		var rsp typhon.Response
		require.NotPanics(t, func() { rsp = svc(typhon.Request{}) })
		require.NotNil(t, rsp.Response)
		require.Error(t, rsp.Error)
		assert.Equal(t, typhon.ErrorStatus(rsp.Error), rsp.StatusCode)
		assert.Empty(t, typhon.RoutePattern(typhon.Request{}))
	})
	for _, c := range []struct {
		name    string
		req     func() *http.Request
		status  int
		pattern string
	}{
		{"from httptest", func() *http.Request { return httptest.NewRequest("GET", "/users/a%2Fb", nil) }, 200, "/users/{id}"},
		{"HEAD from httptest", func() *http.Request { return httptest.NewRequest("HEAD", "/users/1", nil) }, 200, "/users/{id}"},
		{"miss from httptest", func() *http.Request { return httptest.NewRequest("GET", "/nope", nil) }, 404, ""},
		{"405 from httptest", func() *http.Request { return httptest.NewRequest("POST", "/health", nil) }, 405, ""},
		// An empty Method is not a method the Router routes: 405 on a path.
		{"bare", func() *http.Request { return &http.Request{} }, 200, "/"}, // an empty method is GET, as in net/http
		{"bare GET", func() *http.Request { return &http.Request{Method: "GET"} }, 200, "/"},
		{"empty URL", func() *http.Request { return &http.Request{Method: "GET", URL: &url.URL{}} }, 200, "/"},
		{"opaque URL", func() *http.Request { return &http.Request{Method: "GET", URL: &url.URL{Opaque: "x"}} }, 200, "/"},
		{"asterisk", func() *http.Request { return &http.Request{Method: "OPTIONS", URL: &url.URL{Path: "*"}} }, 404, ""},
		{"relative path", func() *http.Request { return &http.Request{Method: "GET", URL: &url.URL{Path: "health"}} }, 404, ""},
		{"bad RawPath", func() *http.Request {
			return &http.Request{Method: "GET", URL: &url.URL{Path: "/users/a/b", RawPath: "/users/%zz"}}
		}, 404, ""},
		{"raw path with escaped slash", func() *http.Request {
			return &http.Request{Method: "GET", URL: &url.URL{Path: "/users/a/b", RawPath: "/users/a%2Fb"}}
		}, 200, "/users/{id}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var seen string
			outer := svc.Filter(func(req typhon.Request, svc typhon.Service) typhon.Response {
				rsp := svc(req)
				seen = typhon.RoutePattern(req)
				return rsp
			})
			var rsp typhon.Response
			require.NotPanics(t, func() { rsp = outer(typhon.Request{Request: c.req()}) })
			require.NotNil(t, rsp.Response)
			assert.Equal(t, c.status, rsp.StatusCode, "error: %v", rsp.Error)
			if c.status == http.StatusOK {
				var info routeInfo
				require.NoError(t, rsp.Decode(&info))
				assert.Equal(t, c.pattern, info.Pattern)
			}
			// A Request made by hand has no exchange record until the
			// Router makes one: a Filter around the Router that wants
			// RoutePattern passes on a Request from NewRequest (or
			// HTTPHandler), so seen is empty here.
			assert.Empty(t, seen)
		})
	}
}

// routerREST is a realistic REST table of 50 routes: ten resources with
// list, create, get, replace and delete each.
var routerREST = func() []struct{ method, pattern string } {
	var routes []struct{ method, pattern string }
	for _, res := range []string{
		"users", "orgs", "teams", "projects", "repos",
		"issues", "comments", "labels", "milestones", "releases",
	} {
		routes = append(routes,
			struct{ method, pattern string }{"GET", "/v1/" + res},
			struct{ method, pattern string }{"POST", "/v1/" + res},
			struct{ method, pattern string }{"GET", "/v1/" + res + "/{id}"},
			struct{ method, pattern string }{"PUT", "/v1/" + res + "/{id}"},
			struct{ method, pattern string }{"DELETE", "/v1/" + res + "/{id}"},
		)
	}
	return routes
}()

func TestRouterREST(t *testing.T) {
	t.Parallel()
	var r typhon.Router
	for _, rt := range routerREST {
		r.Register(rt.method, rt.pattern, routerEcho(rt.method+" "+rt.pattern))
	}
	svc := r.Serve()
	require.Len(t, routerREST, 50)
	for _, rt := range routerREST {
		t.Run(rt.method+" "+rt.pattern, func(t *testing.T) {
			t.Parallel()
			target := strings.ReplaceAll(rt.pattern, "{id}", "42")
			info := routerInfo(t, svc, rt.method, target)
			assert.Equal(t, rt.method+" "+rt.pattern, info.Route)
			assert.Equal(t, rt.pattern, info.Pattern)
		})
	}
}
