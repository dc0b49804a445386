package filters

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/typhon-go/typhon"
)

// The attributes of [ResilienceMetrics]' counters beyond the semantic
// conventions' own.
const (
	// ShedReasonKey names what shed a request: the reason given to
	// [ResilienceMetrics.CountShed].
	ShedReasonKey = attribute.Key("typhon.shed.reason")
	// BreakerKeyKey is the key of the breaker that changed state.
	BreakerKeyKey = attribute.Key("typhon.breaker.key")
	// BreakerFromKey and BreakerToKey are the states it changed from and to:
	// "closed", "half-open", "open".
	BreakerFromKey = attribute.Key("typhon.breaker.from")
	BreakerToKey   = attribute.Key("typhon.breaker.to")
)

// ResilienceMetrics counts what the resilience filters do, in OpenTelemetry
// counters, so that a dashboard shows why calls were slow or failed:
//   - typhon.retries {retry}: attempts sent again after a failure, by
//     http.request.method, server.address and the error.type of the failure
//     (the class of its typhon code, as [Metrics] records it);
//   - typhon.hedges {request}: backup requests sent, by http.request.method
//     and server.address;
//   - typhon.breaker.state_changes {change}: by typhon.breaker.key,
//     typhon.breaker.from and typhon.breaker.to;
//   - typhon.shed {request}: requests a limiter answered without calling
//     the Service, by typhon.shed.reason and http.request.method.
//
// Wire it in where the filters are built (see the example): CountRetries,
// CountHedges and CountShed wrap a [Retry], [Hedge] or limiter Filter and
// count what it does by watching its calls to the Service it wraps, so they
// need nothing from it; BreakerStateChange is a [WithBreakerStateChange]
// callback. Retry, Hedge and Shed record one event each, for callbacks of
// your own. The attributes are bounded as long as breaker keys and shed
// reasons are (a host per key, a constant per reason).
//
// With a no-op provider nothing is recorded and nothing allocated. A
// ResilienceMetrics is safe for concurrent use.
type ResilienceMetrics struct {
	instruments *otelLazy[metric.MeterProvider, resilienceInstruments]
}

type resilienceInstruments struct {
	retries, hedges, breakerChanges, shed metric.Int64Counter
}

// NewResilienceMetrics returns a ResilienceMetrics that records with a Meter
// from mp, or, when mp is nil, from the global provider,
// otel.GetMeterProvider(), looked up on every call as [Metrics] does.
func NewResilienceMetrics(mp metric.MeterProvider) *ResilienceMetrics {
	return &ResilienceMetrics{instruments: newOTelLazy(mp, otel.GetMeterProvider, resilienceNewInstruments)}
}

func resilienceNewInstruments(mp metric.MeterProvider) *resilienceInstruments {
	m := mp.Meter(otelScope, metric.WithSchemaURL(semconv.SchemaURL))
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			otel.Handle(err) // c is a no-op
		}
		return c
	}
	return &resilienceInstruments{
		retries:        counter("typhon.retries", "{retry}", "Attempts sent again after a failed one."),
		hedges:         counter("typhon.hedges", "{request}", "Backup requests sent by a hedge."),
		breakerChanges: counter("typhon.breaker.state_changes", "{change}", "Circuit breaker state changes."),
		shed:           counter("typhon.shed", "{request}", "Requests a limiter answered without calling the Service."),
	}
}

// Retry records one retry of req after rsp failed. It suits a callback that
// is told of each retry; [ResilienceMetrics.CountRetries] needs none.
func (m *ResilienceMetrics) Retry(req typhon.Request, rsp typhon.Response) {
	status, _ := otelStatus(req, rsp)
	m.retry(req, otelErrorClass(rsp.Error, status))
}

func (m *ResilienceMetrics) retry(req typhon.Request, errorType string) {
	c := m.instruments.get().retries
	ctx := req.Context()
	if !c.Enabled(ctx) {
		return
	}
	method, host := resilienceCallAttrs(req)
	kvs := []attribute.KeyValue{method, host}
	if errorType != "" {
		kvs = append(kvs, semconv.ErrorTypeKey.String(errorType))
	}
	c.Add(ctx, 1, metric.WithAttributes(kvs...))
}

