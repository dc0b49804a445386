package typhon

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Request is an HTTP request on its way to a [Service], on either side of the
// wire. It embeds *http.Request, so Method, URL, Header, Body and PathValue
// are at hand, and it is only two words wide, so passing it by value through a
// chain of filters costs nothing.
//
// Copies of a Request share the *http.Request (its headers, URL and body) and
// a per-exchange record (the matched route pattern, see [RoutePattern]).
// Calling a Service hands the Request over: the callee may change it. Code
// that sends one Request more than once or concurrently calls [Request.Clone]
// for each use.
//
// The zero Request is not a request: Context returns context.Background,
// Decode fails, Send answers an error without calling anything, and its
// promoted fields panic as on a nil *http.Request. A Request is not safe for
// concurrent use.
type Request struct {
	*http.Request
	x *exchange
}

// exchange is what the copies of one Request share.
type exchange struct {
	err     error  // construction error, answered by Send/SendVia
	pattern string // route pattern matched by the innermost Router
	// mountPattern and mountPath carry a Router's mount point to a Router
	// mounted under it: the pattern so far and the path left to route.
	mountPattern string
	mountPath    string
	mounted      bool
	inbound      bool // came in through HTTPHandler: the server side
	// params are the path values set through Request.SetPathValue (by a
	// Router), one per name, in the order first set.
	params []pathParam
}

type pathParam struct{ name, value string }

// PathValue returns the value of the path wildcard name in the pattern that
// matched the request: set by a [Router] (or [Request.SetPathValue]), or
// else by whatever routed the *http.Request (http.ServeMux), as
// http.Request.PathValue returns it. It returns "" if there is none, and for
// the zero Request.
func (r Request) PathValue(name string) string {
	if p := r.x.pathParam(name); p != nil {
		return p.value
	}
	if r.Request == nil {
		return ""
	}
	return r.Request.PathValue(name)
}

// SetPathValue sets name to value, so that r.PathValue(name) returns
// value, and so do the copies of r that share its exchange. The value is
// kept with the Request rather than in the *http.Request, where setting it
// costs a map: an http.Handler that FromHandler serves sees it with
// http.Request.PathValue all the same.
func (r *Request) SetPathValue(name, value string) {
	r.exchange().setPathValue(name, value)
}

func (x *exchange) setPathValue(name, value string) {
	if p := x.pathParam(name); p != nil {
		p.value = value
		return
	}
	x.params = append(x.params, pathParam{name, value})
}

// pathParam returns the path value named name, or nil; x may be nil.
func (x *exchange) pathParam(name string) *pathParam {
	if x == nil {
		return nil
	}
	for i := range x.params {
		if x.params[i].name == name {
			return &x.params[i]
		}
	}
	return nil
}

// NewRequest returns a Request for method and url with body encoded as
// [Request.Encode] does. It never panics and never returns a nil
// *http.Request, URL or Header: an invalid method or URL, or a body that
// cannot be encoded, is kept in the Request and answered by Send and SendVia
// as an internal_service error without calling any Service. A nil ctx means
// context.Background; an empty method means GET.
func NewRequest(ctx context.Context, method, url string, body any) Request {
	if ctx == nil {
		ctx = context.Background()
	}
	if method == "" {
		method = http.MethodGet
	}
	// A body held in memory shares the exchange record's allocation.
	var x *exchange
	var inMemory encodedBody
	if _, stream := body.(io.Reader); body != nil && !stream {
		if buf, isJSON, err := encodeBytes(body); err == nil && len(buf) > 0 {
			xb := &exchangeBody{body: bytesBody{b: buf}}
			x = &xb.exchange
			inMemory = encodedBody{body: &xb.body, length: int64(len(buf)), buf: buf, json: isJSON}
		}
	}
	if x == nil {
		x = &exchange{}
	}
	hr, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		hr = placeholderRequest(ctx, method)
		x.err = WrapError(err, CodeInternalService, "typhon: invalid request: "+err.Error())
	}
	r := Request{Request: hr, x: x}
	switch {
	case inMemory.body != nil:
		r.setBody(inMemory)
	case body != nil:
		if err := r.Encode(body); err != nil && x.err == nil {
			x.err = err
		}
	}
	return r
}

// exchangeBody is the exchange record of a new Request and its in-memory
// body, in one allocation.
type exchangeBody struct {
	exchange
	body bytesBody
}

func placeholderRequest(ctx context.Context, method string) *http.Request {
	hr := &http.Request{
		Method:     method,
		URL:        &url.URL{},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
	}
	return hr.WithContext(ctx)
}

// Context returns the request's context, or context.Background for the zero
// Request.
func (r Request) Context() context.Context {
	if r.Request == nil {
		return context.Background()
	}
	return r.Request.Context()
}

