package filters_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// retryArrival is one call a retryBackend received.
type retryArrival struct {
	at   time.Time
	req  typhon.Request
	body string // what answer read of the body, if it did
}

// retryBackend is a scripted in-process Service: it records each arrival
// and answers it with answer(n, req), n counting from 1.
type retryBackend struct {
	answer func(n int, req typhon.Request) typhon.Response

	mu       sync.Mutex
	arrivals []retryArrival
}

func (b *retryBackend) serve(req typhon.Request) typhon.Response {
	b.mu.Lock()
	b.arrivals = append(b.arrivals, retryArrival{at: time.Now(), req: req})
	n := len(b.arrivals)
	b.mu.Unlock()
	return b.answer(n, req)
}

// setBody records what arrival n read of its body.
func (b *retryBackend) setBody(n int, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.arrivals[n-1].body = body
}

func (b *retryBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.arrivals)
}

func (b *retryBackend) arrival(n int) retryArrival {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.arrivals[n-1]
}

// retryErrors returns a backend that answers arrival n with errs[n-1] (a
// success when nil or past the end), as it would arrive over the wire: the
// errors go through typhon.ErrorFilter, so their codes and Retry-After are
// what a client would decode.
func retryErrors(errs ...error) (*retryBackend, typhon.Service) {
	b := &retryBackend{answer: func(n int, req typhon.Request) typhon.Response {
		if n <= len(errs) && errs[n-1] != nil {
			return typhon.Response{Error: errs[n-1]}
		}
		return req.Response("ok")
	}}
	return b, typhon.Service(b.serve).Filter(typhon.ErrorFilter)
}

// retryRefusingClient returns a typhon client whose every dial is refused,
// as a closed port refuses it, and the count of dials.
func retryRefusingClient() (typhon.Service, *atomic.Int32) {
	var dials atomic.Int32
	rt := retryRoundTripper(func(r *http.Request) (*http.Response, error) {
		dials.Add(1)
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "refused"}}
	})
	return typhon.NewClient(typhon.WithTransport(rt)), &dials
}

// retryRefusedErr is what a refused dial returns inside net/http.
var retryRefusedErr = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

type retryRoundTripper func(*http.Request) (*http.Response, error)

