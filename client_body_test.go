package typhon_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

// bodySeen is what a server saw of a request body.
type bodySeen struct {
	ContentLength int64
	ContentType   string
	Body          []byte
}

func echoRequestBody(req typhon.Request) typhon.Response {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return typhon.Response{Error: typhon.WrapError(err, typhon.CodeBadRequest, err.Error())}
	}
	return req.Response(bodySeen{req.ContentLength, req.Header.Get("Content-Type"), b})
}

func TestClientRequestBodies(t *testing.T) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	// body makes the body afresh for each call: readers are used up.
	tests := []struct {
		name     string
		method   string
		body     func() any
		noBody   bool   // set req.Body = http.NoBody after NewRequest
		wantCL   int64  // the ContentLength the server sees
		wantCT   string // the Content-Type the server sees
		wantBody []byte
	}{
		{"bytes", "POST", bodyOf(binary), false, 256, "", binary},
		{"JSON", "POST", bodyOf(map[string]int{"a": 1}), false, 7, "application/json", []byte(`{"a":1}`)},
		{"JSON string", "PUT", bodyOf("hi"), false, 4, "application/json", []byte(`"hi"`)},
		{"bytes.Buffer", "POST", func() any { return bytes.NewBufferString("buffer") }, false, 6, "", []byte("buffer")},
		{"strings.Reader", "POST", func() any { return strings.NewReader("reader") }, false, 6, "", []byte("reader")},
		{"stream", "POST", func() any { return io.MultiReader(strings.NewReader("str"), strings.NewReader("eam")) }, false, -1, "", []byte("stream")},
		{"GET nil", "GET", bodyOf(nil), false, 0, "", nil},
		{"GET empty bytes", "GET", bodyOf([]byte{}), false, 0, "", nil},
		{"GET nil bytes", "GET", bodyOf([]byte(nil)), false, 0, "", nil},
		{"GET NoBody", "GET", bodyOf(nil), true, 0, "", nil},
		{"GET empty strings.Reader", "GET", func() any { return strings.NewReader("") }, false, 0, "", nil},
		{"GET empty bytes.Buffer", "GET", func() any { return new(bytes.Buffer) }, false, 0, "", nil},
		{"POST nil", "POST", bodyOf(nil), false, 0, "", nil},
		{"POST empty bytes", "POST", bodyOf([]byte{}), false, 0, "", nil},
		{"DELETE NoBody", "DELETE", bodyOf(nil), true, 0, "", nil},
	}
	run(t, func(t *testing.T, e *env) {
		base := e.serve(echoRequestBody)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req := typhon.NewRequest(t.Context(), tt.method, base+"/", tt.body())
				if tt.noBody {
					req.Body = http.NoBody
				}
				rsp := e.client(req)
				var got bodySeen
				require.NoError(t, rsp.Decode(&got))
				assert.Equal(t, tt.wantCL, got.ContentLength, "ContentLength at the server")
				assert.Equal(t, tt.wantCT, got.ContentType)
				assert.Equal(t, string(tt.wantBody), string(got.Body))
			})
		}
	})
}

// bodyOf returns a func that returns v.
func bodyOf(v any) func() any { return func() any { return v } }

func TestClientRequestBodiesReplay(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(echoRequestBody)
		bodies := map[string]func() any{
			"bytes":  bodyOf([]byte("abc")),
			"JSON":   bodyOf([]int{1, 2, 3}),
			"buffer": func() any { return bytes.NewBufferString("buf") },
			"reader": func() any { return strings.NewReader("rdr") },
		}
		for name, body := range bodies {
			t.Run(name, func(t *testing.T) {
				req := typhon.NewRequest(t.Context(), "POST", base+"/", body())
				require.NotNil(t, req.GetBody, "an in-memory body is replayable")
				want := string(orPanic(io.ReadAll(orPanic(req.GetBody()))))
				// Clones taken before the first attempt each send the whole body.
				clones := []typhon.Request{req.Clone(t.Context()), req.Clone(t.Context()), req}
				for i, c := range clones {
					var got bodySeen
					require.NoError(t, e.client(c).Decode(&got))
					assert.Equal(t, want, string(got.Body), "attempt %d", i)
				}
			})
		}
		t.Run("stream", func(t *testing.T) {
			req := typhon.NewRequest(t.Context(), "POST", base+"/", io.MultiReader(strings.NewReader("x")))
			assert.Nil(t, req.GetBody, "a stream cannot be replayed")
			var got bodySeen
			require.NoError(t, e.client(req).Decode(&got))
			assert.Equal(t, "x", string(got.Body))
		})
	})
}
