package filters_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
	"github.com/typhon-go/typhon/testing/typhontest"
)

var errRecoverSecret = errors.New("secret: database password rejected")

func recoverPanicsWithError(typhon.Request) typhon.Response { panic(errRecoverSecret) }

func TestRecover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		svc       typhon.Service
		inner     typhon.Filter // a filter inside Recover; nil: none
		wantCode  string
		wantLog   []string
		wantCause error
	}{
		{
			name: "no panic",
			svc:  func(req typhon.Request) typhon.Response { return req.Response("ok") },
		},
		{
			name:     "string",
			svc:      func(typhon.Request) typhon.Response { panic("secret: boom") },
			wantCode: typhon.CodeInternalService,
			wantLog:  []string{"secret: boom", "filters: recovered panic", "path=/p", "method=GET", "goroutine"},
		},
		{
			name:      "error",
			svc:       recoverPanicsWithError,
			wantCode:  typhon.CodeInternalService,
			wantLog:   []string{"database password", "recoverPanicsWithError"},
			wantCause: errRecoverSecret,
		},
		{
			name:     "nil",
			svc:      func(typhon.Request) typhon.Response { panic(nil) },
			wantCode: typhon.CodeInternalService,
			wantLog:  []string{"nil"},
		},
		{
			name: "in an inner filter",
			svc:  func(req typhon.Request) typhon.Response { return req.Response("ok") },
			inner: func(req typhon.Request, svc typhon.Service) typhon.Response {
				var items []string
				_ = items[len(req.Method)] // index out of range: a runtime panic
				return svc(req)
			},
			wantCode: typhon.CodeInternalService,
			wantLog:  []string{"index out of range"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			svc := tt.svc
			if tt.inner != nil {
				svc = svc.Filter(tt.inner)
			}
			svc = svc.Filter(filters.Recover(filters.WithLogger(slog.New(slog.NewTextHandler(&log, nil)))))
			rsp := svc(typhon.NewRequest(t.Context(), "GET", "http://svc/p", nil))
			assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error))
			for _, w := range tt.wantLog {
				assert.Contains(t, log.String(), w)
			}
			if tt.wantCode == "" {
				assert.Empty(t, log.String())
				return
			}
			assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
			if tt.wantCause != nil {
				assert.ErrorIs(t, rsp.Error, tt.wantCause, "in process, the cause is there")
			}
			// What would go on the wire: the code and "internal error",
			// nothing of the panic.
			wire := typhon.Service(func(typhon.Request) typhon.Response { return rsp }).Filter(typhon.ErrorFilter)
			sent := wire(typhon.NewRequest(t.Context(), "GET", "http://svc/p", nil))
			b, err := io.ReadAll(sent.Body)
			require.NoError(t, err)
			assert.NotContains(t, string(b), "secret")
			assert.NotContains(t, string(b), "goroutine")
			assert.Contains(t, string(b), `"internal error"`)
		})
	}
}

func TestRecoverAbortHandler(t *testing.T) {
	t.Parallel()
	defer func() { assert.Equal(t, http.ErrAbortHandler, recover()) }()
	filters.Recover()(typhon.NewRequest(t.Context(), "GET", "http://svc/", nil),
		func(typhon.Request) typhon.Response { panic(http.ErrAbortHandler) })
	t.Error("no panic")
}

// TestRecoverOverNetwork: a server stack with Recover answers a panic 500
// internal_service without its text, and stays usable.
func TestRecoverOverNetwork(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		var log bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&log, nil))
		svc := typhon.Service(func(req typhon.Request) typhon.Response {
			if req.URL.Path == "/panic" {
				panic("secret: boom")
			}
			return req.Response("ok")
		}).Filter(filters.Recover(filters.WithLogger(logger)))
		srv := p.Listen(t, svc)
		for range 3 {
			rsp := typhon.NewRequest(t.Context(), "GET", srv.URL+"/panic", nil).SendVia(srv.Client).Response()
			assert.Equal(t, http.StatusInternalServerError, rsp.StatusCode)
			assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(rsp.Error))
			assert.NotContains(t, rsp.Error.Error(), "secret")
			rsp.Body.Close()
			var s string
			require.NoError(t, typhon.NewRequest(t.Context(), "GET", srv.URL+"/", nil).SendVia(srv.Client).Response().Decode(&s))
		}
	})
}

func TestRecoverAllocs(t *testing.T) {
	f := filters.Recover()
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	svc := benchOKService()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { f(req, svc) }))
}

func BenchmarkRecover(b *testing.B) {
	f := filters.Recover()
	req := typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
	svc := benchOKService()
	b.ReportAllocs()
	for b.Loop() {
		f(req, svc)
	}
}
