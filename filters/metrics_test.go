package filters_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// metricsReader is an SDK MeterProvider read by hand.
type metricsReader struct {
	*sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

func metricsNewReader(t testing.TB) *metricsReader {
	r := &metricsReader{reader: sdkmetric.NewManualReader()}
	r.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return r
}

// metricsPoint is one data point: its attributes and its value (a count
// for a histogram, a value for a sum).
type metricsPoint struct {
	attrs attribute.Set
	value int64
	sum   float64 // histograms: the sum of what was recorded
}

// collect returns the data points of every instrument, by name.
func (r *metricsReader) collect(t testing.TB) map[string][]metricsPoint {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	out := make(map[string][]metricsPoint)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], metricsPoint{attrs: p.Attributes, value: int64(p.Count), sum: p.Sum})
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], metricsPoint{attrs: p.Attributes, value: int64(p.Count), sum: float64(p.Sum)})
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], metricsPoint{attrs: p.Attributes, value: p.Value})
				}
			default:
				t.Fatalf("unexpected data %T for %s", m.Data, m.Name)
			}
		}
	}
	return out
}

// metricsAttrs renders an attribute set as "k=v k=v", sorted by key.
func metricsAttrs(s attribute.Set) string {
	var b strings.Builder
	for i, kv := range s.ToSlice() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", kv.Key, kv.Value.String())
	}
	return b.String()
}

// metricsFind returns the points of name as "attrs" -> value.
func metricsFind(points map[string][]metricsPoint, name string) map[string]int64 {
	m := make(map[string]int64)
	for _, p := range points[name] {
		m[metricsAttrs(p.attrs)] = p.value
	}
	return m
}

func TestMetricsServer(t *testing.T) {
	t.Parallel()
	r := metricsNewReader(t)
	router := traceUsers()
	router.POST("/users", func(req typhon.Request) typhon.Response {
		var b []byte
		_ = req.Decode(&b)
		return req.Response(nil)
	})
	svc := router.Serve().Filter(filters.Metrics(filters.WithMeterProvider(r)))
	for _, target := range []string{"/users/1", "/users/2", "/users/missing", "/users/down", "/orders/1"} {
		traceServeHTTP(svc, httptest.NewRequest("GET", target, nil))
	}
	traceServeHTTP(svc, httptest.NewRequest("POST", "/users", strings.NewReader("hello")))

	points := r.collect(t)
	assert.Equal(t, map[string]int64{
		"http.request.method=GET http.response.status_code=200 http.route=/users/{id} network.protocol.version=1.1 url.scheme=http":                        2,
		"error.type=not_found http.request.method=GET http.response.status_code=404 http.route=/users/{id} network.protocol.version=1.1 url.scheme=http":   1,
		"error.type=unavailable http.request.method=GET http.response.status_code=503 http.route=/users/{id} network.protocol.version=1.1 url.scheme=http": 1,
		"error.type=not_found http.request.method=GET http.response.status_code=404 network.protocol.version=1.1 url.scheme=http":                          1,
		"http.request.method=POST http.response.status_code=200 http.route=/users network.protocol.version=1.1 url.scheme=http":                            1,
	}, metricsFind(points, "http.server.request.duration"))
	assert.Equal(t, map[string]int64{
		"http.request.method=GET url.scheme=http":  0,
		"http.request.method=POST url.scheme=http": 0,
	}, metricsFind(points, "http.server.active_requests"))

	var posted float64
	for _, p := range points["http.server.request.body.size"] {
		if v, _ := p.attrs.Value("http.request.method"); v.AsString() == "POST" {
			posted = p.sum
		}
	}
	assert.Equal(t, float64(len("hello")), posted)
	// {"id":"1"} and {"id":"2"}; error answers are written by the server,
	// of a size the filter does not know.
	for _, p := range points["http.server.response.body.size"] {
		assert.NotContains(t, metricsAttrs(p.attrs), "error.type")
	}
}

