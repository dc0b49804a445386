package typhon_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

func TestClientErrorFromTyphonServer(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		base := e.serve(func(req typhon.Request) typhon.Response {
			return typhon.Response{Error: typhon.NewError("not_found.user", "no user 42").WithParams("id", "42")}
		})
		rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/users/42", nil))
		defer closeRspBody(rsp)
		var te *typhon.Error
		require.ErrorAs(t, rsp.Error, &te)
		assert.Equal(t, "not_found.user", te.Code)
		assert.Equal(t, "no user 42", te.Message)
		assert.Equal(t, map[string]string{"id": "42"}, te.Params)
		assert.Nil(t, te.Unwrap(), "an error decoded from the wire has no cause")
		assert.Equal(t, http.StatusNotFound, rsp.StatusCode)
		assert.Equal(t, "application/problem+json", rsp.Header.Get("Content-Type"))
		assert.Equal(t, e.wantProto(), rsp.Proto)
		assert.NotNil(t, rsp.Request, "the Response carries the request sent")

		// The body read for the error stays readable.
		var p map[string]any
		require.NoError(t, json.NewDecoder(rsp.Body).Decode(&p))
		assert.Equal(t, "not_found.user", p["code"])
		assert.Equal(t, typhon.ProblemType, p["type"])

		// Decode answers the same error.
		assert.Same(t, rsp.Error, rsp.Decode(&p))

		// A HEAD answer has no body: the code comes from the status.
		head := e.client(typhon.NewRequest(t.Context(), "HEAD", base+"/users/42", nil))
		defer closeRspBody(head)
		assert.Equal(t, typhon.CodeNotFound, typhon.ErrorCode(head.Error))
		assert.Equal(t, http.StatusNotFound, head.StatusCode)
	})
}

func TestClientErrorFromPlainServer(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantCode   string
		wantMsg    string
		wantRetry  time.Duration // 0: none
	}{{
		name:       "404 NotFoundHandler",
		handler:    http.NotFoundHandler().ServeHTTP,
		wantStatus: 404, wantCode: typhon.CodeNotFound, wantMsg: "404 page not found",
	}, {
		name: "409 plain JSON",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"error":"x"}`)
		},
		wantStatus: 409, wantCode: typhon.CodeConflict, wantMsg: `{"error":"x"}`,
	}, {
		name: "503 text with Retry-After",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "  down for maintenance\n")
		},
		wantStatus: 503, wantCode: typhon.CodeUnavailable, wantMsg: "down for maintenance", wantRetry: 7 * time.Second,
	}, {
		name: "403 foreign problem+json",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"type":"about:blank","title":"Forbidden","status":403,"detail":"not yours"}`)
		},
		wantStatus: 403, wantCode: typhon.CodeForbidden, wantMsg: "not yours",
	}, {
		name: "problem+json with title only",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"title":"Slow down"}`)
		},
		wantStatus: 429, wantCode: typhon.CodeRateLimited, wantMsg: "Slow down",
	}, {
		name: "code in a JSON body wins over the status",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"code":"forbidden.scope","detail":"needs admin","params":{"scope":"admin"}}`)
		},
		wantStatus: 500, wantCode: "forbidden.scope", wantMsg: "needs admin",
	}, {
		name:       "500 empty body",
		handler:    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
		wantStatus: 500, wantCode: typhon.CodeInternalService, wantMsg: "Internal Server Error",
	}, {
		name:       "418 unknown 4xx",
		handler:    func(w http.ResponseWriter, r *http.Request) { http.Error(w, "short and stout", http.StatusTeapot) },
		wantStatus: 418, wantCode: typhon.CodeBadRequest, wantMsg: "short and stout",
	}, {
		name:       "599 unknown 5xx",
		handler:    func(w http.ResponseWriter, r *http.Request) { http.Error(w, "odd", 599) },
		wantStatus: 599, wantCode: typhon.CodeInternalService, wantMsg: "odd",
	}}
	run(t, func(t *testing.T, e *env) {
		mux := http.NewServeMux()
		for i, tt := range tests {
			mux.Handle("/"+strconv.Itoa(i), tt.handler)
		}
		base := servePlain(t, e, mux)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/"+strconv.Itoa(i), nil))
				defer closeRspBody(rsp)
				var te *typhon.Error
				require.ErrorAs(t, rsp.Error, &te)
				assert.Equal(t, tt.wantStatus, rsp.StatusCode)
				assert.Equal(t, tt.wantCode, te.Code)
				assert.Equal(t, tt.wantMsg, te.Message)
				d, ok := typhon.RetryAfter(rsp.Error)
				assert.Equal(t, tt.wantRetry != 0, ok)
				assert.Equal(t, tt.wantRetry, d)
			})
		}
	})
}

