package typhon_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

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
