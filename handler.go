package typhon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A HandlerOption configures how a Service is served: by [HTTPHandler], and
// by [Listen] and [Serve], which accept HandlerOptions too, so a Service
// behaves the same under both.
type HandlerOption interface {
	ServerOption
	applyHandler(*handlerConfig)
}

type handlerConfig struct {
	exposeErrors       bool
	noRecover          bool
	noInboundDeadlines bool
	maxTimeout         time.Duration // 0: none
	maxBodyBytes       int64         // 0: none
	logger             *slog.Logger
}

type handlerOptionFunc func(*handlerConfig)

func (f handlerOptionFunc) applyHandler(c *handlerConfig) { f(c) }
func (f handlerOptionFunc) applyServer(c *serverConfig)   { f(&c.handler) }

// WithErrorDetails makes the server send the text of errors that are not
// *Error to callers. By default such an error is sent as its code (usually
// internal_service) with the status text as its message, and its text stays
// in the server's log: it may name hosts, files or queries.
func WithErrorDetails() HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.exposeErrors = true })
}

// WithoutRecovery lets panics in the Service reach net/http, which drops the
// connection (HTTP/1.1) or resets the stream (HTTP/2). By default a panic is
// logged with its stack and answered 500 internal_service.
func WithoutRecovery() HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.noRecover = true })
}

// WithMaxBodyBytes limits request bodies to n bytes: a request that
// declares a longer body is answered request_too_large (413) without calling
// the Service, and reading past n fails with an *http.MaxBytesError, which
// [Request.Decode] reports as request_too_large and the server answers 413
// even if the Service ignored it. By default there is no limit.
func WithMaxBodyBytes(n int64) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.maxBodyBytes = n })
}

// WithLogger sets the logger for what the server must report and cannot
// answer: recovered panics, unexpected errors whose text is not sent, failed
// writes. The default is slog.Default().
func WithLogger(l *slog.Logger) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.logger = l })
}

// HTTPHandler returns an http.Handler that serves svc: what [Listen] serves,
// usable in any net/http stack. Each request becomes a [Request] marked as
// inbound; the Response is written back:
//   - a Response with Error set is written as an RFC 9457 problem+json body
//     with the status of the error's code, whatever StatusCode the Service
//     set; the other headers the Service set are kept.
//   - otherwise the headers, the status and the body; a body of known length
//     (ContentLength > 0) gets a Content-Length, one of unknown length is
//     streamed, flushing after each write; a body that fails while being
//     streamed aborts the response, so the client sees an error rather
//     than a short body.
//   - a request body the Service could not read (a malformed chunked body, a
//     size limit) is answered 400 (413 for a size limit) even if the Service
//     ignored the error and answered 200.
//   - a panic is logged with its stack and answered 500 internal_service on
//     a connection that stays usable (see [WithoutRecovery]).
//   - an HTTP/1.x request with a Transfer-Encoding (a chunked body) closes
//     its connection after the response: net/http hides whether it also
//     carried a Content-Length, a conflict that RFC 9112 §6.1 says must
//     close the connection, since it is how requests are smuggled. Chunked
//     uploads over HTTP/1.1 therefore do not keep their connection alive;
//     bodies of known length and HTTP/2 are not affected.
//
// The Response body is always closed.
func HTTPHandler(svc Service, opts ...HandlerOption) http.Handler {
	var cfg handlerConfig
	for _, o := range opts {
		o.applyHandler(&cfg)
	}
	return newHandler(svc, cfg)
}

func newHandler(svc Service, cfg handlerConfig) *handler {
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	return &handler{svc: svc, cfg: cfg}
}

type handler struct {
	svc Service
	cfg handlerConfig
}

