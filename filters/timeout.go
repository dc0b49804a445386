package filters

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/typhon-go/typhon"
)

// A TimeoutOption configures [Timeout]: [WithLogger].
type TimeoutOption interface{ applyTimeout(*timeoutConfig) }

type timeoutConfig struct{ logger *slog.Logger }

func (o LoggerOption) applyTimeout(c *timeoutConfig) { c.logger = o.logger }

// Timeout returns a Filter that bounds each call to d. The Service is called
// with a context that ends d from now, or at the request's own deadline if
// that is earlier (an earlier deadline is kept, never extended). When the
// context ends before the Service returns, the Filter answers at once, even
// if the Service ignores its context: timeout, with errors.Is(err,
// context.DeadlineExceeded), or canceled if the caller's context was
// cancelled.
//
// To answer on time whatever the Service does, Timeout calls it on a new
// goroutine, and only then: a request whose context has already ended is
// answered without calling the Service. A result that comes after the
// answer is discarded and its body closed; the goroutine ends when the
// Service returns. The Request is handed over to that goroutine: after a
// timeout the Service may still be using it.
//
// The derived context is cancelled when the Response body is read to EOF,
// fails or is closed (see typhon.OnBodyDone), never when the Filter returns,
// so a streamed body is not cut short; whoever gets the Response closes its
// body, as always. A panic in the Service is raised again on the caller's
// goroutine, with the stack of where it happened (as an error whose text
// includes it); one that comes after the answer is logged to the logger of
// [WithLogger] (by default slog.Default()).
//
// Timeout panics if d is not positive. The Filter is safe for concurrent
// use. See [Deadline] for a deadline that starts no goroutine.
func Timeout(d time.Duration, opts ...TimeoutOption) typhon.Filter {
	if d <= 0 {
		panic("filters: Timeout needs a positive duration, got " + d.String())
	}
	var c timeoutConfig
	for _, o := range opts {
		o.applyTimeout(&c)
	}
	logger := loggerOrDefault(c.logger)
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		parent := req.Context()
		if parent.Err() != nil {
			closeRequestBody(req)
			return typhon.ErrorResponse(req, typhon.ContextError(parent))
		}
		ctx, cancel := context.WithTimeout(parent, d)
		call := &timeoutCall{done: make(chan struct{})}
		go call.run(svc, req.WithContext(ctx), logger)
		select {
		case <-call.done:
			return call.result(cancel)
		case <-ctx.Done():
		}
		if !call.state.CompareAndSwap(timeoutPending, timeoutAbandoned) {
			<-call.done // the result came in just now: it wins
			return call.result(cancel)
		}
		err := typhon.ContextError(ctx)
		cancel()
		return typhon.ErrorResponse(req, err)
	}
}

// The states of a timeoutCall: the first of the Service (delivered) and the
// Filter (abandoned) to move it from pending decides who owns the result.
const (
	timeoutPending int32 = iota
	timeoutDelivered
	timeoutAbandoned
)

// timeoutCall is one call that [Timeout] made on its own goroutine.
type timeoutCall struct {
	state    atomic.Int32
	done     chan struct{} // closed once rsp or panicked is set and delivered
	rsp      typhon.Response
	panicked any
}

func (c *timeoutCall) run(svc typhon.Service, req typhon.Request, logger *slog.Logger) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p != http.ErrAbortHandler {
			p = &goroutinePanic{value: p, stack: debug.Stack()}
		}
		if c.state.CompareAndSwap(timeoutPending, timeoutDelivered) {
			c.panicked = p
			close(c.done)
			return
		}
		if p != http.ErrAbortHandler {
			gp := p.(*goroutinePanic)
			method, path := requestMethodPath(req)
			logger.Error("filters: panic in a Service after Timeout answered", "method", method,
				"path", path, "panic", fmt.Sprint(gp.value), "stack", string(gp.stack))
		}
	}()
	rsp := svc(req)
	if c.state.CompareAndSwap(timeoutPending, timeoutDelivered) {
		c.rsp = rsp
		close(c.done)
		return
	}
	closeResponseBody(rsp) // too late: discarded
}

// result returns the Service's Response, with the context released when its
// body is done, or raises the Service's panic again.
func (c *timeoutCall) result(cancel context.CancelFunc) typhon.Response {
	if c.panicked != nil {
		cancel()
		panic(c.panicked)
	}
	return typhon.OnBodyDone(c.rsp, cancel)
}

// closeRequestBody closes the body of a request a filter answers without
// calling its Service, as a transport closes the body of a request it does
// not send.
func closeRequestBody(req typhon.Request) {
	if req.Request != nil && req.Body != nil && req.Body != http.NoBody {
		req.Body.Close()
	}
}

// closeResponseBody closes the body of a Response a filter discards.
func closeResponseBody(rsp typhon.Response) {
	if rsp.Response != nil && rsp.Body != nil {
		rsp.Body.Close()
	}
}
