package filters_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// overNetwork runs f as a parallel subtest over HTTP/1.1 and over h2c, the
// protocols the filters' end-to-end tests cover: f serves with p.Listen and
// calls with the Server's Client. It is typhontest.Run's matrix in
// parallel: Run's leak check after each subtest needs the process to
// itself, so here the package's goleak check in TestMain stands for it.
func overNetwork(t *testing.T, f func(t *testing.T, p typhontest.Protocol)) {
	t.Helper()
	for _, p := range []typhontest.Protocol{typhontest.HTTP1, typhontest.H2C} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			f(t, p)
		})
	}
}

// scriptedBackend is a scripted in-process Service for the filters that
// count a backend's answers (breaker, throttle): it answers with the error
// code set by set ("" for 200) and counts its calls.
type scriptedBackend struct {
	calls atomic.Int32
	mu    sync.Mutex
	next  string
}

func (s *scriptedBackend) set(code string) {
	s.mu.Lock()
	s.next = code
	s.mu.Unlock()
}

func (s *scriptedBackend) serve(req typhon.Request) typhon.Response {
	s.calls.Add(1)
	s.mu.Lock()
	code := s.next
	s.mu.Unlock()
	if code == "" {
		return req.Response("ok")
	}
	return typhon.ErrorResponse(req, typhon.NewError(code, "scripted"))
}

// requestTo is a GET of http://host/x: the host is the key of the filters
// that keep state per backend.
func requestTo(ctx context.Context, host string) typhon.Request {
	return typhon.NewRequest(ctx, http.MethodGet, "http://"+host+"/x", nil)
}

// closeBody closes rsp's body, if it has one.
func closeBody(rsp typhon.Response) {
	if rsp.Response != nil && rsp.Body != nil {
		rsp.Body.Close()
	}
}

// panicsWithPrefix checks, in a subtest each, that every call in calls (an
// option or constructor given a bad argument) panics with a string that
// starts with the package's prefix, "filters: ".
func panicsWithPrefix(t *testing.T, calls map[string]func()) {
	t.Helper()
	for name, f := range calls {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r)
				s, _ := r.(string)
				assert.True(t, strings.HasPrefix(s, "filters: "), "%v", r)
			}()
			f()
		})
	}
}
