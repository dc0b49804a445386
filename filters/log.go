package filters

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/typhon-go/typhon"
)

// A LogOption configures [Log]: [WithLogger], [WithLogSampler],
// [WithLogHeaders], [WithLogPath].
type LogOption interface{ applyLog(*logConfig) }

type logConfig struct {
	logger  *slog.Logger
	sample  func(typhon.Request, typhon.Response) bool
	headers []string // canonical names
	path    bool
}

type logOptionFunc func(*logConfig)

func (f logOptionFunc) applyLog(c *logConfig) { f(c) }

func (o LoggerOption) applyLog(c *logConfig) { c.logger = o.logger }

// WithLogSampler makes [Log] write the line of a successful request (no
// Error, status below 400) only when keep returns true for it; failures are
// always logged. keep is called once per successful request, when the
// Service returns, on the caller's goroutine, and must be safe for
// concurrent use. The default logs every request. A sampler that returns
// false costs the request nothing: Log does not wrap its body.
//
// For one request in n: var seen atomic.Uint64; keep = func(typhon.Request,
// typhon.Response) bool { return seen.Add(1)%n == 0 }.
func WithLogSampler(keep func(req typhon.Request, rsp typhon.Response) bool) LogOption {
	return logOptionFunc(func(c *logConfig) { c.sample = keep })
}

// WithLogHeaders makes [Log] write the request and response headers named
// (case-insensitive) that are present, in the groups http.request.header
// and http.response.header, keyed by the lower-case name. Several values of
// one header are joined with ", ". The values of Authorization,
// Proxy-Authorization, Cookie and Set-Cookie are never written: they are
// replaced with "[REDACTED]" even when named here. By default no header is
// logged. The request's headers are read when the request arrives, before
// the Service (or the client) changes them.
func WithLogHeaders(names ...string) LogOption {
	canon := make([]string, len(names))
	for i, n := range names {
		canon[i] = http.CanonicalHeaderKey(n)
	}
	return logOptionFunc(func(c *logConfig) { c.headers = append(c.headers, canon...) })
}

// WithLogPath makes [Log] write the request's URL path as url.path. By
// default it is left out: a path often carries identifiers (user IDs,
// e-mail addresses, tokens in URLs) that logs should not keep, and the
// route pattern (http.route) says which endpoint was called without them.
// Turn it on for the paths that matched no route (http.route is then
// absent) or for outbound calls, whose requests have no route.
func WithLogPath() LogOption {
	return logOptionFunc(func(c *logConfig) { c.path = true })
}

// The messages of Log's lines.
const (
	logServerMessage = "http server request"
	logClientMessage = "http client request"
)

// Log returns a Filter that writes one access-log line per request to a
// log/slog logger: the logger of [WithLogger], by default slog.Default(),
// looked up when the Filter is built. It works on either side of the wire:
// around a server's Service (typhon.Inbound requests) the message is
// "http server request"; around a client, one line per outbound call, "http
// client request", with server.address.
//
// A line has these attributes, each only when known:
//
//	http.request.method        GET
//	http.route                 /users/{id}: typhon.RoutePattern, never the raw path
//	url.path                   only with [WithLogPath]
//	server.address             the host called (outbound calls)
//	http.response.status_code  404
//	error.code                 not_found.user: typhon.ErrorCode of the Response's Error
//	error                      the error's text (its message, and causes on this side of the wire)
//	duration                   from the call to the end of the response body
//	http.request.body.size     the request's Content-Length, when it had one
//	http.response.body.size    the bytes of the response body read (successes only)
//	trace_id, span_id          of the OpenTelemetry span in the request's context
//	request_id                 typhon.RequestID of the request's context
//	http.request.header.*      and http.response.header.*: only with [WithLogHeaders]
//
// Bodies are never logged, nor are headers unless [WithLogHeaders] names
// them (and credentials never). The level is Error for a status of 500 or
// more, Warn for 400 to 499, Info otherwise; successes may be sampled with
// [WithLogSampler]. A line whose level the logger does not enable costs
// next to nothing.
//
// The line is written when the Response body is done (read to EOF, failed
// or closed; at once when there is none; see typhon.OnBodyDone), so that
// duration and bytes cover the whole response, a streamed one too. A server
// always closes the body; on a client, the caller does (decoding does), and a
// body never closed is never logged.
//
// Order: put [RequestID] outside Log so that the line carries the request's
// ID, and Trace outside Log so that it carries the span's IDs (Log inside
// Trace sees the span in its context). When the context has no span, Log
// takes the IDs from the context of the request the Response answers, which
// usually carries the server's span. For http.route to be set, Log wraps
// the Router (Router.Serve().Filter(Log(...)), or further out), not a route.
//
// The Filter is safe for concurrent use.
func Log(opts ...LogOption) typhon.Filter {
	var c logConfig
	for _, o := range opts {
		o.applyLog(&c)
	}
	c.logger = loggerOrDefault(c.logger)
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		if req.Request == nil {
			return svc(req)
		}
		ctx := req.Context()
		if !c.logger.Enabled(ctx, slog.LevelError) {
			return svc(req) // nothing would be written: not even a clock read
		}
		start := time.Now()
		inbound := typhon.Inbound(req)
		// What the line needs of the request is read now: the Request is
		// handed over to svc, which may change it.
		method, reqSize := req.Method, req.ContentLength
		if req.Body == nil || req.Body == http.NoBody {
			reqSize = 0
		}
		var host, path string
		if req.URL != nil {
			host, path = req.URL.Host, req.URL.Path
		}
		if inbound {
			host = ""
		}
		var reqHeaders []slog.Attr
		if len(c.headers) > 0 {
			reqHeaders = logHeaderAttrs(c.headers, req.Header)
		}

		rsp := svc(req)

		level := logLevel(rsp)
		if !c.logger.Enabled(ctx, level) {
			return rsp
		}
		if level == slog.LevelInfo && c.sample != nil && !c.sample(req, rsp) {
			return rsp
		}
		rec := &logRecord{
			cfg:        &c,
			ctx:        ctx,
			level:      level,
			start:      start,
			inbound:    inbound,
			method:     method,
			route:      typhon.RoutePattern(req),
			host:       host,
			path:       path,
			reqSize:    reqSize,
			reqHeaders: reqHeaders,
			rsp:        rsp,
		}
		if rsp.Response == nil || rsp.Body == nil || rsp.Body == http.NoBody {
			rec.write()
			return rsp
		}
		rec.body = rsp.Body
		rsp.Body = rec
		return rsp
	}
}

