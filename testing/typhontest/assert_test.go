package typhontest_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// users answers /users/1 with Ada and anything else with not_found.user.
func users(req typhon.Request) typhon.Response {
	id := strings.TrimPrefix(req.URL.Path, "/users/")
	if id != "1" {
		return typhon.Response{Error: typhon.NewError("not_found.user", "no such user").WithParams("id", id)}
	}
	rsp := req.Response(user{ID: id, Name: "Ada"})
	rsp.Header.Set("X-Served-By", "users")
	return rsp
}

func TestAssertionsPass(t *testing.T) {
	t.Parallel()
	ok := users(typhontest.NewRequest(t, "GET", "/users/1", nil))
	assert.True(t, typhontest.AssertStatus(t, ok, 200))
	assert.True(t, typhontest.AssertOK(t, ok))
	assert.True(t, typhontest.AssertHeader(t, ok, "x-served-by", "users"))
	assert.True(t, typhontest.AssertHeader(t, ok, "X-Absent", ""))
	assert.True(t, typhontest.AssertJSON(t, ok, user{ID: "1", Name: "Ada"}))
	assert.True(t, typhontest.AssertJSON(t, ok, map[string]any{"id": "1", "name": "Ada"}))
	assert.True(t, typhontest.AssertBody(t, ok, `{"id":"1","name":"Ada"}`))
	assert.Equal(t, user{ID: "1", Name: "Ada"}, typhontest.Decode[user](t, ok))
	assert.Equal(t, `{"id":"1","name":"Ada"}`, string(typhontest.Decode[[]byte](t, ok)))

	// A bare Response{Error: err} has its error's status.
	missing := users(typhontest.NewRequest(t, "GET", "/users/2", nil))
	assert.Nil(t, missing.Response)
	assert.True(t, typhontest.AssertStatus(t, missing, 404))
	assert.True(t, typhontest.AssertCode(t, missing, "not_found"), "a dotted code refines its prefix")
	assert.True(t, typhontest.AssertCode(t, missing, "not_found.user"))
}

// The helpers read the body into memory and leave it readable from the
// start: each sees all of it, and so does the test afterwards.
func TestAssertionsDoNotConsumeTheBody(t *testing.T) {
	t.Parallel()
	rsp := users(typhontest.NewRequest(t, "GET", "/users/1", nil))
	for range 2 {
		assert.Equal(t, "Ada", typhontest.Decode[user](t, rsp).Name)
		assert.True(t, typhontest.AssertJSON(t, rsp, user{ID: "1", Name: "Ada"}))
	}
	f := newFakeTB(t)
	typhontest.AssertStatus(f, rsp, 500) // fails, printing the body
	assert.Contains(t, f.failures(), `{"id":"1","name":"Ada"}`)
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	assert.Equal(t, `{"id":"1","name":"Ada"}`, string(b))

	typhontest.AssertStatus(f, rsp, 500) // starts the body again
	var u user
	require.NoError(t, rsp.Decode(&u), "typhon's own Decode still works")
	assert.Equal(t, "Ada", u.Name)
}

