package typhon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Transport defaults of [NewTransport], the transport of every client made
// without [WithTransport].
const (
	DefaultDialTimeout           = 10 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 2 * time.Minute
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultMaxIdleConnsPerHost   = 100
	DefaultPingInterval          = 15 * time.Second // h2: ping a connection idle this long
	DefaultPingTimeout           = 5 * time.Second  // h2: close it if the ping is not answered in this
)

// TimeoutHeader carries the caller's remaining deadline, in whole
// milliseconds, to the server: see [WithoutPropagation].
const TimeoutHeader = "Typhon-Timeout-Ms"

// NewTransport returns an *http.Transport with typhon's client defaults:
// pooled keep-alive connections (DefaultMaxIdleConnsPerHost per host), dial,
// TLS-handshake and response-header timeouts, HTTP/2 over TLS by ALPN with
// ping health checks, no proxy (the library reads no environment variables)
// and no redirects (the client never follows them). Pass it, changed as
// needed, to [WithTransport]. For h2c prior knowledge, set its Protocols to
// UnencryptedHTTP2 alone, as [WithH2C] does.
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10 * DefaultMaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   DefaultMaxIdleConnsPerHost,
		IdleConnTimeout:       DefaultIdleConnTimeout,
		TLSHandshakeTimeout:   DefaultTLSHandshakeTimeout,
		ResponseHeaderTimeout: DefaultResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: DefaultPingInterval,
			PingTimeout:     DefaultPingTimeout,
		},
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	t.Protocols = &p
	return t
}

func newH2CTransport() *http.Transport {
	t := NewTransport()
	var p http.Protocols
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	t.Protocols = &p
	return t
}

// The transports shared by clients made without WithTransport, one per
// protocol, as http.Client shares http.DefaultTransport. They are created on
// first use and never changed.
var (
	sharedH1Transport  = sync.OnceValue(NewTransport)
	sharedH2CTransport = sync.OnceValue(newH2CTransport)
)

// A ClientOption configures [NewClient].
type ClientOption interface{ applyClient(*clientConfig) }

type clientConfig struct {
	rt          http.RoundTripper
	h2c         bool
	noPropagate bool
}

type clientOptionFunc func(*clientConfig)

func (f clientOptionFunc) applyClient(c *clientConfig) { f(c) }

// WithH2C makes the client speak HTTP/2 with prior knowledge (h2c) to
// http:// URLs, as typhon servers accept, instead of HTTP/1.1. https:// URLs
// use HTTP/2 over TLS. It has no effect together with [WithTransport].
func WithH2C() ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.h2c = true })
}

// WithTransport makes the client send requests through rt, which the caller
// owns: an *http.Transport of its own, an instrumented one, or an in-memory
// one for tests. The client calls rt.RoundTrip directly, so redirects are not
// followed and no cookie jar applies.
func WithTransport(rt http.RoundTripper) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.rt = rt })
}

// WithoutPropagation stops the client from sending the caller's deadline
// ([TimeoutHeader]), request ID ([RequestIDHeader]) and trace context
// (traceparent, tracestate, baggage, even when a tracing filter set them)
// downstream: for calls to third parties.
func WithoutPropagation() ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.noPropagate = true })
}

// NewClient returns a Service that sends each Request over the network and
// returns the answer. It is safe for concurrent use, and cheap: without
// [WithTransport] every client shares one connection pool per protocol.
//
// The Request must have an absolute http:// or https:// URL. The call is
// synchronous and starts no goroutine. The Response's Error is set when the
// call failed or the server answered 4xx or 5xx:
//   - an answer with a typhon problem+json body becomes the *Error the server
//     sent (code, message, params); any other 4xx or 5xx becomes an *Error
//     with the code for its status, such as not_found for a 404. At most
//     64 KiB of the body is read for that, and what was read stays readable
//     in the Response's Body.
//   - when the request's context has ended, the code is timeout or canceled
//     and errors.Is(err, context.DeadlineExceeded) or context.Canceled holds;
//   - a refused connection or unknown host is unavailable (the request was
//     not processed), a broken connection or bad answer bad_gateway, a
//     transport timeout timeout.
//
// 1xx and 3xx answers come back with a nil Error. The caller closes the
// Response body, reads it to EOF or decodes it; a body left alone is released
// when the request's context ends. An HTTP/1.x body of known length up to
// 4 KiB is read before the call returns, so that its connection serves the
// next call even if the caller drops the body.
func NewClient(opts ...ClientOption) Service {
	var cfg clientConfig
	for _, o := range opts {
		o.applyClient(&cfg)
	}
	if cfg.rt == nil {
		if cfg.h2c {
			cfg.rt = sharedH2CTransport()
		} else {
			cfg.rt = sharedH1Transport()
		}
	}
	c := &client{rt: cfg.rt, propagate: !cfg.noPropagate}
	return c.do
}

