package typhon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

// ResponseFuture is the Response of a call in flight, made by
// [Request.Send] or [Request.SendVia]. It resolves when the Service returns,
// and no later than the request's context ends: then it holds a timeout or
// canceled error, and the late Response, when it comes, is discarded and its
// body closed. Its methods are safe for concurrent use.
type ResponseFuture struct {
	done     chan struct{}
	resolved atomic.Bool
	rsp      Response
	stop     func() bool // stops the context watch; nil if none
}

// Response blocks until the future resolves and returns its Response.
func (f *ResponseFuture) Response() Response {
	<-f.done
	return f.rsp
}

// Done returns a channel closed when the future has resolved, for select.
func (f *ResponseFuture) Done() <-chan struct{} {
	return f.done
}

// resolve sets the future's Response if nothing has yet, and reports
// whether it did. A Response that comes too late has its body closed.
func (f *ResponseFuture) resolve(rsp Response) bool {
	if !f.resolved.CompareAndSwap(false, true) {
		rsp.closeBody()
		return false
	}
	f.rsp = rsp
	close(f.done)
	return true
}

func resolvedFuture(rsp Response) *ResponseFuture {
	f := &ResponseFuture{done: make(chan struct{})}
	f.resolve(rsp)
	return f
}

func sendVia(req Request, svc Service) *ResponseFuture {
	if err := req.err(); err != nil {
		return resolvedFuture(normalize(Response{Error: err}, req))
	}
	if svc == nil {
		return resolvedFuture(normalize(Response{Error: NewError(CodeInternalService, "typhon: SendVia a nil Service")}, req))
	}
	f := &ResponseFuture{done: make(chan struct{})}
	ctx := req.Context()
	if ctx.Done() != nil {
		f.stop = context.AfterFunc(ctx, func() {
			f.resolve(normalize(Response{Error: contextError(ctx, nil)}, req))
		})
	}
	go func() {
		rsp := callSafely(svc, req)
		if f.stop != nil {
			f.stop()
		}
		f.resolve(rsp)
	}()
	return f
}

// callSafely calls svc, turning a panic into an internal_service error
// Response. The stack goes to the default logger, never to the caller.
func callSafely(svc Service, req Request) (rsp Response) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("typhon: panic in Service called by SendVia",
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			rsp = normalize(Response{Error: NewError(CodeInternalService, "panic in Service")}, req)
		}
	}()
	return normalize(svc(req), req)
}

// ContextError returns the error of a call that ctx cut short, once ctx is
// done: timeout for a deadline, canceled otherwise, with the context's
// error (and its cause) underneath, so that errors.Is(err,
// context.DeadlineExceeded) or context.Canceled holds. Filters that stop
// waiting for a call answer with it.
func ContextError(ctx context.Context) *Error {
	return contextError(ctx, nil)
}

// contextError is the error of a call cut short by ctx: timeout or canceled,
// with a cause that joins the context's error (so errors.Is(err,
// context.DeadlineExceeded) holds) and the transport's error, if any.
func contextError(ctx context.Context, transportErr error) *Error {
	ctxErr := ctx.Err()
	cause := ctxErr
	if c := context.Cause(ctx); c != nil && c != ctxErr {
		cause = errors.Join(ctxErr, c)
	}
	if transportErr != nil && transportErr != ctxErr {
		cause = errors.Join(cause, transportErr)
	}
	code, msg := CodeCanceled, "request canceled"
	if ctxErr == context.DeadlineExceeded {
		code, msg = CodeTimeout, "deadline exceeded"
	}
	return WrapError(cause, code, msg)
}
