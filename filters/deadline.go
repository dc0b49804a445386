package filters

import (
	"context"
	"time"

	"github.com/typhon-go/typhon"
)

// Deadline returns a Filter that gives a request without a deadline one of
// d from now; a request that has a deadline passes unchanged, whether it is
// sooner or later than d. On a client stack it makes sure no outbound call
// waits forever, and the callee learns the budget (typhon.TimeoutHeader);
// on a server, typhon.WithMaxTimeout does the same for every request.
//
// Unlike [Timeout], Deadline only sets the context: it starts no goroutine,
// and trusts the Service to honour its context, as typhon's client does.
// The derived context is cancelled when the Response body is done (see
// typhon.OnBodyDone), never when the Filter returns.
//
// Deadline panics if d is not positive. The Filter is safe for concurrent
// use; it allocates nothing for a request that already has a deadline.
func Deadline(d time.Duration) typhon.Filter {
	if d <= 0 {
		panic("filters: Deadline needs a positive duration, got " + d.String())
	}
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		if _, ok := req.Context().Deadline(); ok {
			return svc(req)
		}
		ctx, cancel := context.WithTimeout(req.Context(), d)
		returned := false
		defer func() {
			if !returned { // svc panicked
				cancel()
			}
		}()
		rsp := svc(req.WithContext(ctx))
		returned = true
		return typhon.OnBodyDone(rsp, cancel)
	}
}
