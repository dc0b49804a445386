package filters_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// requestIDGenerated matches an ID RequestID made.
var requestIDGenerated = regexp.MustCompile(`^[0-9a-f]{32}$`)

// requestIDValid is the rule, written another way than the filter's.
var requestIDValid = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestIDSeen is a Service that answers 204 and records the request ID
// of its context and the X-Request-Id header it was called with.
type requestIDSeen struct {
	ctxID  string
	header []string
}

func (s *requestIDSeen) serve(req typhon.Request) typhon.Response {
	s.ctxID = typhon.RequestID(req.Context())
	s.header = req.Header[typhon.RequestIDHeader]
	rsp := req.Response(nil)
	rsp.StatusCode = http.StatusNoContent
	return rsp
}

func TestRequestIDInbound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header []string
		keep   bool // the caller's ID is kept; else a new one is made
	}{
		{"none", nil, false},
		{"valid", []string{"abc-123_x.y:z"}, true},
		{"uuid", []string{"0a8c6f5e-4f6b-4d3f-9a59-0b1c2d3e4f50"}, true},
		{"128 characters", []string{strings.Repeat("a", 128)}, true},
		{"129 characters", []string{strings.Repeat("a", 129)}, false},
		{"empty", []string{""}, false},
		{"space", []string{"a b"}, false},
		{"slash", []string{"a/b"}, false},
		{"non-ASCII", []string{"idé"}, false},
		{"log injection", []string{"x\nlevel=ERROR"}, false},
		{"two values", []string{"a", "b"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen requestIDSeen
			svc := typhon.Service(seen.serve).Filter(filters.RequestID)
			hr := httptest.NewRequest("GET", "/", nil)
			if tc.header != nil {
				hr.Header[typhon.RequestIDHeader] = tc.header
			}
			w := httptest.NewRecorder()
			typhon.HTTPHandler(svc).ServeHTTP(w, hr)

			require.Equal(t, http.StatusNoContent, w.Code)
			if tc.keep {
				assert.Equal(t, tc.header[0], seen.ctxID)
			} else {
				assert.Regexp(t, requestIDGenerated, seen.ctxID)
			}
			if tc.keep {
				assert.Equal(t, tc.header, seen.header, "the caller's header is left as it is")
			} else {
				assert.Empty(t, seen.header, "an invalid header is removed; a new ID is in the context only")
			}
			assert.Empty(t, w.Header()[typhon.RequestIDHeader], "not echoed on success")
		})
	}
}

// TestRequestIDEcho: which answers carry the ID back, by Echo setting.
func TestRequestIDEcho(t *testing.T) {
	t.Parallel()
	answers := map[string]typhon.Service{
		"200": func(req typhon.Request) typhon.Response { return req.Response("ok") },
		"error": func(req typhon.Request) typhon.Response {
			return typhon.Response{Error: typhon.NewError("not_found", "nope")}
		},
		"409 without Error": func(req typhon.Request) typhon.Response {
			rsp := req.Response("conflict")
			rsp.StatusCode = http.StatusConflict
			return rsp
		},
		"panic": func(req typhon.Request) typhon.Response { panic("boom") },
	}
	for _, tc := range []struct {
		name   string
		filter typhon.Filter
		echoed []string // of the answers
	}{
		{"default", filters.RequestID, []string{"error", "409 without Error", "panic"}},
		{"EchoErrors", filters.NewRequestID(filters.WithRequestIDEcho(filters.EchoErrors)), []string{"error", "409 without Error", "panic"}},
		{"EchoAll", filters.NewRequestID(filters.WithRequestIDEcho(filters.EchoAll)), []string{"200", "error", "409 without Error", "panic"}},
		{"EchoNone", filters.NewRequestID(filters.WithRequestIDEcho(filters.EchoNone)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for answer, svc := range answers {
				for _, sent := range []string{"", "err-1"} {
					svc := svc.Filter(filters.Recover(filters.WithLogger(slog.New(slog.DiscardHandler)))).Filter(tc.filter)
					hr := httptest.NewRequest("GET", "/", nil)
					if sent != "" {
						hr.Header.Set(typhon.RequestIDHeader, sent)
					}
					w := httptest.NewRecorder()
					typhon.HTTPHandler(svc).ServeHTTP(w, hr)
					got := w.Header()[typhon.RequestIDHeader]
					if !slices.Contains(tc.echoed, answer) {
						assert.Empty(t, got, "%s, sent %q", answer, sent)
						continue
					}
					require.Len(t, got, 1, "%s, sent %q", answer, sent)
					if sent != "" {
						assert.Equal(t, sent, got[0], answer)
					} else {
						assert.Regexp(t, requestIDGenerated, got[0], answer)
					}
				}
			}
		})
	}
}

