package filters

import (
	"context"
	"net"
	"net/http"
	"reflect"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/typhon-go/typhon"
)

// A TraceOption configures [Trace]: [WithTracerProvider], [WithPropagator].
type TraceOption interface{ applyTrace(*traceConfig) }

type traceOptionFunc func(*traceConfig)

func (f traceOptionFunc) applyTrace(c *traceConfig) { f(c) }

type traceConfig struct {
	tp   trace.TracerProvider
	prop propagation.TextMapPropagator
}

// WithTracerProvider makes [Trace] start its spans with a Tracer from tp.
// The default (and a nil tp) is the global provider, otel.GetTracerProvider(),
// looked up on every call, so that a provider set with
// otel.SetTracerProvider after the filter was built is used.
func WithTracerProvider(tp trace.TracerProvider) TraceOption {
	return traceOptionFunc(func(c *traceConfig) { c.tp = tp })
}

// WithPropagator sets how [Trace] reads the trace context and baggage from
// inbound requests' headers and writes them into outbound ones. The default
// (and a nil p) is the global propagator, otel.GetTextMapPropagator(), looked
// up on every call, if one has been set with otel.SetTextMapPropagator (it is
// then used as it is, even a no-op one); until one is set, W3C Trace Context
// and Baggage (traceparent, tracestate, baggage), typhon's wire convention,
// rather than otel's default, which propagates nothing.
func WithPropagator(p propagation.TextMapPropagator) TraceOption {
	return traceOptionFunc(func(c *traceConfig) { c.prop = p })
}

// traceW3C is the propagator Trace uses until a global one is set.
var traceW3C = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// traceUnsetPropagator is the global propagator otel gives before any is
// set: a delegating no-op, which otel.SetTextMapPropagator replaces in
// otel.GetTextMapPropagator. It is nil if a propagator was set before this
// package was initialised, or if it cannot be compared.
var traceUnsetPropagator = func() propagation.TextMapPropagator {
	p := otel.GetTextMapPropagator()
	if len(p.Fields()) != 0 || !reflect.TypeOf(p).Comparable() {
		return nil
	}
	return p
}()

// Trace returns a Filter that traces each call with an OpenTelemetry span,
// following the semantic conventions for HTTP:
//   - a request that came in through a server (typhon.Inbound) gets a server
//     span, a child of the trace context its headers carry; any other request
//     gets a client span, a child of the span in its context, and the trace
//     context and baggage are written into its headers for the server it
//     goes to. The Service is called with the span in the request's context,
//     so that the calls it makes with that context are its children.
//   - a server span is named after the route ("GET /users/{id}"), which
//     Trace reads with typhon.RoutePattern once the Service has returned, so
//     it may wrap a Router's Serve(); a request that matched no route gives
//     the method alone ("GET"), never the path. A client span is named
//     after the method. An unknown method is named "HTTP", with
//     http.request.method "_OTHER".
//   - attributes: http.request.method, http.response.status_code,
//     network.protocol.version, server.address and server.port; on a server
//     span http.route, url.path, url.scheme, client.address and
//     user_agent.original; on a client span url.full, without credentials
//     and with signature-like query parameters redacted. The query of a
//     server request is left out: it may carry secrets.
//   - a Response with an Error sets error.type to its typhon code
//     ("not_found.user"), on a server span for a 4xx too (typhon counts
//     every Error as a failure; the conventions only ask for it on what
//     they call errors); one with a 4xx or 5xx status and no Error, to the
//     status. The span's status is Error for any of these on a client span,
//     and for a 5xx on a server span (a 4xx is the caller's fault).
//   - a client span records http.response.status_code and
//     network.protocol.version only for an answer that came over the wire:
//     not for a transport failure, nor for an error a Service answered in
//     process.
//   - the span ends when the Response body is done: read to EOF, failed or
//     closed (see typhon.OnBodyDone), or at once when there is none, so
//     that a streamed answer is timed to its end. A Response body never
//     closed leaves its span unended, and so never exported. A panic in the
//     Service ends the span with an Error status and goes on.
//
// Spans come from the global TracerProvider unless [WithTracerProvider]
// names one. With a no-op provider (go.opentelemetry.io/otel/trace/noop),
// Trace does nothing: it passes the request on untouched, reads no headers,
// writes none, and allocates nothing. While the global provider is otel's
// default, before otel.SetTracerProvider (no SDK installed), Trace starts
// no span (such spans record nothing) but still relays the trace context
// and baggage: a server request's context gets what its headers carry, a
// client request's headers what its context carries; a request with
// neither costs a few tens of nanoseconds and no allocation. (otel's
// eBPF auto-instrumentation, which hooks the spans of that default
// provider, therefore sees none from Trace.) Spans a sampler drops are still
// started, so that their context travels, but get no attributes past those
// the sampler sees. The trace context travels as [WithPropagator] says;
// Trace writes it into every outbound request, so leave it off clients that
// call third parties.
//
// Put Trace outermost on a server, so that its span covers the other
// filters and the context it makes reaches the Service: calls made with
// req.Context() are then its children.
//
// Retries and hedges: a Trace outside [Retry] or [Hedge] makes one client
// span for the logical call, and every attempt carries its context, so the
// servers' spans of all the attempts are its children. For a span per
// attempt, put a second Trace inside (the Filter applied first is the
// innermost):
//
//	client.
//		Filter(filters.Trace()). // one client span per attempt
//		Filter(filters.Retry()).
//		Filter(filters.Trace()) // the logical call
//
// The inner Trace sees that its parent is the logical client span of an
// outer Trace and makes each attempt a client span under it (named and
// attributed as any client span, with http.request.resend_count from the
// second attempt on: for a hedge, the backup request), and the server span
// of each attempt is a child of the attempt's span.
//
// The Filter is safe for concurrent use.
func Trace(opts ...TraceOption) typhon.Filter {
	var c traceConfig
	for _, o := range opts {
		o.applyTrace(&c)
	}
	t := &tracing{
		tracers:  newOTelLazy(c.tp, otel.GetTracerProvider, traceNewTracer),
		injected: !otelIsNil(c.tp),
		prop:     c.prop,
	}
	if otelIsNil(c.prop) {
		t.prop = nil
	}
	return t.serve
}

