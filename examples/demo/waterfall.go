package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// barWidth is the width of the waterfall's bars, for the whole trace.
const barWidth = 40

// printWaterfall prints the spans of one trace as a tree, one line per
// span, each child under its parent in the order they started: service,
// span, start offset from the trace's start, duration, status, and a bar.
// hosts names the services by the address their clients call.
func printWaterfall(w io.Writer, spans tracetest.SpanStubs, hosts map[string]string) {
	if len(spans) == 0 {
		fmt.Fprintln(w, "   (no spans)")
		return
	}
	start, end := spans[0].StartTime, spans[0].EndTime
	byID := map[trace.SpanID]bool{}
	for _, s := range spans {
		if s.StartTime.Before(start) {
			start = s.StartTime
		}
		if s.EndTime.After(end) {
			end = s.EndTime
		}
		byID[s.SpanContext.SpanID()] = true
	}
	total := end.Sub(start)
	children := map[trace.SpanID][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if p := s.Parent.SpanID(); s.Parent.IsValid() && byID[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	byStart := func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) }
	slices.SortFunc(roots, byStart)

	fmt.Fprintf(w, "   trace %s, %v\n", spans[0].SpanContext.TraceID(), roundDuration(total))
	fmt.Fprintf(w, "   %-8s %-34s %8s %8s  %s\n", "service", "span", "start", "took", "status")
	var walk func(s tracetest.SpanStub, depth int)
	walk = func(s tracetest.SpanStub, depth int) {
		name := strings.Repeat("  ", depth) + spanLabel(s, hosts)
		offset, took := s.StartTime.Sub(start), s.EndTime.Sub(s.StartTime)
		fmt.Fprintf(w, "   %-8s %-34s %8s %8s  %-22s %s\n", serviceName(s), name,
			millis(offset), millis(took), spanStatus(s), bar(offset, took, total))
		kids := children[s.SpanContext.SpanID()]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
}

// spanLabel is the span's name, with the service called for a client span
// ("GET → users"), whose name is the method alone.
func spanLabel(s tracetest.SpanStub, hosts map[string]string) string {
	if s.SpanKind != trace.SpanKindClient {
		return s.Name
	}
	addr, port := attr(s.Attributes, "server.address"), attr(s.Attributes, "server.port")
	if name, ok := hosts[addr+":"+port]; ok {
		return s.Name + " → " + name
	}
	return s.Name + " → " + addr
}

func serviceName(s tracetest.SpanStub) string {
	if s.Resource == nil {
		return "?"
	}
	v, _ := s.Resource.Set().Value("service.name")
	return v.AsString()
}

// spanStatus is the HTTP status and, for a span whose status is Error, the
// typhon error code (error.type).
func spanStatus(s tracetest.SpanStub) string {
	st := attr(s.Attributes, "http.response.status_code")
	if s.Status.Code == codes.Error {
		return strings.TrimSpace(st + " ✗ " + attr(s.Attributes, "error.type"))
	}
	if et := attr(s.Attributes, "error.type"); et != "" {
		return st + " " + et
	}
	return st
}

func attr(kvs []attribute.KeyValue, key string) string {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// bar draws the span's extent on a line of barWidth columns for the whole
// trace: at least one column, so that the shortest span shows.
func bar(offset, took, total time.Duration) string {
	if total <= 0 {
		return "│" + strings.Repeat("█", barWidth) + "│"
	}
	from := int(float64(offset) / float64(total) * barWidth)
	to := int(math.Ceil(float64(offset+took) / float64(total) * barWidth))
	from = min(max(from, 0), barWidth-1)
	to = min(max(to, from+1), barWidth)
	return "│" + strings.Repeat(" ", from) + strings.Repeat("█", to-from) + strings.Repeat(" ", barWidth-to) + "│"
}

// millis formats d in milliseconds, or microseconds below a tenth of one.
func millis(d time.Duration) string {
	if d < 100*time.Microsecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func roundDuration(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// printMetrics prints, per service, the requests it served by route and
// the calls it made by service called, with how many failed, from the
// http.server.request.duration and http.client.request.duration
// histograms.
func printMetrics(w io.Writer, t *telemetry, hosts map[string]string) error {
	fmt.Fprintf(w, "   %-8s %-8s %-28s %6s %6s %10s\n", "service", "side", "route / service called", "count", "errors", "mean")
	for _, name := range t.order {
		var rm metricdata.ResourceMetrics
		if err := t.readers[name].Collect(context.Background(), &rm); err != nil {
			return err
		}
		type row struct {
			side, key     string
			count, errors uint64
			sum           float64
		}
		var rows []*row
		find := func(side, key string) *row {
			for _, r := range rows {
				if r.side == side && r.key == key {
					return r
				}
			}
			r := &row{side: side, key: key}
			rows = append(rows, r)
			return r
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				side := map[string]string{"http.server.request.duration": "served", "http.client.request.duration": "called"}[m.Name]
				h, ok := m.Data.(metricdata.Histogram[float64])
				if side == "" || !ok {
					continue
				}
				for _, dp := range h.DataPoints {
					method, _ := dp.Attributes.Value("http.request.method")
					key := method.AsString() + " "
					if side == "served" {
						route, ok := dp.Attributes.Value("http.route")
						if ok {
							key += route.AsString()
						} else {
							key += "(no route)"
						}
					} else {
						addr, _ := dp.Attributes.Value("server.address")
						port, _ := dp.Attributes.Value("server.port")
						host := addr.String() + ":" + port.String()
						if n, ok := hosts[host]; ok {
							host = n
						}
						key += host
					}
					r := find(side, key)
					r.count += dp.Count
					r.sum += dp.Sum
					if dp.Attributes.HasValue("error.type") {
						r.errors += dp.Count
					}
				}
			}
		}
		slices.SortFunc(rows, func(a, b *row) int {
			return cmp.Or(strings.Compare(b.side, a.side), strings.Compare(a.key, b.key)) // served first
		})
		for _, r := range rows {
			mean := time.Duration(r.sum / float64(r.count) * float64(time.Second))
			fmt.Fprintf(w, "   %-8s %-8s %-28s %6d %6d %10s\n", name, r.side, r.key, r.count, r.errors, millis(mean))
		}
	}
	return nil
}
