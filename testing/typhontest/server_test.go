package typhontest_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// servers are the two ways to serve in a Protocol, for tests that try both.
var servers = []struct {
	name  string
	serve func(p typhontest.Protocol) func(testing.TB, typhon.Service, ...typhon.ServerOption) *typhontest.Server
}{
	{"memory", func(p typhontest.Protocol) func(testing.TB, typhon.Service, ...typhon.ServerOption) *typhontest.Server {
		return p.NewServer
	}},
	{"loopback", func(p typhontest.Protocol) func(testing.TB, typhon.Service, ...typhon.ServerOption) *typhontest.Server {
		return p.Listen
	}},
}

// echo answers with what it received: protocol, TLS, headers and body.
func echo(req typhon.Request) typhon.Response {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return typhon.Response{Error: err}
	}
	//lint:ignore SA1008 checks that the server canonicalised the key the client sent
	_, lower := req.Header["x-lower"]
	rsp := req.Response(map[string]any{
		"proto":    req.Proto,
		"tls":      req.TLS != nil,
		"header":   req.Header.Get("X-Lower"),
		"rawLower": lower,
		"size":     len(body),
	})
	rsp.Header.Set("X-Body-Sum", fmt.Sprint(sum(body)))
	return rsp
}

func sum(b []byte) int {
	s := 0
	for _, c := range b {
		s += int(c)
	}
	return s
}

// TestServers runs over a real connection, in memory and on a loopback
// port, in each protocol.
func TestServers(t *testing.T) {
	typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
		for _, s := range servers {
			t.Run(s.name, func(t *testing.T) {
				srv := s.serve(p)(t, echo)
				assert.Equal(t, p, srv.Protocol)
				scheme := map[bool]string{false: "http://", true: "https://"}[p == typhontest.H2]
				if s.name == "memory" {
					assert.Equal(t, scheme+"typhon.test", srv.URL)
				} else {
					assert.Equal(t, scheme+srv.Addr().String(), srv.URL)
					assert.True(t, strings.HasPrefix(srv.URL, scheme+"127.0.0.1:"))
				}

				body := bytes.Repeat([]byte("0123456789"), 150_000) // 1.5 MB: past the pipe's buffer and h2's windows
				req := typhontest.NewRequest(t, "POST", srv.URL+"/echo", body)
				req.Header["x-lower"] = []string{"canonicalised"}
				rsp := req.SendVia(srv.Client).Response()
				assert.Equal(t, p.Proto(), rsp.Proto)
				typhontest.AssertJSON(t, rsp, map[string]any{
					"proto":    p.Proto(),
					"tls":      p == typhontest.H2,
					"header":   "canonicalised",
					"rawLower": false,
					"size":     float64(len(body)),
				})
				typhontest.AssertHeader(t, rsp, "X-Body-Sum", fmt.Sprint(sum(body)))
			})
		}
	})
}

func TestServerConcurrentRequests(t *testing.T) {
	typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
		srv := p.NewServer(t, func(req typhon.Request) typhon.Response {
			return req.Response(req.URL.Path)
		})
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				path := fmt.Sprintf("/%d", i)
				rsp := typhon.NewRequest(t.Context(), "GET", srv.URL+path, nil).SendVia(srv.Client).Response()
				var got string
				if err := rsp.Decode(&got); err != nil || got != path {
					t.Errorf("%s: got %q, %v", path, got, err)
				}
			})
		}
		wg.Wait()
	})
}

// Errors cross the wire with their code, message and params.
func TestServerErrors(t *testing.T) {
	typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
		srv := p.NewServer(t, func(req typhon.Request) typhon.Response {
			return typhon.Response{Error: typhon.NewError("not_found.user", "no such user").WithParams("id", "2")}
		})
		rsp := typhontest.NewRequest(t, "GET", srv.URL+"/users/2", nil).SendVia(srv.Client).Response()
		typhontest.AssertCode(t, rsp, "not_found.user")
		typhontest.AssertStatus(t, rsp, 404)
		var e *typhon.Error
		require.ErrorAs(t, rsp.Error, &e)
		assert.Equal(t, map[string]string{"id": "2"}, e.Params)
	})
}

