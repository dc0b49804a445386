package typhontest_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

func TestNewRequest(t *testing.T) {
	t.Parallel()
	type user struct{ Name string }
	tests := []struct {
		name     string
		body     any
		opts     []typhontest.RequestOption
		wantBody string
		wantType string
	}{
		{name: "no body"},
		{name: "json", body: user{"Ada"}, wantBody: `{"Name":"Ada"}`, wantType: "application/json"},
		{name: "string is json", body: "hi", wantBody: `"hi"`, wantType: "application/json"},
		{name: "bytes as they are", body: []byte("raw"), wantBody: "raw"},
		{
			name: "content type kept", body: user{"Ada"}, wantBody: `{"Name":"Ada"}`, wantType: "application/vnd.user+json",
			opts: []typhontest.RequestOption{typhontest.WithHeader("Content-Type", "application/vnd.user+json")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := typhontest.NewRequest(t, "POST", "/users", tt.body, tt.opts...)
			assert.Equal(t, "POST", req.Method)
			assert.Equal(t, "/users", req.URL.Path)
			assert.Equal(t, t.Context(), req.Context())
			assert.Equal(t, tt.wantType, req.Header.Get("Content-Type"))
			var got []byte
			if req.Body != nil {
				got, _ = io.ReadAll(req.Body)
			}
			assert.Equal(t, tt.wantBody, string(got))
		})
	}
}

func TestNewRequestOptions(t *testing.T) {
	t.Parallel()
	type key struct{}
	ctx := context.WithValue(t.Context(), key{}, "mine")
	req := typhontest.NewRequest(t, "", "http://users/users/1", nil,
		typhontest.WithHeader("x-request-id", "r1"),
		typhontest.WithHeader("Accept", "application/json"),
		typhontest.WithHeader("Accept", "text/plain"),
		typhontest.WithHeader("host", "users.internal"),
		typhontest.WithContext(ctx))
	assert.Equal(t, "GET", req.Method, "an empty method is GET")
	assert.Equal(t, "users", req.URL.Host)
	assert.Equal(t, "users.internal", req.Host)
	assert.Equal(t, "r1", req.Header.Get("X-Request-Id"))
	assert.Equal(t, []string{"application/json", "text/plain"}, req.Header.Values("Accept"))
	assert.Empty(t, req.Header.Values("Host"))
	assert.Equal(t, ctx, req.Context())
}

func TestNewRequestCallsARouter(t *testing.T) {
	t.Parallel()
	var r typhon.Router
	r.POST("/users/{id}", func(req typhon.Request) typhon.Response {
		var body map[string]string
		if err := req.Decode(&body); err != nil {
			return typhon.Response{Error: err}
		}
		return req.Response(map[string]string{"id": req.PathValue("id"), "name": body["name"]})
	})
	rsp := r.Serve()(typhontest.NewRequest(t, "POST", "/users/7", map[string]string{"name": "Ada"}))
	typhontest.AssertJSON(t, rsp, map[string]string{"id": "7", "name": "Ada"})
}

func TestNewRequestFailsTheTest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, target string
		body                 any
		want                 string
	}{
		{name: "bad url", method: "GET", target: "http://[::1", want: `NewRequest("GET", "http://[::1")`},
		{name: "bad method", method: "GE T", target: "/", want: "invalid method"},
		{name: "unencodable body", method: "POST", target: "/", body: make(chan int), want: "cannot encode body chan int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTB(t)
			fatal := f.fatally(func() { typhontest.NewRequest(f, tt.method, tt.target, tt.body) })
			assert.True(t, fatal)
			assert.Contains(t, f.failures(), tt.want)
		})
	}
}
