package typhon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// FromHandler returns a Service that serves each Request with h, in
// process: any net/http handler, or middleware wrapped around
// [HTTPHandler] (FromHandler(mw(HTTPHandler(svc)))), can be reused as a
// Service.
//
// The Service answers as a client would see h over the wire: the status,
// headers and body h wrote, and for a 4xx or 5xx an *Error in Error, decoded
// as [NewClient] decodes one. h runs on its own goroutine; its output is
// buffered until it returns, calls Flush, or has written 32 KiB, and then
// streamed, so a streaming handler streams. A panic in h before anything was
// sent becomes an internal_service error; after, the body fails.
//
// Of the HandlerOptions, only [WithLogger] applies: it receives the panics.
func FromHandler(h http.Handler, opts ...HandlerOption) Service {
	var cfg handlerConfig
	for _, o := range opts {
		o.applyHandler(&cfg)
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	return func(req Request) Response {
		if err := req.err(); err != nil {
			return normalize(Response{Error: err}, req)
		}
		if req.x != nil {
			// The Router keeps path values with the Request; h reads them
			// from the *http.Request.
			for _, p := range req.x.params {
				req.Request.SetPathValue(p.name, p.value)
			}
		}
		w := &handlerWriter{
			req:    req.Request,
			logger: logger,
			header: make(http.Header),
			ready:  make(chan struct{}),
		}
		go w.serve(h)
		<-w.ready
		rsp := w.rsp
		if w.panicked {
			return normalize(Response{Error: NewError(CodeInternalService, "internal error")}, req)
		}
		if rsp.StatusCode >= 400 {
			return Response{Response: rsp, Error: readErrorBody(req.Context(), req.Request, rsp)}
		}
		return Response{Response: rsp}
	}
}

const handlerWriterBuffer = 32 << 10

// handlerWriter is the http.ResponseWriter FromHandler gives a handler.
// Only the handler's goroutine uses it; the caller waits on ready.
type handlerWriter struct {
	req         *http.Request
	logger      *slog.Logger
	header      http.Header
	status      int
	wroteHeader bool
	buf         bytes.Buffer
	pw          *io.PipeWriter // set once committed as a stream
	stop        func() bool
	committed   bool
	done        bool
	panicked    bool
	rsp         *http.Response
	ready       chan struct{}
}

func (w *handlerWriter) serve(h http.Handler) {
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			w.logger.Error("typhon: panic in handler served by FromHandler",
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
		w.done = true
		switch {
		case p != nil && !w.committed:
			w.panicked = true
			w.committed = true
			close(w.ready)
		case p != nil:
			w.pw.CloseWithError(fmt.Errorf("typhon: handler aborted the response: %v", p))
		case w.committed:
			w.pw.Close()
		default:
			w.commit(false)
		}
		if w.stop != nil {
			w.stop()
		}
	}()
	h.ServeHTTP(w, w.req)
}

func (w *handlerWriter) Header() http.Header { return w.header }

func (w *handlerWriter) WriteHeader(code int) {
	if w.wroteHeader || w.committed {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 { // informational: nothing to hand on in process
		return
	}
	w.status, w.wroteHeader = code, true
}

func (w *handlerWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, http.ErrHandlerTimeout
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.committed {
		return w.pw.Write(p)
	}
	n, _ := w.buf.Write(p)
	if w.buf.Len() >= handlerWriterBuffer {
		w.commit(true)
	}
	return n, nil
}

// Flush sends what was written so far: the caller gets its Response and
// reads the rest as h writes it.
func (w *handlerWriter) Flush() {
	if w.done {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(true)
	}
}

// commit hands the Response to the caller: as a stream from now on, or,
// once h has returned, with the whole body.
func (w *handlerWriter) commit(stream bool) {
	if !w.wroteHeader {
		w.status = http.StatusOK
	}
	rsp := newHTTPResponse(w.req, w.status)
	rsp.Status = fmt.Sprintf("%d %s", w.status, http.StatusText(w.status))
	buffered := w.buf.Bytes()
	if stream {
		rsp.Header = w.header.Clone()
		pr, pw := io.Pipe()
		w.pw = pw
		rsp.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), pr), c: pr}
		rsp.ContentLength = -1
		w.buf.Reset()
		if ctx := w.req.Context(); ctx.Done() != nil {
			w.stop = context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
		}
	} else {
		rsp.Header = w.header
		if len(buffered) > 0 {
			rsp.Body = newBytesBody(buffered)
			rsp.ContentLength = int64(len(buffered))
		} else {
			rsp.Body = http.NoBody
		}
	}
	w.rsp = rsp
	w.committed = true
	close(w.ready)
}
