package filters_test

import (
	"net/http"

	"github.com/typhon-go/typhon"
)

// benchOKService answers every request with one body-less 200 Response,
// made once: the cost of a pass-through call is then the filter's own.
func benchOKService() typhon.Service {
	rsp := typhon.Response{Response: &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}}
	return func(typhon.Request) typhon.Response { return rsp }
}
