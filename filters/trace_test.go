package filters_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// traceRecorder is an SDK TracerProvider that keeps every span it ends in
// an in-memory exporter, and tells when one has ended.
type traceRecorder struct {
	*sdktrace.TracerProvider
	exp   *tracetest.InMemoryExporter
	ended chan struct{}
}

func traceNewRecorder(t testing.TB, opts ...sdktrace.TracerProviderOption) *traceRecorder {
	r := &traceRecorder{exp: tracetest.NewInMemoryExporter(), ended: make(chan struct{}, 1)}
	opts = append([]sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSyncer(r.exp),
		sdktrace.WithSpanProcessor(traceEndSignal(r.ended)), // after the syncer: the span is stored
	}, opts...)
	r.TracerProvider = sdktrace.NewTracerProvider(opts...)
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return r
}

// spans returns the spans ended so far, in the order they ended.
func (r *traceRecorder) spans() tracetest.SpanStubs { return r.exp.GetSpans() }

// wait returns the spans once n have ended, failing the test if they take
// more than 10 s: spans of servers end on the servers' goroutines, after the
// client may have its answer.
func (r *traceRecorder) wait(t testing.TB, n int) tracetest.SpanStubs {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		spans := r.spans()
		if len(spans) >= n {
			return spans
		}
		select {
		case <-r.ended:
		case <-timeout.C:
			t.Fatalf("%d spans ended, want %d: %v", len(spans), n, traceNames(spans))
		}
	}
}

// traceEndSignal is a SpanProcessor that signals each span's end.
type traceEndSignal chan struct{}

func (s traceEndSignal) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (s traceEndSignal) OnEnd(sdktrace.ReadOnlySpan) {
	select {
	case s <- struct{}{}:
	default:
	}
}
func (s traceEndSignal) Shutdown(context.Context) error   { return nil }
func (s traceEndSignal) ForceFlush(context.Context) error { return nil }

func traceNames(spans tracetest.SpanStubs) []string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name
	}
	return names
}

// traceAttrs returns a span's attributes by key.
func traceAttrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(s.Attributes))
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// traceFind returns the one span named name.
func traceFind(t testing.TB, spans tracetest.SpanStubs, name string, kind trace.SpanKind) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name && s.SpanKind == kind {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %q of kind %v among %v", name, kind, traceNames(spans))
	return found[0]
}

// traceServeHTTP serves r with svc in process, as a server would: the
// Service sees an inbound Request.
func traceServeHTTP(svc typhon.Service, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	typhon.HTTPHandler(svc).ServeHTTP(rec, r)
	return rec
}

// traceInbound returns a Request as a server's Service receives it, to call
// a Filter with directly.
func traceInbound(t testing.TB, method, target string, header http.Header) typhon.Request {
	t.Helper()
	var got typhon.Request
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	traceServeHTTP(func(req typhon.Request) typhon.Response {
		got = req
		return req.Response(nil)
	}, r)
	require.True(t, typhon.Inbound(got))
	return got
}

// traceUsers is a Router with the routes the tests trace.
func traceUsers() *typhon.Router {
	var r typhon.Router
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		switch req.PathValue("id") {
		case "missing":
			return typhon.ErrorResponse(req, typhon.NewError("not_found.user", "no such user"))
		case "down":
			return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeUnavailable, "database down"))
		}
		return req.Response(map[string]string{"id": req.PathValue("id")})
	})
	return &r
}

const (
	traceParentID  = "b7ad6b7169203331"
	traceTraceID   = "0af7651916cd43dd8448eb211c80319c"
	traceParentHdr = "00-" + traceTraceID + "-" + traceParentID + "-01"
)

func TestTraceServerSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, target string
		wantName             string
		wantRoute            string // "": no http.route
		wantStatus           int
		wantErrorType        string
		wantSpanStatus       codes.Code
	}{
		{"route", "GET", "/users/42", "GET /users/{id}", "/users/{id}", 200, "", codes.Unset},
		{"unmatched path", "GET", "/orders/42", "GET", "", 404, "not_found", codes.Unset},
		{"4xx is the caller's", "GET", "/users/missing", "GET /users/{id}", "/users/{id}", 404, "not_found.user", codes.Unset},
		{"5xx is an error", "GET", "/users/down", "GET /users/{id}", "/users/{id}", 503, "unavailable", codes.Error},
		{"HEAD", "HEAD", "/users/42", "HEAD /users/{id}", "/users/{id}", 200, "", codes.Unset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := traceNewRecorder(t)
			svc := traceUsers().Serve().Filter(filters.Trace(filters.WithTracerProvider(rec)))
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.Header.Set("Traceparent", traceParentHdr)
			r.Header.Set("User-Agent", "trace-test/1")
			got := traceServeHTTP(svc, r)
			require.Equal(t, tt.wantStatus, got.Code)

			spans := rec.wait(t, 1)
			require.Len(t, spans, 1)
			s := spans[0]
			assert.Equal(t, tt.wantName, s.Name)
			assert.Equal(t, trace.SpanKindServer, s.SpanKind)
			assert.Equal(t, traceTraceID, s.SpanContext.TraceID().String())
			assert.Equal(t, traceParentID, s.Parent.SpanID().String())
			assert.True(t, s.Parent.IsRemote())
			assert.Equal(t, tt.wantSpanStatus, s.Status.Code)

			a := traceAttrs(s)
			assert.Equal(t, tt.method, a["http.request.method"].AsString())
			assert.Equal(t, int64(tt.wantStatus), a["http.response.status_code"].AsInt64())
			assert.Equal(t, tt.target, a["url.path"].AsString())
			assert.Equal(t, "http", a["url.scheme"].AsString())
			assert.Equal(t, "example.com", a["server.address"].AsString())
			assert.Equal(t, int64(80), a["server.port"].AsInt64())
			assert.Equal(t, "1.1", a["network.protocol.version"].AsString())
			assert.Equal(t, "192.0.2.1", a["client.address"].AsString())
			assert.Equal(t, "trace-test/1", a["user_agent.original"].AsString())
			assert.Equal(t, tt.wantRoute, a["http.route"].AsString())
			assert.Equal(t, tt.wantErrorType, a["error.type"].AsString())
		})
	}
}

func TestTraceUnknownMethod(t *testing.T) {
	t.Parallel()
	rec := traceNewRecorder(t)
	svc := traceUsers().Serve().Filter(filters.Trace(filters.WithTracerProvider(rec)))
	traceServeHTTP(svc, httptest.NewRequest("BREW", "/users/42", nil))
	s := rec.wait(t, 1)[0]
	assert.Contains(t, []string{"HTTP", "HTTP /users/{id}"}, s.Name)
	a := traceAttrs(s)
	assert.Equal(t, "_OTHER", a["http.request.method"].AsString())
	assert.Equal(t, "BREW", a["http.request.method_original"].AsString())
}

// The Service runs with the server span and the caller's baggage in its
// context, so what it calls is a child.
func TestTraceServerContext(t *testing.T) {
	t.Parallel()
	rec := traceNewRecorder(t)
	var inside trace.SpanContext
	var user string
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		inside = trace.SpanContextFromContext(req.Context())
		user = baggage.FromContext(req.Context()).Member("user").Value()
		return req.Response(nil)
	}).Filter(filters.Trace(filters.WithTracerProvider(rec)))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Traceparent", traceParentHdr)
	r.Header.Set("Baggage", "user=alice")
	traceServeHTTP(svc, r)
	s := rec.wait(t, 1)[0]
	assert.Equal(t, s.SpanContext.SpanID(), inside.SpanID())
	assert.Equal(t, "alice", user)
}

func TestTraceClientSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		answer        func(req typhon.Request) typhon.Response
		wantErrorType string
		wantStatus    int64 // 0: no http.response.status_code
	}{
		{"success", func(req typhon.Request) typhon.Response { return req.Response("ok") }, "", 200},
		{"error answered in process", func(req typhon.Request) typhon.Response {
			return typhon.ErrorResponse(req, typhon.NewError("not_found.user", "no such user"))
		}, "not_found.user", 0},
		{"transport error", func(req typhon.Request) typhon.Response {
			return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "connection refused")}
		}, "unavailable", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := traceNewRecorder(t)
			var sent http.Header
			backend := typhon.Service(func(req typhon.Request) typhon.Response {
				sent = req.Header.Clone()
				return tt.answer(req)
			})
			client := backend.Filter(filters.Trace(filters.WithTracerProvider(rec)))

			ctx, parent := rec.Tracer("test").Start(t.Context(), "parent")
			member, err := baggage.NewMember("user", "alice")
			require.NoError(t, err)
			bag, err := baggage.New(member)
			require.NoError(t, err)
			ctx = baggage.ContextWithBaggage(ctx, bag)
			rsp := client(typhon.NewRequest(ctx, "GET", "http://bob:secret@users.internal:8080/users/1?Signature=abc&page=2", nil))
			if rsp.Body != nil {
				rsp.Body.Close()
			}
			parent.End()

			s := traceFind(t, rec.wait(t, 2), "GET", trace.SpanKindClient)
			assert.Equal(t, parent.SpanContext().SpanID(), s.Parent.SpanID())
			assert.Equal(t, parent.SpanContext().TraceID(), s.SpanContext.TraceID())
			assert.Equal(t, "00-"+s.SpanContext.TraceID().String()+"-"+s.SpanContext.SpanID().String()+"-01", sent.Get("Traceparent"))
			assert.Equal(t, "user=alice", sent.Get("Baggage"))

			a := traceAttrs(s)
			assert.Equal(t, "GET", a["http.request.method"].AsString())
			assert.Equal(t, "http://REDACTED:REDACTED@users.internal:8080/users/1?Signature=REDACTED&page=2", a["url.full"].AsString())
			assert.Equal(t, "users.internal", a["server.address"].AsString())
			assert.Equal(t, int64(8080), a["server.port"].AsInt64())
			assert.Equal(t, tt.wantStatus, a["http.response.status_code"].AsInt64())
			assert.Equal(t, tt.wantErrorType, a["error.type"].AsString())
			if tt.wantErrorType != "" {
				assert.Equal(t, codes.Error, s.Status.Code)
			} else {
				assert.Equal(t, codes.Unset, s.Status.Code)
			}
		})
	}
}

// A span ends when the Response body is done, not when the Service
// returns: a streamed answer is timed to its end.
func TestTraceSpanEndsWithBody(t *testing.T) {
	t.Parallel()
	for _, inbound := range []bool{false, true} {
		name := map[bool]string{false: "client", true: "server"}[inbound]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := traceNewRecorder(t)
			pr, pw := io.Pipe()
			streaming := typhon.Service(func(req typhon.Request) typhon.Response {
				rsp := req.Response(nil)
				rsp.Body = pr
				return rsp
			})
			req := typhon.NewRequest(t.Context(), "GET", "http://streams.internal/", nil)
			if inbound {
				req = traceInbound(t, "GET", "/", nil)
			}
			rsp := filters.Trace(filters.WithTracerProvider(rec))(req, streaming)
			go func() {
				_, _ = pw.Write([]byte("chunk"))
				pw.Close()
			}()
			b, err := io.ReadAll(rsp.Body) // not yet EOF: no span
			require.NoError(t, err)
			assert.Equal(t, "chunk", string(b))
			rsp.Body.Close()
			assert.Len(t, rec.wait(t, 1), 1)
		})
	}
	t.Run("not before", func(t *testing.T) {
		t.Parallel()
		rec := traceNewRecorder(t)
		pr, pw := io.Pipe()
		rsp := filters.Trace(filters.WithTracerProvider(rec))(
			typhon.NewRequest(t.Context(), "GET", "http://streams.internal/", nil),
			func(req typhon.Request) typhon.Response {
				rsp := req.Response(nil)
				rsp.Body = pr
				return rsp
			})
		assert.Empty(t, rec.spans(), "span ended before the body")
		pw.Close()
		rsp.Body.Close()
		assert.Len(t, rec.spans(), 1)
	})
}

