package filters_test

import (
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleLog() {
	// A logger for the example: no time or duration, so the output is
	// the same each run.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))

	var r typhon.Router
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		if req.PathValue("id") != "1" {
			return typhon.Response{Error: typhon.NewError("not_found.user", "no such user")}
		}
		return req.Response(map[string]string{"name": "Ada"})
	})
	svc := r.Serve().
		Filter(filters.Log(filters.WithLogger(logger))).
		Filter(filters.RequestID)

	h := typhon.HTTPHandler(svc) // as a server would serve it
	for _, path := range []string{"/users/1", "/users/2"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Request-Id", "req-"+path[len(path)-1:])
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// level=INFO msg="http server request" http.request.method=GET http.route=/users/{id} http.response.status_code=200 http.request.body.size=0 http.response.body.size=14 request_id=req-1
	// level=WARN msg="http server request" http.request.method=GET http.route=/users/{id} http.response.status_code=404 error.code=not_found.user error="not_found.user: no such user" http.request.body.size=0 request_id=req-2
}