func (f retryRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func retryReq(ctx context.Context, method string, body any) typhon.Request {
	return typhon.NewRequest(ctx, method, "http://backend/thing", body)
}

func TestRetryRules(t *testing.T) {
	t.Parallel()
	var (
		unavailable = typhon.NewError(typhon.CodeUnavailable, "busy")
		shed        = typhon.NewError(typhon.CodeUnavailable, "shed").WithRetryAfter(time.Second)
		badGateway  = typhon.NewError(typhon.CodeBadGateway, "reset")
		timeout     = typhon.NewError(typhon.CodeTimeout, "slow")
		internal    = typhon.NewError(typhon.CodeInternalService, "boom")
		notImpl     = typhon.NewError(typhon.CodeNotImplemented, "no")
		refined     = typhon.NewError("unavailable.draining", "draining")
	)
	always := func(err error) []error { return []error{err, err, err, err, err} }
	type retryRule struct {
		name     string
		method   string
		key      string // Idempotency-Key
		errs     []error
		want     int    // arrivals
		wantCode string // of the answer; "" for success
	}
	tests := []retryRule{
		{"GET 503 three attempts in all", "GET", "", always(unavailable), 3, typhon.CodeUnavailable},
		{"GET 503 then success", "GET", "", []error{unavailable}, 2, ""},
		{"GET 503 twice then success", "GET", "", []error{unavailable, unavailable}, 3, ""},
		{"GET refined unavailable", "GET", "", []error{refined}, 2, ""},
		{"GET 503 with Retry-After", "GET", "", []error{shed}, 2, ""},
		{"GET 502", "GET", "", []error{badGateway}, 2, ""},
		{"GET 504", "GET", "", []error{timeout}, 2, ""},
		{"GET 500 not retried", "GET", "", always(internal), 1, typhon.CodeInternalService},
		{"GET 501 not retried", "GET", "", always(notImpl), 1, typhon.CodeNotImplemented},
		{"HEAD 503", "HEAD", "", []error{unavailable}, 2, ""},
		{"OPTIONS 503", "OPTIONS", "", []error{unavailable}, 2, ""},
		{"TRACE 503", "TRACE", "", []error{unavailable}, 2, ""},
		{"PUT 503", "PUT", "", []error{unavailable}, 2, ""},
		{"DELETE 502", "DELETE", "", []error{badGateway}, 2, ""},
		{"POST 500 arrives once", "POST", "", always(internal), 1, typhon.CodeInternalService},
		{"POST 502 arrives once", "POST", "", always(badGateway), 1, typhon.CodeBadGateway},
		{"POST 503 arrives once", "POST", "", always(unavailable), 1, typhon.CodeUnavailable},
		{"POST 504 arrives once", "POST", "", always(timeout), 1, typhon.CodeTimeout},
		{"PATCH 503 arrives once", "PATCH", "", always(unavailable), 1, typhon.CodeUnavailable},
		{"POST shed unread (503 + Retry-After) retried", "POST", "", []error{shed}, 2, ""},
		{"POST shed three times", "POST", "", always(shed), 3, typhon.CodeUnavailable},
		{"POST with Idempotency-Key 503", "POST", "k1", []error{unavailable}, 2, ""},
		{"POST with Idempotency-Key 500", "POST", "k1", always(internal), 1, typhon.CodeInternalService},
		{"PUT 429 with Retry-After not retried", "PUT", "",
			always(typhon.NewError(typhon.CodeRateLimited, "slow down").WithRetryAfter(time.Second)), 1, typhon.CodeRateLimited},
		{"success at once", "GET", "", nil, 1, ""},
	}
	for _, code := range []string{typhon.CodeBadRequest, typhon.CodeUnauthorized, typhon.CodeForbidden,
		typhon.CodeNotFound, typhon.CodeConflict, typhon.CodePreconditionFailed, typhon.CodeRequestTooLarge,
		typhon.CodeCanceled} {
		tests = append(tests, retryRule{"GET " + code + " not retried", "GET", "", always(typhon.NewError(code, "no")), 1, code})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b, svc := retryErrors(tt.errs...)
				req := retryReq(t.Context(), tt.method, nil)
				if tt.key != "" {
					req.Header.Set("Idempotency-Key", tt.key)
				}
				rsp := svc.Filter(filters.Retry())(req)
				assert.Equal(t, tt.want, b.count(), "arrivals")
				assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error))
				rsp.Body.Close()
			})
		})
	}
}

func TestRetryNotProcessedOverClient(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"GET", "POST", "PATCH"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var dials atomic.Int32
				rt := retryRoundTripper(func(r *http.Request) (*http.Response, error) {
					dials.Add(1)
					if r.Body != nil {
						r.Body.Close()
					}
					return nil, retryRefusedErr
				})
				client := typhon.NewClient(typhon.WithTransport(rt))
				req := retryReq(t.Context(), method, map[string]string{"a": "b"})
				rsp := client.Filter(filters.Retry())(req)
				require.True(t, typhon.NotProcessed(rsp.Error), "%v", rsp.Error)
				assert.Equal(t, int32(3), dials.Load(), "a refused dial proves the request unsent: retried")
			})
		})
	}
	t.Run("other dial failures", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			client, dials := retryRefusingClient()
			rsp := client.Filter(filters.Retry())(retryReq(t.Context(), "POST", "x"))
			require.True(t, typhon.NotProcessed(rsp.Error), "%v", rsp.Error)
			assert.Equal(t, int32(3), dials.Load())
		})
	})
}