// Requests to paths and with methods no one registered make no new
// attribute values: no path ever becomes a label.
func TestMetricsUnmatchedPathsAddNoAttributes(t *testing.T) {
	t.Parallel()
	r := metricsNewReader(t)
	svc := traceUsers().Serve().Filter(filters.Metrics(filters.WithMeterProvider(r)))
	series := func() (int, string) {
		n := 0
		var all strings.Builder
		for _, points := range r.collect(t) {
			n += len(points)
			for _, p := range points {
				all.WriteString(metricsAttrs(p.attrs) + "\n")
			}
		}
		return n, all.String()
	}
	traceServeHTTP(svc, httptest.NewRequest("GET", "/unknown/0", nil))
	traceServeHTTP(svc, httptest.NewRequest("BREW", "/unknown/0", nil))
	before, _ := series()
	for i := range 50 {
		traceServeHTTP(svc, httptest.NewRequest("GET", fmt.Sprintf("/unknown/%d/x%d", i, i), nil))
		traceServeHTTP(svc, httptest.NewRequest(fmt.Sprintf("BREW%d", i), fmt.Sprintf("/u%d", i), nil))
	}
	after, all := series()
	assert.Equal(t, before, after, "new series:\n%s", all)
	assert.NotContains(t, all, "/unknown")
	assert.NotContains(t, all, "BREW")
	assert.Contains(t, all, "http.request.method=_OTHER")
}

func TestMetricsClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer func(req typhon.Request) typhon.Response
		want   string
	}{
		{"success", func(req typhon.Request) typhon.Response { return req.Response("ok") },
			"http.request.method=GET http.response.status_code=200"},
		{"refined code", func(req typhon.Request) typhon.Response {
			return typhon.ErrorResponse(req, typhon.NewError("not_found.user", "no such user"))
		}, "error.type=not_found http.request.method=GET"},
		{"code outside the table", func(req typhon.Request) typhon.Response {
			return typhon.ErrorResponse(req, typhon.NewError("made_up.by_downstream", "?"))
		}, "error.type=_OTHER http.request.method=GET"},
		{"4xx without an Error", func(req typhon.Request) typhon.Response {
			rsp := req.Response(nil)
			rsp.StatusCode = http.StatusTeapot
			return rsp
		}, "error.type=418 http.request.method=GET http.response.status_code=418"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := metricsNewReader(t)
			client := typhon.Service(tt.answer).Filter(filters.Metrics(filters.WithMeterProvider(r)))
			rsp := client(typhon.NewRequest(t.Context(), "GET", "https://users.internal/users/1?q=2", nil))
			if rsp.Body != nil {
				rsp.Body.Close()
			}
			points := r.collect(t)
			assert.Equal(t, map[string]int64{
				tt.want + " server.address=users.internal server.port=443 url.scheme=https": 1,
			}, metricsFind(points, "http.client.request.duration"))
			assert.Equal(t, map[string]int64{
				"http.request.method=GET server.address=users.internal server.port=443 url.scheme=https": 0,
			}, metricsFind(points, "http.client.active_requests"))
		})
	}
}

// A call is active, and its duration runs, until its Response body is done.
func TestMetricsUntilBodyDone(t *testing.T) {
	t.Parallel()
	r := metricsNewReader(t)
	pr, pw := io.Pipe()
	client := typhon.Service(func(req typhon.Request) typhon.Response {
		rsp := req.Response(nil)
		rsp.Body = pr
		return rsp
	}).Filter(filters.Metrics(filters.WithMeterProvider(r)))
	rsp := client(typhon.NewRequest(t.Context(), "GET", "http://streams.internal/", nil))
	active := func() int64 {
		for _, v := range metricsFind(r.collect(t), "http.client.active_requests") {
			return v
		}
		return -1
	}
	assert.Equal(t, int64(1), active())
	assert.Empty(t, r.collect(t)["http.client.request.duration"])
	pw.Close()
	rsp.Body.Close()
	assert.Equal(t, int64(0), active())
	assert.Len(t, r.collect(t)["http.client.request.duration"], 1)
}

