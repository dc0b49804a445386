package typhon

import (
	"net/http"
	"time"
)

// maxInboundTimeout caps a budget read from a request's headers when the
// server sets no maximum of its own: 24 hours, far past any sane call, and
// far from overflowing a time.Duration.
const maxInboundTimeout = 24 * time.Hour

// WithMaxTimeout caps the time a server gives each request at d, counted
// from its arrival, whether or not the caller sent a deadline: the request's
// context ends then. By default a request has the deadline its caller sent
// (capped at 24 hours) and none if it sent none.
func WithMaxTimeout(d time.Duration) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.maxTimeout = d })
}

// WithoutInboundDeadlines makes the server ignore the deadlines callers send
// ([TimeoutHeader], Connect-Timeout-Ms, Grpc-Timeout): for servers at the
// edge, facing clients that are not trusted to set them.
func WithoutInboundDeadlines() HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.noInboundDeadlines = true })
}

// inboundTimeout returns the budget a request's headers give, at most
// limit: the smallest of Typhon-Timeout-Ms, Connect-Timeout-Ms and
// Grpc-Timeout that are well formed. ok is false when none is. A budget of
// 0 means the deadline has already passed.
func inboundTimeout(h http.Header, limit time.Duration) (d time.Duration, ok bool) {
	d = limit
	if v, found := h[TimeoutHeader]; found && len(v) > 0 {
		if t, good := parseMillis(v[0], limit); good {
			d, ok = min(d, t), true
		}
	}
	if v, found := h["Connect-Timeout-Ms"]; found && len(v) > 0 {
		if t, good := parseMillis(v[0], limit); good {
			d, ok = min(d, t), true
		}
	}
	if v, found := h["Grpc-Timeout"]; found && len(v) > 0 {
		if t, good := parseGRPCTimeout(v[0], limit); good {
			d, ok = min(d, t), true
		}
	}
	return d, ok
}

// parseMillis parses 1 to 10 ASCII digits of milliseconds, capped at limit
// before conversion so that no value overflows.
func parseMillis(s string, limit time.Duration) (time.Duration, bool) {
	n, good := parseDigits(s, 10)
	if !good {
		return 0, false
	}
	return scaleCapped(n, time.Millisecond, limit), true
}

// parseGRPCTimeout parses gRPC's TimeoutValue TimeoutUnit: 1 to 8 digits and
// one of H M S m u n.
func parseGRPCTimeout(s string, limit time.Duration) (time.Duration, bool) {
	if len(s) < 2 {
		return 0, false
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	n, good := parseDigits(s[:len(s)-1], 8)
	if !good {
		return 0, false
	}
	return scaleCapped(n, unit, limit), true
}

func parseDigits(s string, maxLen int) (uint64, bool) {
	if len(s) == 0 || len(s) > maxLen {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// scaleCapped returns min(n*unit, limit) without overflowing.
func scaleCapped(n uint64, unit, limit time.Duration) time.Duration {
	if n > uint64(limit/unit) {
		return limit
	}
	return time.Duration(n) * unit
}