// WithContext returns a shallow copy of r with its context changed to ctx, as
// http.Request.WithContext does; the copy shares r's exchange record.
func (r Request) WithContext(ctx context.Context) Request {
	if r.Request == nil {
		return r
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return Request{Request: r.Request.WithContext(ctx), x: r.x}
}

// Clone returns a deep copy of r with context ctx, as http.Request.Clone
// does: Header, URL, Trailer and path values are copied. A replayable body
// (one with GetBody, as every in-memory body has) is replayed for the copy;
// otherwise the copy shares r's Body. The copy starts a new exchange that
// keeps r's construction error.
func (r Request) Clone(ctx context.Context) Request {
	if r.Request == nil {
		return r
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c := r.Request.Clone(ctx)
	if r.GetBody != nil && r.Body != nil && r.Body != http.NoBody {
		if b, err := r.GetBody(); err == nil {
			c.Body = b
		}
	}
	x := &exchange{}
	if r.x != nil {
		x.err, x.inbound = r.x.err, r.x.inbound
		// A clone made between a Router's mount and the Router mounted
		// there (by a retry, say) is still routed below the mount point.
		x.mounted, x.mountPath, x.mountPattern = r.x.mounted, r.x.mountPath, r.x.mountPattern
		x.params = slices.Clone(r.x.params)
	}
	return Request{Request: c, x: x}
}

// err returns the construction error of r, or an error for the zero Request.
func (r Request) err() error {
	if r.Request == nil {
		return NewError(CodeInternalService, "typhon: zero Request")
	}
	if r.x != nil {
		return r.x.err
	}
	return nil
}

// exchange returns r's exchange record, creating one when r has none (a
// Request made by hand from an *http.Request). Such a record lives only as
// long as the copies made from r after the call.
func (r *Request) exchange() *exchange {
	if r.x == nil {
		r.x = &exchange{}
	}
	return r.x
}

// Encode sets v as the request body: nil removes the body; []byte and
// io.Reader are sent as they are (with no Content-Type unless one is set);
// anything else, a string too, is encoded as JSON with Content-Type
// application/json unless one is set. In-memory bodies get a ContentLength
// and a GetBody so they can be replayed (on GOAWAY, or by a retry); an
// io.Reader is streamed. A previous body is closed.
func (r Request) Encode(v any) error {
	if r.Request == nil {
		return NewError(CodeInternalService, "typhon: Encode on zero Request")
	}
	eb, err := encodeBody(v)
	if err != nil {
		return WrapError(err, CodeInternalService, "typhon: cannot encode request body: "+err.Error())
	}
	r.setBody(eb)
	return nil
}

// setBody makes eb r's body, closing the one before.
func (r Request) setBody(eb encodedBody) {
	if old := r.Body; old != nil && old != http.NoBody {
		old.Close()
	}
	r.Body, r.ContentLength, r.GetBody = eb.body, eb.length, eb.getBody()
	if eb.json && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", contentTypeJSON)
	}
}

// Decode reads the request body into v and closes it: *[]byte takes the
// bytes as they are; anything else is decoded as JSON, which requires a
// Content-Type of application/json, a +json type, or none. A body that cannot
// be read or decoded is a bad_request error (request_too_large when a size
// limit cut it), a non-JSON Content-Type unsupported_media_type: answering
// with the error gives the caller the right status.
func (r Request) Decode(v any) error {
	if r.Request == nil {
		return NewError(CodeBadRequest, "typhon: Decode on zero Request")
	}
	_, raw := v.(*[]byte)
	if !raw && !isJSONMediaType(r.Header.Get("Content-Type"), true) {
		if r.Body != nil {
			r.Body.Close()
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		return NewError(CodeUnsupportedMediaType, "cannot decode request body of type "+quoteMediaType(mt)+": expected application/json")
	}
	b, err := readBody(r.Body, r.ContentLength, !raw)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return WrapError(err, CodeRequestTooLarge, "request body too large")
		}
		return WrapError(err, CodeBadRequest, "cannot read request body: "+err.Error())
	}
	if err := decodeBody(b, v); err != nil {
		return WrapError(err, CodeBadRequest, "cannot decode request body: "+err.Error())
	}
	return nil
}

func quoteMediaType(mt string) string {
	if mt == "" {
		return `""`
	}
	return strings.ToValidUTF8(mt, "?")
}

// Response returns a 200 Response to r with body encoded as
// [Response.Encode] does. A body that cannot be encoded gives an
// internal_service error Response.
func (r Request) Response(body any) Response {
	if body != nil {
		if _, stream := body.(io.Reader); !stream {
			if buf, isJSON, err := encodeBytes(body); err == nil && len(buf) > 0 {
				return newBodyResponse(r.Request, buf, isJSON)
			}
		}
	}
	rsp := NewResponse(r)
	if body != nil {
		if err := rsp.Encode(body); err != nil {
			rsp.Error = err
			rsp.StatusCode = ErrorStatus(err)
		}
	}
	return rsp
}

// SendVia calls svc with r on a new goroutine and returns a future for its
// Response. A panic in svc becomes an internal_service error Response. A zero
// Request, or one that NewRequest could not build, is answered at once with
// an error and svc is not called.
func (r Request) SendVia(svc Service) *ResponseFuture {
	return sendVia(r, svc)
}

// Send sends r with the client in its context (see [WithClient]), or with
// [DefaultClient].
func (r Request) Send() *ResponseFuture {
	return sendVia(r, clientFor(r.Context()))
}

// RoutePattern returns the pattern of the route that the innermost [Router]
// matched for req, mount prefixes included ("/users/{id}"), or "" when no
// route matched. It works inside the routed Service and in a Filter around
// the Router once the Router has returned.
func RoutePattern(req Request) string {
	if req.x == nil {
		return ""
	}
	return req.x.pattern
}
