package typhon_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/typhon-go/typhon"
)

// FuzzRouter serves random methods and paths with the fixture Router (and
// a Router mounted in it): serving never panics, the status is one the
// Router gives, and RoutePattern is "" or a pattern that was registered.
func FuzzRouter(f *testing.F) {
	for _, c := range routerCases {
		f.Add(c.method, c.target)
	}
	f.Add("GET", "/mounted/acme/users/1")
	f.Add("GET", "/mounted/a%2Fb/users/%2541")
	f.Add("POST", "/mounted/acme")

	r := newRouterFixture()
	inner := &typhon.Router{}
	inner.GET("/users/{id}", routerEcho("inner"))
	r.Mount("/mounted/{org}", inner.Serve())
	svc := r.Serve()

	patterns := []string{"", "/mounted/{org}", "/mounted/{org}/*", "/mounted/{org}/users/{id}"}
	for _, rt := range routerFixtureRoutes {
		patterns = append(patterns, rt.pattern)
	}

	// check serves req; byHand is a Request made without NewRequest, whose
	// exchange record the Router makes for the copies it hands on only.
	check := func(t *testing.T, req typhon.Request, byHand bool) {
		rsp := svc(req)
		if rsp.Response == nil {
			t.Fatalf("%s %q: nil *http.Response", req.Method, req.URL)
		}
		pattern := typhon.RoutePattern(req)
		if byHand && pattern != "" {
			t.Fatalf("%s %q: RoutePattern %q on a Request made by hand", req.Method, req.URL, pattern)
		}
		if !slices.Contains(patterns, pattern) {
			t.Fatalf("%s %q: RoutePattern %q was never registered", req.Method, req.URL, pattern)
		}
		switch rsp.StatusCode {
		case http.StatusOK:
			if rsp.Error != nil || (pattern == "" && !byHand) {
				t.Fatalf("%s %q: 200 with error %v, pattern %q", req.Method, req.URL, rsp.Error, pattern)
			}
			var info routeInfo
			if err := rsp.Decode(&info); err != nil {
				t.Fatalf("%s %q: %v", req.Method, req.URL, err)
			}
			if !slices.Contains(patterns[1:], info.Pattern) || (!byHand && info.Pattern != pattern) {
				t.Fatalf("%s %q: pattern %q inside, %q outside", req.Method, req.URL, info.Pattern, pattern)
			}
		case http.StatusNotFound:
			if typhon.ErrorCode(rsp.Error) != typhon.CodeNotFound {
				t.Fatalf("%s %q: 404 with %v", req.Method, req.URL, rsp.Error)
			}
		case http.StatusMethodNotAllowed:
			allow := rsp.Header.Get("Allow")
			if typhon.ErrorCode(rsp.Error) != typhon.CodeMethodNotAllowed || allow == "" {
				t.Fatalf("%s %q: 405 with %v, Allow %q", req.Method, req.URL, rsp.Error, allow)
			}
			for _, m := range strings.Split(allow, ", ") {
				if m == req.Method {
					t.Fatalf("%s %q: 405 with Allow %q", req.Method, req.URL, allow)
				}
			}
		default:
			t.Fatalf("%s %q: status %d, error %v", req.Method, req.URL, rsp.StatusCode, rsp.Error)
		}
	}

	f.Fuzz(func(t *testing.T, method, target string) {
		// As NewRequest builds it (a bad URL gives a placeholder)...
		check(t, typhon.NewRequest(context.Background(), method, target, nil), false)
		// ...and by hand, with any bytes as the raw path.
		u := &url.URL{Path: target, RawPath: target}
		if p, err := url.PathUnescape(target); err == nil {
			u.Path = p
		}
		check(t, typhon.Request{Request: &http.Request{Method: method, URL: u, Header: http.Header{}}}, true)
	})
}