func TestRequestIDOutbound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		ctxID      string
		header     []string
		wantCtx    string // "" = a new one
		wantHeader []string
	}{
		{"context has one", "ctx-1", nil, "ctx-1", nil},
		{"neither: one is made", "", nil, "", nil},
		{"header set by the caller wins", "ctx-1", []string{"hdr-1"}, "hdr-1", []string{"hdr-1"}},
		{"header without context", "", []string{"hdr-1"}, "hdr-1", []string{"hdr-1"}},
		{"invalid header removed", "ctx-1", []string{"bad id"}, "ctx-1", nil},
		{"invalid context replaced", "bad id", nil, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen requestIDSeen
			svc := typhon.Service(seen.serve).Filter(filters.RequestID)
			ctx := t.Context()
			if tc.ctxID != "" {
				ctx = typhon.WithRequestID(ctx, tc.ctxID)
			}
			req := typhon.NewRequest(ctx, "GET", "http://downstream/", nil)
			if tc.header != nil {
				req.Header[typhon.RequestIDHeader] = tc.header
			}
			rsp := svc(req)
			require.NoError(t, rsp.Error)
			if tc.wantCtx != "" {
				assert.Equal(t, tc.wantCtx, seen.ctxID)
			} else {
				assert.Regexp(t, requestIDGenerated, seen.ctxID)
			}
			assert.Equal(t, tc.wantHeader, seen.header, "the header is left to the client")
			assert.Empty(t, rsp.Header.Get(typhon.RequestIDHeader), "nothing echoed to a caller in process")
		})
	}
}

// TestRequestIDUnique: IDs made for concurrent requests differ.
func TestRequestIDUnique(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	ids := map[string]bool{}
	svc := typhon.Service(func(req typhon.Request) typhon.Response {
		mu.Lock()
		ids[typhon.RequestID(req.Context())] = true
		mu.Unlock()
		return req.Response(nil)
	}).Filter(filters.RequestID)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 250 {
				svc(typhon.NewRequest(context.Background(), "GET", "http://svc/", nil))
			}
		})
	}
	wg.Wait()
	assert.Len(t, ids, 2000)
}

// TestRequestIDAcrossHops: A -> B -> C over the wire all see the caller's
// ID, or the one A made; A's response echoes it (A echoes on every answer,
// B and C only on errors).
func TestRequestIDAcrossHops(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		var mu sync.Mutex
		var seen []string
		record := func(who string, req typhon.Request) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, who+"="+typhon.RequestID(req.Context())+"/"+req.Header.Get(typhon.RequestIDHeader))
		}
		c := p.Listen(t, typhon.Service(func(req typhon.Request) typhon.Response {
			record("C", req)
			return req.Response("c")
		}).Filter(filters.RequestID))
		next := func(req typhon.Request, who, url string, client typhon.Service) typhon.Response {
			record(who, req)
			var s string
			if err := typhon.NewRequest(req.Context(), "GET", url, nil).SendVia(client).Response().Decode(&s); err != nil {
				return typhon.Response{Error: err}
			}
			return req.Response(who + s)
		}
		b := p.Listen(t, typhon.Service(func(req typhon.Request) typhon.Response {
			return next(req, "B", c.URL+"/c", c.Client)
		}).Filter(filters.RequestID))
		a := p.Listen(t, typhon.Service(func(req typhon.Request) typhon.Response {
			return next(req, "A", b.URL+"/b", b.Client)
		}).Filter(filters.NewRequestID(filters.WithRequestIDEcho(filters.EchoAll))))

		for _, given := range []string{"edge-42", ""} {
			mu.Lock()
			seen = nil
			mu.Unlock()
			req := typhon.NewRequest(t.Context(), "GET", a.URL+"/a", nil)
			if given != "" {
				req.Header.Set(typhon.RequestIDHeader, given)
			}
			rsp := req.SendVia(a.Client).Response()
			echoed := rsp.Header.Get(typhon.RequestIDHeader)
			var body string
			require.NoError(t, rsp.Decode(&body))
			assert.Equal(t, "ABc", body)
			if given != "" {
				assert.Equal(t, given, echoed)
			} else {
				assert.Regexp(t, requestIDGenerated, echoed)
			}
			mu.Lock()
			// A's header is what the caller sent; B and C get the ID in
			// theirs from the client, which sends the context's.
			assert.Equal(t, []string{"A=" + echoed + "/" + given, "B=" + echoed + "/" + echoed, "C=" + echoed + "/" + echoed}, seen)
			mu.Unlock()
		}
	})
}