var defaultClient = sync.OnceValue(func() Service { return NewClient() })

// DefaultClient is the client [Request.Send] uses when the request's context
// names none (see [WithClient]): NewClient() with no options, HTTP/1.1 for
// http:// URLs.
func DefaultClient(req Request) Response {
	return defaultClient()(req)
}

type clientKey struct{}

// WithClient returns a context in which [Request.Send] sends requests through
// svc instead of DefaultClient: to route a test's outbound calls to stubs, or
// to add filters to every outbound call. A svc that needs the real network
// calls SendVia(typhon.DefaultClient), never Send, which would call svc again.
func WithClient(ctx context.Context, svc Service) context.Context {
	return context.WithValue(ctx, clientKey{}, svc)
}

func clientFor(ctx context.Context) Service {
	if svc, ok := ctx.Value(clientKey{}).(Service); ok && svc != nil {
		return svc
	}
	return DefaultClient
}

// unpropagated are the headers a client made WithoutPropagation never sends:
// the deadline, and the trace context a tracing filter may have put there.
var unpropagated = [...]string{TimeoutHeader, "Traceparent", "Tracestate", "Baggage"}

type client struct {
	rt        http.RoundTripper
	propagate bool
}

func (c *client) do(req Request) Response {
	if err := req.err(); err != nil {
		return normalize(Response{Error: err}, req)
	}
	hr := req.Request
	ctx := hr.Context()
	if ctx.Err() != nil {
		return normalize(Response{Error: contextError(ctx, nil)}, req)
	}
	if hr.URL == nil || hr.URL.Host == "" || (hr.URL.Scheme != "http" && hr.URL.Scheme != "https") {
		return normalize(Response{Error: NewError(CodeInternalService,
			"typhon: cannot send a request without an http:// or https:// URL and a host: "+urlString(hr))}, req)
	}
	if hr.Header == nil {
		hr.Header = make(http.Header)
	}
	if c.propagate {
		if err := setTimeoutHeader(hr, ctx); err != nil {
			return normalize(Response{Error: err}, req)
		}
		if id := RequestID(ctx); id != "" {
			if _, ok := hr.Header[RequestIDHeader]; !ok {
				hr.Header[RequestIDHeader] = []string{id}
			}
		}
	} else {
		for _, k := range unpropagated {
			delete(hr.Header, k)
		}
	}
	hr.RequestURI = "" // set on a request a server received: not for sending
	rsp, err := c.rt.RoundTrip(hr)
	if err != nil {
		return normalize(Response{Error: transportError(ctx, hr, err)}, req)
	}
	if rsp.Header == nil {
		rsp.Header = make(http.Header)
	}
	if rsp.Request == nil {
		rsp.Request = hr
	}
	if rsp.StatusCode >= 400 {
		return Response{Response: rsp, Error: ownTimeout(ctx, readErrorBody(ctx, hr, rsp))}
	}
	if rsp.ProtoMajor == 1 && rsp.ContentLength > 0 && rsp.ContentLength <= smallBody {
		if err := bufferSmallBody(rsp); err != nil {
			return normalize(Response{Error: transportError(ctx, hr, err)}, req)
		}
	}
	return Response{Response: rsp}
}

// tinyBody is the size up to which a buffered body and its bytes take one
// allocation.
const tinyBody = 512

type tinyBodyBuf struct {
	bytesBody
	arr [tinyBody]byte
}

// smallBody is the size up to which the client reads an HTTP/1.x response
// body before returning it.
const smallBody = 4 << 10

