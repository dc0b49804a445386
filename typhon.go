package typhon

// Service is the one abstraction of typhon: a function from a [Request] to a
// [Response]. A server's handler is a Service; so is a client that sends the
// Request to another process. Failures are carried in [Response.Error], never
// by panicking.
//
// A Service is called with a Request it may change (the Request is handed
// over, see [Request]). Anything that calls a Service more than once with the
// same Request, or concurrently, calls [Request.Clone] for each call.
type Service func(req Request) Response

// Filter returns a Service that calls f with each Request and with svc as the
// Service to pass it on to. The Response that comes out is normalised: it has
// a non-nil *http.Response and Header, and when Error is set its StatusCode is
// [ErrorStatus] of that error.
//
// Filters compose outwards: svc.Filter(a).Filter(b) runs b first, then a,
// then svc.
func (svc Service) Filter(f Filter) Service {
	next := func(req Request) Response { return normalize(svc(req), req) }
	return func(req Request) Response {
		return normalize(f(req, next), req)
	}
}

// Filter wraps a Service: it may change the Request, call svc (or not), and
// change or replace the Response. Timeouts, retries, tracing and the like are
// Filters; see the filters package.
type Filter func(req Request, svc Service) Response
