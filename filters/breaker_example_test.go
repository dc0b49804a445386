package filters_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleCircuitBreaker() {
	calls := 0
	backend := typhon.Service(func(req typhon.Request) typhon.Response {
		calls++
		return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeInternalService, "database down"))
	})
	client := backend.Filter(filters.CircuitBreaker(
		filters.WithBreakerStateChange(func(key string, from, to filters.BreakerState) {
			fmt.Printf("%s: %s -> %s\n", key, from, to)
		})))

	for range 8 {
		rsp := client(typhon.NewRequest(context.Background(), http.MethodGet, "http://users.internal/users/1", nil))
		wait, _ := typhon.RetryAfter(rsp.Error)
		fmt.Println(rsp.StatusCode, errors.Is(rsp.Error, filters.ErrCircuitOpen), wait.Round(time.Second))
	}
	fmt.Println("backend calls:", calls)
	// Output:
	// 500 false 0s
	// 500 false 0s
	// 500 false 0s
	// 500 false 0s
	// 500 false 0s
	// users.internal: closed -> open
	// 500 false 0s
	// 503 true 1m0s
	// 503 true 1m0s
	// backend calls: 6
}

// A Breaker's decision works for any call, not only a Service's.
func ExampleBreaker_Allow() {
	b := filters.NewBreaker(filters.WithBreakerTrip(func(c filters.BreakerCounts) bool {
		return c.Requests >= 4 && c.Failures*2 >= c.Requests // half of at least 4 calls failed
	}))
	query := func(fail bool) error {
		done, err := b.Allow("postgres")
		if err != nil {
			return err // open: not even tried
		}
		if fail {
			err = errors.New("connection reset")
		}
		done(err)
		return err
	}
	for _, fail := range []bool{false, true, false, true, false} {
		err := query(fail)
		state, _ := b.State("postgres")
		fmt.Printf("%-5v %-45v %s\n", fail, err, state)
	}
	// Output:
	// false <nil>                                         closed
	// true  connection reset                              closed
	// false <nil>                                         closed
	// true  connection reset                              open
	// false unavailable: circuit breaker open             open
}