func TestTracePanicEndsSpan(t *testing.T) {
	t.Parallel()
	rec := traceNewRecorder(t)
	f := filters.Trace(filters.WithTracerProvider(rec))
	assert.Panics(t, func() {
		f(typhon.NewRequest(t.Context(), "GET", "http://a.internal/", nil), func(typhon.Request) typhon.Response { panic("boom") })
	})
	s := rec.wait(t, 1)[0]
	assert.Equal(t, codes.Error, s.Status.Code)
}

// traceAttempts is a backend that fails its first fails calls with
// unavailable and records the traceparent of each call.
type traceAttempts struct {
	mu      sync.Mutex
	fails   int
	parents []string
}

func (b *traceAttempts) serve(req typhon.Request) typhon.Response {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.parents = append(b.parents, req.Header.Get("Traceparent"))
	if len(b.parents) <= b.fails {
		return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeUnavailable, "busy"))
	}
	return req.Response("ok")
}

// With a Trace outside Retry and one inside, a call is one logical client
// span whose children are its attempts, each the parent of what it sent.
func TestTraceRetryAttempts(t *testing.T) {
	t.Parallel()
	rec := traceNewRecorder(t)
	backend := &traceAttempts{fails: 2}
	tp := filters.WithTracerProvider(rec)
	client := typhon.Service(backend.serve).
		Filter(filters.Trace(tp)).
		Filter(filters.Retry(filters.WithBackoff(0, 0))).
		Filter(filters.Trace(tp))
	rsp := client(typhon.NewRequest(t.Context(), "GET", "http://users.internal/users/1", nil))
	require.NoError(t, rsp.Error)
	rsp.Body.Close()

	spans := rec.wait(t, 4)
	require.Len(t, spans, 4)
	logical := spans[3] // ends last
	assert.False(t, logical.Parent.IsValid(), "the logical span is a root")
	assert.Equal(t, codes.Unset, logical.Status.Code)
	assert.NotContains(t, traceAttrs(logical), attribute.Key("http.request.resend_count"))
	for i, attempt := range spans[:3] {
		assert.Equal(t, "GET", attempt.Name)
		assert.Equal(t, trace.SpanKindClient, attempt.SpanKind)
		assert.Equal(t, logical.SpanContext.SpanID(), attempt.Parent.SpanID(), "attempt %d", i)
		assert.Equal(t, logical.SpanContext.TraceID(), attempt.SpanContext.TraceID())
		resend, ok := traceAttrs(attempt)["http.request.resend_count"]
		assert.Equal(t, i > 0, ok, "attempt %d", i)
		assert.Equal(t, int64(i), resend.AsInt64(), "attempt %d", i)
		assert.Contains(t, backend.parents[i], attempt.SpanContext.SpanID().String(), "attempt %d sent its own context", i)
	}
	assert.Equal(t, codes.Error, spans[0].Status.Code)
	assert.Equal(t, codes.Unset, spans[2].Status.Code)
}

func TestTraceHedgeAttempts(t *testing.T) {
	t.Parallel()
	rec := traceNewRecorder(t)
	tp := filters.WithTracerProvider(rec)
	var calls atomic.Int32
	both := make(chan struct{})
	backend := typhon.Service(func(req typhon.Request) typhon.Response {
		if calls.Add(1) == 2 {
			close(both)
		}
		select { // both attempts are in flight before either answers
		case <-both:
		case <-req.Context().Done():
		}
		return req.Response("ok")
	})
	client := backend.
		Filter(filters.Trace(tp)).
		Filter(filters.Hedge(filters.WithHedgeDelay(0))).
		Filter(filters.Trace(tp))
	rsp := client(typhon.NewRequest(t.Context(), "GET", "http://users.internal/users/1", nil))
	require.NoError(t, rsp.Error)
	rsp.Body.Close()

	spans := rec.wait(t, 3)
	var logical tracetest.SpanStub
	for _, s := range spans {
		if !s.Parent.IsValid() {
			logical = s
		}
	}
	require.True(t, logical.SpanContext.IsValid(), "no logical span among %v", traceNames(spans))
	children := 0
	for _, s := range spans {
		if s.Parent.SpanID() == logical.SpanContext.SpanID() {
			children++
		}
	}
	assert.Equal(t, 2, children)
}

