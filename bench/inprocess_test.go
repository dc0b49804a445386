package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/monzo/terrors"
	monzo "github.com/monzo/typhon"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/bench/servers"
	"github.com/typhon-go/typhon/filters"
)

// BenchmarkHandler serves GET /users/42 in memory through each toolkit's
// http.Handler (typhon's HTTPHandler, monzo's HttpHandler): routing, the
// Service, the JSON answer, the bridge to net/http. The ResponseWriter keeps
// nothing; each call gets a fresh shallow copy of one *http.Request.
func BenchmarkHandler(b *testing.B) {
	handlers := map[string]http.Handler{
		"nethttp":      servers.NetHTTPHandler(),
		"chi":          servers.ChiHandler(),
		"typhon-bare":  typhon.HTTPHandler(servers.TyphonService(false)),
		"typhon-stack": typhon.HTTPHandler(servers.TyphonService(true)),
		"monzo":        monzo.HttpHandler(servers.MonzoService()),
	}
	for _, impl := range servers.Impls {
		h := handlers[impl]
		b.Run("impl="+impl, func(b *testing.B) {
			base, _ := http.NewRequest(http.MethodGet, "http://svc/users/42", nil)
			w := newDiscardWriter()
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				h.ServeHTTP(w, freshRequest(base))
			}
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		})
	}
}

// BenchmarkService calls the Service directly, with no bridge to net/http:
// a new Request, the Router, the JSON answer, the body read and closed.
func BenchmarkService(b *testing.B) {
	ctx := context.Background()
	for _, impl := range []string{"typhon-bare", "typhon-stack"} {
		svc := servers.TyphonService(impl == "typhon-stack")
		b.Run("impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rsp := svc(typhon.NewRequest(ctx, http.MethodGet, "http://svc/users/42", nil))
				if rsp.Error != nil {
					b.Fatal(rsp.Error)
				}
				_, _ = io.Copy(io.Discard, rsp.Body)
				rsp.Body.Close()
			}
		})
	}
	msvc := servers.MonzoService()
	b.Run("impl=monzo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rsp := msvc(monzo.NewRequest(ctx, http.MethodGet, "http://svc/users/42", nil))
			if rsp.Error != nil {
				b.Fatal(rsp.Error)
			}
			_, _ = io.Copy(io.Discard, rsp.Body)
			rsp.Body.Close()
		}
	})
}

// routerCase is one request of BenchmarkRouter.
type routerCase struct {
	name, method, path string
	status             int
	rest               bool // against the 50-route table
}

var routerCases = []routerCase{
	{name: "hit", method: "GET", path: "/health", status: 200},
	{name: "2_params", method: "GET", path: "/orgs/acme/users/42", status: 200},
	{name: "miss", method: "GET", path: "/nope/nothing", status: 404},
	{name: "50_routes", method: "GET", path: "/v1/res5/42", status: 200, rest: true},
}

// fixtureRoutes is a small service's table; restRoutes 50 routes of a REST
// API: ten resources of five routes each. Patterns are written with {name};
// monzo's router spells them :name.
var fixtureRoutes = [][2]string{
	{"GET", "/health"}, {"GET", "/users"}, {"POST", "/users"}, {"GET", "/users/{id}"},
	{"DELETE", "/users/{id}"}, {"GET", "/orgs/{org}/users/{id}"},
}

var restRoutes = func() [][2]string {
	var rs [][2]string
	for i := range 10 {
		p := fmt.Sprintf("/v1/res%d", i)
		rs = append(rs, [2]string{"GET", p}, [2]string{"POST", p}, [2]string{"GET", p + "/{id}"},
			[2]string{"PUT", p + "/{id}"}, [2]string{"DELETE", p + "/{id}"})
	}
	return rs
}()

func monzoPattern(p string) string {
	p = strings.ReplaceAll(p, "{", ":")
	return strings.ReplaceAll(p, "}", "")
}

