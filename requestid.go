package typhon

import (
	"context"
	"fmt"
	"net/http"
)

// RequestIDHeader carries a request's ID from caller to server and back.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// WithRequestID returns a context that carries the request ID id. The client
// sends it downstream as [RequestIDHeader] on every request made with that
// context (unless [WithoutPropagation]); filters.RequestID puts the ID of
// each inbound request there.
func WithRequestID(ctx context.Context, id string) context.Context {
	if ctx == nil {
		panic("cannot create context from nil parent") // as context.WithValue does
	}
	return &requestIDCtx{Context: ctx, id: id}
}

// requestIDCtx is context.WithValue(ctx, requestIDKey{}, id) in one
// allocation where WithValue takes two (the string is boxed): it answers
// requestIDKey{} with itself, and every other key as its parent does, so
// that the context package still finds the parent's cancellation.
type requestIDCtx struct {
	context.Context
	id string
}

func (c *requestIDCtx) Value(key any) any {
	if _, ok := key.(requestIDKey); ok {
		return c
	}
	return c.Context.Value(key)
}

func (c *requestIDCtx) String() string {
	return fmt.Sprintf("%v.WithRequestID(%q)", c.Context, c.id)
}

// WithRequestID returns a shallow copy of r whose context carries the
// request ID id: r.WithContext(WithRequestID(r.Context(), id)) in one
// allocation where that takes two. The copy shares r's exchange record.
func (r Request) WithRequestID(id string) Request {
	if r.Request == nil {
		return r
	}
	c := &requestIDRequest{ctx: requestIDCtx{Context: r.Request.Context(), id: id}}
	// WithContext is inlined and its copy does not escape: the only heap
	// copy of the request is the one in c.
	c.req = *r.Request.WithContext(&c.ctx)
	return Request{Request: &c.req, x: r.x}
}

type requestIDRequest struct {
	req http.Request
	ctx requestIDCtx
}

// RequestID returns the request ID ctx carries, or "".
func RequestID(ctx context.Context) string {
	if c, ok := ctx.Value(requestIDKey{}).(*requestIDCtx); ok {
		return c.id
	}
	return ""
}

// Inbound reports whether req came in through a server ([HTTPHandler] or
// [Listen]) rather than being made to send: filters that act differently on
// each side of the wire (a server span or a client span) tell them apart
// with it. Requests made with [NewRequest] are outbound.
func Inbound(req Request) bool {
	return req.x != nil && req.x.inbound
}