// A body of unknown length streams: the client reads the first part
// before the server has written the second.
func TestServerStreams(t *testing.T) {
	typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
		next := make(chan struct{})
		srv := p.NewServer(t, func(req typhon.Request) typhon.Response {
			pr, pw := io.Pipe()
			go func() { // ends when the body is written or the client goes
				defer pw.Close()
				if _, err := pw.Write([]byte("first;")); err != nil {
					return
				}
				select {
				case <-next:
				case <-req.Context().Done():
					return
				}
				_, _ = pw.Write([]byte("second"))
			}()
			return req.Response(pr)
		})
		rsp := typhontest.NewRequest(t, "GET", srv.URL+"/stream", nil).SendVia(srv.Client).Response()
		require.NoError(t, rsp.Error)
		defer rsp.Body.Close()
		first := make([]byte, len("first;"))
		_, err := io.ReadFull(rsp.Body, first)
		require.NoError(t, err)
		assert.Equal(t, "first;", string(first))
		close(next)
		rest, err := io.ReadAll(rsp.Body)
		require.NoError(t, err)
		assert.Equal(t, "second", string(rest))
	})
}

// A closed server refuses connections; its client calls that unavailable.
func TestServerClose(t *testing.T) {
	typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
		for _, s := range servers {
			t.Run(s.name, func(t *testing.T) {
				srv := s.serve(p)(t, echo)
				rsp := typhontest.NewRequest(t, "GET", srv.URL+"/", nil).SendVia(srv.Client).Response()
				typhontest.AssertBody(t, rsp, `{"header":"","proto":"`+p.Proto()+`","rawLower":false,"size":0,"tls":`+fmt.Sprint(p == typhontest.H2)+`}`)
				srv.Close()
				srv.Close() // idempotent
				<-srv.Done()
				require.NoError(t, srv.Wait())
				rsp = typhontest.NewRequest(t, "GET", srv.URL+"/", nil).SendVia(srv.Client).Response()
				typhontest.AssertCode(t, rsp, typhon.CodeUnavailable)
			})
		}
	})
}

// The in-memory client dials its server whatever the URL's host.
func TestInMemoryClientDialsItsServer(t *testing.T) {
	t.Parallel()
	srv := typhontest.NewServer(t, func(req typhon.Request) typhon.Response { return req.Response(req.Host) })
	rsp := typhontest.NewRequest(t, "GET", "http://users.internal:8080/", nil).SendVia(srv.Client).Response()
	assert.Equal(t, "users.internal:8080", typhontest.Decode[string](t, rsp))
}

func TestNewServerFailsTheTest(t *testing.T) {
	t.Parallel()
	changeHandler := typhon.WithHTTPServer(func(s *http.Server) { s.Handler = http.NotFoundHandler() })
	tests := []struct {
		name  string
		start func(f *fakeTB)
		want  string
	}{
		{"bad protocol", func(f *fakeTB) { typhontest.Protocol(7).NewServer(f, echo) }, "typhontest: NewServer with unknown Protocol(7)"},
		{"bad protocol listen", func(f *fakeTB) { typhontest.Protocol(-1).Listen(f, echo) }, "typhontest: Listen with unknown Protocol(-1)"},
		{"serve error", func(f *fakeTB) { typhontest.NewServer(f, echo, changeHandler) }, "typhontest: cannot serve: typhon: WithHTTPServer must not change the Handler"},
		{"listen error", func(f *fakeTB) { typhontest.Listen(f, echo, changeHandler) }, "typhontest: cannot listen: typhon: WithHTTPServer must not change the Handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTB(t)
			assert.True(t, f.fatally(func() { tt.start(f) }))
			assert.Equal(t, tt.want, f.failures())
		})
	}
}

// What the server logs goes to the test's log.
func TestServerLogsToTheTest(t *testing.T) {
	t.Parallel()
	f := newFakeTB(t)
	srv := typhontest.NewServer(f, typhontest.NewMock(t, typhontest.Panic("boom")).Serve())
	rsp := typhontest.NewRequest(t, "GET", srv.URL+"/", nil).SendVia(srv.Client).Response()
	typhontest.AssertCode(t, rsp, typhon.CodeInternalService)
	srv.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(t, f.logs)
	assert.Contains(t, f.logs[0], `server: level=ERROR msg="typhon: panic serving request" method=GET path=/ panic=boom stack=`)
}