func TestAssertionFailures(t *testing.T) {
	t.Parallel()
	okRsp := func(t *testing.T) typhon.Response { return users(typhontest.NewRequest(t, "GET", "/users/1", nil)) }
	errRsp := func(t *testing.T) typhon.Response {
		// Through a filter, as a Router or a client hands it on: with a
		// problem+json body.
		svc := typhon.Service(users).Filter(typhon.ErrorFilter)
		return svc(typhontest.NewRequest(t, "GET", "/users/2", nil))
	}
	tests := []struct {
		name   string
		rsp    func(t *testing.T) typhon.Response
		assert func(t testing.TB, rsp typhon.Response) bool
		want   []string
	}{
		{
			name:   "status",
			rsp:    errRsp,
			assert: func(t testing.TB, rsp typhon.Response) bool { return typhontest.AssertStatus(t, rsp, 200) },
			want: []string{
				"typhontest: status 404, want 200\nresponse:\n\tHTTP/1.1 404 Not Found\n\tContent-Type: application/problem+json\n\n\t{",
				`"code":"not_found.user","params":{"id":"2"}}`,
				"\terror (*typhon.Error): not_found.user: no such user\n",
			},
		},
		{
			name:   "ok",
			rsp:    errRsp,
			assert: typhontest.AssertOK,
			want:   []string{"typhontest: want a success\n", "404 Not Found", "not_found.user: no such user"},
		},
		{
			name:   "code, no error",
			rsp:    okRsp,
			assert: func(t testing.TB, rsp typhon.Response) bool { return typhontest.AssertCode(t, rsp, "not_found") },
			want:   []string{`typhontest: no error, want error code "not_found"`, "200 OK", `{"id":"1","name":"Ada"}`, "\terror: nil"},
		},
		{
			name:   "code, other error",
			rsp:    errRsp,
			assert: func(t testing.TB, rsp typhon.Response) bool { return typhontest.AssertCode(t, rsp, "not_found.order") },
			want:   []string{`typhontest: error code "not_found.user", want "not_found.order"`},
		},
		{
			name:   "code prefix is by segment",
			rsp:    errRsp,
			assert: func(t testing.TB, rsp typhon.Response) bool { return typhontest.AssertCode(t, rsp, "not_fou") },
			want:   []string{`typhontest: error code "not_found.user", want "not_fou"`},
		},
		{
			name: "header",
			rsp:  okRsp,
			assert: func(t testing.TB, rsp typhon.Response) bool {
				return typhontest.AssertHeader(t, rsp, "X-Served-By", "orders")
			},
			want: []string{`typhontest: header X-Served-By is "users", want "orders"`, "\tX-Served-By: users\n"},
		},
		{
			name: "header absent",
			rsp:  okRsp,
			assert: func(t testing.TB, rsp typhon.Response) bool {
				return typhontest.AssertHeader(t, rsp, "X-Served-By", "")
			},
			want: []string{`typhontest: header X-Served-By is "users", want it absent`},
		},
		{
			name:   "body",
			rsp:    okRsp,
			assert: func(t testing.TB, rsp typhon.Response) bool { return typhontest.AssertBody(t, rsp, "nope") },
			want:   []string{"typhontest: body mismatch\n\tgot:  \"{\\\"id\\\"", "\twant: \"nope\""},
		},
		{
			name: "json",
			rsp:  okRsp,
			assert: func(t testing.TB, rsp typhon.Response) bool {
				return typhontest.AssertJSON(t, rsp, user{ID: "1", Name: "Bob"})
			},
			want: []string{"typhontest: body mismatch\n\tgot:  {\"id\":\"1\",\"name\":\"Ada\"}\n\twant: {\"id\":\"1\",\"name\":\"Bob\"}\n"},
		},
		{
			name:   "json of an error",
			rsp:    errRsp,
			assert: func(t testing.TB, rsp typhon.Response) bool { return typhontest.AssertJSON(t, rsp, user{}) },
			want: []string{
				"typhontest: cannot decode response body into typhontest_test.user: not_found.user: no such user\n",
				`"code":"not_found.user"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTB(t)
			assert.False(t, tt.assert(f, tt.rsp(t)))
			for _, w := range tt.want {
				assert.Contains(t, f.failures(), w)
			}
		})
	}
}

func TestDecodeFailsTheTest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rsp  func(req typhon.Request) typhon.Response
		want string
	}{
		{
			name: "error",
			rsp:  func(req typhon.Request) typhon.Response { return typhon.ErrorResponse(req, errors.New("boom")) },
			want: "typhontest: cannot decode response body into typhontest_test.user: boom\nresponse:\n\tHTTP/1.1 500 Internal Server Error\n",
		},
		{
			name: "not json",
			rsp: func(req typhon.Request) typhon.Response {
				rsp := req.Response([]byte("<html>"))
				rsp.Header.Set("Content-Type", "text/html")
				return rsp
			},
			want: "bad_gateway: cannot decode response body of type text/html",
		},
		{
			name: "malformed json",
			rsp:  func(req typhon.Request) typhon.Response { return req.Response([]byte(`{"id":`)) },
			want: "bad_gateway: cannot decode response body",
		},
		{
			name: "empty response",
			rsp:  func(req typhon.Request) typhon.Response { return typhon.Response{} },
			want: "Decode on an empty Response",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTB(t)
			rsp := tt.rsp(typhontest.NewRequest(t, "GET", "/", nil))
			assert.True(t, f.fatally(func() { typhontest.Decode[user](f, rsp) }))
			assert.Contains(t, f.failures(), tt.want)
		})
	}
}

// chunkReader returns its data 100 bytes at a time, then fails the test if
// read again: it stands for a stream that has nothing more yet.
type chunkReader struct {
	t    *testing.T
	data []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		r.t.Error("read past the data: a failure message waited for the rest of a stream")
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 100)], r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestFailureMessageShowsTheFirstKiB(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("0123456789abcdef", 128) // 2 KiB
	rsp := typhontest.NewRequest(t, "GET", "/", nil).Response(&chunkReader{t: t, data: []byte(body)})
	f := newFakeTB(t)
	typhontest.AssertStatus(f, rsp, 201)
	msg := f.failures()
	assert.Contains(t, msg, "\n\t"+body[:1024]+"\n\t... (body cut at 1024 bytes)\n")
	assert.NotContains(t, msg, body[:1025])
}

type failingReader struct{ data string }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, errors.New("connection reset")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestFailureMessageShowsABodyError(t *testing.T) {
	t.Parallel()
	rsp := typhontest.NewRequest(t, "GET", "/", nil).Response(&failingReader{data: "partial"})
	f := newFakeTB(t)
	assert.False(t, typhontest.AssertBody(f, rsp, "partial and more"))
	assert.Contains(t, f.failures(), "typhontest: cannot read body: connection reset\n")
	assert.Contains(t, f.failures(), "\tpartial\n\t... (body failed after 7 bytes: connection reset)\n")
	_, err := io.ReadAll(rsp.Body)
	assert.EqualError(t, err, "connection reset", "the body still fails as it did")
}

func TestFailureMessageQuotesBinaryBodies(t *testing.T) {
	t.Parallel()
	rsp := typhontest.NewRequest(t, "GET", "/", nil).Response([]byte{0xff, 0x00, 'a'})
	f := newFakeTB(t)
	typhontest.AssertStatus(f, rsp, 204)
	assert.Contains(t, f.failures(), "\n\t\"\\xff\\x00a\"\n")
}

// Over the wire: a plain-text 404 from a net/http handler, which the server
// bridge sends as problem+json.
func TestAssertionsOnAClientResponse(t *testing.T) {
	t.Parallel()
	notFound := typhon.FromHandler(http.NotFoundHandler())
	srv := typhontest.NewServer(t, notFound)
	rsp := typhontest.NewRequest(t, "GET", srv.URL+"/nothing", nil).SendVia(srv.Client).Response()
	typhontest.AssertStatus(t, rsp, http.StatusNotFound)
	typhontest.AssertCode(t, rsp, typhon.CodeNotFound)
	typhontest.AssertBody(t, rsp, `{"type":"https://pkg.go.dev/github.com/typhon-go/typhon#Error",`+
		`"title":"Not Found","status":404,"detail":"404 page not found","code":"not_found"}`+"\n")
	typhontest.AssertHeader(t, rsp, "Content-Type", "application/problem+json")
	typhontest.AssertHeader(t, rsp, "X-Content-Type-Options", "nosniff")
}
