package filters_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleRequestID() {
	var seen string
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		// Calls made with req.Context() send the same ID downstream.
		seen = typhon.RequestID(req.Context())
		if req.URL.Path == "/fail" {
			return typhon.Response{Error: typhon.NewError(typhon.CodeNotFound, "no such thing")}
		}
		return req.Response("ok")
	}).Filter(filters.RequestID)

	// On a server: the caller's valid ID is kept.
	h := typhon.HTTPHandler(svc)
	hr := httptest.NewRequest("GET", "/", nil)
	hr.Header.Set("X-Request-Id", "edge-7f3a")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	fmt.Println("kept:", seen)

	// An invalid one is replaced by 32 random hex digits, and an error
	// answer echoes the ID the server used.
	hr = httptest.NewRequest("GET", "/fail", nil)
	hr.Header.Set("X-Request-Id", "not valid!")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	fmt.Println("replaced:", len(seen), "characters, echoed on", w.Code, w.Header().Get("X-Request-Id") == seen)

	// In process, around a client: the context's ID is used as it is.
	ctx := typhon.WithRequestID(context.Background(), "job-12")
	svc(typhon.NewRequest(ctx, "GET", "http://svc/", nil))
	fmt.Println("outbound:", seen)
	// Output:
	// kept: edge-7f3a
	// replaced: 32 characters, echoed on 404 true
	// outbound: job-12
}
