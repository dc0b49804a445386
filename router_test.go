package typhon_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

// TestRouterPathValuesReachHandlers checks that the path values a Router
// keeps with the Request reach an http.Handler served with FromHandler (as
// http.Request.PathValue), survive WithContext and Clone, and that a
// Request's own SetPathValue and the *http.Request's both answer PathValue.
func TestRouterPathValuesReachHandlers(t *testing.T) {
	t.Parallel()
	var r typhon.Router
	r.GET("/orgs/{org}/users/{id}", typhon.FromHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.PathValue("org")+"/"+r.PathValue("id"))
	})))
	var seen []string
	r.GET("/copies/{a}/{b}/{c}", func(req typhon.Request) typhon.Response {
		c := req.Clone(req.Context())
		seen = append(seen, req.WithContext(req.Context()).PathValue("a"), c.PathValue("b"), req.PathValue("c"))
		c.SetPathValue("b", "changed")
		seen = append(seen, req.PathValue("b"), c.PathValue("b"))
		return req.Response("ok")
	})
	svc := r.Serve()

	rsp := routerCall(t, svc, "GET", "/orgs/acme/users/a%20b")
	require.NoError(t, rsp.Error)
	var got []byte
	require.NoError(t, rsp.Decode(&got))
	assert.Equal(t, "acme/a b", string(got))

	rsp = routerCall(t, svc, "GET", "/copies/1/2/3")
	require.NoError(t, rsp.Error)
	rsp.Body.Close()
	assert.Equal(t, []string{"1", "2", "3", "2", "changed"}, seen)

	// Outside a Router: the Request's own values, then the *http.Request's.
	req := typhon.NewRequest(t.Context(), "GET", "http://svc/", nil)
	assert.Empty(t, req.PathValue("x"))
	req.Request.SetPathValue("x", "from http")
	assert.Equal(t, "from http", req.PathValue("x"))
	req.SetPathValue("x", "own")
	req.SetPathValue("x", "own again")
	assert.Equal(t, "own again", req.PathValue("x"))
	assert.Empty(t, typhon.Request{}.PathValue("x"))
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
