package typhon

import "context"

// RequestIDHeader carries a request's ID from caller to server and back.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// WithRequestID returns a context that carries the request ID id. The client
// sends it downstream as [RequestIDHeader] on every request made with that
// context (unless [WithoutPropagation]); filters.RequestID puts the ID of
// each inbound request there.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Inbound reports whether req came in through a server ([HTTPHandler] or
// [Listen]) rather than being made to send: filters that act differently on
// each side of the wire (a server span or a client span) tell them apart
// with it. Requests made with [NewRequest] are outbound.
func Inbound(req Request) bool {
	return req.x != nil && req.x.inbound
}
