package filters_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleTimeout() {
	stuck := make(chan struct{})
	slow := typhon.Service(func(req typhon.Request) typhon.Response {
		<-stuck // ignores its context
		return req.Response("too late")
	})
	svc := slow.Filter(filters.Timeout(20 * time.Millisecond))

	rsp := svc(typhon.NewRequest(context.Background(), "GET", "http://slow/", nil))
	fmt.Println(typhon.ErrorCode(rsp.Error), rsp.StatusCode)
	fmt.Println(errors.Is(rsp.Error, context.DeadlineExceeded))
	close(stuck) // the late Response is discarded, its body closed
	// Output:
	// timeout 504
	// true
}