func TestMetricsPanicLeavesNoActiveRequest(t *testing.T) {
	t.Parallel()
	r := metricsNewReader(t)
	f := filters.Metrics(filters.WithMeterProvider(r))
	assert.Panics(t, func() {
		f(typhon.NewRequest(t.Context(), "GET", "http://a.internal/", nil), func(typhon.Request) typhon.Response { panic("boom") })
	})
	for _, v := range metricsFind(r.collect(t), "http.client.active_requests") {
		assert.Zero(t, v)
	}
}

// An instrument a view drops is not recorded; the others are.
func TestMetricsDroppedInstrument(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(
		sdkmetric.NewView(sdkmetric.Instrument{Name: "http.client.request.duration"}, sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}})))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	r := &metricsReader{MeterProvider: mp, reader: reader}
	client := benchOKService().Filter(filters.Metrics(filters.WithMeterProvider(r)))
	client(typhon.NewRequest(t.Context(), "GET", "http://a.internal/", nil))
	points := r.collect(t)
	assert.Empty(t, points["http.client.request.duration"])
	assert.Len(t, points["http.client.response.body.size"], 1)
}

func TestMetricsNoopAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	for name, mp := range map[string]metric.MeterProvider{"noop": noop.NewMeterProvider()} {
		f := filters.Metrics(filters.WithMeterProvider(mp))
		ok := benchOKService()
		client := typhon.NewRequest(context.Background(), "GET", "http://users.internal/users/1", nil)
		server := traceInbound(t, "GET", "/users/1", nil)
		assert.Zero(t, testing.AllocsPerRun(100, func() { f(client, ok) }), name+" client")
		assert.Zero(t, testing.AllocsPerRun(100, func() { f(server, ok) }), name+" server")
	}
}

// Without options, Metrics uses the global provider, looked up per call. It
// sets the global, so it does not run in parallel.
func TestMetricsGlobalProvider(t *testing.T) {
	f := filters.Metrics()
	call := func() { f(typhon.NewRequest(context.Background(), "GET", "http://a.internal/", nil), benchOKService()) }
	prev := otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetMeterProvider(prev) })

	first, second := metricsNewReader(t), metricsNewReader(t)
	otel.SetMeterProvider(first)
	call()
	otel.SetMeterProvider(second)
	call()
	call()
	assert.Equal(t, []int64{1}, metricsValues(first.collect(t)["http.client.request.duration"]))
	assert.Equal(t, []int64{2}, metricsValues(second.collect(t)["http.client.request.duration"]))

	otel.SetMeterProvider(noop.NewMeterProvider())
	if !testing.Short() {
		req := typhon.NewRequest(context.Background(), "GET", "http://users.internal/", nil)
		ok := benchOKService()
		assert.Zero(t, testing.AllocsPerRun(100, func() { f(req, ok) }), "a global no-op provider")
	}
}

func metricsValues(points []metricsPoint) []int64 {
	var v []int64
	for _, p := range points {
		v = append(v, p.value)
	}
	return v
}

func BenchmarkMetrics(b *testing.B) {
	providers := []struct {
		name string
		mp   metric.MeterProvider
	}{
		{"global-unset", nil}, // otel's global provider, with no SDK set: the default
		{"noop", noop.NewMeterProvider()},
		{"sdk", sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))},
	}
	for _, p := range providers {
		for _, side := range []string{"client", "server"} {
			b.Run(p.name+"/"+side, func(b *testing.B) {
				f := filters.Metrics()
				if p.mp != nil {
					f = filters.Metrics(filters.WithMeterProvider(p.mp))
				}
				ok := benchOKService()
				req := typhon.NewRequest(context.Background(), "GET", "http://users.internal/users/1", nil)
				if side == "server" {
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
