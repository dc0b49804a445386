package typhontest_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// answer is a stub that answers with its name.
func answer(name string) typhon.Service {
	return func(req typhon.Request) typhon.Response { return req.Response(name) }
}

func TestStubsRouteByHost(t *testing.T) {
	t.Parallel()
	stubs := typhontest.NewStubs(t)
	stubs.Handle("users", answer("users"))
	stubs.Handle("users:8080", answer("users:8080"))
	stubs.Handle("10.0.0.1", answer("10.0.0.1"))
	stubs.Handle("::1", answer("::1"))
	stubs.Handle("[::2]:81", answer("[::2]:81"))
	ctx := stubs.Context(t.Context())
	tests := []struct{ url, want string }{
		{"http://users/a", "users"},
		{"https://users/a", "users"},
		{"http://USERS:9000/a", "users"},
		{"http://users:8080/a", "users:8080"},
		{"http://10.0.0.1:1234/a", "10.0.0.1"},
		{"http://[::1]/a", "::1"},
		{"http://[::1]:80/a", "::1"},
		{"http://[::2]:81/a", "[::2]:81"},
	}
	for _, tt := range tests {
		rsp := typhon.NewRequest(ctx, "GET", tt.url, nil).Send().Response()
		assert.Equal(t, tt.want, typhontest.Decode[string](t, rsp), tt.url)
	}
	assert.Len(t, stubs.Calls(), len(tests))
	assert.Len(t, stubs.CallsTo("users"), 4)
	assert.Len(t, stubs.CallsTo("users:8080"), 1)
	assert.Len(t, stubs.CallsTo("::1"), 2)
	assert.Len(t, stubs.CallsTo("[::1]:80"), 1)
}

func TestStubsUnmatchedHostFailsTheTest(t *testing.T) {
	t.Parallel()
	f := newFakeTB(t)
	stubs := typhontest.NewStubs(f)
	stubs.Handle("users", answer("users"))
	rsp := typhon.NewRequest(stubs.Context(t.Context()), "POST", "http://orders:8080/orders?user=1", nil).Send().Response()

	typhontest.AssertCode(t, rsp, typhon.CodeUnavailable)
	typhontest.AssertStatus(t, rsp, 503)
	assert.Equal(t, `typhontest: no stub for host "orders:8080": POST http://orders:8080/orders?user=1 (add one with Stubs.Handle)`, f.failures())
	require.Len(t, stubs.Calls(), 1, "an unmatched call is recorded too")
	assert.Equal(t, "POST http://orders:8080/orders?user=1", stubs.Calls()[0].String())
}

func TestStubsRecordCalls(t *testing.T) {
	t.Parallel()
	stubs := typhontest.NewStubs(t)
	stubs.Handle("users", func(req typhon.Request) typhon.Response {
		var u user
		if err := req.Decode(&u); err != nil {
			return typhon.Response{Error: err}
		}
		req.Header.Set("X-Changed-By-Stub", "yes") // does not change the record
		return req.Response(u.Name)
	})
	ctx := stubs.Context(t.Context())
	req := typhon.NewRequest(ctx, "PUT", "http://users/users/1?v=2", user{ID: "1", Name: "Ada"})
	req.Header.Set("X-Request-Id", "r1")
	rsp := req.Send().Response()
	assert.Equal(t, "Ada", typhontest.Decode[string](t, rsp), "the stub read the body")
	typhon.NewRequest(ctx, "DELETE", "http://users/users/1", nil).Send().Response()

	calls := stubs.Calls()
	require.Len(t, calls, 2)
	c := calls[0]
	assert.Equal(t, "PUT", c.Method)
	assert.Equal(t, "/users/1", c.URL.Path)
	assert.Equal(t, "v=2", c.URL.RawQuery)
	assert.Equal(t, "r1", c.Header.Get("X-Request-Id"))
	assert.Equal(t, "application/json", c.Header.Get("Content-Type"))
	assert.Empty(t, c.Header.Get("X-Changed-By-Stub"))
	assert.JSONEq(t, `{"id":"1","name":"Ada"}`, string(c.Body))
	var u user
	require.NoError(t, c.Decode(&u))
	assert.Equal(t, user{ID: "1", Name: "Ada"}, u)
	assert.Equal(t, "DELETE http://users/users/1", calls[1].String())
	assert.Nil(t, calls[1].Body)
}