// BenchmarkRouter routes one request to a route that answers 200 with no
// body: each toolkit's router, with its own 404 for a miss. net/http and chi
// write to a ResponseWriter that keeps nothing; typhon and monzo return a
// new Response. The 50_routes case hits a parameter route in the middle of
// the table.
func BenchmarkRouter(b *testing.B) {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	tok := func(req typhon.Request) typhon.Response { return typhon.NewResponse(req) }
	mok := func(req monzo.Request) monzo.Response { return monzo.NewResponse(req) }
	build := func(routes [][2]string) (http.Handler, http.Handler, typhon.Service, monzo.Service) {
		mux, cm := http.NewServeMux(), chi.NewMux()
		var tr typhon.Router
		var mr monzo.Router
		for _, r := range routes {
			mux.HandleFunc(r[0]+" "+r[1], ok)
			cm.MethodFunc(r[0], r[1], ok)
			tr.Register(r[0], r[1], tok)
			mr.Register(r[0], monzoPattern(r[1]), mok)
		}
		return mux, cm, tr.Serve(), mr.Serve()
	}
	fmux, fchi, ftyphon, fmonzo := build(fixtureRoutes)
	rmux, rchi, rtyphon, rmonzo := build(restRoutes)
	ctx := context.Background()
	for _, c := range routerCases {
		mux, cm, ts, ms := fmux, fchi, ftyphon, fmonzo
		if c.rest {
			mux, cm, ts, ms = rmux, rchi, rtyphon, rmonzo
		}
		for _, impl := range []string{"nethttp", "chi"} {
			h := mux
			if impl == "chi" {
				h = cm
			}
			b.Run("case="+c.name+"/impl="+impl, func(b *testing.B) {
				base, _ := http.NewRequest(c.method, "http://svc"+c.path, nil)
				w := newDiscardWriter()
				b.ReportAllocs()
				for b.Loop() {
					w.reset()
					h.ServeHTTP(w, freshRequest(base))
				}
				if w.code != c.status {
					b.Fatalf("status %d, want %d", w.code, c.status)
				}
			})
		}
		b.Run("case="+c.name+"/impl=typhon", func(b *testing.B) {
			req := typhon.NewRequest(ctx, c.method, "http://svc"+c.path, nil)
			var rsp typhon.Response
			b.ReportAllocs()
			for b.Loop() {
				rsp = ts(req.WithContext(ctx))
			}
			if rsp.StatusCode != c.status {
				b.Fatalf("status %d, want %d", rsp.StatusCode, c.status)
			}
		})
		b.Run("case="+c.name+"/impl=monzo", func(b *testing.B) {
			req := monzo.NewRequest(ctx, c.method, "http://svc"+c.path, nil)
			var rsp monzo.Response
			b.ReportAllocs()
			for b.Loop() {
				rsp = ms(req)
			}
			if rsp.Error != nil && c.status == 200 || rsp.Error == nil && c.status != 200 {
				b.Fatalf("error %v, want status %d", rsp.Error, c.status)
			}
		})
	}
}

// BenchmarkFilter calls a Service that answers a small body through each of
// typhon's filters with its defaults, on a call that passes (a new outbound
// Request each time; the body is closed). filter=none is the Service alone;
// the difference is the filter's cost. Trace and Metrics have no-op
// providers, Log a discarding handler.
func BenchmarkFilter(b *testing.B) {
	body := []byte(`{"id":"42","name":"Ada Lovelace","email":"ada@example.com"}`)
	svc := typhon.Service(func(req typhon.Request) typhon.Response { return req.Response(body) })
	discard := filters.WithLogger(slog.New(slog.DiscardHandler))
	never := func(typhon.Request) bool { return false }
	cases := []struct {
		name string
		svc  typhon.Service
	}{
		{"none", svc},
		{"Timeout", svc.Filter(filters.Timeout(time.Minute))},
		{"Deadline", svc.Filter(filters.Deadline(time.Minute))},
		{"Retry", svc.Filter(filters.Retry())},
		{"Hedge", svc.Filter(filters.Hedge())},
		{"CircuitBreaker", svc.Filter(filters.CircuitBreaker())},
		{"ConcurrencyLimit", svc.Filter(filters.ConcurrencyLimit(filters.DefaultServerConcurrency))},
		{"AdaptiveLimit", svc.Filter(filters.AdaptiveLimit())},
		{"RateLimit", svc.Filter(filters.RateLimit(1e9, 1e6))},
		{"AdaptiveThrottle", svc.Filter(filters.AdaptiveThrottle())},
		{"BodyLimit", svc.Filter(filters.BodyLimit(1 << 20))},
		{"Recover", svc.Filter(filters.Recover())},
		{"Trace", svc.Filter(filters.Trace(filters.WithTracerProvider(tracenoop.NewTracerProvider())))},
		{"Metrics", svc.Filter(filters.Metrics(filters.WithMeterProvider(metricnoop.NewMeterProvider())))},
		{"Log", svc.Filter(filters.Log(discard))},
		{"RequestID", svc.Filter(filters.RequestID)},
		{"When", svc.Filter(filters.When(never, filters.Retry()))},
		{"ErrorFilter", svc.Filter(typhon.ErrorFilter)},
		{"ServerStack", filters.ServerStack(svc, filters.WithStackTracing(filters.WithTracerProvider(tracenoop.NewTracerProvider())),
			filters.WithStackMetrics(filters.WithMeterProvider(metricnoop.NewMeterProvider())))},
		{"ClientStack", filters.ClientStack(svc, filters.WithStackTracing(filters.WithTracerProvider(tracenoop.NewTracerProvider())),
			filters.WithStackMetrics(filters.WithMeterProvider(metricnoop.NewMeterProvider())))},
	}
	ctx := context.Background()
	for _, c := range cases {
		b.Run("filter="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rsp := c.svc(typhon.NewRequest(ctx, http.MethodGet, "http://svc/users/42", nil))
				if rsp.Error != nil {
					b.Fatal(rsp.Error)
				}
				rsp.Body.Close()
			}
		})
	}
	// monzo/typhon's one filter of the kind, for comparison with typhon's
	// ErrorFilter.
	mbody := monzo.Service(func(req monzo.Request) monzo.Response {
		rsp := monzo.NewResponse(req)
		_, _ = rsp.Write(body)
		return rsp
	})
	b.Run("filter=ErrorFilter/impl=monzo", func(b *testing.B) {
		msvc := mbody.Filter(monzo.ErrorFilter)
		b.ReportAllocs()
		for b.Loop() {
			rsp := msvc(monzo.NewRequest(ctx, http.MethodGet, "http://svc/users/42", nil))
			if rsp.Error != nil {
				b.Fatal(rsp.Error)
			}
			rsp.Body.Close()
		}
	})
}

