package filters

import (
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/typhon-go/typhon"
)

// BodyLimit returns a Filter that answers request_too_large (413) to a
// request whose body is longer than n bytes, before the Service reads it
// whole:
//   - a body of declared length (ContentLength > 0) over n is refused, and
//     closed, without calling the Service; a declared length of at most n is
//     trusted, as net/http's server and transport enforce it;
//   - a body of unknown length is wrapped so that reading past n bytes fails
//     with an *http.MaxBytesError, which typhon.Request.Decode reports as
//     request_too_large; if the Service ignores that error and answers
//     success, the Filter answers request_too_large instead (and closes the
//     Service's Response body).
//
// A Service that fails for its own reasons keeps its error. A limit of 0
// refuses every non-empty body. BodyLimit panics if n is negative. The
// Filter is safe for concurrent use; it allocates nothing for a request with
// no body or one of declared length within the limit. See also
// typhon.WithMaxBodyBytes, which sets one limit for a whole server.
func BodyLimit(n int64) typhon.Filter {
	if n < 0 {
		panic("filters: BodyLimit needs a limit of at least 0 bytes, got " + strconv.FormatInt(n, 10))
	}
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		if req.Request == nil || req.Body == nil || req.Body == http.NoBody {
			return svc(req)
		}
		switch {
		case req.ContentLength > n:
			closeRequestBody(req)
			return typhon.ErrorResponse(req, bodyLimitError(n))
		case req.ContentLength > 0:
			return svc(req)
		}
		lr := &bodyLimitReader{rc: req.Body, left: n, limit: n}
		req.Body = lr
		rsp := svc(req)
		if rsp.Error == nil && lr.hit.Load() {
			closeResponseBody(rsp)
			return typhon.ErrorResponse(req, bodyLimitError(n))
		}
		return rsp
	}
}

func bodyLimitError(n int64) error {
	return typhon.WrapError(&http.MaxBytesError{Limit: n}, typhon.CodeRequestTooLarge, "request body too large")
}

// bodyLimitReader is http.MaxBytesReader that remembers, for another
// goroutine, that the limit was hit.
type bodyLimitReader struct {
	rc    io.ReadCloser
	left  int64 // bytes that may still be read
	limit int64
	hit   atomic.Bool
}

func (r *bodyLimitReader) Read(p []byte) (int, error) {
	if r.hit.Load() {
		return 0, &http.MaxBytesError{Limit: r.limit}
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Read one byte more than allowed, to tell a body of exactly n bytes
	// from a longer one.
	if int64(len(p))-1 > r.left {
		p = p[:r.left+1]
	}
	n, err := r.rc.Read(p)
	if int64(n) <= r.left {
		r.left -= int64(n)
		return n, err
	}
	n = int(r.left)
	r.left = 0
	r.hit.Store(true)
	return n, &http.MaxBytesError{Limit: r.limit}
}

func (r *bodyLimitReader) Close() error { return r.rc.Close() }
