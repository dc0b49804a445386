package filters_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleBodyLimit() {
	echo := typhon.Service(func(req typhon.Request) typhon.Response {
		var s string
		if err := req.Decode(&s); err != nil {
			return typhon.ErrorResponse(req, err)
		}
		return req.Response(len(s))
	})
	svc := echo.Filter(filters.BodyLimit(16))

	for _, body := range []string{"short", strings.Repeat("long", 10)} {
		rsp := svc(typhon.NewRequest(context.Background(), "POST", "http://echo/", body))
		var n int
		if err := rsp.Decode(&n); err != nil {
			fmt.Println(rsp.StatusCode, typhon.ErrorCode(err))
			continue
		}
		fmt.Println(rsp.StatusCode, "length", n)
	}
	// Output:
	// 200 length 5
	// 413 request_too_large
}
