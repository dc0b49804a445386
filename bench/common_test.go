package bench_test

import (
	"context"
	"net/http"
)

// discardWriter is an http.ResponseWriter that keeps nothing, reused across
// iterations so that in-process benchmarks count only the handler's work.
type discardWriter struct {
	h    http.Header
	code int
}

func newDiscardWriter() *discardWriter { return &discardWriter{h: make(http.Header)} }

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}

func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) reset() {
	clear(w.h)
	w.code = 0
}

// freshRequest returns a copy of r with its own Header, as a server hands
// each handler a new *http.Request (routers set path values on it, filters
// headers).
func freshRequest(r *http.Request) *http.Request {
	c := *r
	c.Header = r.Header.Clone()
	return &c
}

// canceledContext returns a context that has ended: Stop closes at once.
func canceledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
