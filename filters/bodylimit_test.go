package filters_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// bodyLimitStream hides a reader's type, so that typhon sends it as a
// stream of unknown length.
type bodyLimitStream struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	type service int
	const (
		decodes   service = iota // Decode, and answer its error
		readsAll                 // read everything, ignore the error, answer 200
		failsOwn                 // read everything, answer an error of its own
		readsHalf                // read 8 bytes and answer 200
	)
	tests := []struct {
		name       string
		limit      int64
		body       any // string: JSON; bodyLimitStream: unknown length
		svc        service
		wantCalled bool
		wantCode   string
		wantMBE    bool // errors.As *http.MaxBytesError
	}{
		{name: "no body", limit: 4, body: nil, svc: decodes, wantCalled: true},
		{name: "declared within", limit: 16, body: "0123456789", svc: decodes, wantCalled: true},
		{name: "declared exactly", limit: 12, body: "0123456789", svc: decodes, wantCalled: true},
		{name: "declared over", limit: 11, body: "0123456789", svc: decodes, wantCode: typhon.CodeRequestTooLarge, wantMBE: true},
		{name: "zero limit, body", limit: 0, body: "x", svc: decodes, wantCode: typhon.CodeRequestTooLarge, wantMBE: true},
		{name: "zero limit, empty stream", limit: 0, body: bodyLimitStream{strings.NewReader("")}, svc: readsAll, wantCalled: true},
		{name: "stream within", limit: 16, body: bodyLimitStream{strings.NewReader(`"0123456789"`)}, svc: decodes, wantCalled: true},
		{name: "stream exactly", limit: 12, body: bodyLimitStream{strings.NewReader(`"0123456789"`)}, svc: decodes, wantCalled: true},
		{name: "stream over, decoded", limit: 11, body: bodyLimitStream{strings.NewReader(`"0123456789"`)}, svc: decodes, wantCalled: true, wantCode: typhon.CodeRequestTooLarge, wantMBE: true},
		{name: "stream over, error ignored", limit: 11, body: bodyLimitStream{strings.NewReader(`"0123456789"`)}, svc: readsAll, wantCalled: true, wantCode: typhon.CodeRequestTooLarge, wantMBE: true},
		{name: "stream over, own error kept", limit: 11, body: bodyLimitStream{strings.NewReader(`"0123456789"`)}, svc: failsOwn, wantCalled: true, wantCode: typhon.CodeConflict},
		{name: "stream over, limit not reached", limit: 11, body: bodyLimitStream{strings.NewReader(`"0123456789"`)}, svc: readsHalf, wantCalled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			called := false
			rspBody := timeoutBodyOf("answer")
			svc := typhon.Service(func(req typhon.Request) typhon.Response {
				called = true
				rsp := req.Response(nil)
				switch tt.svc {
				case decodes:
					var s *string
					if err := req.Decode(&s); err != nil && req.Body != nil {
						return typhon.ErrorResponse(req, err)
					}
				case readsAll:
					_, _ = io.ReadAll(req.Body)
				case failsOwn:
					_, _ = io.ReadAll(req.Body)
					return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeConflict, "mine"))
				case readsHalf:
					_, _ = io.ReadFull(req.Body, make([]byte, 8))
				}
				rsp.Body = rspBody
				return rsp
			}).Filter(filters.BodyLimit(tt.limit))
			req := typhon.NewRequest(t.Context(), "POST", "http://svc/", tt.body)
			if tt.body == nil {
				req.Header.Set("Content-Type", "application/json")
			}
			rsp := svc(req)
			assert.Equal(t, tt.wantCalled, called, "Service called")
			assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error))
			if tt.wantCode != "" {
				assert.Equal(t, typhon.ErrorStatus(rsp.Error), rsp.StatusCode)
				var mbe *http.MaxBytesError
				assert.Equal(t, tt.wantMBE, errors.As(rsp.Error, &mbe), "*http.MaxBytesError")
				if tt.wantMBE {
					assert.Equal(t, tt.limit, mbe.Limit)
				}
				if tt.svc == readsAll {
					assert.True(t, rspBody.closed.Load(), "discarded Response body closed")
				}
			}
		})
	}
}