// inboundExchange is the exchange record of a request a server received,
// with room for the request body's read-error tracker, to save an allocation.
type inboundExchange struct {
	exchange
	body   trackedBody
	params [2]pathParam // room for a route's first path values
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 {
		// net/http runs each HTTP/2 request on a new goroutine, whose small
		// stack a chain of filters and a router outgrow: growing it now,
		// while it is shallow, copies a few frames instead of many.
		growStack()
	}
	if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
		// RFC 9112 §6.1: a request with both Content-Length and
		// Transfer-Encoding must close the connection after the response,
		// or a request smuggled behind the body it framed differently is
		// read next. net/http deletes the Content-Length before the handler
		// runs, so every chunked HTTP/1.x request closes its connection.
		w.Header()["Connection"] = []string{"close"}
	}
	if d, ok := h.budget(r); ok {
		if d <= 0 {
			h.writeError(w, r, normalize(Response{Error: errExpiredOnArrival}, Request{Request: r}))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		r = r.WithContext(ctx)
	}
	ix := &inboundExchange{exchange: exchange{inbound: true}}
	ix.exchange.params = ix.params[:0]
	var tracked *trackedBody
	if r.Body != nil && r.Body != http.NoBody {
		if n := h.cfg.maxBodyBytes; n > 0 {
			if r.ContentLength > n {
				err := WrapError(&http.MaxBytesError{Limit: n}, CodeRequestTooLarge, "request body too large")
				h.writeError(w, r, normalize(Response{Error: err}, Request{Request: r}))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
		}
		ix.body.rc = r.Body
		tracked = &ix.body
		r.Body = tracked
	}
	req := Request{Request: r, x: &ix.exchange}
	rsp := h.call(req)
	if tracked != nil && rsp.Error == nil && tracked.failed() != nil {
		rsp.closeBody()
		err := tracked.failed()
		code, msg := CodeBadRequest, "cannot read request body"
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			code, msg = CodeRequestTooLarge, "request body too large"
		}
		rsp = normalize(Response{Error: WrapError(err, code, msg)}, req)
	}
	h.write(w, r, rsp)
}

var errExpiredOnArrival = NewError(CodeTimeout, "deadline exceeded before the request arrived")

// budget returns the time the request may take: what its caller's deadline
// headers give, capped by the server's maximum.
func (h *handler) budget(r *http.Request) (time.Duration, bool) {
	limit := maxInboundTimeout
	if h.cfg.maxTimeout > 0 {
		limit = h.cfg.maxTimeout
	}
	if h.cfg.noInboundDeadlines {
		return limit, h.cfg.maxTimeout > 0
	}
	d, ok := inboundTimeout(r.Header, limit)
	if !ok && h.cfg.maxTimeout > 0 {
		return limit, true
	}
	return d, ok
}

// call calls the Service, recovering a panic into an error Response.
func (h *handler) call(req Request) (rsp Response) {
	if !h.cfg.noRecover {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.logPanic(req.Request, p)
				rsp = normalize(Response{Error: NewError(CodeInternalService, "internal error")}, req)
			}
		}()
	}
	return normalize(h.svc(req), req)
}

