package typhon_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

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
