package filters_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// Metrics around a Router labels each request with the route it matched;
// a path that matched none gets no route label, so it adds no series.
func ExampleMetrics() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	var users typhon.Router
	users.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		if req.PathValue("id") == "0" {
			return typhon.ErrorResponse(req, typhon.NewError("not_found.user", "no user 0"))
		}
		return req.Response(map[string]string{"id": req.PathValue("id")})
	})
	handler := typhon.HTTPHandler(users.Serve().Filter(filters.Metrics(filters.WithMeterProvider(mp))))
	for _, path := range []string{"/users/1", "/users/2", "/users/0", "/wp-admin.php", "/.env"} {
		handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	var lines []string
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != "http.server.request.duration" {
			continue
		}
		for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
			route, _ := p.Attributes.Value("http.route")
			status, _ := p.Attributes.Value("http.response.status_code")
			errorType, _ := p.Attributes.Value("error.type")
			lines = append(lines, fmt.Sprintf("route=%q status=%d error.type=%q count=%d",
				route.AsString(), status.AsInt64(), errorType.AsString(), p.Count))
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// route="" status=404 error.type="not_found" count=2
	// route="/users/{id}" status=200 error.type="" count=2
	// route="/users/{id}" status=404 error.type="not_found" count=1
}