// FuzzRequestID: whatever a caller sends, the ID the Service gets is valid,
// and it is the caller's exactly when that was valid.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"abc", "", "a b", strings.Repeat("x", 128), strings.Repeat("x", 129), "id\x00", "idé", "a:b.c_d-e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, given string) {
		var seen requestIDSeen
		svc := typhon.Service(seen.serve).Filter(filters.NewRequestID(filters.WithRequestIDEcho(filters.EchoAll)))
		hr := httptest.NewRequest("GET", "/", nil)
		hr.Header[typhon.RequestIDHeader] = []string{given}
		w := httptest.NewRecorder()
		typhon.HTTPHandler(svc).ServeHTTP(w, hr)
		if !requestIDValid.MatchString(seen.ctxID) {
			t.Fatalf("ID %q given, %q used: not valid", given, seen.ctxID)
		}
		if kept := seen.ctxID == given; kept != requestIDValid.MatchString(given) {
			t.Fatalf("ID %q given, %q used", given, seen.ctxID)
		}
		if got := w.Header().Get(typhon.RequestIDHeader); got != seen.ctxID {
			t.Fatalf("echoed %q, used %q", got, seen.ctxID)
		}
	})
}

func BenchmarkRequestID(b *testing.B) {
	for _, bc := range []struct {
		name string
		req  func() typhon.Request
	}{
		{"outbound-context-has-id", func() typhon.Request {
			return typhon.NewRequest(typhon.WithRequestID(context.Background(), "req-1"), "GET", "http://svc/", nil)
		}},
		{"outbound-new-id", func() typhon.Request {
			return typhon.NewRequest(context.Background(), "GET", "http://svc/", nil)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := bc.req()
			svc := benchOKService()
			b.ReportAllocs()
			for b.Loop() {
				filters.RequestID(req, svc)
			}
		})
	}
	// Inbound: through the server bridge in process, the bridge's cost
	// measured alone beside it.
	for _, bc := range []struct {
		name   string
		header string
		filter bool
	}{
		{"inbound-bridge-only", "req-1", false},
		{"inbound-valid-id", "req-1", true},
		{"inbound-new-id", "", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			svc := benchOKService()
			if bc.filter {
				svc = svc.Filter(filters.RequestID)
			}
			h := typhon.HTTPHandler(svc)
			hr := httptest.NewRequest("GET", "/", nil)
			w := &requestIDDiscardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				if bc.header != "" {
					hr.Header[typhon.RequestIDHeader] = []string{bc.header}
				} else {
					delete(hr.Header, typhon.RequestIDHeader)
				}
				clear(w.h)
				h.ServeHTTP(w, hr)
			}
		})
	}
}

func TestRequestIDOutboundAllocs(t *testing.T) {
	req := typhon.NewRequest(typhon.WithRequestID(context.Background(), "req-1"), "GET", "http://svc/", nil)
	svc := benchOKService()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { filters.RequestID(req, svc) }))
}

// requestIDDiscardWriter is an http.ResponseWriter that keeps nothing.
type requestIDDiscardWriter struct{ h http.Header }

func (w *requestIDDiscardWriter) Header() http.Header         { return w.h }
func (w *requestIDDiscardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *requestIDDiscardWriter) WriteHeader(int)             {}