// Hedge records one backup request sent for req.
func (m *ResilienceMetrics) Hedge(req typhon.Request) {
	c := m.instruments.get().hedges
	ctx := req.Context()
	if !c.Enabled(ctx) {
		return
	}
	method, host := resilienceCallAttrs(req)
	c.Add(ctx, 1, metric.WithAttributes(method, host))
}

// Shed records that req was answered by a limiter without being served;
// reason names the limiter ("concurrency", "rate").
func (m *ResilienceMetrics) Shed(req typhon.Request, reason string) {
	c := m.instruments.get().shed
	ctx := req.Context()
	if !c.Enabled(ctx) {
		return
	}
	method, _ := otelMethod(req.Method)
	c.Add(ctx, 1, metric.WithAttributes(ShedReasonKey.String(reason), semconv.HTTPRequestMethodKey.String(method)))
}

// BreakerStateChange records that the breaker for key changed state from
// from to to. Its signature is that of a [WithBreakerStateChange] callback:
//
//	filters.CircuitBreaker(filters.WithBreakerStateChange(m.BreakerStateChange))
func (m *ResilienceMetrics) BreakerStateChange(key string, from, to BreakerState) {
	c := m.instruments.get().breakerChanges
	ctx := context.Background()
	if !c.Enabled(ctx) {
		return
	}
	c.Add(ctx, 1, metric.WithAttributes(BreakerKeyKey.String(key), BreakerFromKey.String(from.String()), BreakerToKey.String(to.String())))
}

// CountRetries returns retry (a [Retry] Filter) counting, in typhon.retries,
// each attempt it makes after the first, with the failure of the attempt
// before it. It counts the attempts retry sends, not those it considered:
// one its budget or the caller's deadline refused is not counted.
func (m *ResilienceMetrics) CountRetries(retry typhon.Filter) typhon.Filter {
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		if !m.instruments.get().retries.Enabled(req.Context()) {
			return retry(req, svc)
		}
		var mu sync.Mutex
		attempts, prev := 0, "" // prev: the error.type of the last attempt
		return retry(req, func(areq typhon.Request) typhon.Response {
			mu.Lock()
			attempts++
			n, failed := attempts, prev
			mu.Unlock()
			if n > 1 {
				m.retry(areq, failed)
			}
			rsp := svc(areq)
			status, _ := otelStatus(areq, rsp)
			mu.Lock()
			prev = otelErrorClass(rsp.Error, status)
			mu.Unlock()
			return rsp
		})
	}
}

// CountHedges returns hedge (a [Hedge] Filter) counting, in typhon.hedges,
// each backup request it sends.
func (m *ResilienceMetrics) CountHedges(hedge typhon.Filter) typhon.Filter {
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		if !m.instruments.get().hedges.Enabled(req.Context()) {
			return hedge(req, svc)
		}
		var attempts atomic.Int32
		return hedge(req, func(areq typhon.Request) typhon.Response {
			if attempts.Add(1) > 1 {
				m.Hedge(areq)
			}
			return svc(areq)
		})
	}
}

// CountShed returns limiter (a [ConcurrencyLimit], [RateLimit],
// [AdaptiveLimit], a CircuitBreaker, or any Filter that may answer without
// calling its Service) counting, in typhon.shed with reason, each request
// it answered with an Error without passing it on.
func (m *ResilienceMetrics) CountShed(reason string, limiter typhon.Filter) typhon.Filter {
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		if !m.instruments.get().shed.Enabled(req.Context()) {
			return limiter(req, svc)
		}
		var called atomic.Bool
		rsp := limiter(req, func(r typhon.Request) typhon.Response {
			called.Store(true)
			return svc(r)
		})
		if !called.Load() && rsp.Error != nil {
			m.Shed(req, reason)
		}
		return rsp
	}
}

// resilienceCallAttrs returns the http.request.method and server.address
// of an outbound request.
func resilienceCallAttrs(req typhon.Request) (method, host attribute.KeyValue) {
	m, _ := otelMethod(req.Method)
	h, _ := otelHostPort(req.URL.Host, req.URL.Scheme)
	return semconv.HTTPRequestMethodKey.String(m), semconv.ServerAddressKey.String(h)
}
