package filters

import (
	"net/http"

	"github.com/typhon-go/typhon"
)

// IdempotencyKeyHeader marks a request that is safe to send more than once:
// the server is expected to do what it asks at most once per key.
const IdempotencyKeyHeader = "Idempotency-Key"

// IsIdempotent reports whether sending req twice has the effect of sending
// it once, so that [Retry] and [Hedge] may send it again: its method is GET,
// HEAD, OPTIONS, TRACE, PUT or DELETE (RFC 9110 §9.2.2), or it carries a
// non-empty Idempotency-Key header. It is false for the zero Request.
func IsIdempotent(req typhon.Request) bool {
	if req.Request == nil {
		return false
	}
	switch req.Method {
	case http.MethodGet, "", http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Header.Get(IdempotencyKeyHeader) != ""
}
