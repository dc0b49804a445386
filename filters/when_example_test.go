package filters_test

import (
	"context"
	"fmt"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleWhen() {
	// Uploads may be large; everything else is limited to 1 KiB.
	notUpload := func(req typhon.Request) bool { return req.URL.Path != "/upload" }
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		return req.Response(nil)
	}).Filter(filters.When(notUpload, filters.BodyLimit(1<<10)))

	big := make([]byte, 4<<10)
	for _, path := range []string{"/upload", "/comment"} {
		rsp := svc(typhon.NewRequest(context.Background(), "POST", "http://svc"+path, big))
		fmt.Println(path, rsp.StatusCode)
	}
	// Output:
	// /upload 200
	// /comment 413
}