func TestRetryClonesPerAttempt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := &retryBackend{}
		b.answer = func(n int, req typhon.Request) typhon.Response {
			// Each attempt is handed its Request: change it.
			assert.Empty(t, req.Header.Get("X-Changed"), "attempt %d sees no earlier change", n)
			assert.Equal(t, "/thing", req.URL.Path)
			req.Header.Set("X-Changed", "yes")
			req.URL.Path = "/changed"
			var body map[string]string
			if assert.NoError(t, req.Decode(&body)) {
				assert.Equal(t, "b", body["a"], "attempt %d gets the whole body", n)
			}
			if n < 3 {
				return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "busy")}
			}
			return req.Response("ok")
		}
		req := retryReq(t.Context(), "PUT", map[string]string{"a": "b"})
		rsp := typhon.Service(b.serve).Filter(filters.Retry())(req)
		require.NoError(t, rsp.Error)
		require.Equal(t, 3, b.count())
		seen := map[*http.Request]bool{req.Request: true}
		for i := 1; i <= 3; i++ {
			hr := b.arrival(i).req.Request
			assert.False(t, seen[hr], "attempt %d got a Request of its own", i)
			seen[hr] = true
		}
		assert.Empty(t, req.Header.Get("X-Changed"), "the caller's Request is untouched")
		assert.Equal(t, "/thing", req.URL.Path)
	})
}

// retryBody is a response body that records whether it was closed.
type retryBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *retryBody) Close() error { b.closed.Store(true); return nil }

func TestRetryClosesDiscardedBodies(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var bodies []*retryBody
		b := &retryBackend{answer: func(_ int, req typhon.Request) typhon.Response {
			body := &retryBody{Reader: strings.NewReader("busy")}
			bodies = append(bodies, body)
			return typhon.Response{
				Response: &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{}, Body: body},
				Error:    typhon.NewError(typhon.CodeUnavailable, "busy"),
			}
		}}
		rsp := typhon.Service(b.serve).Filter(filters.Retry())(retryReq(t.Context(), "GET", nil))
		require.Equal(t, 3, b.count())
		require.Len(t, bodies, 3)
		assert.True(t, bodies[0].closed.Load(), "discarded")
		assert.True(t, bodies[1].closed.Load(), "discarded")
		assert.False(t, bodies[2].closed.Load(), "the answer's body is the caller's")
		rsp.Body.Close()
		assert.True(t, bodies[2].closed.Load())
	})
}

func TestRetryIf(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		internal := typhon.NewError(typhon.CodeInternalService, "flaky")
		b, svc := retryErrors(internal, internal)
		var seen []string
		f := filters.Retry(filters.WithRetryIf(func(req typhon.Request, rsp typhon.Response) bool {
			seen = append(seen, req.Method+" "+typhon.ErrorCode(rsp.Error))
			return filters.IsRetryable(req, rsp) || typhon.IsCode(rsp.Error, typhon.CodeInternalService)
		}))
		rsp := svc.Filter(f)(retryReq(t.Context(), "POST", "x"))
		require.NoError(t, rsp.Error)
		assert.Equal(t, 3, b.count())
		assert.Equal(t, []string{"POST internal_service", "POST internal_service"}, seen,
			"called with the caller's Request and each failed attempt's Response; the last answer needs no decision")
	})
	t.Run("not past the attempts", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := &retryBackend{answer: func(int, typhon.Request) typhon.Response {
				return typhon.Response{Error: typhon.NewError(typhon.CodeInternalService, "x")}
			}}
			yes := func(typhon.Request, typhon.Response) bool { return true }
			rsp := typhon.Service(b.serve).Filter(filters.Retry(filters.WithRetryIf(yes), filters.WithMaxAttempts(4)))(retryReq(t.Context(), "POST", nil))
			require.Error(t, rsp.Error)
			assert.Equal(t, 4, b.count())
		})
	})
}

func TestRetryMaxAttempts(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 3, 5} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := &retryBackend{answer: func(int, typhon.Request) typhon.Response {
					return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "busy")}
				}}
				req := retryReq(t.Context(), "GET", nil)
				rsp := typhon.Service(b.serve).Filter(filters.Retry(filters.WithMaxAttempts(n)))(req)
				require.Error(t, rsp.Error)
				assert.Equal(t, n, b.count())
				if n == 1 {
					assert.Same(t, req.Request, b.arrival(1).req.Request, "one attempt: nothing to clone")
				}
			})
		})
	}
}

func TestRetryZeroRequest(t *testing.T) {
	t.Parallel()
	var got typhon.Request
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		got = req
		return typhon.Response{Error: typhon.NewError(typhon.CodeInternalService, "zero")}
	})
	rsp := filters.Retry()(typhon.Request{}, svc)
	require.Error(t, rsp.Error)
	assert.Nil(t, got.Request, "handed on as it is")
}

