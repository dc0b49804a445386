package filters_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleRecover() {
	buggy := typhon.Service(func(req typhon.Request) typhon.Response {
		var items []string
		_ = items[len(req.URL.Path)] // index out of range: panics
		return req.Response(nil)
	})
	logger := slog.New(slog.DiscardHandler) // the panic and its stack are logged here
	svc := buggy.Filter(filters.Recover(filters.WithLogger(logger)))

	rsp := svc(typhon.NewRequest(context.Background(), "GET", "http://svc/", nil))
	fmt.Println(rsp.StatusCode, rsp.Error)
	// Output:
	// 500 internal_service: internal error
}
