package typhon

import (
	"io"
	"net/http"
	"sync"
)

// Response is the answer of a [Service]. It embeds *http.Response (whose
// Request field is the *http.Request it answers) and carries failures in
// Error: a Response with a non-nil Error is an error response, whatever its
// StatusCode, and the server writes it as an RFC 9457 problem+json body with
// the status of the error's code (see [ErrorStatus]).
//
// A Service may return Response{Error: err} with a nil *http.Response:
// everything in typhon that hands a Response on fills it in.
//
// Whoever ends up with a Response owns its Body and closes it (or reads it to
// EOF, or decodes it). A Response is not safe for concurrent use.
type Response struct {
	*http.Response
	// Error is set when the Response is a failure: returned by the Service,
	// or decoded by the client from a 4xx or 5xx answer.
	Error error
}

// NewResponse returns an empty 200 Response to req.
func NewResponse(req Request) Response {
	return Response{Response: newHTTPResponse(req.Request, http.StatusOK)}
}

// ErrorResponse returns a Response to req that fails with err.
func ErrorResponse(req Request, err error) Response {
	if err == nil {
		err = NewError(CodeInternalService, "typhon: ErrorResponse with a nil error")
	}
	return Response{Response: newHTTPResponse(req.Request, ErrorStatus(err)), Error: err}
}

func newHTTPResponse(req *http.Request, status int) *http.Response {
	return &http.Response{
		Status:     "",
		StatusCode: status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Request:    req,
	}
}

// bodyResponse is a Response's *http.Response, its in-memory body and the
// value of its Content-Type header, in one allocation.
type bodyResponse struct {
	rsp  http.Response
	body bytesBody
	ct   [1]string
}

// newBodyResponse returns a 200 Response to req with body buf (not empty),
// as NewResponse and Encode make it, in one allocation fewer.
func newBodyResponse(req *http.Request, buf []byte, isJSON bool) Response {
	br := &bodyResponse{body: bytesBody{b: buf}}
	br.rsp = http.Response{
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header),
		Request:       req,
		Body:          &br.body,
		ContentLength: int64(len(buf)),
	}
	if isJSON {
		br.ct[0] = contentTypeJSON
		br.rsp.Header["Content-Type"] = br.ct[:]
	}
	return Response{Response: &br.rsp}
}

// normalize makes rsp fit to hand on: a non-nil *http.Response and Header,
// a StatusCode, and the status of the error when Error is set.
func normalize(rsp Response, req Request) Response {
	if rsp.Response == nil {
		status := http.StatusOK
		if rsp.Error != nil {
			status = ErrorStatus(rsp.Error)
		}
		rsp.Response = newHTTPResponse(req.Request, status)
		return rsp
	}
	if rsp.Header == nil {
		rsp.Header = make(http.Header)
	}
	if rsp.Request == nil {
		rsp.Request = req.Request
	}
	if rsp.Error != nil {
		rsp.StatusCode = ErrorStatus(rsp.Error)
	} else if rsp.StatusCode == 0 {
		rsp.StatusCode = http.StatusOK
	}
	return rsp
}

// Encode sets v as the response body, as [Request.Encode] does for a
// request: nil removes the body, []byte and io.Reader are sent as they are,
// anything else as JSON with Content-Type application/json unless one is set.
// An io.Reader body is streamed: the server copies it to the client as it
// comes, flushing after each write. A previous body is closed.
func (r *Response) Encode(v any) error {
	if r.Response == nil {
		r.Response = newHTTPResponse(nil, http.StatusOK)
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	eb, err := encodeBody(v)
	if err != nil {
		return WrapError(err, CodeInternalService, "typhon: cannot encode response body: "+err.Error())
	}
	if old := r.Body; old != nil && old != http.NoBody {
		old.Close()
	}
	r.Body, r.ContentLength = eb.body, eb.length
	if eb.json && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", contentTypeJSON)
	}
	return nil
}

// Decode reads the body into v and closes it. It returns r.Error when set
// (the *Error a 4xx or 5xx answer carried, for a client's Response); else it
// decodes as [Request.Decode] does. A body that cannot be read or decoded, or
// that is not JSON, is a bad_gateway error: the fault is the sender's.
func (r Response) Decode(v any) error {
	if r.Error != nil {
		r.closeBody()
		return r.Error
	}
	if r.Response == nil {
		return NewError(CodeBadGateway, "typhon: Decode on an empty Response")
	}
	if r.StatusCode >= 400 {
		b, _ := readBody(r.Body, r.ContentLength, false)
		return errorFromBody(r.StatusCode, r.Header, b)
	}
	_, raw := v.(*[]byte)
	if !raw && !isJSONMediaType(r.Header.Get("Content-Type"), true) {
		r.closeBody()
		return NewError(CodeBadGateway, "cannot decode response body of type "+quoteMediaType(r.Header.Get("Content-Type"))+": expected application/json")
	}
	b, err := readBody(r.Body, r.ContentLength, !raw)
	if err != nil {
		return WrapError(err, CodeBadGateway, "cannot read response body: "+err.Error())
	}
	if err := decodeBody(b, v); err != nil {
		return WrapError(err, CodeBadGateway, "cannot decode response body: "+err.Error())
	}
	return nil
}

func (r Response) closeBody() {
	if r.Response != nil && r.Body != nil {
		r.Body.Close()
	}
}

// OnBodyDone returns rsp with its body wrapped so that f runs once, when the
// body is read to EOF, fails, or is closed; at once when rsp has no body.
// Filters use it to release what they hold for a call (a derived context, a
// concurrency slot) only when the caller is done with the body. The first f
// on an in-memory body (one set by Encode or Response) costs no allocation.
func OnBodyDone(rsp Response, f func()) Response {
	if rsp.Response == nil || rsp.Body == nil || rsp.Body == http.NoBody {
		f()
		return rsp
	}
	if bb, ok := rsp.Body.(*bytesBody); ok && bb.onDone == nil {
		// An in-memory body takes the first f itself: no wrapper to
		// allocate, and the server still sees an in-memory body.
		bb.onDone = f
		return rsp
	}
	rsp.Body = &doneBody{rc: rsp.Body, f: f}
	return rsp
}

type doneBody struct {
	rc   io.ReadCloser
	once sync.Once
	f    func()
}

func (b *doneBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.once.Do(b.f)
	}
	return n, err
}

func (b *doneBody) Close() error {
	err := b.rc.Close()
	b.once.Do(b.f)
	return err
}

// WriteTo lets io.Copy use the wrapped body's fast path.
func (b *doneBody) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, b.rc)
	b.once.Do(b.f)
	return n, err
}