// TestBodyLimitReader checks the limiting reader byte by byte: every read
// size gives the first n bytes and then the error.
func TestBodyLimitReader(t *testing.T) {
	t.Parallel()
	const body = "0123456789abcdef"
	for limit := range int64(len(body) + 2) {
		for bufSize := 1; bufSize <= len(body)+2; bufSize++ {
			var got []byte
			var err error
			svc := func(req typhon.Request) typhon.Response {
				buf := make([]byte, bufSize)
				for range 100 {
					var n int
					n, err = req.Body.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil {
						break
					}
				}
				return req.Response(nil)
			}
			filters.BodyLimit(limit)(typhon.NewRequest(t.Context(), "POST", "http://svc/", bodyLimitStream{strings.NewReader(body)}), svc)
			if limit >= int64(len(body)) {
				require.Equal(t, body, string(got), "limit %d, buffer %d", limit, bufSize)
				require.ErrorIs(t, err, io.EOF)
				continue
			}
			require.Equal(t, body[:limit], string(got), "limit %d, buffer %d", limit, bufSize)
			var mbe *http.MaxBytesError
			require.ErrorAs(t, err, &mbe, "limit %d, buffer %d", limit, bufSize)
		}
	}
}

func TestBodyLimitPanicsOnNegative(t *testing.T) {
	t.Parallel()
	assert.PanicsWithValue(t, "filters: BodyLimit needs a limit of at least 0 bytes, got -1", func() { filters.BodyLimit(-1) })
}

// TestBodyLimitOverNetwork: a body declared too long never reaches the
// Service; one of unknown length that turns out too long is answered 413
// even when the Service ignores the read error.
func TestBodyLimitOverNetwork(t *testing.T) {
	t.Parallel()
	const limit = 64
	stream := func(s string) func() any {
		return func() any { return bodyLimitStream{strings.NewReader(s)} }
	}
	declared := func(s string) func() any { return func() any { return s } }
	tests := []struct {
		name         string
		body         func() any
		wantArrivals int32
		wantStatus   int
	}{
		{"declared within", declared(strings.Repeat("x", limit-8)), 1, http.StatusOK},
		{"declared over", declared(strings.Repeat("x", 1000)), 0, http.StatusRequestEntityTooLarge},
		{"stream within", stream(strings.Repeat("y", limit)), 1, http.StatusOK},
		{"stream over", stream(strings.Repeat("y", 1000)), 1, http.StatusRequestEntityTooLarge},
	}
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		var arrivals atomic.Int32
		svc := typhon.Service(func(req typhon.Request) typhon.Response {
			arrivals.Add(1)
			_, _ = io.Copy(io.Discard, req.Body) // ignores the error
			return req.Response("read")
		}).Filter(filters.BodyLimit(limit))
		srv := p.Listen(t, svc)
		for _, tt := range tests {
			before := arrivals.Load()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			rsp := typhon.NewRequest(ctx, "POST", srv.URL+"/", tt.body()).SendVia(srv.Client).Response()
			assert.Equal(t, tt.wantStatus, rsp.StatusCode, tt.name)
			if tt.wantStatus != http.StatusOK {
				assert.Equal(t, typhon.CodeRequestTooLarge, typhon.ErrorCode(rsp.Error), tt.name)
			}
			assert.Equal(t, tt.wantArrivals, arrivals.Load()-before, "%s: arrivals", tt.name)
			rsp.Body.Close()
			cancel()
		}
	})
}

func TestBodyLimitAllocs(t *testing.T) {
	f := filters.BodyLimit(1 << 20)
	svc := benchOKService()
	for name, req := range map[string]typhon.Request{
		"no body":  typhon.NewRequest(context.Background(), "GET", "http://svc/", nil),
		"declared": typhon.NewRequest(context.Background(), "POST", "http://svc/", []byte("0123456789")),
	} {
		assert.Zero(t, testing.AllocsPerRun(1000, func() { f(req, svc) }), name)
	}
}

func BenchmarkBodyLimit(b *testing.B) {
	f := filters.BodyLimit(1 << 20)
	req := typhon.NewRequest(context.Background(), "POST", "http://svc/", []byte("0123456789"))
	svc := benchOKService()
	b.ReportAllocs()
	for b.Loop() {
		f(req, svc)
	}
}
