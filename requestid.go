package typhon

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync/atomic"
	"unsafe"
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

func (c *requestIDCtx) requestID() string { return c.id }

func (c *requestIDCtx) String() string {
	return fmt.Sprintf("%v.WithRequestID(%q)", c.Context, c.id)
}

// A requestIDer is what a context answers for requestIDKey{}.
type requestIDer interface{ requestID() string }

// newIDCtx is a context whose request ID is made the first time someone
// asks for it: a request whose ID nobody logs, echoes or sends on costs no
// random numbers. It is safe for concurrent use.
type newIDCtx struct {
	context.Context
	state  atomic.Uint32 // idPending, idMaking, idMade
	id     string        // set once state is idMade; points into digits
	digits [32]byte
}

const (
	idPending uint32 = iota
	idMaking
	idMade
)

func (c *newIDCtx) Value(key any) any {
	if _, ok := key.(requestIDKey); ok {
		return c
	}
	return c.Context.Value(key)
}

func (c *newIDCtx) requestID() string {
	if c.state.Load() == idMade {
		return c.id
	}
	if c.state.CompareAndSwap(idPending, idMaking) {
		newRequestID(&c.digits)
		c.id = unsafe.String(&c.digits[0], len(c.digits))
		c.state.Store(idMade)
		return c.id
	}
	for c.state.Load() != idMade {
		runtime.Gosched() // another goroutine is writing 32 bytes
	}
	return c.id
}

func (c *newIDCtx) String() string {
	return fmt.Sprintf("%v.WithNewRequestID", c.Context)
}

// newRequestID writes a new request ID into digits: 128 random bits as 32
// lower-case hex digits. math/rand/v2's top-level functions use a
// per-thread ChaCha8 source: no lock, no system call.
func newRequestID(digits *[32]byte) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	hex.Encode(digits[:], b[:])
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

// WithNewRequestID returns a shallow copy of r whose context carries a new
// request ID: 128 random bits as 32 lower-case hex digits (unpredictable
// enough to be unique, not a secret), made the first time [RequestID] asks
// for it, so that a request whose ID nothing reads does not pay for it. The
// request, its context and the ID take one allocation. The copy shares r's
// exchange record.
func (r Request) WithNewRequestID() Request {
	if r.Request == nil {
		return r
	}
	c := &newIDRequest{ctx: newIDCtx{Context: r.Request.Context()}}
	c.req = *r.Request.WithContext(&c.ctx)
	return Request{Request: &c.req, x: r.x}
}

type newIDRequest struct {
	req http.Request
	ctx newIDCtx
}

// RequestID returns the request ID ctx carries, or "".
func RequestID(ctx context.Context) string {
	if c, ok := ctx.Value(requestIDKey{}).(requestIDer); ok {
		return c.requestID()
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