// With a no-op provider, Trace passes the request on untouched.
func TestTraceNoop(t *testing.T) {
	t.Parallel()
	f := filters.Trace(filters.WithTracerProvider(noop.NewTracerProvider()))
	var sent http.Header
	var ctx context.Context
	backend := func(req typhon.Request) typhon.Response {
		sent, ctx = req.Header, req.Context()
		return req.Response(nil)
	}
	req := typhon.NewRequest(t.Context(), "GET", "http://users.internal/", nil)
	f(req, backend)
	assert.Empty(t, sent.Get("Traceparent"))
	assert.Equal(t, req.Context(), ctx)
}

func TestTraceNoopAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	f := filters.Trace(filters.WithTracerProvider(noop.NewTracerProvider()))
	ok := benchOKService()
	client := typhon.NewRequest(context.Background(), "GET", "http://users.internal/users/1", nil)
	server := traceInbound(t, "GET", "/users/1", http.Header{"Traceparent": {traceParentHdr}})
	for name, req := range map[string]typhon.Request{"client": client, "server": server} {
		allocs := testing.AllocsPerRun(100, func() { f(req, ok) })
		assert.Zero(t, allocs, name)
	}
}

// Before any provider is set, otel's global one starts only non-recording
// spans: Trace starts none, but relays the trace context and baggage from a
// server request's headers to the calls made with its context, and costs
// nothing for a request that carries neither. Other tests set the global
// provider, so this one skips when it runs after them (-shuffle).
func TestTraceUnsetGlobalProviderRelays(t *testing.T) {
	if tr := reflect.TypeOf(otel.GetTracerProvider().Tracer("probe")); tr.Kind() != reflect.Pointer ||
		tr.Elem().PkgPath() != "go.opentelemetry.io/otel/internal/global" {
		t.Skip("a global TracerProvider has been set")
	}
	f := filters.Trace()
	var sent http.Header
	var inner trace.SpanContext
	downstream := typhon.Service(func(req typhon.Request) typhon.Response {
		sent = req.Header
		return req.Response(nil)
	}).Filter(f)
	svc := func(req typhon.Request) typhon.Response {
		inner = trace.SpanContextFromContext(req.Context())
		return downstream(typhon.NewRequest(req.Context(), "GET", "http://next.internal/", nil))
	}
	server := traceInbound(t, "GET", "/users/1", http.Header{"Traceparent": {traceParentHdr}, "Baggage": {"user=alice"}})
	f(server, svc)
	assert.Equal(t, traceTraceID, inner.TraceID().String())
	assert.True(t, inner.IsRemote())
	assert.Equal(t, traceParentHdr, sent.Get("Traceparent"), "the caller's context, relayed")
	assert.Equal(t, "user=alice", sent.Get("Baggage"))

	if !testing.Short() {
		ok := benchOKService()
		plain := traceInbound(t, "GET", "/users/1", nil)
		assert.Zero(t, testing.AllocsPerRun(100, func() { f(plain, ok) }), "server, nothing to relay")
		client := typhon.NewRequest(context.Background(), "GET", "http://users.internal/", nil)
		assert.Zero(t, testing.AllocsPerRun(100, func() { f(client, ok) }), "client, nothing to relay")
	}

	// Once a provider is set, the same filter starts spans.
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	rec := traceNewRecorder(t)
	otel.SetTracerProvider(rec)
	f(traceInbound(t, "GET", "/users/1", nil), benchOKService())
	assert.Len(t, rec.spans(), 1)
}

