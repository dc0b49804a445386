package typhontest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// exampleT stands in the Examples for the *testing.T of a test: it prints
// failures instead of failing, and end runs its cleanups as a test's end
// does.
type exampleT struct {
	testing.TB
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	cleanups []func()
}

func newExampleT() *exampleT {
	ctx, cancel := context.WithCancel(context.Background())
	return &exampleT{ctx: ctx, cancel: cancel}
}

func (t *exampleT) Helper()                  {}
func (t *exampleT) Context() context.Context { return t.ctx }
func (t *exampleT) Log(...any)               {}
func (t *exampleT) Logf(string, ...any)      {}
func (t *exampleT) Errorf(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}
func (t *exampleT) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
func (t *exampleT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *exampleT) end() {
	t.cancel()
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// getUser is the Service the Examples test.
func getUser(req typhon.Request) typhon.Response {
	id := req.PathValue("id")
	if id != "1" {
		return typhon.Response{Error: typhon.NewError("not_found.user", "no such user").WithParams("id", id)}
	}
	return req.Response(map[string]string{"id": id, "name": "Ada"})
}

func usersRouter() typhon.Service {
	var r typhon.Router
	r.GET("/users/{id}", getUser)
	return r.Serve()
}

func ExampleNewRequest() {
	t := newExampleT() // in a test: the *testing.T
	defer t.end()

	req := typhontest.NewRequest(t, "POST", "/users", map[string]string{"name": "Ada"},
		typhontest.WithHeader("X-Request-Id", "r1"))
	body, _ := io.ReadAll(req.Body)
	fmt.Println(req.Method, req.URL, req.Header.Get("Content-Type"), req.Header.Get("X-Request-Id"))
	fmt.Println(string(body))
	// Output:
	// POST /users application/json r1
	// {"name":"Ada"}
}

func ExampleAssertStatus() {
	t := newExampleT()
	defer t.end()

	svc := usersRouter()
	rsp := svc(typhontest.NewRequest(t, "GET", "/users/2", nil))
	typhontest.AssertStatus(t, rsp, http.StatusOK) // fails, and says why
	// Output:
	// typhontest: status 404, want 200
	// response:
	// 	HTTP/1.1 404 Not Found
	// 	error (*typhon.Error): not_found.user: no such user
}

func ExampleAssertCode() {
	t := newExampleT()
	defer t.end()

	rsp := usersRouter()(typhontest.NewRequest(t, "GET", "/users/2", nil))
	fmt.Println(typhontest.AssertCode(t, rsp, "not_found")) // not_found.user refines not_found
	fmt.Println(typhontest.AssertStatus(t, rsp, http.StatusNotFound))
	// Output:
	// true
	// true
}

func ExampleAssertJSON() {
	t := newExampleT()
	defer t.end()

	rsp := usersRouter()(typhontest.NewRequest(t, "GET", "/users/1", nil))
	typhontest.AssertJSON(t, rsp, map[string]string{"id": "1", "name": "Bob"})
	// Output:
	// typhontest: body mismatch
	// 	got:  {"id":"1","name":"Ada"}
	// 	want: {"id":"1","name":"Bob"}
	// response:
	// 	HTTP/1.1 200 OK
	// 	Content-Type: application/json
	//
	// 	{"id":"1","name":"Ada"}
	// 	error: nil
}

func ExampleDecode() {
	t := newExampleT()
	defer t.end()

	type user struct{ ID, Name string }
	rsp := usersRouter()(typhontest.NewRequest(t, "GET", "/users/1", nil))
	u := typhontest.Decode[user](t, rsp)
	fmt.Printf("%+v\n", u)
	typhontest.AssertHeader(t, rsp, "Content-Type", "application/json") // the body is still there
	// Output:
	// {ID:1 Name:Ada}
}

// profile is a Service under test that calls two others: users and orders.
func profile(req typhon.Request) typhon.Response {
	id := req.PathValue("id")
	users := typhon.NewRequest(req.Context(), "GET", "http://users/users/"+id, nil).Send()
	orders := typhon.NewRequest(req.Context(), "GET", "http://orders/orders?user="+id, nil).Send()
	var u struct{ Name string }
	if err := users.Response().Decode(&u); err != nil {
		return typhon.Response{Error: err}
	}
	var o []string
	if err := orders.Response().Decode(&o); err != nil {
		return typhon.Response{Error: err}
	}
	return req.Response(fmt.Sprintf("%s has %d orders", u.Name, len(o)))
}

func ExampleNewStubs() {
	t := newExampleT()
	defer t.end()

	stubs := typhontest.NewStubs(t)
	stubs.Handle("users", usersRouter())
	stubs.Handle("orders", func(req typhon.Request) typhon.Response {
		return req.Response([]string{"o1", "o2"})
	})

	var r typhon.Router
	r.GET("/profile/{id}", profile)
	req := typhontest.NewRequest(t, "GET", "/profile/1", nil,
		typhontest.WithContext(stubs.Context(t.Context()))) // its Sends go to the stubs
	rsp := r.Serve()(req)

	fmt.Println(typhontest.Decode[string](t, rsp))
	for _, c := range stubs.Calls() {
		fmt.Println(c)
	}

	// A user the users stub does not know: the error comes back as over the
	// wire, code, message and params.
	rsp = r.Serve()(typhontest.NewRequest(t, "GET", "/profile/2", nil,
		typhontest.WithContext(stubs.Context(t.Context()))))
	fmt.Println(rsp.Error)
	// Unordered output:
	// Ada has 2 orders
	// GET http://users/users/1
	// GET http://orders/orders?user=1
	// not_found.user: no such user
}

func ExampleStubs_Filter() {
	t := newExampleT()
	defer t.end()

	stubs := typhontest.NewStubs(t)
	stubs.Handle("users", usersRouter())
	stubs.Handle("orders", typhontest.NewMock(t, typhontest.Respond([]string{"o1"})).Serve())

	var r typhon.Router
	r.GET("/profile/{id}", profile)
	// Served, the Service's Requests have the server's context: the
	// filter gives them the stubs'.
	srv := typhontest.NewServer(t, r.Serve().Filter(stubs.Filter()))
	rsp := typhontest.NewRequest(t, "GET", srv.URL+"/profile/1", nil).SendVia(srv.Client).Response()
	fmt.Println(typhontest.Decode[string](t, rsp))
	// Output:
	// Ada has 1 orders
}

func ExampleNewMock() {
	t := newExampleT()
	defer t.end()

	// A flaky downstream: two failures, then answers.
	mock := typhontest.NewMock(t,
		typhontest.Fail(typhon.NewError(typhon.CodeUnavailable, "try later")),
		typhontest.Fail(typhon.NewError(typhon.CodeUnavailable, "try later")),
		typhontest.Respond("ok"),
		typhontest.NoMoreCalls(), // a fourth call fails the test
	)
	svc := mock.Serve()
	for range 3 {
		rsp := svc(typhontest.NewRequest(t, "GET", "http://flaky/", nil))
		fmt.Println(rsp.StatusCode, rsp.Error)
	}
	fmt.Println(mock.Count(), "calls")
	// Output:
	// 503 unavailable: try later
	// 503 unavailable: try later
	// 200 <nil>
	// 3 calls
}

func ExampleStep_After() {
	t := newExampleT()
	defer t.end()

	// A downstream that takes an hour, called with a 10 ms deadline. Inside
	// a testing/synctest bubble this takes no real time at all.
	mock := typhontest.NewMock(t, typhontest.Respond("finally").After(time.Hour))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	rsp := mock.Serve()(typhontest.NewRequest(t, "GET", "/", nil, typhontest.WithContext(ctx)))
	fmt.Println(typhon.ErrorCode(rsp.Error))
	// Output:
	// timeout
}

func ExampleHang() {
	t := newExampleT()
	defer t.end()

	mock := typhontest.NewMock(t, typhontest.Hang())
	ctx, cancel := context.WithCancel(t.Context())
	future := typhontest.NewRequest(t, "GET", "/", nil, typhontest.WithContext(ctx)).SendVia(mock.Serve())
	cancel() // the caller gives up
	fmt.Println(typhon.ErrorCode(future.Response().Error))
	// Output:
	// canceled
}

func ExampleNewServer() {
	t := newExampleT()
	defer t.end() // stops the server

	srv := typhontest.NewServer(t, usersRouter()) // HTTP/1.1, in memory: no port
	rsp := typhontest.NewRequest(t, "GET", srv.URL+"/users/2", nil).SendVia(srv.Client).Response()
	fmt.Println(srv.URL, rsp.Proto, rsp.StatusCode, rsp.Header.Get("Content-Type"))
	fmt.Println(rsp.Error)
	// Output:
	// http://typhon.test HTTP/1.1 404 application/problem+json
	// not_found.user: no such user
}

func ExampleProtocol_NewServer() {
	t := newExampleT()
	defer t.end()

	for _, p := range []typhontest.Protocol{typhontest.HTTP1, typhontest.H2C, typhontest.H2} {
		srv := p.NewServer(t, func(req typhon.Request) typhon.Response {
			return req.Response(fmt.Sprintf("%s, TLS %v", req.Proto, req.TLS != nil))
		})
		rsp := typhontest.NewRequest(t, "GET", srv.URL+"/", nil).SendVia(srv.Client).Response()
		fmt.Printf("%-5s %s: %s\n", p, srv.URL, typhontest.Decode[string](t, rsp))
	}
	// Output:
	// http1 http://typhon.test: HTTP/1.1, TLS false
	// h2c   http://typhon.test: HTTP/2.0, TLS false
	// h2    https://typhon.test: HTTP/2.0, TLS true
}

func ExampleListen() {
	t := newExampleT()
	defer t.end()

	srv := typhontest.Listen(t, usersRouter()) // 127.0.0.1, a free port
	rsp := typhontest.NewRequest(t, "GET", srv.URL+"/users/1", nil).SendVia(srv.Client).Response()
	fmt.Println(strings.HasPrefix(srv.URL, "http://127.0.0.1:"), typhontest.Decode[map[string]string](t, rsp)["name"])
	// Output:
	// true Ada
}

func ExampleNewListener() {
	// Any net/http server and client, connected in memory.
	l := typhontest.NewListener()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.RemoteAddr)
	})}
	go func() { _ = srv.Serve(l) }() // returns when srv is closed
	defer srv.Close()
	tr := &http.Transport{DialContext: l.DialContext}
	defer tr.CloseIdleConnections()

	rsp, err := (&http.Client{Transport: tr}).Get("http://anything/")
	if err != nil {
		panic(err)
	}
	defer rsp.Body.Close()
	b, _ := io.ReadAll(rsp.Body)
	fmt.Println(string(b))
	// Output:
	// hello from 192.0.2.2:49152
}

func ExampleRun() {
	// In a _test.go file. Run's subtests are sequential, each ends with a
	// goroutine leak check, and the test that calls Run must not be
	// parallel.
	_ = func(t *testing.T) { // func TestGetUser(t *testing.T)
		typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
			srv := p.NewServer(t, usersRouter()) // or p.Listen for a real port
			rsp := typhontest.NewRequest(t, "GET", srv.URL+"/users/1", nil).SendVia(srv.Client).Response()
			typhontest.AssertJSON(t, rsp, map[string]string{"id": "1", "name": "Ada"})
			typhontest.AssertHeader(t, rsp, "Content-Type", "application/json")
		})
	}
}
