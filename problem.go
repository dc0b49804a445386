package typhon

import (
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ProblemType is the RFC 9457 "type" of every error response typhon writes.
// The page it names documents the extension members "code" and "params".
const ProblemType = "https://pkg.go.dev/github.com/typhon-go/typhon#Error"

const (
	contentTypeProblem = "application/problem+json"
	contentTypeJSON    = "application/json"
	// maxErrorBody bounds how much of an error response a client reads.
	maxErrorBody = 64 << 10
	// maxErrorMessage bounds a message taken from a body that is not JSON.
	maxErrorMessage = 512
)

// statusTitle is the RFC 9457 title for status.
func statusTitle(status int) string {
	if status == StatusClientClosedRequest {
		return "Client Closed Request"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// appendProblem appends the problem+json body for e, sent with status.
// It is written by hand: it is on every error path and needs no reflection.
func appendProblem(b []byte, e *Error, status int) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, ProblemType)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, statusTitle(status))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	if e.Message != "" {
		b = append(b, `,"detail":`...)
		b = appendJSONString(b, e.Message)
	}
	b = append(b, `,"code":`...)
	b = appendJSONString(b, e.code())
	if len(e.Params) > 0 {
		keys := make([]string, 0, len(e.Params))
		for k := range e.Params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"params":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, e.Params[k])
		}
		b = append(b, '}')
	}
	return append(b, '}', '\n')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// and <, >, & are escaped as encoding/json does, so the body is safe to embed.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// problem is the decoded shape of an error body, typhon's or another
// server's RFC 9457 or plain JSON one.
type problem struct {
	Title  string
	Detail string
	Code   string
	Params map[string]string
}

// parseProblem reads the members of an error body it understands, member by
// member, so that one of an unexpected type (a numeric param, a string
// status) does not hide the others. ok is false when body is not a JSON
// object.
func parseProblem(body []byte) (p problem, ok bool) {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil || members == nil {
		return p, false
	}
	str := func(name string) string {
		var s string
		if raw, found := members[name]; found && json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	p.Title, p.Detail, p.Code = str("title"), str("detail"), str("code")
	if raw, found := members["params"]; found {
		var params map[string]json.RawMessage
		if json.Unmarshal(raw, &params) == nil && len(params) > 0 {
			p.Params = make(map[string]string, len(params))
			for k, v := range params {
				var s string
				if json.Unmarshal(v, &s) != nil {
					s = string(v) // a number or the like: keep its JSON text
				}
				p.Params[k] = s
			}
		}
	}
	return p, true
}

// errorFromBody turns an error response (status >= 400) into the *Error
// its sender meant: "code" wins when the body has one; otherwise the code
// comes from the status and the message from "detail", "title" or the start
// of the body. It never fails: a body it cannot parse still gives an *Error.
func errorFromBody(status int, header http.Header, body []byte) *Error {
	e := &Error{remote: true}
	var p problem
	parsed := false
	if len(body) > 0 && isJSONMediaType(header.Get("Content-Type"), true) {
		p, parsed = parseProblem(body)
	}
	if parsed && p.Code != "" {
		e.Code, e.Message, e.Params = p.Code, p.Detail, p.Params
	} else {
		e.Code = CodeForStatus(status)
		if e.Code == "" { // not an error status: the sender broke the protocol
			e.Code = CodeBadGateway
		}
		switch {
		case parsed && p.Detail != "":
			e.Message = p.Detail
		case parsed && p.Title != "":
			e.Message = p.Title
		case len(body) > 0:
			e.Message = truncateUTF8(body, maxErrorMessage)
		}
		if e.Message == "" {
			e.Message = statusTitle(status)
		}
	}
	if d, ok := parseRetryAfter(header.Get("Retry-After"), time.Now()); ok {
		e.retryAfter = d
	}
	return e
}

// truncateUTF8 returns at most n bytes of b as valid UTF-8, trimmed of
// surrounding space.
func truncateUTF8(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
		// Do not cut a rune in two.
		for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	for len(s) > n { // replacement characters made it longer
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// parseRetryAfter parses a Retry-After value: delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3). A date in the past gives 0, true.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		if len(v) > 10 {
			return 0, false
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, false
		}
		if n > math.MaxInt64/uint64(time.Second) { // ten digits may overflow a Duration
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// formatRetryAfter is d in whole seconds, rounded up, at least 1.
func formatRetryAfter(d time.Duration) string {
	s := (d + time.Second - 1) / time.Second
	return strconv.FormatInt(int64(max(s, 1)), 10)
}

// isJSONMediaType reports whether a Content-Type names JSON:
// application/json or any application/ type with a +json suffix. An empty
// Content-Type counts as JSON only when emptyIsJSON is set; an unparsable one
// never does.
func isJSONMediaType(ct string, emptyIsJSON bool) bool {
	if ct == "" {
		return emptyIsJSON
	}
	// Fast path for the common exact values.
	switch ct {
	case contentTypeJSON, contentTypeProblem, "application/json; charset=utf-8":
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == contentTypeJSON || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}
