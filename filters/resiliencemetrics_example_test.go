package filters_test

import (
	"context"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// ResilienceMetrics wraps the resilience filters where they are built, and
// is the breaker's state-change callback.
func ExampleResilienceMetrics() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	rm := filters.NewResilienceMetrics(mp)

	calls := 0
	backend := typhon.Service(func(req typhon.Request) typhon.Response {
		calls++
		return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeUnavailable, "overloaded"))
	})
	client := backend.
		Filter(rm.CountShed("breaker", filters.CircuitBreaker(
			filters.WithBreakerStateChange(rm.BreakerStateChange)))).
		Filter(rm.CountRetries(filters.Retry(filters.WithBackoff(0, 0))))
	// Around a server: rm.CountShed("concurrency", filters.ConcurrencyLimit(100)),
	// and around a client: rm.CountHedges(filters.Hedge()).

	// Two calls of 3 failed attempts each open the breaker (after more than
	// 5 failures in a row), which turns the third call away at once.
	for range 3 {
		client(typhon.NewRequest(context.Background(), "GET", "http://users.internal/users/1", nil))
	}
	fmt.Println("backend calls:", calls)

	var rm2 metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm2)
	var lines []string
	for _, m := range rm2.ScopeMetrics[0].Metrics {
		for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
			lines = append(lines, fmt.Sprintf("%s %d %v", m.Name, p.Value, p.Attributes.Encoded(attribute.DefaultEncoder())))
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// backend calls: 6
	// typhon.breaker.state_changes 1 typhon.breaker.from=closed,typhon.breaker.key=users.internal,typhon.breaker.to=open
	// typhon.retries 4 error.type=unavailable,http.request.method=GET,server.address=users.internal
	// typhon.shed 1 http.request.method=GET,typhon.shed.reason=breaker
}
