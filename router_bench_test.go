package typhon_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/typhon-go/typhon"
)

// routerBenchOK answers as a real route does: with a new Response.
func routerBenchOK(req typhon.Request) typhon.Response { return typhon.NewResponse(req) }

// routerBenchCase is one benchmarked request.
type routerBenchCase struct {
	name           string
	method, target string
	status         int
	rest           bool // against the 50-route REST table, not the fixture
}

var routerBenchCases = []routerBenchCase{
	{name: "hit_static", method: "GET", target: "/health", status: 200},
	{name: "hit_2_params", method: "GET", target: "/orgs/acme/users/42", status: 200},
	{name: "miss_404", method: "GET", target: "/nope/nothing", status: 404},
	{name: "method_405", method: "POST", target: "/health", status: 405},
	{name: "rest_50_last", method: "DELETE", target: "/v1/releases/42", status: 200, rest: true},
}

// BenchmarkRouter serves each case through a Router. Each call gets a fresh
// *http.Request (a WithContext copy, as a server would hand over a new one),
// so path values are set on a new request every time; baseline is that copy
// and the Response of a route, without a Router.
func BenchmarkRouter(b *testing.B) {
	var fixture, rest typhon.Router
	for _, rt := range routerFixtureRoutes {
		fixture.Register(rt.method, rt.pattern, routerBenchOK)
	}
	for _, rt := range routerREST {
		rest.Register(rt.method, rt.pattern, routerBenchOK)
	}
	cases := append([]routerBenchCase{{name: "baseline", method: "GET", target: "/health", status: 200}}, routerBenchCases...)
	for _, c := range cases {
		svc := fixture.Serve()
		switch {
		case c.name == "baseline":
			svc = routerBenchOK
		case c.rest:
			svc = rest.Serve()
		}
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			req := typhon.NewRequest(ctx, c.method, c.target, nil)
			if rsp := svc(req.WithContext(ctx)); rsp.StatusCode != c.status {
				b.Fatalf("%s %s: %d, want %d", c.method, c.target, rsp.StatusCode, c.status)
			}
			b.ReportAllocs()
			for b.Loop() {
				svc(req.WithContext(ctx))
			}
		})
	}
}

// BenchmarkChi serves the same cases through a plain chi.Mux, for
// comparison; baseline is the recorder and the handler without a Mux.
func BenchmarkChi(b *testing.B) {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	fixture, rest := chi.NewMux(), chi.NewMux()
	for _, rt := range routerFixtureRoutes {
		fixture.MethodFunc(rt.method, rt.pattern, ok)
	}
	for _, rt := range routerREST {
		rest.MethodFunc(rt.method, rt.pattern, ok)
	}
	cases := append([]routerBenchCase{{name: "baseline", method: "GET", target: "/health", status: 200}}, routerBenchCases...)
	for _, c := range cases {
		var h http.Handler = fixture
		switch {
		case c.name == "baseline":
			h = http.HandlerFunc(ok)
		case c.rest:
			h = rest
		}
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(c.method, c.target, nil)
			rec := httptest.NewRecorder()
			if h.ServeHTTP(rec, req); rec.Code != c.status {
				b.Fatalf("%s %s: %d, want %d", c.method, c.target, rec.Code, c.status)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