var smallJSON = []byte(`{"id":"42","name":"Ada Lovelace","email":"ada@example.com"}`)

// BenchmarkJSON decodes a small JSON request body into a struct
// (op=decode: the request made, its body decoded) and encodes one as a
// response body (op=encode), each toolkit its usual way: net/http with
// encoding/json over the body and ResponseWriter.
func BenchmarkJSON(b *testing.B) {
	ctx := context.Background()
	const url = "http://svc/users"
	b.Run("op=decode/impl=nethttp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(smallJSON))
			var u servers.User
			if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=decode/impl=typhon", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := typhon.NewRequest(ctx, http.MethodPost, url, smallJSON)
			var u servers.User
			if err := req.Decode(&u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=decode/impl=monzo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := monzo.NewRequest(ctx, http.MethodPost, url, nil)
			_, _ = req.Write(smallJSON)
			var u servers.User
			if err := req.Decode(&u); err != nil {
				b.Fatal(err)
			}
		}
	})
	u := servers.NewUser("42")
	b.Run("op=encode/impl=nethttp", func(b *testing.B) {
		w := newDiscardWriter()
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			w.Header().Set("Content-Type", "application/json")
			if err := json.NewEncoder(w).Encode(u); err != nil {
				b.Fatal(err)
			}
		}
	})
	treq := typhon.NewRequest(ctx, http.MethodGet, url, nil)
	b.Run("op=encode/impl=typhon", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rsp := treq.Response(u); rsp.Error != nil {
				b.Fatal(rsp.Error)
			}
		}
	})
	mreq := monzo.NewRequest(ctx, http.MethodGet, url, nil)
	b.Run("op=encode/impl=monzo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rsp := mreq.Response(u); rsp.Error != nil {
				b.Fatal(rsp.Error)
			}
		}
	})
}

// netError is the error body a net/http service would write by hand.
type netError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Params  map[string]string `json:"params,omitempty"`
}

