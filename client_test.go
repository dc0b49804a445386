package typhon_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// servePlain serves h with a plain net/http server, no typhon on the server
// side, in the env's protocol until the end of the test, and returns its base
// URL.
func servePlain(t *testing.T, e *env, h http.Handler) string {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	switch e.protocol {
	case typhontest.HTTP1:
		s.Start()
	case typhontest.H2C:
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		s.Config.Protocols = &p
		s.Start()
	case typhontest.H2:
		s.TLS, _ = typhontest.TLSConfigs()
		s.EnableHTTP2 = true
		s.StartTLS()
	}
	t.Cleanup(func() {
		e.tr.CloseIdleConnections()
		s.Close()
	})
	return s.URL
}

// closeRspBody closes rsp's body, if it has one.
func closeRspBody(rsp typhon.Response) {
	if rsp.Response != nil && rsp.Body != nil {
		rsp.Body.Close()
	}
}

func TestClientSuccessFromPlainServer(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := servePlain(t, e, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints) // 1xx before the answer
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"ok":true}`)
		}))
		rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/", nil))
		require.NoError(t, rsp.Error)
		assert.Equal(t, http.StatusOK, rsp.StatusCode)
		var got struct{ OK bool }
		require.NoError(t, rsp.Decode(&got))
		assert.True(t, got.OK)
	})
}

func orPanic[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	tests := []struct {
		path   string
		status int
	}{
		{"/301", http.StatusMovedPermanently},
		{"/302", http.StatusFound},
		{"/303", http.StatusSeeOther},
		{"/307", http.StatusTemporaryRedirect},
		{"/308", http.StatusPermanentRedirect},
		{"/304", http.StatusNotModified},
		{"/204", http.StatusNoContent},
		{"/202", http.StatusAccepted},
	}
	run(t, func(t *testing.T, e *env) {
		var targetCalls atomic.Int32
		base := e.serve(func(req typhon.Request) typhon.Response {
			if req.URL.Path == "/target" {
				targetCalls.Add(1)
				return req.Response("target")
			}
			rsp := typhon.NewResponse(req)
			rsp.StatusCode = orPanic(strconv.Atoi(req.URL.Path[1:]))
			if rsp.StatusCode/100 == 3 {
				rsp.Header.Set("Location", "/target")
			}
			return rsp
		})
		for _, tt := range tests {
			t.Run(tt.path, func(t *testing.T) {
				rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+tt.path, nil))
				defer closeRspBody(rsp)
				require.NoError(t, rsp.Error)
				assert.Equal(t, tt.status, rsp.StatusCode)
				if tt.status/100 == 3 && tt.status != http.StatusNotModified {
					assert.Equal(t, "/target", rsp.Header.Get("Location"))
				}
			})
		}
		assert.Zero(t, targetCalls.Load(), "redirects are not followed")
	})
}

// TestClientSharedTransport checks that clients made without WithTransport
// share one pool: many clients, one connection.
func TestClientSharedTransport(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		var conns atomic.Int32
		srv := e.server(func(req typhon.Request) typhon.Response { return req.Response(req.Proto) }, countConns(&conns))
		// The shared transports cannot be told to close their idle
		// connections: close them from the server's side at once rather
		// than wait for the client after an HTTP/2 GOAWAY.
		t.Cleanup(func() { stopAtOnce(srv) })
		base := e.baseURL(srv)
		var opts []typhon.ClientOption
		if e.protocol == typhontest.H2C {
			opts = append(opts, typhon.WithH2C())
		}
		for i := range 20 {
			var got string
			require.NoError(t, typhon.NewClient(opts...)(typhon.NewRequest(t.Context(), "GET", base+"/", nil)).Decode(&got), "call %d", i)
			assert.Equal(t, e.wantProto(), got)
		}
		assert.LessOrEqual(t, conns.Load(), int32(2), "clients share one pool")
	}, typhontest.HTTP1, typhontest.H2C) // the shared transports do not trust the test certificate
}

// TestClientPropagatesRequestID: the request ID in the caller's context
// travels as X-Request-Id, unless the request sets its own or the client
// propagates nothing.
func TestClientPropagatesRequestID(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return req.Response(req.Header.Get(typhon.RequestIDHeader))
		})
		ctx := typhon.WithRequestID(t.Context(), "req-1")
		cases := []struct {
			name   string
			client typhon.Service
			own    string
			want   string
		}{
			{"from context", e.client, "", "req-1"},
			{"own header wins", e.client, "mine", "mine"},
			{"without propagation", typhon.NewClient(typhon.WithTransport(e.tr), typhon.WithoutPropagation()), "", ""},
		}
		for _, c := range cases {
			req := typhon.NewRequest(ctx, "GET", base+"/", nil)
			if c.own != "" {
				req.Header.Set(typhon.RequestIDHeader, c.own)
			}
			var got string
			require.NoError(t, c.client(req).Decode(&got), c.name)
			assert.Equal(t, c.want, got, c.name)
		}
		assert.Equal(t, "req-1", typhon.RequestID(ctx))
		assert.Equal(t, "", typhon.RequestID(t.Context()))
	})
}

// TestWithoutPropagationDropsTraceContext: a client for third parties sends
// no trace context, even one a tracing filter put on the request.
func TestWithoutPropagationDropsTraceContext(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return req.Response([]string{req.Header.Get("Traceparent"), req.Header.Get("Tracestate"), req.Header.Get("Baggage")})
		})
		client := typhon.NewClient(typhon.WithTransport(e.tr), typhon.WithoutPropagation())
		req := typhon.NewRequest(t.Context(), "GET", base+"/", nil)
		req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		req.Header.Set("Tracestate", "a=b")
		req.Header.Set("Baggage", "user=1")
		var got []string
		require.NoError(t, client(req).Decode(&got))
		assert.Equal(t, []string{"", "", ""}, got)
	})
}
