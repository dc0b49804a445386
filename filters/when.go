package filters

import "github.com/typhon-go/typhon"

// When returns a Filter that applies f to the requests for which match
// returns true and passes the others straight to the Service: the one way to
// apply any filter to some requests only (by path, method, header, side of
// the wire), instead of a skip-list option on each filter.
//
//	filters.When(func(req typhon.Request) bool {
//		return req.URL.Path != "/healthz"
//	}, filters.RateLimit(100, 10))
//
// match is called once per request, on the caller's goroutine. When panics
// if match or f is nil. The Filter is safe for concurrent use if match and f
// are, and allocates nothing of its own.
func When(match func(typhon.Request) bool, f typhon.Filter) typhon.Filter {
	if match == nil {
		panic("filters: When needs a match function")
	}
	if f == nil {
		panic("filters: When needs a Filter")
	}
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		if match(req) {
			return f(req, svc)
		}
		return svc(req)
	}
}