// Answers reach the caller as they would over the wire.
func TestStubsAnswerAsOverTheWire(t *testing.T) {
	t.Parallel()
	secret := errors.New("dial tcp 10.1.2.3:5432: connection refused")
	stubs := typhontest.NewStubs(t)
	stubs.Handle("plain-error", func(req typhon.Request) typhon.Response {
		return typhon.Response{Error: secret}
	})
	stubs.Handle("wrapped-error", func(req typhon.Request) typhon.Response {
		return typhon.Response{Error: typhon.WrapError(secret, "unavailable.db", "database down")}
	})
	stubs.Handle("status-only", func(req typhon.Request) typhon.Response {
		rsp := req.Response([]byte("gone fishing"))
		rsp.StatusCode = 404
		return rsp
	})
	stubs.Handle("panics", func(req typhon.Request) typhon.Response { panic("stub bug") })
	ctx := stubs.Context(t.Context())
	send := func(host string) typhon.Response {
		return typhon.NewRequest(ctx, "GET", "http://"+host+"/", nil).Send().Response()
	}

	rsp := send("plain-error")
	typhontest.AssertCode(t, rsp, typhon.CodeInternalService)
	assert.NotContains(t, rsp.Error.Error(), "10.1.2.3", "the text of a plain error stays on the server")
	assert.False(t, errors.Is(rsp.Error, secret))
	typhontest.AssertHeader(t, rsp, "Content-Type", "application/problem+json")

	rsp = send("wrapped-error")
	typhontest.AssertCode(t, rsp, "unavailable.db")
	typhontest.AssertStatus(t, rsp, 503)
	assert.Equal(t, "unavailable.db: database down", rsp.Error.Error())
	assert.Nil(t, errors.Unwrap(rsp.Error), "no cause crosses the wire")
	body, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `"code":"unavailable.db"`)

	rsp = send("status-only")
	typhontest.AssertCode(t, rsp, typhon.CodeNotFound)
	assert.Equal(t, "not_found: gone fishing", rsp.Error.Error())

	rsp = send("panics")
	typhontest.AssertCode(t, rsp, typhon.CodeInternalService)
	typhontest.AssertStatus(t, rsp, 500)
}

// The panic of a stub called synchronously does not reach the caller.
func TestStubsRecoverPanics(t *testing.T) {
	t.Parallel()
	f := newFakeTB(t)
	stubs := typhontest.NewStubs(f)
	stubs.Handle("panics", typhontest.NewMock(t, typhontest.Panic("boom")).Serve())
	rsp := stubs.Client()(typhontest.NewRequest(t, "GET", "http://panics/x", nil))
	typhontest.AssertCode(t, rsp, typhon.CodeInternalService)
	assert.False(t, f.failed())
	assert.Equal(t, []string{"typhontest: stub for http://panics/x panicked: boom"}, f.logs)
}

func TestStubsHandleMisuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		host  string
		twice bool
		want  string
	}{
		{name: "empty", host: "", want: `Stubs.Handle(""): want a host or host:port`},
		{name: "url", host: "http://users", want: `Stubs.Handle("http://users"): want a host`},
		{name: "path", host: "users/v1", want: `Stubs.Handle("users/v1"): want a host`},
		{name: "twice", host: "users", twice: true, want: `Stubs.Handle("USERS"): host already handled`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTB(t)
			stubs := typhontest.NewStubs(f)
			assert.True(t, f.fatally(func() {
				stubs.Handle(tt.host, answer("x"))
				if tt.twice {
					stubs.Handle(strings.ToUpper(tt.host), answer("x"))
				}
			}))
			assert.Contains(t, f.failures(), tt.want)
		})
	}
}

