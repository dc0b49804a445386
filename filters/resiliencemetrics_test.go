package filters_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func TestResilienceMetricsRetries(t *testing.T) {
	t.Parallel()
	r := metricsNewReader(t)
	rm := filters.NewResilienceMetrics(r)
	backend := &traceAttempts{fails: 2}
	client := typhon.Service(backend.serve).Filter(rm.CountRetries(filters.Retry(filters.WithBackoff(0, 0))))
	rsp := client(typhon.NewRequest(t.Context(), "GET", "http://users.internal/users/1", nil))
	require.NoError(t, rsp.Error)
	rsp.Body.Close()
	assert.Equal(t, map[string]int64{
		"error.type=unavailable http.request.method=GET server.address=users.internal": 2,
	}, metricsFind(r.collect(t), "typhon.retries"))
}

func TestResilienceMetricsHedges(t *testing.T) {
	t.Parallel()
	r := metricsNewReader(t)
	rm := filters.NewResilienceMetrics(r)
	var calls atomic.Int32
	both := make(chan struct{})
	backend := typhon.Service(func(req typhon.Request) typhon.Response {
		if calls.Add(1) == 2 {
			close(both)
		}
		select {
		case <-both:
		case <-req.Context().Done():
		}
		return req.Response("ok")
	})
	client := backend.Filter(rm.CountHedges(filters.Hedge(filters.WithHedgeDelay(0))))
	rsp := client(typhon.NewRequest(t.Context(), "GET", "http://users.internal/users/1", nil))
	require.NoError(t, rsp.Error)
	rsp.Body.Close()
	assert.Equal(t, map[string]int64{
		"http.request.method=GET server.address=users.internal": 1,
	}, metricsFind(r.collect(t), "typhon.hedges"))
}

// A breaker that opens records the change, and the calls it rejects are
// counted as shed; calls it lets through are not.
func TestResilienceMetricsBreakerAndShed(t *testing.T) {
	t.Parallel()
	r := metricsNewReader(t)
	rm := filters.NewResilienceMetrics(r)
	backend := typhon.Service(func(req typhon.Request) typhon.Response {
		return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeInternalService, "down"))
	})
	breaker := filters.CircuitBreaker(
		filters.WithBreakerTrip(func(c filters.BreakerCounts) bool { return c.ConsecutiveFailures >= 2 }),
		filters.WithBreakerStateChange(rm.BreakerStateChange))
	client := backend.Filter(rm.CountShed("breaker", breaker))
	for range 5 {
		client(typhon.NewRequest(t.Context(), "POST", "http://users.internal/users", nil))
	}
	points := r.collect(t)
	assert.Equal(t, map[string]int64{
		"typhon.breaker.from=closed typhon.breaker.key=users.internal typhon.breaker.to=open": 1,
	}, metricsFind(points, "typhon.breaker.state_changes"))
	assert.Equal(t, map[string]int64{
		"http.request.method=POST typhon.shed.reason=breaker": 3,
	}, metricsFind(points, "typhon.shed"))
}

func TestResilienceMetricsNoopAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	rm := filters.NewResilienceMetrics(noop.NewMeterProvider())
	pass := func(req typhon.Request, svc typhon.Service) typhon.Response { return svc(req) }
	filtersUnderTest := map[string]typhon.Filter{
		"retries": rm.CountRetries(pass),
		"hedges":  rm.CountHedges(pass),
		"shed":    rm.CountShed("limit", pass),
	}
	req := typhon.NewRequest(context.Background(), "GET", "http://users.internal/", nil)
	ok := benchOKService()
	for name, f := range filtersUnderTest {
		assert.Zero(t, testing.AllocsPerRun(100, func() { f(req, ok) }), name)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		rm.BreakerStateChange("users.internal", filters.BreakerClosed, filters.BreakerOpen)
		rm.Retry(req, typhon.Response{})
		rm.Hedge(req)
		rm.Shed(req, "limit")
	}))
}
