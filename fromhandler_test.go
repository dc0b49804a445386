package typhon_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

func TestFromHandler(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		h     http.Handler
		check func(t *testing.T, rsp typhon.Response)
	}{
		{"not found", http.NotFoundHandler(), func(t *testing.T, rsp typhon.Response) {
			assert.Equal(t, http.StatusNotFound, rsp.StatusCode)
			assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeNotFound), "%v", rsp.Error)
		}},
		{"json", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"name":"ada"}`)
		}), func(t *testing.T, rsp typhon.Response) {
			require.NoError(t, rsp.Error)
			assert.Equal(t, http.StatusOK, rsp.StatusCode)
			var v struct{ Name string }
			require.NoError(t, rsp.Decode(&v))
			assert.Equal(t, "ada", v.Name)
		}},
		{"typhon problem", typhon.HTTPHandler(func(req typhon.Request) typhon.Response {
			return typhon.Response{Error: typhon.NewError("conflict.version", "stale").WithParams("v", "2")}
		}), func(t *testing.T, rsp typhon.Response) {
			var e *typhon.Error
			require.ErrorAs(t, rsp.Error, &e)
			assert.Equal(t, "conflict.version", e.Code)
			assert.Equal(t, "stale", e.Message)
			assert.Equal(t, map[string]string{"v": "2"}, e.Params)
		}},
		{"panic", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic("handler panic")
		}), func(t *testing.T, rsp typhon.Response) {
			assert.True(t, typhon.IsCode(rsp.Error, typhon.CodeInternalService), "%v", rsp.Error)
			assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
		}},
		{"no content", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}), func(t *testing.T, rsp typhon.Response) {
			require.NoError(t, rsp.Error)
			assert.Equal(t, http.StatusNoContent, rsp.StatusCode)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rsp := typhon.FromHandler(tc.h)(typhon.NewRequest(t.Context(), "GET", "http://example.test/x", nil))
			require.NotNil(t, rsp.Response)
			require.NotNil(t, rsp.Header)
			tc.check(t, rsp)
			if rsp.Body != nil {
				rsp.Body.Close()
			}
		})
	}
}

// TestFromHandlerStreams: the Response comes back at the handler's first
// Flush, while the handler still runs; its body gives the rest.
func TestFromHandlerStreams(t *testing.T) {
	t.Parallel()
	more := make(chan struct{})
	finished := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(finished)
		w.Header().Set("X-Stream", "yes")
		_, _ = io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second")
	})
	rsp := typhon.FromHandler(h)(typhon.NewRequest(t.Context(), "GET", "http://example.test/", nil))
	require.NoError(t, rsp.Error)
	defer rsp.Body.Close()
	assert.Equal(t, "yes", rsp.Header.Get("X-Stream"))
	first := make([]byte, len("first;"))
	_, err := io.ReadFull(rsp.Body, first)
	require.NoError(t, err)
	assert.Equal(t, "first;", string(first))
	select {
	case <-finished:
		t.Fatal("the handler finished before it was let go")
	default:
	}
	close(more)
	rest, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	assert.Equal(t, "second", string(rest))
	within(t, finished, "handler end")
}

// TestFromHandlerMiddleware: a net/http middleware wraps a Service through
// FromHandler(mw(HTTPHandler(svc))), in process and over the network.
func TestFromHandlerMiddleware(t *testing.T) {
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Middleware", "seen "+r.URL.Path)
			next.ServeHTTP(w, r)
		})
	}
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		if req.URL.Path == "/missing" {
			return typhon.Response{Error: typhon.NewError("not_found.user", "no").WithParams("id", "1")}
		}
		return req.Response(map[string]string{"path": req.URL.Path})
	})
	wrapped := typhon.FromHandler(mw(typhon.HTTPHandler(svc)))

	check := func(t *testing.T, call func(path string) typhon.Response) {
		rsp := call("/hello")
		assert.Equal(t, "seen /hello", rsp.Header.Get("X-Middleware"))
		var v map[string]string
		require.NoError(t, rsp.Decode(&v))
		assert.Equal(t, "/hello", v["path"])

		rsp = call("/missing")
		assert.Equal(t, "seen /missing", rsp.Header.Get("X-Middleware"))
		var e *typhon.Error
		require.ErrorAs(t, rsp.Error, &e)
		assert.Equal(t, "not_found.user", e.Code)
		assert.Equal(t, map[string]string{"id": "1"}, e.Params)
		require.NoError(t, rsp.Body.Close())
	}

	t.Run("in process", func(t *testing.T) {
		t.Parallel()
		check(t, func(path string) typhon.Response {
			return wrapped(typhon.NewRequest(t.Context(), "GET", "http://example.test"+path, nil))
		})
	})
	run(t, func(t *testing.T, e *env) {
		base := e.serve(wrapped)
		check(t, func(path string) typhon.Response {
			return typhon.NewRequest(t.Context(), "GET", base+path, nil).SendVia(e.client).Response()
		})
	})
}