type tracing struct {
	tracers  *otelLazy[trace.TracerProvider, traceTracer]
	injected bool                          // a provider from WithTracerProvider
	prop     propagation.TextMapPropagator // nil: the global one
}

// traceTracer is the Tracer of a provider, and whether it is a no-op one.
type traceTracer struct {
	tp     trace.TracerProvider
	tracer trace.Tracer
	noop   bool
	// unset: tracer is one of otel's global delegate with no provider set
	// (see traceIsUnset), as it was when built and last checked; calls
	// counts the calls that asked since.
	unset atomic.Bool
	calls atomic.Uint32
}

// traceTracerOptions are the options of Trace's Tracer, made once.
var traceTracerOptions = []trace.TracerOption{trace.WithSchemaURL(semconv.SchemaURL)}

func traceNewTracer(tp trace.TracerProvider) *traceTracer {
	tr := tp.Tracer(otelScope, traceTracerOptions...)
	_, isNoop := tr.(noop.Tracer)
	t := &traceTracer{tp: tp, tracer: tr, noop: isNoop}
	t.unset.Store(traceIsUnset(tr))
	return t
}

// traceIsUnset reports whether tr is a Tracer of otel's global
// TracerProvider while no provider has been set: a delegate that starts
// only non-recording spans, which carry their parent's span context and
// nothing else, until otel.SetTracerProvider gives it a provider to
// delegate to. Its type is internal to otel, so it is known by name.
func traceIsUnset(tr trace.Tracer) bool {
	t := reflect.TypeOf(tr)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().Name() == "tracer" &&
		t.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global"
}

// traceRecheckEvery is how many calls relays answers from what it last
// found before it asks the delegate again.
const traceRecheckEvery = 1024

// relays reports whether Trace only relays the trace context: whether tr,
// from the global provider, still has no provider to delegate to. A new
// global provider is a new tr (the filter looks the global up on every
// call); but a delegate keeps the Tracers it made before it got a provider,
// and the global can be set back to it (as tests do), so its answer is
// checked again every traceRecheckEvery calls: asking costs a lock and a
// map lookup, too much for every request (and so does reading the clock
// to ask once a second, on a VM whose clock is slow).
func (tr *traceTracer) relays() bool {
	if !tr.unset.Load() {
		return false
	}
	if tr.calls.Add(1)%traceRecheckEvery != 0 {
		return true
	}
	if traceIsUnset(tr.tp.Tracer(otelScope, traceTracerOptions...)) {
		return true
	}
	tr.unset.Store(false)
	return false
}

