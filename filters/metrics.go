package filters

import (
	"context"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"

	"github.com/typhon-go/typhon"
)

// A MetricsOption configures [Metrics]: [WithMeterProvider].
type MetricsOption interface{ applyMetrics(*metricsConfig) }

type metricsOptionFunc func(*metricsConfig)

func (f metricsOptionFunc) applyMetrics(c *metricsConfig) { f(c) }

type metricsConfig struct{ mp metric.MeterProvider }

// WithMeterProvider makes [Metrics] record with a Meter from mp. The
// default (and a nil mp) is the global provider, otel.GetMeterProvider(),
// looked up on every call, so that a provider set with
// otel.SetMeterProvider after the filter was built is used.
func WithMeterProvider(mp metric.MeterProvider) MetricsOption {
	return metricsOptionFunc(func(c *metricsConfig) { c.mp = mp })
}

// Metrics returns a Filter that records each call in the OpenTelemetry
// instruments of the semantic conventions for HTTP: on the server side (a
// request that came in through a server, typhon.Inbound) and the client
// side (any other):
//   - http.server.request.duration, http.client.request.duration: a
//     histogram in seconds, with the conventions' buckets (5 ms to 10 s),
//     from the call until its Response body is done (read to EOF, failed or
//     closed; see typhon.OnBodyDone), so that a streamed answer counts to its
//     end;
//   - http.server.active_requests, http.client.active_requests: calls in
//     flight, until their bodies are done, by method and scheme (and server
//     address and port for a client);
//   - http.{server,client}.{request,response}.body.size: bytes, when the
//     size is known (a Content-Length, or no body); the body of an error a
//     server writes is not known here.
//
// The attributes are bounded, whatever callers send: http.request.method,
// with "_OTHER" for methods the conventions do not know; url.scheme;
// http.route on the server side, the pattern the Router matched (read with
// typhon.RoutePattern once the Service has returned, so Metrics may wrap a
// Router's Serve()), and none at all for a request that matched no route,
// never its path; http.response.status_code; error.type, for an Error, the
// class of its typhon code ("not_found" for "not_found.user", "_OTHER" for
// a code outside typhon's table, so that a downstream cannot grow the label
// set), or the status for a 4xx or 5xx without one; network.protocol.version;
// and on the client side server.address and server.port, which are as many
// as the hosts the client calls.
//
// Instruments come from the global MeterProvider unless [WithMeterProvider]
// names one, and are made once per provider. An instrument that is not
// enabled (a no-op provider's, or one a view drops) is not recorded; when
// none is, Metrics passes the request on untouched and allocates nothing.
//
// Put Metrics just inside [Trace], so that measurements carry the span as
// an exemplar, and outside a Router. For the counters of retries, hedges,
// breaker state changes and shed requests, see [ResilienceMetrics]. The
// Filter is safe for concurrent use.
func Metrics(opts ...MetricsOption) typhon.Filter {
	var c metricsConfig
	for _, o := range opts {
		o.applyMetrics(&c)
	}
	m := &metering{instruments: newOTelLazy(c.mp, otel.GetMeterProvider, metricsNewInstruments)}
	return m.serve
}

type metering struct {
	instruments *otelLazy[metric.MeterProvider, metricsInstruments]
}

type metricsInstruments struct {
	server, client metricsSide
}

// metricsSide holds the instruments of one side of the wire.
type metricsSide struct {
	duration metric.Float64Histogram
	active   metric.Int64UpDownCounter
	reqSize  metric.Int64Histogram
	rspSize  metric.Int64Histogram
}

func metricsNewInstruments(mp metric.MeterProvider) *metricsInstruments {
	m := mp.Meter(otelScope, metric.WithSchemaURL(semconv.SchemaURL))
	sd, err1 := httpconv.NewServerRequestDuration(m)
	sa, err2 := httpconv.NewServerActiveRequests(m)
	sq, err3 := httpconv.NewServerRequestBodySize(m)
	ss, err4 := httpconv.NewServerResponseBodySize(m)
	cd, err5 := httpconv.NewClientRequestDuration(m)
	ca, err6 := httpconv.NewClientActiveRequests(m)
	cq, err7 := httpconv.NewClientRequestBodySize(m)
	cs, err8 := httpconv.NewClientResponseBodySize(m)
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7, err8} {
		if err != nil {
			otel.Handle(err) // the instrument is a no-op; the rest work
		}
	}
	return &metricsInstruments{
		server: metricsSide{duration: sd.Inst(), active: sa.Inst(), reqSize: sq.Inst(), rspSize: ss.Inst()},
		client: metricsSide{duration: cd.Inst(), active: ca.Inst(), reqSize: cq.Inst(), rspSize: cs.Inst()},
	}
}

// metricsCall is what one call records, which of its instruments are enabled.
type metricsCall struct {
	side                               *metricsSide
	active, duration, reqSize, rspSize bool
}