// BenchmarkError encodes a not_found error with one parameter into a
// response (op=encode) and decodes one from a response (op=decode), as
// each toolkit puts errors on the wire: typhon RFC 9457 problem+json with
// ErrorFilter, monzo terrors JSON with its ErrorFilter, net/http a JSON
// struct by hand.
func BenchmarkError(b *testing.B) {
	ctx := context.Background()
	const url = "http://svc/users/42"
	b.Run("op=encode/impl=nethttp", func(b *testing.B) {
		w := newDiscardWriter()
		e := netError{Code: "not_found.user", Message: "no such user", Params: map[string]string{"id": "42"}}
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			if err := json.NewEncoder(w).Encode(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=encode/impl=typhon", func(b *testing.B) {
		e := typhon.NewError("not_found.user", "no such user").WithParams("id", "42")
		svc := typhon.Service(func(req typhon.Request) typhon.Response { return typhon.ErrorResponse(req, e) }).Filter(typhon.ErrorFilter)
		req := typhon.NewRequest(ctx, http.MethodGet, url, nil)
		b.ReportAllocs()
		for b.Loop() {
			rsp := svc(req)
			if rsp.StatusCode != http.StatusNotFound {
				b.Fatal(rsp.StatusCode)
			}
			rsp.Body.Close()
		}
	})
	b.Run("op=encode/impl=monzo", func(b *testing.B) {
		svc := monzo.Service(func(req monzo.Request) monzo.Response {
			rsp := monzo.NewResponse(req)
			rsp.Error = terrors.NotFound("user", "no such user", map[string]string{"id": "42"})
			return rsp
		}).Filter(monzo.ErrorFilter)
		req := monzo.NewRequest(ctx, http.MethodGet, url, nil)
		b.ReportAllocs()
		for b.Loop() {
			rsp := svc(req)
			if rsp.StatusCode != http.StatusNotFound {
				b.Fatal(rsp.StatusCode)
			}
			rsp.Body.Close()
		}
	})

	// The bodies each toolkit's server writes, captured once.
	capture := func(h http.Handler) (http.Header, []byte) {
		w := &captureWriter{h: make(http.Header)}
		r, _ := http.NewRequest(http.MethodGet, url, nil)
		h.ServeHTTP(w, r)
		return w.h, w.body.Bytes()
	}
	b.Run("op=decode/impl=nethttp", func(b *testing.B) {
		body, _ := json.Marshal(netError{Code: "not_found.user", Message: "no such user", Params: map[string]string{"id": "42"}})
		b.ReportAllocs()
		for b.Loop() {
			rsp := &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
			var e netError
			if err := json.NewDecoder(rsp.Body).Decode(&e); err != nil || e.Code != "not_found.user" {
				b.Fatal(err, e)
			}
			rsp.Body.Close()
		}
	})
	b.Run("op=decode/impl=typhon", func(b *testing.B) {
		e := typhon.NewError("not_found.user", "no such user").WithParams("id", "42")
		hdr, body := capture(typhon.HTTPHandler(func(req typhon.Request) typhon.Response { return typhon.ErrorResponse(req, e) }))
		// The wire's answer, turned back into an *Error as the client does.
		svc := typhon.Service(func(req typhon.Request) typhon.Response {
			rsp := typhon.NewResponse(req)
			rsp.StatusCode = http.StatusNotFound
			rsp.Header = hdr.Clone()
			_ = rsp.Encode(body)
			return rsp
		}).Filter(typhon.ErrorFilter)
		req := typhon.NewRequest(ctx, http.MethodGet, url, nil)
		b.ReportAllocs()
		for b.Loop() {
			rsp := svc(req)
			if !typhon.IsCode(rsp.Error, "not_found.user") {
				b.Fatal(rsp.Error)
			}
			rsp.Body.Close()
		}
	})
	b.Run("op=decode/impl=monzo", func(b *testing.B) {
		hdr, body := capture(monzo.HttpHandler(monzo.Service(func(req monzo.Request) monzo.Response {
			rsp := monzo.NewResponse(req)
			rsp.Error = terrors.NotFound("user", "no such user", map[string]string{"id": "42"})
			return rsp
		}).Filter(monzo.ErrorFilter)))
		svc := monzo.Service(func(req monzo.Request) monzo.Response {
			rsp := monzo.NewResponse(req)
			rsp.StatusCode = http.StatusNotFound
			rsp.Header = hdr.Clone()
			_, _ = rsp.Write(body)
			return rsp
		}).Filter(monzo.ErrorFilter)
		req := monzo.NewRequest(ctx, http.MethodGet, url, nil)
		b.ReportAllocs()
		for b.Loop() {
			rsp := svc(req)
			if rsp.Error == nil || !strings.HasPrefix(rsp.Error.(*terrors.Error).Code, "not_found") {
				b.Fatal(rsp.Error)
			}
			rsp.Body.Close()
		}
	})
}

type captureWriter struct {
	h    http.Header
	body bytes.Buffer
}

func (w *captureWriter) Header() http.Header         { return w.h }
func (w *captureWriter) Write(p []byte) (int, error) { return w.body.Write(p) }
func (w *captureWriter) WriteHeader(int)             {}

// BenchmarkServerFilter serves a request in memory through HTTPHandler with
// each filter of filters.ServerStack, with its defaults (the global, unset
// OpenTelemetry providers, as a service that sets none has), around a
// Service that answers a small JSON body: the server side of each filter,
// which BenchmarkFilter's outbound calls do not show. filter=none is the
// Service alone.
func BenchmarkServerFilter(b *testing.B) {
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		rsp := req.Response(smallJSON)
		rsp.Header.Set("Content-Type", "application/json")
		return rsp
	})
	cases := []struct {
		name string
		svc  typhon.Service
	}{
		{"none", svc},
		{"RequestID", svc.Filter(filters.RequestID)},
		{"Trace", svc.Filter(filters.Trace())},
		{"Metrics", svc.Filter(filters.Metrics())},
		{"Recover", svc.Filter(filters.Recover())},
		{"ConcurrencyLimit", svc.Filter(filters.ConcurrencyLimit(filters.DefaultServerConcurrency))},
		{"ServerStack", filters.ServerStack(svc)},
	}
	for _, c := range cases {
		h := typhon.HTTPHandler(c.svc)
		b.Run("filter="+c.name, func(b *testing.B) {
			base, _ := http.NewRequest(http.MethodGet, "http://svc/users/42", nil)
			base.Header.Set("User-Agent", "bench")
			w := newDiscardWriter()
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				h.ServeHTTP(w, freshRequest(base))
			}
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		})
	}
}
