package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// telemetry collects what every service of the demo reports, in memory:
// spans (one exporter for all, so a trace's spans are in one place), metrics
// (a manual reader per service) and access logs (one buffer of JSON lines).
type telemetry struct {
	spans   *tracetest.InMemoryExporter
	open    *openSpans
	logs    *lockedBuffer
	readers map[string]*metric.ManualReader
	order   []string // service names, in the order they were made
}

func newTelemetry() *telemetry {
	return &telemetry{
		spans:   tracetest.NewInMemoryExporter(),
		open:    newOpenSpans(),
		logs:    &lockedBuffer{},
		readers: map[string]*metric.ManualReader{},
	}
}

// observe returns what wraps service name's server and its clients alike:
// RequestID outermost (every filter inside sees the ID), then Trace,
// Metrics, and Log innermost (so its lines carry the span's IDs). Each
// service has its own tracer and meter providers, whose resource names it:
// that is where the waterfall's service column comes from.
func (t *telemetry) observe(name string) func(typhon.Service) typhon.Service {
	res := resource.NewSchemaless(attribute.String("service.name", name))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSyncer(t.spans),       // exported as each span ends...
		sdktrace.WithSpanProcessor(t.open), // ...then counted as ended
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithResource(res), metric.WithReader(reader))
	t.readers[name] = reader
	t.order = append(t.order, name)
	logger := slog.New(slog.NewJSONHandler(t.logs, nil)).With("service", name)

	log := filters.Log(filters.WithLogger(logger))
	metrics := filters.Metrics(filters.WithMeterProvider(mp))
	tracing := filters.Trace(filters.WithTracerProvider(tp))
	return func(svc typhon.Service) typhon.Service {
		return svc.Filter(log).Filter(metrics).Filter(tracing).Filter(filters.RequestID)
	}
}

// openSpans is a span processor that counts the spans started and not yet
// ended, so that the demo can wait for a call's last span (a server span
// ends once its response is written, a hair after the caller has it).
type openSpans struct {
	mu      sync.Mutex
	n       int
	changed chan struct{} // closed and replaced when n changes
}

func newOpenSpans() *openSpans { return &openSpans{changed: make(chan struct{})} }

func (o *openSpans) add(d int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n += d
	close(o.changed)
	o.changed = make(chan struct{})
}

func (o *openSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) { o.add(1) }
func (o *openSpans) OnEnd(sdktrace.ReadOnlySpan)                     { o.add(-1) }
func (o *openSpans) Shutdown(context.Context) error                  { return nil }
func (o *openSpans) ForceFlush(context.Context) error                { return nil }

// waitIdle waits until every span started has ended, or d has passed.
func (o *openSpans) waitIdle(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		o.mu.Lock()
		n, changed := o.n, o.changed
		o.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of loggers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