// A served Service's Requests have the server's context: Stubs.Filter
// gives them the stubs'.
func TestStubsFilterForServedServices(t *testing.T) {
	t.Parallel()
	stubs := typhontest.NewStubs(t)
	stubs.Handle("users", answer("from the stub"))
	proxy := func(req typhon.Request) typhon.Response {
		return typhon.NewRequest(req.Context(), "GET", "http://users/", nil).Send().Response()
	}
	srv := typhontest.NewServer(t, typhon.Service(proxy).Filter(stubs.Filter()))
	rsp := typhontest.NewRequest(t, "GET", srv.URL+"/", nil).SendVia(srv.Client).Response()
	assert.Equal(t, "from the stub", typhontest.Decode[string](t, rsp))
	assert.Len(t, stubs.Calls(), 1)
}

// checkout is a service under test that fans out: it asks the users and
// orders services, concurrently, and combines their answers.
func checkout(req typhon.Request) typhon.Response {
	id := strings.TrimPrefix(req.URL.Path, "/checkout/")
	ctx := req.Context()
	u := typhon.NewRequest(ctx, "GET", "http://users/users/"+id, nil)
	o := typhon.NewRequest(ctx, "GET", "http://orders:8080/orders?user="+id, nil)
	for _, r := range []typhon.Request{u, o} {
		r.Header.Set("X-Request-Id", req.Header.Get("X-Request-Id"))
	}
	uf, of := u.Send(), o.Send()
	var who user
	if err := uf.Response().Decode(&who); err != nil {
		return typhon.Response{Error: err}
	}
	var orders []string
	if err := of.Response().Decode(&orders); err != nil {
		return typhon.Response{Error: err}
	}
	return req.Response(map[string]any{"name": who.Name, "orders": orders})
}

// TestFanOutParallel is the acceptance test of issue 3: a service that fans
// out to two stubs, under t.Parallel, 50 times, with no shared state (run
// it with -race).
func TestFanOutParallel(t *testing.T) {
	t.Parallel()
	type testCase struct {
		id     string
		name   string
		orders []string
	}
	var tests []testCase
	for i := range 50 {
		tests = append(tests, testCase{
			id:     fmt.Sprint(i),
			name:   fmt.Sprintf("user-%d", i),
			orders: []string{fmt.Sprintf("order-%d-a", i), fmt.Sprintf("order-%d-b", i)},
		})
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			stubs := typhontest.NewStubs(t)
			users := typhontest.NewMock(t, typhontest.Respond(user{ID: tt.id, Name: tt.name}), typhontest.NoMoreCalls())
			stubs.Handle("users", users.Serve())
			stubs.Handle("orders:8080", func(req typhon.Request) typhon.Response {
				if req.URL.Query().Get("user") != tt.id {
					return typhon.Response{Error: typhon.NewError("not_found.orders", "wrong user")}
				}
				return req.Response(tt.orders)
			})

			req := typhontest.NewRequest(t, "GET", "/checkout/"+tt.id, nil,
				typhontest.WithHeader("X-Request-Id", "req-"+tt.id),
				typhontest.WithContext(stubs.Context(t.Context())))
			rsp := checkout(req)

			typhontest.AssertStatus(t, rsp, 200)
			typhontest.AssertJSON(t, rsp, map[string]any{
				"name":   tt.name,
				"orders": []any{tt.orders[0], tt.orders[1]},
			})
			assert.Equal(t, 1, users.Count())
			calls := stubs.Calls()
			require.Len(t, calls, 2)
			for _, c := range calls {
				assert.Equal(t, "req-"+tt.id, c.Header.Get("X-Request-Id"))
			}
			require.Len(t, stubs.CallsTo("users"), 1)
			assert.Equal(t, "/users/"+tt.id, stubs.CallsTo("users")[0].URL.Path)
			require.Len(t, stubs.CallsTo("orders"), 1)
			assert.Equal(t, "user="+tt.id, stubs.CallsTo("orders")[0].URL.RawQuery)
		})
	}
}

// Used after its test has ended, Stubs answers but reports nothing: a
// report then would panic.
func TestStubsAfterTheTest(t *testing.T) {
	t.Parallel()
	var stubs *typhontest.Stubs
	t.Run("ended", func(t *testing.T) { stubs = typhontest.NewStubs(t) })
	rsp := stubs.Client()(typhon.NewRequest(t.Context(), "GET", "http://nobody/", nil))
	typhontest.AssertCode(t, rsp, typhon.CodeUnavailable)
}
