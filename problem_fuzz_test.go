package typhon

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzErrorFromBody: whatever a server answers, the client gets an *Error
// with a code and a valid UTF-8 message, and never panics.
func FuzzErrorFromBody(f *testing.F) {
	for _, tc := range errorFromBodyCases {
		f.Add(tc.status, tc.contentType, tc.retryAfter, []byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, status int, contentType, retryAfter string, body []byte) {
		h := http.Header{}
		if contentType != "" {
			h["Content-Type"] = []string{contentType}
		}
		if retryAfter != "" {
			h["Retry-After"] = []string{retryAfter}
		}
		e := errorFromBody(status, h, body)
		if e == nil {
			t.Fatal("nil *Error")
		}
		if e.Code == "" {
			t.Fatal("empty code")
		}
		if !utf8.ValidString(e.Code) || !utf8.ValidString(e.Message) {
			t.Fatalf("invalid UTF-8: code %q message %q", e.Code, e.Message)
		}
		for k, v := range e.Params {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("invalid UTF-8 param %q=%q", k, v)
			}
		}
		if e.retryAfter < 0 {
			t.Fatalf("negative Retry-After %v", e.retryAfter)
		}
		if !e.remote || e.cause != nil {
			t.Fatal("an error from the wire is remote and has no cause")
		}
		_ = e.Error()
		_ = ErrorStatus(e)
	})
}

// FuzzParseRetryAfter: a parsed Retry-After is never negative, and
// delay-seconds parse to exactly their value.
func FuzzParseRetryAfter(f *testing.F) {
	for _, tc := range retryAfterCases {
		f.Add(tc.in, retryAfterNow.Unix())
	}
	f.Fuzz(func(t *testing.T, v string, nowUnix int64) {
		now := time.Unix(nowUnix, 0)
		d, ok := parseRetryAfter(v, now)
		if !ok {
			if d != 0 {
				t.Fatalf("not ok but %v", d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v", v, d)
		}
		s := strings.TrimSpace(v)
		if n, err := strconv.ParseUint(s, 10, 64); err == nil && n <= 1<<31 {
			if d != time.Duration(n)*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %v, want %ds", v, d, n)
			}
		}
		if d > 0 && d < 1<<40 {
			back, ok := parseRetryAfter(formatRetryAfter(d), now)
			if !ok || back < d || back-d >= time.Second {
				t.Fatalf("format/parse of %v gave %v, %v", d, back, ok)
			}
		}
	})
}

// FuzzIsJSONMediaType: it never panics, emptyIsJSON decides only for an
// empty Content-Type, and what it accepts is a parsable JSON media type.
func FuzzIsJSONMediaType(f *testing.F) {
	for _, tc := range mediaTypeCases {
		f.Add(tc.ct)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		got := isJSONMediaType(ct, false)
		if ct != "" && got != isJSONMediaType(ct, true) {
			t.Fatalf("emptyIsJSON changed the answer for %q", ct)
		}
		mt, _, err := mime.ParseMediaType(ct)
		want := err == nil && (mt == "application/json" ||
			(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")))
		if got != want {
			t.Fatalf("isJSONMediaType(%q) = %v, want %v (media type %q, %v)", ct, got, want, mt, err)
		}
	})
}

// FuzzAppendJSONString: the output is valid, HTML-safe JSON that decodes to
// the input with each invalid byte replaced by U+FFFD.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkJSONString(t, s)
		// As encoding/json would write it, up to the choice of escapes.
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var a, b string
		if json.Unmarshal(want, &a) != nil || json.Unmarshal(appendJSONString(nil, s), &b) != nil || a != b {
			t.Fatalf("encoding/json decodes %q, appendJSONString %q", a, b)
		}
	})
}

// FuzzProblemRoundTrip: the problem+json body the server writes for an
// *Error decodes on the client to the same code, message and params.
func FuzzProblemRoundTrip(f *testing.F) {
	f.Add("not_found.user", "no such user", "id", "42", "", "", 404)
	f.Add("", "", "", "", "", "", 500)
	f.Add("x", "<&>\u2028\x00\xff", "k\xff", "v", "k\xfe", "w", 200)
	f.Add("canceled", "gone", "a", "1", "b", "2", 499)
	f.Fuzz(func(t *testing.T, code, message, k1, v1, k2, v2 string, status int) {
		e := &Error{Code: code, Message: message}
		if k1 != "" || v1 != "" {
			e = e.WithParams(k1, v1)
		}
		if k2 != "" || v2 != "" {
			e = e.WithParams(k2, v2)
		}
		body := appendProblem(nil, e, status)
		if !json.Valid(body) {
			t.Fatalf("invalid JSON %q", body)
		}
		checkProblemRoundTrip(t, e, status)
	})
}
