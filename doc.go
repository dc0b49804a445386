// Package typhon is a toolkit for HTTP-native microservices, on net/http.
//
// A [Service] is a function from a [Request] to a [Response]; a [Filter]
// wraps a Service. The same types serve and call: a [Router] turns routes
// into one Service that [Listen] serves over HTTP/1.1 and h2c on one port,
// and a client ([NewClient]) is a Service that sends a Request to another
// process. Errors cross the wire as typed [Error] values with their code,
// message and params.
//
// Quick start:
//
//	var r typhon.Router
//	r.GET("/hello/{name}", func(req typhon.Request) typhon.Response {
//		return req.Response(map[string]string{"hello": req.PathValue("name")})
//	})
//	svc := r.Serve()
//
//	// Unit test: a Service is a function; call it.
//	rsp := svc(typhon.NewRequest(ctx, "GET", "/hello/ada", nil))
//
//	// Serve it, and call it over the network.
//	srv, err := typhon.Listen(svc, "127.0.0.1:8000")
//	rsp = typhon.NewRequest(ctx, "GET", "http://127.0.0.1:8000/hello/ada", nil).Send().Response()
//	var body map[string]string
//	err = rsp.Decode(&body) // or the *typhon.Error the server answered
//	srv.Stop(ctx)
//
// The filters package holds timeouts, retries, circuit breaking and the
// like; the testing/typhontest package helps test Services.
package typhon