func (h *handler) logPanic(r *http.Request, p any) {
	h.cfg.logger.Error("typhon: panic serving request",
		"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
}

// trackedBody remembers the first error other than io.EOF that reading the
// request body gave. The Service may read the body on another goroutine.
type trackedBody struct {
	rc  io.ReadCloser
	err atomic.Pointer[error]
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

func (b *trackedBody) failed() error {
	if p := b.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *trackedBody) Close() error { return b.rc.Close() }

// autoContentLength is the size up to which net/http sets the
// Content-Length of a body written whole before the handler returns (its
// HTTP/1.1 chunking threshold; HTTP/2 does so at any size).
const autoContentLength = 2048

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (h *handler) write(w http.ResponseWriter, r *http.Request, rsp Response) {
	if rsp.Error != nil {
		h.writeError(w, r, rsp)
		return
	}
	status := rsp.StatusCode
	if status < 200 || status > 999 {
		rsp.closeBody()
		h.cfg.logger.Error("typhon: Service answered an invalid status", "status", status, "path", r.URL.Path)
		h.writeError(w, r, normalize(Response{Error: NewError(CodeInternalService, "internal error")}, Request{Request: r}))
		return
	}
	dst := w.Header()
	if ct, ok := rsp.Header["Content-Type"]; ok && len(rsp.Header) == 1 {
		dst["Content-Type"] = ct // what Request.Response sets: no map walk
	} else {
		for k, v := range rsp.Header {
			switch k {
			case "Content-Length", "Transfer-Encoding", "Connection":
				continue
			}
			dst[k] = v
		}
	}
	body := rsp.Body
	if body == nil || body == http.NoBody || r.Method == http.MethodHead || status == http.StatusNoContent || status == http.StatusNotModified {
		if rsp.ContentLength > 0 && r.Method == http.MethodHead {
			dst["Content-Length"] = []string{strconv.FormatInt(rsp.ContentLength, 10)}
		}
		w.WriteHeader(status)
		rsp.closeBody()
		return
	}
	defer body.Close()
	if bb, ok := body.(*bytesBody); ok && int64(bb.Len()) == rsp.ContentLength {
		// In memory: one write. net/http sets the Content-Length of a
		// small body written before the handler returns by itself.
		if rsp.ContentLength > autoContentLength {
			dst["Content-Length"] = []string{strconv.FormatInt(rsp.ContentLength, 10)}
		}
		w.WriteHeader(status)
		_, _ = w.Write(bb.b[bb.off:]) // an error means the client has gone
		return
	}
	if rsp.ContentLength > 0 {
		dst["Content-Length"] = []string{strconv.FormatInt(rsp.ContentLength, 10)}
		w.WriteHeader(status)
		bp := copyBufPool.Get().(*[]byte)
		_, err := io.CopyBuffer(w, body, *bp)
		copyBufPool.Put(bp)
		if err != nil {
			h.abort(r, err)
		}
		return
	}
	w.WriteHeader(status)
	h.stream(w, r, body)
}

// stream copies a body of unknown length, flushing after each write.
func (h *handler) stream(w http.ResponseWriter, r *http.Request, body io.Reader) {
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush() // the status and headers go out before the first byte is ready
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client is gone; net/http closes the connection
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			h.abort(r, err)
			return
		}
	}
}

// abort ends a response whose body failed half way, so that the client sees
// an error (a connection closed before the end of a chunked body, a reset
// stream), never a clean short body.
func (h *handler) abort(r *http.Request, err error) {
	if r.Context().Err() == nil {
		h.cfg.logger.Warn("typhon: response body failed; aborting the response", "path", r.URL.Path, "error", err)
	}
	panic(http.ErrAbortHandler)
}

var problemBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, rsp Response) {
	rsp.closeBody()
	e := asError(rsp.Error, h.cfg.exposeErrors)
	if e != rsp.Error && e.cause != nil && e.Code == CodeInternalService {
		// Not an *Error: its text is not sent, so it is logged here.
		h.cfg.logger.Error("typhon: Service failed", "method", r.Method, "path", r.URL.Path, "error", e.cause)
	}
	status := codeToStatus(e.code())
	dst := w.Header()
	for k, v := range rsp.Header {
		switch k {
		case "Content-Length", "Content-Encoding", "Content-Type", "Transfer-Encoding", "Connection", "Etag", "Last-Modified":
			continue
		}
		dst[k] = v
	}
	dst["Content-Type"] = []string{contentTypeProblem}
	if e.retryAfter > 0 && !e.remote {
		if _, ok := dst["Retry-After"]; !ok {
			dst["Retry-After"] = []string{formatRetryAfter(e.retryAfter)}
		}
	}
	bp := problemBufPool.Get().(*[]byte)
	b := appendProblem((*bp)[:0], e, status)
	dst["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
	*bp = b
	problemBufPool.Put(bp)
}

// stackIndex is 0; growStack reads through it so that the compiler keeps
// its array.
var stackIndex int

// growStack makes sure that the calling goroutine has a stack of at least
// 8 KiB, enough for ServerStack, a Router and a JSON answer: the runtime
// grows a stack by copying it, adjusting every frame on it, so growing it
// at the top of a handler costs a fraction of what growing it deep inside
// costs (on h2c under load, stack copies fell from 16% to 8% of the
// server's CPU, about what plain net/http spends on them).
//
//go:noinline
func growStack() byte {
	var buf [5 << 10]byte
	return buf[stackIndex]
}