// Without options, Trace uses the global provider and propagator, looked
// up per call. It sets the globals, so it does not run in parallel.
func TestTraceGlobalProvider(t *testing.T) {
	f := filters.Trace()
	var sent http.Header
	backend := func(req typhon.Request) typhon.Response {
		sent = req.Header
		return req.Response(nil)
	}
	call := func() {
		member, _ := baggage.NewMember("user", "alice")
		bag, _ := baggage.New(member)
		ctx := baggage.ContextWithBaggage(context.Background(), bag)
		f(typhon.NewRequest(ctx, "GET", "http://users.internal/", nil), backend)
	}

	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})

	first := traceNewRecorder(t)
	otel.SetTracerProvider(first)
	call()
	assert.Len(t, first.spans(), 1)
	assert.NotEmpty(t, sent.Get("Traceparent"), "W3C until a propagator is set")
	assert.Equal(t, "user=alice", sent.Get("Baggage"))

	second := traceNewRecorder(t)
	otel.SetTracerProvider(second) // otel delegates to the first one only
	otel.SetTextMapPropagator(propagation.TraceContext{})
	call()
	assert.Len(t, first.spans(), 1)
	assert.Len(t, second.spans(), 1)
	assert.NotEmpty(t, sent.Get("Traceparent"))
	assert.Empty(t, sent.Get("Baggage"), "the global propagator, once set")

	otel.SetTracerProvider(noop.NewTracerProvider())
	call()
	assert.Len(t, second.spans(), 1)
	assert.Empty(t, sent.Get("Traceparent"), "a no-op provider: nothing written")
	if !testing.Short() {
		req := typhon.NewRequest(context.Background(), "GET", "http://users.internal/", nil)
		ok := benchOKService()
		assert.Zero(t, testing.AllocsPerRun(100, func() { f(req, ok) }), "a global no-op provider")
	}
}

func TestTraceWithPropagator(t *testing.T) {
	t.Parallel()
	rec := traceNewRecorder(t)
	var sent http.Header
	client := typhon.Service(func(req typhon.Request) typhon.Response {
		sent = req.Header
		return req.Response(nil)
	}).Filter(filters.Trace(filters.WithTracerProvider(rec), filters.WithPropagator(propagation.Baggage{})))
	member, err := baggage.NewMember("user", "alice")
	require.NoError(t, err)
	bag, err := baggage.New(member)
	require.NoError(t, err)
	client(typhon.NewRequest(baggage.ContextWithBaggage(t.Context(), bag), "GET", "http://users.internal/", nil))
	assert.Empty(t, sent.Get("Traceparent"))
	assert.Equal(t, "user=alice", sent.Get("Baggage"))
	assert.Len(t, rec.spans(), 1)
}

func BenchmarkTrace(b *testing.B) {
	providers := []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"global-unset", nil}, // otel's global provider, with no SDK set: the default
		{"noop", noop.NewTracerProvider()},
		// Every span sampled, and dropped once ended.
		{"sdk", sdktrace.NewTracerProvider(sdktrace.WithSyncer(traceDiscard{}))},
	}
	for _, p := range providers {
		for _, side := range []string{"client", "server", "server-untraced"} {
			b.Run(p.name+"/"+side, func(b *testing.B) {
				f := filters.Trace()
				if p.tp != nil {
					f = filters.Trace(filters.WithTracerProvider(p.tp))
				}
				ok := benchOKService()
				req := typhon.NewRequest(context.Background(), "GET", "http://users.internal/users/1", nil)
				switch side {
				case "server": // the caller sent a trace context
					req = traceInbound(b, "GET", "/users/1", http.Header{"Traceparent": {traceParentHdr}})
				case "server-untraced":
					req = traceInbound(b, "GET", "/users/1", nil)
				}
				b.ReportAllocs()
				for b.Loop() {
					f(req, ok)
				}
			})
		}
	}
}

// traceDiscard is an exporter that drops what it is given.
type traceDiscard struct{}

func (traceDiscard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (traceDiscard) Shutdown(context.Context) error                             { return nil }