func TestClientLargeErrorBody(t *testing.T) {
	const size = 200 << 10
	text := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	problem := append([]byte(`{"code":"conflict.version","detail":"stale","params":{"v":"3"}}`), bytes.Repeat([]byte(" "), size)...)
	// A multi-byte rune straddles byte 512: the message must stay valid UTF-8.
	runes := append([]byte("x"), bytes.Repeat([]byte("é"), size/2)...)
	tests := []struct {
		name     string
		ct       string
		body     []byte
		wantCode string
		wantMsg  string
	}{
		{"text", "text/plain", text, typhon.CodeUnavailable, string(text[:512])},
		{"problem padded", "application/problem+json", problem, "conflict.version", "stale"},
		{"multi-byte text", "text/plain; charset=utf-8", runes, typhon.CodeUnavailable, string(runes[:511])},
		{"chunked text", "", text, typhon.CodeUnavailable, string(text[:512])},
	}
	run(t, func(t *testing.T, e *env) {
		base := servePlain(t, e, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tt := tests[orPanic(strconv.Atoi(r.URL.Path[1:]))]
			if tt.ct != "" {
				w.Header().Set("Content-Type", tt.ct)
				w.Header().Set("Content-Length", strconv.Itoa(len(tt.body)))
			} else {
				w.Header().Set("Content-Type", "text/plain")
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			if tt.ct == "" { // no Content-Length: streamed in pieces
				for b := tt.body; len(b) > 0; b = b[min(len(b), 1000):] {
					w.Write(b[:min(len(b), 1000)])
					w.(http.Flusher).Flush()
				}
				return
			}
			w.Write(tt.body)
		}))
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rsp := e.client(typhon.NewRequest(t.Context(), "GET", base+"/"+strconv.Itoa(i), nil))
				defer closeRspBody(rsp)
				var te *typhon.Error
				require.ErrorAs(t, rsp.Error, &te)
				assert.Equal(t, tt.wantCode, te.Code)
				assert.Equal(t, tt.wantMsg, te.Message)
				assert.LessOrEqual(t, len(te.Message), 512)
				assert.True(t, utf8.ValidString(te.Message))
				got, err := io.ReadAll(rsp.Body)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(tt.body, got), "the whole body stays readable: got %d bytes, want %d", len(got), len(tt.body))
			})
		}
	})
}

func TestClientRefusedDial(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		scheme := "http://"
		if e.protocol == typhontest.H2 {
			scheme = "https://"
		}
		rsp := e.client(typhon.NewRequest(t.Context(), "GET", scheme+addr+"/", nil))
		defer closeRspBody(rsp)
		assert.Equal(t, typhon.CodeUnavailable, typhon.ErrorCode(rsp.Error), "%v", rsp.Error)
		assert.Equal(t, http.StatusServiceUnavailable, rsp.StatusCode)
	})
}

func TestClientBadRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, url string
	}{
		{"no host", "GET", "http:///path"},
		{"relative", "GET", "/users/1"},
		{"empty URL", "GET", ""},
		{"ftp scheme", "GET", "ftp://127.0.0.1/file"},
		{"no scheme", "GET", "//127.0.0.1/x"},
		{"unparsable URL", "GET", "http://[::1/x"},
		{"control character", "GET", "http://127.0.0.1/\x00"},
		{"colon in first segment", "GET", "127.0.0.1:80/x"},
		{"invalid method", "BAD METHOD", "http://127.0.0.1/"},
	}
	// No call reaches the network: the client answers first. The URLs point
	// at loopback in case one ever did.
	clients := map[string]typhon.Service{
		"h1":  typhon.NewClient(),
		"h2c": typhon.NewClient(typhon.WithH2C()),
	}
	for _, tt := range tests {
		for name, client := range clients {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				check := func(via string, rsp typhon.Response) {
					t.Helper()
					assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error), "via %s: %v", via, rsp.Error)
					require.NotNil(t, rsp.Response, "via %s", via)
					assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode, "via %s", via)
					closeRspBody(rsp)
				}
				var rsp typhon.Response
				require.NotPanics(t, func() {
					rsp = client(typhon.NewRequest(t.Context(), tt.method, tt.url, nil))
				})
				check("client", rsp)
				check("SendVia", typhon.NewRequest(t.Context(), tt.method, tt.url, nil).SendVia(client).Response())
				ctx := typhon.WithClient(t.Context(), client)
				check("Send", typhon.NewRequest(ctx, tt.method, tt.url, nil).Send().Response())
			})
		}
	}
	t.Run("zero Request", func(t *testing.T) {
		t.Parallel()
		require.NotPanics(t, func() {
			rsp := typhon.NewClient()(typhon.Request{})
			assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
			rsp = typhon.Request{}.Send().Response()
			assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
		})
	})
}