func (t *tracing) propagator() propagation.TextMapPropagator {
	p, _ := t.propagatorW3C()
	return p
}

// propagatorW3C returns the propagator in use, and whether it is traceW3C.
func (t *tracing) propagatorW3C() (propagation.TextMapPropagator, bool) {
	if t.prop != nil {
		return t.prop, false
	}
	p := otel.GetTextMapPropagator()
	if traceUnsetPropagator != nil && p == traceUnsetPropagator {
		return traceW3C, true
	}
	return p, false
}

func (t *tracing) serve(req typhon.Request, svc typhon.Service) typhon.Response {
	if req.Request == nil || req.URL == nil {
		return svc(req)
	}
	tr := t.tracers.get()
	if tr.noop {
		return svc(req)
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	if !t.injected && tr.relays() {
		return t.relay(req, svc)
	}
	if typhon.Inbound(req) {
		return t.server(tr.tracer, req, svc)
	}
	return t.client(tr.tracer, req, svc)
}

// relay passes the trace context and baggage on, starting no span, while
// otel's global TracerProvider has none set: its spans would record nothing
// and carry only their parent's span context, which relay passes on as they
// would, without their cost (about ten allocations a call). A server
// request's context gets what its headers carry, when they carry anything;
// a client request's headers get what its context carries.
func (t *tracing) relay(req typhon.Request, svc typhon.Service) typhon.Response {
	prop, w3c := t.propagatorW3C()
	if !typhon.Inbound(req) {
		prop.Inject(req.Context(), traceCarrier(req.Header))
		return svc(req)
	}
	if w3c && !traceHasW3C(req.Header) {
		return svc(req) // nothing to extract
	}
	ctx := req.Context()
	if ectx := prop.Extract(ctx, traceCarrier(req.Header)); !traceSameContext(ectx, ctx) {
		req = req.WithContext(ectx)
	}
	return svc(req)
}

// traceHasW3C reports whether h carries a W3C trace context or baggage.
func traceHasW3C(h http.Header) bool {
	return len(h["Traceparent"]) > 0 || len(h["Baggage"]) > 0
}

// traceSameContext reports whether a and b are the same context, without
// the panic of == on two values of one uncomparable type.
func traceSameContext(a, b context.Context) bool {
	t := reflect.TypeOf(a)
	return t == reflect.TypeOf(b) && t.Comparable() && a == b
}

func (t *tracing) server(tracer trace.Tracer, req typhon.Request, svc typhon.Service) typhon.Response {
	ctx := t.propagator().Extract(req.Context(), traceCarrier(req.Header))
	method, known := otelMethod(req.Method)
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	attrs := make([]attribute.KeyValue, 0, 12)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPathKey.String(req.URL.Path),
		semconv.URLSchemeKey.String(scheme))
	if !known {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginalKey.String(req.Method))
	}
	if host, port := otelHostPort(req.Host, scheme); host != "" {
		attrs = append(attrs, semconv.ServerAddressKey.String(host), semconv.ServerPortKey.Int(port))
	}
	if v := otelProtocolVersion(req.ProtoMajor, req.ProtoMinor); v != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersionKey.String(v))
	}
	if host, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.ClientAddressKey.String(host))
	}
	if ua := req.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginalKey.String(ua))
	}
	route := typhon.RoutePattern(req) // set already when Trace is inside a Router
	ctx, span := tracer.Start(ctx, traceSpanName(method, known, route),
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))

	rsp := traceCall(svc, req.WithContext(ctx), span)
	if span.IsRecording() {
		if route := typhon.RoutePattern(req); route != "" {
			span.SetName(traceSpanName(method, known, route))
			span.SetAttributes(semconv.HTTPRouteKey.String(route))
		}
		status, _ := otelStatus(req, rsp)
		span.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(status))
		if et := otelErrorType(rsp.Error, status); et != "" {
			span.SetAttributes(semconv.ErrorTypeKey.String(et))
			if status >= 500 {
				span.SetStatus(codes.Error, traceStatusDescription(rsp.Error, et))
			}
		}
	}
	return typhon.OnBodyDone(rsp, func() { span.End() })
}

