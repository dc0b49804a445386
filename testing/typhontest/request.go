package typhontest

import (
	"context"
	"net/http"
	"net/textproto"
	"testing"

	"github.com/typhon-go/typhon"
)

// A RequestOption changes a Request made by [NewRequest].
type RequestOption interface{ applyRequest(*requestConfig) }

type requestConfig struct {
	ctx    context.Context
	header [][2]string
}

type requestOptionFunc func(*requestConfig)

func (f requestOptionFunc) applyRequest(c *requestConfig) { f(c) }

// WithHeader adds the header key: value to the Request (Header.Add, so a
// key given twice has both values). "Host" sets the Request's Host.
func WithHeader(key, value string) RequestOption {
	return requestOptionFunc(func(c *requestConfig) { c.header = append(c.header, [2]string{key, value}) })
}

// WithContext gives the Request ctx instead of the test's context: a
// context with a deadline, or one from [Stubs.Context] that routes the
// Request's outbound calls to stubs.
func WithContext(ctx context.Context) RequestOption {
	return requestOptionFunc(func(c *requestConfig) { c.ctx = ctx })
}

// NewRequest returns a Request for method and target with body encoded as
// [typhon.NewRequest] encodes it: nil is no body, []byte and io.Reader are
// sent as they are, anything else (a string too) as JSON with Content-Type
// application/json. target is a path ("/users/1", to call a Service or
// Router in process) or an absolute URL (to send it to a server). Its
// context is t.Context(), which ends as the test does, unless [WithContext]
// gives another.
//
// Unlike typhon.NewRequest, which keeps a construction error for Send to
// answer, NewRequest stops the test with t.Fatalf when method or target is
// invalid or body cannot be encoded, so it must be called from the test's
// goroutine.
func NewRequest(t testing.TB, method, target string, body any, opts ...RequestOption) typhon.Request {
	t.Helper()
	cfg := requestConfig{ctx: t.Context()}
	for _, o := range opts {
		o.applyRequest(&cfg)
	}
	if method == "" {
		method = http.MethodGet
	}
	if _, err := http.NewRequest(method, target, nil); err != nil {
		t.Fatalf("typhontest: NewRequest(%q, %q): %v", method, target, err)
	}
	req := typhon.NewRequest(cfg.ctx, method, target, nil)
	for _, kv := range cfg.header {
		if textproto.CanonicalMIMEHeaderKey(kv[0]) == "Host" {
			req.Host = kv[1]
			continue
		}
		req.Header.Add(kv[0], kv[1])
	}
	// Encoded after the headers are set, so that a Content-Type given
	// with WithHeader is kept.
	if body != nil {
		if err := req.Encode(body); err != nil {
			t.Fatalf("typhontest: NewRequest(%q, %q): cannot encode body %T: %v", method, target, body, err)
		}
	}
	return req
}