// logLevel is the level of rsp's line: Error for a status of 500 or more,
// Warn for a failure below that, Info for a success.
func logLevel(rsp typhon.Response) slog.Level {
	status := http.StatusOK
	if rsp.Response != nil {
		status = rsp.StatusCode
	} else if rsp.Error != nil {
		status = typhon.ErrorStatus(rsp.Error)
	}
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400 || rsp.Error != nil:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// logRecord holds what Log knows of one request until its response body is
// done, and is the body's wrapper meanwhile: one allocation per line.
type logRecord struct {
	cfg        *logConfig
	ctx        context.Context
	level      slog.Level
	start      time.Time
	inbound    bool
	method     string
	route      string
	host       string
	path       string
	reqSize    int64
	reqHeaders []slog.Attr
	rsp        typhon.Response // its Body is this record while wrapped

	body  io.ReadCloser
	read  atomic.Int64
	wrote atomic.Bool
}

func (r *logRecord) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.read.Add(int64(n))
	if err != nil {
		r.write()
	}
	return n, err
}

func (r *logRecord) Close() error {
	err := r.body.Close()
	r.write()
	return err
}

// WriteTo lets io.Copy use the wrapped body's fast path (a server writing an
// in-memory body in one call).
func (r *logRecord) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, r.body)
	r.read.Add(n)
	r.write()
	return n, err
}

// write writes the line, once.
func (r *logRecord) write() {
	if r.wrote.Swap(true) {
		return
	}
	dur := time.Since(r.start)
	rsp := r.rsp
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs, slog.String("http.request.method", r.method))
	if r.route != "" {
		attrs = append(attrs, slog.String("http.route", r.route))
	}
	if r.cfg.path && r.path != "" {
		attrs = append(attrs, slog.String("url.path", r.path))
	}
	if r.host != "" {
		attrs = append(attrs, slog.String("server.address", r.host))
	}
	if rsp.Response != nil {
		attrs = append(attrs, slog.Int("http.response.status_code", rsp.StatusCode))
	}
	if rsp.Error != nil {
		attrs = append(attrs, slog.String("error.code", typhon.ErrorCode(rsp.Error)),
			slog.String("error", rsp.Error.Error()))
	}
	attrs = append(attrs, slog.Duration("duration", dur))
	if r.reqSize >= 0 {
		attrs = append(attrs, slog.Int64("http.request.body.size", r.reqSize))
	}
	if rsp.Error == nil {
		attrs = append(attrs, slog.Int64("http.response.body.size", r.read.Load()))
	}
	sc := trace.SpanContextFromContext(r.ctx)
	if !sc.IsValid() && rsp.Response != nil && rsp.Request != nil {
		sc = trace.SpanContextFromContext(rsp.Request.Context())
	}
	if sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()),
			slog.String("span_id", sc.SpanID().String()))
	}
	if id := typhon.RequestID(r.ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if len(r.reqHeaders) > 0 {
		attrs = append(attrs, slog.Attr{Key: "http.request.header", Value: slog.GroupValue(r.reqHeaders...)})
	}
	if len(r.cfg.headers) > 0 && rsp.Response != nil {
		if h := logHeaderAttrs(r.cfg.headers, rsp.Header); len(h) > 0 {
			attrs = append(attrs, slog.Attr{Key: "http.response.header", Value: slog.GroupValue(h...)})
		}
	}
	msg := logClientMessage
	if r.inbound {
		msg = logServerMessage
	}
	r.cfg.logger.LogAttrs(r.ctx, r.level, msg, attrs...)
}

// logRedacted is what Log writes instead of a credential's value.
const logRedacted = "[REDACTED]"

// logHeaderAttrs returns the headers of h named in names, with credentials
// redacted.
func logHeaderAttrs(names []string, h http.Header) []slog.Attr {
	var attrs []slog.Attr
	for _, name := range names {
		vs, ok := h[name]
		if !ok {
			continue
		}
		v := strings.Join(vs, ", ")
		switch name {
		case "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie":
			v = logRedacted
		}
		attrs = append(attrs, slog.String(strings.ToLower(name), v))
	}
	return attrs
}