func (t *tracing) client(tracer trace.Tracer, req typhon.Request, svc typhon.Service) typhon.Response {
	ctx := req.Context()
	method, known := otelMethod(req.Method)
	host, port := otelHostPort(req.URL.Host, req.URL.Scheme)
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLFullKey.String(otelFullURL(req.URL)),
		semconv.ServerAddressKey.String(host))
	if port > 0 {
		attrs = append(attrs, semconv.ServerPortKey.Int(port))
	}
	if !known {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginalKey.String(req.Method))
	}
	// An attempt inside Retry or Hedge, under the logical span of an outer
	// Trace: the first is no resend, the ones after it are.
	logical, _ := ctx.Value(traceLogicalKey{}).(*traceLogical)
	if logical != nil && logical.span != trace.SpanContextFromContext(ctx).SpanID() {
		logical = nil // a call made under a later span: a logical call of its own
	}
	if logical != nil {
		if n := logical.attempts.Add(1) - 1; n > 0 {
			attrs = append(attrs, semconv.HTTPRequestResendCountKey.Int(int(n)))
		}
	}
	ctx, span := tracer.Start(ctx, traceSpanName(method, known, ""),
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	if logical == nil && span.IsRecording() {
		ctx = context.WithValue(ctx, traceLogicalKey{}, &traceLogical{span: span.SpanContext().SpanID()})
	}
	req = req.WithContext(ctx)
	t.propagator().Inject(ctx, traceCarrier(req.Header))

	rsp := traceCall(svc, req, span)
	if span.IsRecording() {
		status, received := otelStatus(req, rsp)
		if received {
			span.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(status))
			if rsp.Response != nil && rsp.Status != "" {
				if v := otelProtocolVersion(rsp.ProtoMajor, rsp.ProtoMinor); v != "" {
					span.SetAttributes(semconv.NetworkProtocolVersionKey.String(v))
				}
			}
		}
		if et := otelErrorType(rsp.Error, status); et != "" {
			span.SetAttributes(semconv.ErrorTypeKey.String(et))
			span.SetStatus(codes.Error, traceStatusDescription(rsp.Error, et))
		}
	}
	return typhon.OnBodyDone(rsp, func() { span.End() })
}

// traceLogicalKey marks a context whose span is the logical client span of
// a Trace, so that a Trace inside a Retry or Hedge under it traces attempts.
type traceLogicalKey struct{}

type traceLogical struct {
	span     trace.SpanID
	attempts atomic.Int32
}

// traceCall calls svc, ending span with an Error status if svc panics.
func traceCall(svc typhon.Service, req typhon.Request, span trace.Span) typhon.Response {
	returned := false
	defer func() {
		if !returned {
			span.SetStatus(codes.Error, "panic")
			span.End()
		}
	}()
	rsp := svc(req)
	returned = true
	return rsp
}

// traceSpanName names a span "{method} {route}", "{method}" without a
// route, and "HTTP" for a method the conventions do not know.
func traceSpanName(method string, known bool, route string) string {
	if !known {
		method = "HTTP"
	}
	if route == "" {
		return method
	}
	return method + " " + route
}

func traceStatusDescription(err error, errorType string) string {
	if err != nil {
		return err.Error()
	}
	return errorType
}

// traceCarrier is propagation.HeaderCarrier, save that the W3C fields,
// which propagators name in lower case, are looked up by their canonical
// header names without making them each time.
type traceCarrier http.Header

var (
	_ propagation.TextMapCarrier = traceCarrier{}
	_ propagation.ValuesGetter   = traceCarrier{}
)

func traceHeaderKey(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return key // http.Header canonicalises it
}

func (c traceCarrier) Get(key string) string { return http.Header(c).Get(traceHeaderKey(key)) }

func (c traceCarrier) Values(key string) []string {
	return http.Header(c).Values(traceHeaderKey(key))
}

func (c traceCarrier) Set(key, value string) { http.Header(c).Set(traceHeaderKey(key), value) }

func (c traceCarrier) Keys() []string { return propagation.HeaderCarrier(c).Keys() }
