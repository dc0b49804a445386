package filters

import (
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/typhon-go/typhon"
)

// otelScope is the instrumentation scope of [Trace], [Metrics] and
// [ResilienceMetrics]: the name of their Tracer and Meter.
const otelScope = "github.com/typhon-go/typhon/filters"

// otelLazy gives a filter what it builds from an OpenTelemetry provider (a
// Tracer, a set of instruments): from the provider an option injected, built
// once, or else from the global provider, looked up on every call and built
// again only when the global provider has changed. Looking the global up per
// call makes a filter built before otel.SetTracerProvider (a package-level
// client, say) use the provider set later, and one set again after that (as
// tests do), which otel's own delegation does for the first provider only.
// It is safe for concurrent use.
type otelLazy[P any, V any] struct {
	fixed  *V         // from an option; nil: the global provider
	global func() P   // otel.GetTracerProvider, otel.GetMeterProvider
	build  func(P) *V // what the filter needs from a provider
	last   atomic.Pointer[otelBuilt[P, V]]
}

type otelBuilt[P any, V any] struct {
	p P
	v *V
	// comparable: p's dynamic type is comparable, so p == another provider
	// cannot panic (a provider of another type is simply not equal).
	comparable bool
}

func newOTelLazy[P any, V any](injected P, global func() P, build func(P) *V) *otelLazy[P, V] {
	l := &otelLazy[P, V]{global: global, build: build}
	if !otelIsNil(any(injected)) {
		l.fixed = build(injected)
	}
	return l
}

// get returns what was built from the provider in use.
func (l *otelLazy[P, V]) get() *V {
	if l.fixed != nil {
		return l.fixed
	}
	p := l.global()
	if b := l.last.Load(); b != nil && b.comparable && any(b.p) == any(p) {
		return b.v
	}
	t := reflect.TypeOf(any(p))
	b := &otelBuilt[P, V]{p: p, v: l.build(p), comparable: t != nil && t.Comparable()}
	l.last.Store(b)
	return b.v
}

func otelIsNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// otelMethod returns the http.request.method of method: itself when it is
// one of the methods the semantic conventions know (case-sensitively), else
// "_OTHER", so that a client cannot make up label values.
func otelMethod(method string) (string, bool) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, "QUERY":
		return method, true
	}
	return "_OTHER", false
}

// otelStatus returns the status of rsp, the answer to req: what a server
// writes (the status of its error, when Error is set), or what a client
// received. received is false for an answer that never came from the wire:
// a transport failure, or an error answered in process, which carries the
// status of its code but no status line.
func otelStatus(req typhon.Request, rsp typhon.Response) (status int, received bool) {
	if rsp.Response == nil {
		return typhon.ErrorStatus(rsp.Error), typhon.Inbound(req)
	}
	status = rsp.StatusCode
	if rsp.Error != nil {
		status = typhon.ErrorStatus(rsp.Error)
		if !typhon.Inbound(req) {
			// The client keeps the status line of a 4xx or 5xx it
			// received; one it made up has none.
			return rsp.StatusCode, rsp.Status != ""
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	return status, true
}

// otelErrorClass returns the error.type of a failed call for metrics: the
// class of its typhon code (its first segment, not_found for
// not_found.user) when the class is in typhon's table, "_OTHER" for any
// other code, so that a downstream's made-up codes cannot grow the label
// set; for an answer with no Error, a failing status as a number. "" means
// no error.
func otelErrorClass(err error, status int) string {
	if err == nil {
		return otelStatusError(status)
	}
	code := typhon.ErrorCode(err)
	class := code
	if i := strings.IndexByte(code, '.'); i >= 0 {
		class = code[:i]
	}
	if typhon.CodeForStatus(typhon.ErrorStatus(err)) == class {
		return class
	}
	return "_OTHER"
}

// otelErrorType returns the error.type of a failed call for spans: its
// whole typhon code, or a failing status as a number when there is no Error.
func otelErrorType(err error, status int) string {
	if err == nil {
		return otelStatusError(status)
	}
	return typhon.ErrorCode(err)
}

func otelStatusError(status int) string {
	if status >= 400 && status <= 999 {
		return strconv.Itoa(status)
	}
	return ""
}

// otelProtocolVersion returns network.protocol.version for an HTTP version:
// "1.1", "2", "3".
func otelProtocolVersion(major, minor int) string {
	switch {
	case major == 1 && minor == 1:
		return "1.1"
	case major == 1 && minor == 0:
		return "1.0"
	case major == 2:
		return "2"
	case major == 3:
		return "3"
	}
	return ""
}

// otelHostPort splits an authority ("host:port", "[::1]:80", "host") into
// server.address and server.port, with the scheme's port when it names none.
func otelHostPort(hostport, scheme string) (string, int) {
	host, port := hostport, ""
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport[i:], "]") {
		host, port = hostport[:i], hostport[i+1:]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if p := otelPort(port); p > 0 {
		return host, p
	}
	switch scheme {
	case "http":
		return host, 80
	case "https":
		return host, 443
	}
	return host, 0
}

// otelPort parses a port number, 0 when port is not one; unlike strconv, it
// allocates no error.
func otelPort(port string) int {
	if port == "" || len(port) > 5 {
		return 0
	}
	n := 0
	for i := 0; i < len(port); i++ {
		c := port[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	if n >= 1<<16 {
		return 0
	}
	return n
}

// otelRedactedParams are the query parameters whose values url.full
// leaves out, after the semantic conventions: they sign or authorise a URL.
var otelRedactedParams = [...]string{"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"}

// otelFullURL returns u as url.full: credentials replaced by REDACTED, and
// the values of signature-like query parameters too.
func otelFullURL(u *url.URL) string {
	if u.User == nil && !otelHasRedacted(u.RawQuery) {
		return u.String()
	}
	c := *u
	if c.User != nil {
		c.User = url.UserPassword("REDACTED", "REDACTED")
	}
	if otelHasRedacted(c.RawQuery) {
		parts := strings.Split(c.RawQuery, "&")
		for i, p := range parts {
			key, _, _ := strings.Cut(p, "=")
			for _, r := range otelRedactedParams {
				if key == r {
					parts[i] = key + "=REDACTED"
				}
			}
		}
		c.RawQuery = strings.Join(parts, "&")
	}
	return c.String()
}

func otelHasRedacted(rawQuery string) bool {
	for _, r := range otelRedactedParams {
		if strings.Contains(rawQuery, r+"=") {
			return true
		}
	}
	return false
}
