package filters_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// A server traced around its Router names its spans after the route; a
// client traced around its transport makes the server's span its child.
func ExampleTrace() {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer tp.Shutdown(context.Background())

	var users typhon.Router
	users.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		return req.Response(map[string]string{"id": req.PathValue("id")})
	})
	server := users.Serve().Filter(filters.Trace(filters.WithTracerProvider(tp)))

	// In process, through the server bridge, as over the network.
	transport := typhon.FromHandler(typhon.HTTPHandler(server))
	client := transport.Filter(filters.Trace(filters.WithTracerProvider(tp)))

	var user map[string]string
	rsp := client(typhon.NewRequest(context.Background(), "GET", "http://users.internal/users/42", nil))
	if err := rsp.Decode(&user); err != nil {
		fmt.Println(err)
		return
	}
	spans := exporter.GetSpans()
	for _, s := range spans {
		route := attribute.NewSet(s.Attributes...)
		r, _ := route.Value("http.route")
		fmt.Printf("%s span %q route=%q\n", s.SpanKind, s.Name, r.AsString())
	}
	fmt.Println("one trace:", spans[0].SpanContext.TraceID() == spans[1].SpanContext.TraceID())
	fmt.Println("server is the client's child:", spans[0].Parent.SpanID() == spans[1].SpanContext.SpanID())
	// Output:
	// server span "GET /users/{id}" route="/users/{id}"
	// client span "GET" route=""
	// one trace: true
	// server is the client's child: true
}

// A Trace outside Retry makes the logical call's span; a second inside it
// makes one child span per attempt.
func ExampleTrace_retries() {
	exporter := tracetest.NewInMemoryExporter()
	tp := filters.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter)))

	calls := 0
	backend := typhon.Service(func(req typhon.Request) typhon.Response {
		if calls++; calls < 3 {
			return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeUnavailable, "busy"))
		}
		return req.Response("ok")
	})
	client := backend.
		Filter(filters.Trace(tp)). // each attempt
		Filter(filters.Retry(filters.WithBackoff(0, 0))).
		Filter(filters.Trace(tp)) // the logical call

	rsp := client(typhon.NewRequest(context.Background(), "GET", "http://users.internal/users/42", nil))
	rsp.Body.Close()
	spans := exporter.GetSpans()
	logical := spans[len(spans)-1]
	for _, s := range spans[:len(spans)-1] {
		attrs := attribute.NewSet(s.Attributes...)
		resend, _ := attrs.Value("http.request.resend_count")
		errorType, _ := attrs.Value("error.type")
		fmt.Printf("attempt: child=%v resend_count=%d error.type=%q\n",
			s.Parent.SpanID() == logical.SpanContext.SpanID(), resend.AsInt64(), errorType.AsString())
	}
	fmt.Println("logical:", logical.Name, logical.Status.Code)
	// Output:
	// attempt: child=true resend_count=0 error.type="unavailable"
	// attempt: child=true resend_count=1 error.type="unavailable"
	// attempt: child=true resend_count=2 error.type=""
	// logical: GET Unset
}