// bufferSmallBody reads a small body of known length into memory and
// releases the connection at once: an HTTP/1.x connection whose body is
// never read or closed can never be reused, so a caller that drops a small
// answer would otherwise cost a connection each time. The body stays
// readable as before.
func bufferSmallBody(rsp *http.Response) error {
	var b *bytesBody
	if rsp.ContentLength <= tinyBody {
		t := new(tinyBodyBuf) // the body and its bytes in one allocation
		t.b = t.arr[:rsp.ContentLength]
		b = &t.bytesBody
	} else {
		b = &bytesBody{b: make([]byte, rsp.ContentLength)}
	}
	_, err := io.ReadFull(rsp.Body, b.b)
	rsp.Body.Close()
	if err != nil {
		return err
	}
	rsp.Body = b
	return nil
}

// ownTimeout tells a caller's own deadline from a downstream's: the server
// applies the deadline the client sent, so its timeout answer may beat the
// caller's own timer by a hair. A timeout answered once the caller's
// deadline has passed is the caller's, and satisfies errors.Is(err,
// context.DeadlineExceeded).
func ownTimeout(ctx context.Context, err error) error {
	if !IsCode(err, CodeTimeout) {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return WrapError(errors.Join(context.DeadlineExceeded, err), CodeTimeout, "deadline exceeded")
	}
	return err
}

func urlString(hr *http.Request) string {
	if hr.URL == nil {
		return `""`
	}
	return strconv.Quote(hr.URL.String())
}

// setTimeoutHeader puts the remaining budget of ctx on hr, or removes a stale
// one when ctx has no deadline. An expired deadline fails the call locally.
func setTimeoutHeader(hr *http.Request, ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		delete(hr.Header, TimeoutHeader)
		return nil
	}
	remaining := time.Until(deadline)
	if remaining <= 0 {
		return WrapError(context.DeadlineExceeded, CodeTimeout, "deadline exceeded")
	}
	ms := (remaining + time.Millisecond - 1) / time.Millisecond
	hr.Header[TimeoutHeader] = []string{strconv.FormatInt(int64(ms), 10)}
	return nil
}

// transportError classifies a failed round trip.
func transportError(ctx context.Context, hr *http.Request, err error) *Error {
	if ctx.Err() != nil {
		return contextError(ctx, err)
	}
	host := hr.URL.Host
	var dnsErr *net.DNSError
	var opErr *net.OpError
	unsent := func(msg string) *Error {
		e := WrapError(err, CodeUnavailable, msg)
		e.unsent = true
		return e
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return unsent("connection refused by " + host)
	case errors.As(err, &dnsErr):
		return unsent("cannot resolve " + host)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		if opErr.Timeout() {
			return unsent("timed out connecting to " + host)
		}
		return unsent("cannot connect to " + host)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return WrapError(err, CodeTimeout, "timed out waiting for "+host)
	}
	return WrapError(err, CodeBadGateway, "request to "+host+" failed: "+err.Error())
}

// readErrorBody reads at most maxErrorBody of an error answer's body, leaves
// what it read readable in rsp.Body, and returns the *Error it carries.
func readErrorBody(ctx context.Context, hr *http.Request, rsp *http.Response) error {
	body := rsp.Body
	if body == nil || body == http.NoBody {
		return errorFromBody(rsp.StatusCode, rsp.Header, nil)
	}
	buf := make([]byte, 0, min(max(rsp.ContentLength+1, 512), maxErrorBody+1))
	w := bytes.NewBuffer(buf)
	_, err := w.ReadFrom(io.LimitReader(body, maxErrorBody+1))
	read := w.Bytes()
	switch {
	case err != nil:
		body.Close()
		rsp.Body = newBytesBody(read)
		if ctx.Err() != nil {
			return contextError(ctx, err)
		}
		e := errorFromBody(rsp.StatusCode, rsp.Header, read)
		return e
	case len(read) > maxErrorBody:
		rsp.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(read), body), c: body}
		read = read[:maxErrorBody]
	default:
		body.Close()
		rsp.Body = newBytesBody(read)
	}
	return errorFromBody(rsp.StatusCode, rsp.Header, read)
}

type prefixedBody struct {
	io.Reader
	c io.Closer
}

func (b *prefixedBody) Close() error { return b.c.Close() }
