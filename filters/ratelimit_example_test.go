package filters_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/time/rate"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleRateLimit() {
	// Each client IP may make 1 request a minute, with bursts of 2; at
	// most 50,000 IPs are tracked.
	clientIP := func(req typhon.Request) string {
		host, _, _ := net.SplitHostPort(req.RemoteAddr)
		return host
	}
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		return req.Response(nil)
	}).Filter(filters.RateLimit(rate.Every(time.Minute), 2,
		filters.WithRateLimitKey(clientIP), filters.WithRateLimitMaxKeys(50_000)))

	for _, ip := range []string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "198.51.100.7"} {
		req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
		req.RemoteAddr = ip + ":4321"
		rsp := svc(req)
		wait, _ := typhon.RetryAfter(rsp.Error)
		fmt.Println(ip, rsp.StatusCode, wait.Round(time.Second))
	}
	// Output:
	// 192.0.2.1 200 0s
	// 192.0.2.1 200 0s
	// 192.0.2.1 429 1m0s
	// 198.51.100.7 200 0s
}