func TestRetryOptionsPanic(t *testing.T) {
	t.Parallel()
	panicsWithPrefix(t, map[string]func(){
		"WithMaxAttempts(0)":          func() { filters.WithMaxAttempts(0) },
		"WithBackoff(-1, 0)":          func() { filters.WithBackoff(-1, 0) },
		"WithBackoff(2, 1)":           func() { filters.WithBackoff(2, 1) },
		"WithPerAttemptTimeout(-1)":   func() { filters.WithPerAttemptTimeout(-1) },
		"WithRetryIf(nil)":            func() { filters.WithRetryIf(nil) },
		"WithMaxBufferedBody(-1)":     func() { filters.WithMaxBufferedBody(-1) },
		"WithMaxRetryAfter(-1)":       func() { filters.WithMaxRetryAfter(-1) },
		"NewRetryBudget(-1, 10, 10s)": func() { filters.NewRetryBudget(-1, 10, 10*time.Second) },
	})
}

func TestRetryOptionsBelongToRetry(t *testing.T) {
	t.Parallel()
	for _, o := range []any{
		filters.WithMaxAttempts(2), filters.WithBackoff(0, 0), filters.WithPerAttemptTimeout(0),
		filters.WithRetryIf(filters.IsRetryable), filters.WithMaxBufferedBody(0), filters.WithMaxRetryAfter(0),
	} {
		_, isRetry := o.(filters.RetryOption)
		_, isHedge := o.(filters.HedgeOption)
		assert.True(t, isRetry)
		assert.False(t, isHedge, "%T must not configure Hedge", o)
	}
	var shared any = filters.WithRetryBudget(nil)
	_, isRetry := shared.(filters.RetryOption)
	_, isHedge := shared.(filters.HedgeOption)
	assert.True(t, isRetry && isHedge, "the budget option is one of both")
}

func TestIsRetryable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	unavailable := typhon.NewError(typhon.CodeUnavailable, "busy")
	tests := []struct {
		name string
		req  typhon.Request
		err  error
		want bool
	}{
		{"success", retryReq(ctx, "GET", nil), nil, false},
		{"GET unavailable", retryReq(ctx, "GET", nil), unavailable, true},
		{"GET unavailable, caller gone", retryReq(done, "GET", nil), unavailable, false},
		{"GET plain error", retryReq(ctx, "GET", nil), errors.New("boom"), false},
		{"GET context deadline (an attempt's)", retryReq(ctx, "GET", nil), context.DeadlineExceeded, true},
		{"GET canceled", retryReq(ctx, "GET", nil), context.Canceled, false},
		{"POST unavailable", retryReq(ctx, "POST", nil), unavailable, false},
		{"POST local unavailable with Retry-After", retryReq(ctx, "POST", nil), unavailable.WithRetryAfter(time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, filters.IsRetryable(tt.req, typhon.Response{Error: tt.err}))
		})
	}
}

// BenchmarkRetry measures a call that succeeds at once: the cost of Retry
// when nothing fails.
func BenchmarkRetry(b *testing.B) {
	for _, bc := range []struct {
		name string
		f    typhon.Filter
		body any
	}{
		{"defaults", filters.Retry(), nil},
		{"in-memory body", filters.Retry(), []byte(`{"a":"b"}`)},
		{"per-attempt timeout", filters.Retry(filters.WithPerAttemptTimeout(time.Second)), nil},
		{"shared budget", filters.Retry(filters.WithRetryBudget(&filters.RetryBudget{})), nil},
		{"one attempt", filters.Retry(filters.WithMaxAttempts(1)), nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ok := typhon.Response{Response: &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}}
			svc := func(typhon.Request) typhon.Response { return ok }
			req := typhon.NewRequest(context.Background(), "PUT", "http://backend/thing", bc.body)
			b.ReportAllocs()
			for b.Loop() {
				rsp := bc.f(req, svc)
				if rsp.Error != nil {
					b.Fatal(rsp.Error)
				}
			}
		})
	}
}