func (m *metering) serve(req typhon.Request, svc typhon.Service) typhon.Response {
	if req.Request == nil || req.URL == nil {
		return svc(req)
	}
	in := m.instruments.get()
	inbound := typhon.Inbound(req)
	side := &in.client
	if inbound {
		side = &in.server
	}
	ctx := req.Context()
	c := metricsCall{
		side:     side,
		active:   side.active.Enabled(ctx),
		duration: side.duration.Enabled(ctx),
		reqSize:  side.reqSize.Enabled(ctx),
		rspSize:  side.rspSize.Enabled(ctx),
	}
	if !c.active && !c.duration && !c.reqSize && !c.rspSize {
		return svc(req)
	}
	return c.measure(ctx, inbound, req, svc)
}

func (c metricsCall) measure(ctx context.Context, inbound bool, req typhon.Request, svc typhon.Service) typhon.Response {
	start := time.Now()
	// The attributes of active_requests come first; the others follow
	// once the call has returned. One array holds both.
	kvs := make([]attribute.KeyValue, 0, 9)
	method, _ := otelMethod(req.Method)
	kvs = append(kvs, semconv.HTTPRequestMethodKey.String(method))
	if inbound {
		scheme := "http"
		if req.TLS != nil {
			scheme = "https"
		}
		kvs = append(kvs, semconv.URLSchemeKey.String(scheme))
	} else {
		if req.URL.Scheme != "" {
			kvs = append(kvs, semconv.URLSchemeKey.String(req.URL.Scheme))
		}
		if host, port := otelHostPort(req.URL.Host, req.URL.Scheme); host != "" {
			kvs = append(kvs, semconv.ServerAddressKey.String(host))
			if port > 0 {
				kvs = append(kvs, semconv.ServerPortKey.Int(port))
			}
		}
	}
	activeOpt := c.addActive(ctx, kvs)
	reqBytes := metricsBodySize(req.Body, req.ContentLength)

	returned := false
	defer func() {
		if !returned && c.active { // svc panicked
			c.side.active.Add(ctx, -1, activeOpt...)
		}
	}()
	rsp := svc(req)
	returned = true

	status, received := otelStatus(req, rsp)
	if received {
		kvs = append(kvs, semconv.HTTPResponseStatusCodeKey.Int(status))
	}
	if et := otelErrorClass(rsp.Error, status); et != "" {
		kvs = append(kvs, semconv.ErrorTypeKey.String(et))
	}
	version := ""
	if inbound {
		if route := typhon.RoutePattern(req); route != "" {
			kvs = append(kvs, semconv.HTTPRouteKey.String(route))
		}
		version = otelProtocolVersion(req.ProtoMajor, req.ProtoMinor)
	} else if received && rsp.Response != nil && rsp.Status != "" {
		version = otelProtocolVersion(rsp.ProtoMajor, rsp.ProtoMinor)
	}
	if version != "" {
		kvs = append(kvs, semconv.NetworkProtocolVersionKey.String(version))
	}
	// One slice of options for every record: a variadic argument to an
	// interface method is allocated at each call.
	opt := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
	if c.reqSize && reqBytes >= 0 {
		c.side.reqSize.Record(ctx, reqBytes, opt...)
	}
	rspBytes := c.responseSize(inbound, received, rsp)
	return typhon.OnBodyDone(rsp, func() {
		if c.duration {
			c.side.duration.Record(ctx, time.Since(start).Seconds(), opt...)
		}
		if rspBytes >= 0 {
			c.side.rspSize.Record(ctx, rspBytes, opt...)
		}
		if c.active {
			c.side.active.Add(ctx, -1, activeOpt...)
		}
	})
}

// addActive counts a call in active_requests, with attributes kvs, and
// returns the options to take it off with.
func (c metricsCall) addActive(ctx context.Context, kvs []attribute.KeyValue) []metric.AddOption {
	if !c.active {
		return nil
	}
	opt := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
	c.side.active.Add(ctx, 1, opt...)
	return opt
}

// responseSize returns the size of an answer that was sent or received, or
// -1: not for the body of an error a server writes, which the bridge makes,
// nor an answer that never came.
func (c metricsCall) responseSize(inbound, received bool, rsp typhon.Response) int64 {
	if !c.rspSize || rsp.Response == nil || !received || (inbound && rsp.Error != nil) {
		return -1
	}
	return metricsBodySize(rsp.Body, rsp.ContentLength)
}

// metricsBodySize returns the size of a body when it is known: its
// ContentLength, or 0 for no body; -1 otherwise (typhon and net/http take a
// ContentLength of 0 with a body to mean unknown).
func metricsBodySize(body io.ReadCloser, length int64) int64 {
	switch {
	case body == nil || body == http.NoBody:
		return 0
	case length > 0:
		return length
	}
	return -1
}
