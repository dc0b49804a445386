package typhon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendProblemShape(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		err    *Error
		status int
		want   map[string]any
	}{
		{
			name:   "full",
			err:    NewError("not_found.user", "no such user").WithParams("id", "42", "kind", "user"),
			status: 404,
			want: map[string]any{
				"type": ProblemType, "title": "Not Found", "status": float64(404),
				"detail": "no such user", "code": "not_found.user",
				"params": map[string]any{"id": "42", "kind": "user"},
			},
		},
		{
			name:   "no message no params",
			err:    NewError("conflict", ""),
			status: 409,
			want:   map[string]any{"type": ProblemType, "title": "Conflict", "status": float64(409), "code": "conflict"},
		},
		{
			name:   "client closed request",
			err:    NewError(CodeCanceled, "gone"),
			status: 499,
			want: map[string]any{
				"type": ProblemType, "title": "Client Closed Request", "status": float64(499),
				"detail": "gone", "code": "canceled",
			},
		},
		{
			name:   "empty code",
			err:    &Error{Message: "m"},
			status: 500,
			want: map[string]any{
				"type": ProblemType, "title": "Internal Server Error", "status": float64(500),
				"detail": "m", "code": "internal_service",
			},
		},
		{
			name:   "unknown status",
			err:    NewError("x", ""),
			status: 599,
			want:   map[string]any{"type": ProblemType, "title": "Error", "status": float64(599), "code": "x"},
		},
		{
			name:   "empty params map",
			err:    &Error{Code: "x", Params: map[string]string{}},
			status: 500,
			want:   map[string]any{"type": ProblemType, "title": "Internal Server Error", "status": float64(500), "code": "x"},
		},
		{
			name:   "escapes",
			err:    NewError("bad_request", "<script>&\"\\\n\t\x00\u2028").WithParams("<k>", "a&b"),
			status: 400,
			want: map[string]any{
				"type": ProblemType, "title": "Bad Request", "status": float64(400),
				"detail": "<script>&\"\\\n\t\x00\u2028", "code": "bad_request",
				"params": map[string]any{"<k>": "a&b"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := appendProblem([]byte("prefix"), tc.err, tc.status)
			require.True(t, strings.HasPrefix(string(b), "prefix"))
			b = b[len("prefix"):]
			require.True(t, json.Valid(b), "%s", b)
			assert.Equal(t, byte('\n'), b[len(b)-1])
			assert.NotContains(t, string(b), "<", "HTML-safe")
			assert.NotContains(t, string(b), "&")
			var got map[string]any
			require.NoError(t, json.Unmarshal(b, &got))
			assert.Equal(t, tc.want, got)
			assert.Equal(t, string(b), string(appendProblem(nil, tc.err, tc.status)), "deterministic")
		})
	}
}

func TestStatusTitle(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "Client Closed Request", statusTitle(499))
	assert.Equal(t, "Not Found", statusTitle(404))
	assert.Equal(t, "Service Unavailable", statusTitle(503))
	assert.Equal(t, "Error", statusTitle(599))
	assert.Equal(t, "Error", statusTitle(0))
}

// errorFromBodyCase is one error response a client may receive.
type errorFromBodyCase struct {
	name        string
	status      int
	contentType string
	retryAfter  string
	body        string
	wantCode    string
	wantMessage string
	wantParams  map[string]string
}

var errorFromBodyCases = []errorFromBodyCase{
	{
		name: "typhon", status: 404, contentType: "application/problem+json",
		body:     `{"type":"` + ProblemType + `","title":"Not Found","status":404,"detail":"no user","code":"not_found.user","params":{"id":"7"}}`,
		wantCode: "not_found.user", wantMessage: "no user", wantParams: map[string]string{"id": "7"},
	},
	{
		name: "code wins over status", status: 500, contentType: "application/json",
		body:     `{"code":"conflict","detail":"taken"}`,
		wantCode: "conflict", wantMessage: "taken",
	},
	{
		name: "code without detail", status: 400, contentType: "application/problem+json",
		body:     `{"code":"bad_request.missing","title":"Bad Request"}`,
		wantCode: "bad_request.missing", wantMessage: "",
	},
	{
		name: "foreign problem detail", status: 403, contentType: "application/problem+json",
		body:     `{"type":"about:blank","title":"Forbidden","status":403,"detail":"not yours"}`,
		wantCode: "forbidden", wantMessage: "not yours",
	},
	{
		name: "foreign problem title", status: 429, contentType: "application/problem+json; charset=utf-8",
		body:     `{"type":"about:blank","title":"Slow down"}`,
		wantCode: "rate_limited", wantMessage: "Slow down",
	},
	{
		name: "foreign json without members", status: 404, contentType: "application/json",
		body:     `{"timestamp":"2024-01-01","error":"Not Found","path":"/x"}`,
		wantCode: "not_found", wantMessage: `{"timestamp":"2024-01-01","error":"Not Found","path":"/x"}`,
	},
	{
		name: "vendor json", status: 502, contentType: "application/vnd.api+json",
		body:     `{"detail":"upstream broke"}`,
		wantCode: "bad_gateway", wantMessage: "upstream broke",
	},
	{
		name: "json body without content type", status: 409,
		body:     `{"code":"conflict.version","detail":"stale"}`,
		wantCode: "conflict.version", wantMessage: "stale",
	},
	{
		name: "json body declared text", status: 409, contentType: "text/plain",
		body:     `{"code":"x"}`,
		wantCode: "conflict", wantMessage: `{"code":"x"}`,
	},
	{
		name: "plain text", status: 503, contentType: "text/plain; charset=utf-8",
		body:     "  upstream is down\n",
		wantCode: "unavailable", wantMessage: "upstream is down",
	},
	{
		name: "html", status: 502, contentType: "text/html",
		body:     "<html><body>Bad Gateway</body></html>",
		wantCode: "bad_gateway", wantMessage: "<html><body>Bad Gateway</body></html>",
	},
	{
		name: "malformed json", status: 500, contentType: "application/json",
		body:     `{"code":`,
		wantCode: "internal_service", wantMessage: `{"code":`,
	},
	{
		name: "json null", status: 400, contentType: "application/json",
		body:     `null`,
		wantCode: "bad_request", wantMessage: "null",
	},
	{
		name: "empty body", status: 404,
		wantCode: "not_found", wantMessage: "Not Found",
	},
	{
		name: "blank body", status: 504, contentType: "text/plain",
		body:     " \r\n\t ",
		wantCode: "timeout", wantMessage: "Gateway Timeout",
	},
	{
		name: "empty body 499", status: 499,
		wantCode: "canceled", wantMessage: "Client Closed Request",
	},
	{
		name: "unknown 4xx", status: 418, body: "I'm a teapot",
		wantCode: "bad_request", wantMessage: "I'm a teapot",
	},
	{
		name: "unknown 5xx", status: 599,
		wantCode: "internal_service", wantMessage: "Error",
	},
	{
		name: "not an error status", status: 200, body: "fine",
		wantCode: "bad_gateway", wantMessage: "fine",
	},
	{
		name: "invalid utf8 text", status: 500, contentType: "text/plain",
		body:     "bad \xff\xfe bytes",
		wantCode: "internal_service", wantMessage: "bad \uFFFD bytes",
	},
	{
		name: "invalid utf8 json", status: 400, contentType: "application/json",
		body:     "{\"code\":\"bad_request\",\"detail\":\"x\xffy\",\"params\":{\"k\xfe\":\"v\xfd\"}}",
		wantCode: "bad_request", wantMessage: "x\uFFFDy", wantParams: map[string]string{"k\uFFFD": "v\uFFFD"},
	},
	{
		name: "retry after seconds", status: 503, contentType: "application/problem+json", retryAfter: "7",
		body:     `{"code":"unavailable","detail":"busy"}`,
		wantCode: "unavailable", wantMessage: "busy",
	},
	{
		name: "retry after garbage", status: 503, retryAfter: "soon",
		wantCode: "unavailable", wantMessage: "Service Unavailable",
	},
}

func TestErrorFromBody(t *testing.T) {
	t.Parallel()
	for _, tc := range errorFromBodyCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.contentType != "" {
				h.Set("Content-Type", tc.contentType)
			}
			if tc.retryAfter != "" {
				h.Set("Retry-After", tc.retryAfter)
			}
			e := errorFromBody(tc.status, h, []byte(tc.body))
			require.NotNil(t, e)
			assert.Equal(t, tc.wantCode, e.Code)
			assert.Equal(t, tc.wantMessage, e.Message)
			assert.Equal(t, tc.wantParams, e.Params)
			assert.True(t, utf8.ValidString(e.Message))
			assert.True(t, e.remote)
			assert.NoError(t, e.Unwrap(), "errors from the wire have no cause")
		})
	}
}

func TestErrorFromBodyRetryAfter(t *testing.T) {
	t.Parallel()
	h := http.Header{"Retry-After": {"120"}}
	e := errorFromBody(503, h, nil)
	d, ok := RetryAfter(e)
	assert.True(t, ok)
	assert.Equal(t, 2*time.Minute, d)

	h.Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	e = errorFromBody(503, h, nil)
	d, ok = RetryAfter(e)
	require.True(t, ok)
	assert.InDelta(t, float64(time.Hour), float64(d), float64(2*time.Second))

	h.Set("Retry-After", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
	_, ok = RetryAfter(errorFromBody(503, h, nil))
	assert.False(t, ok, "a date in the past asks for no wait")

	// A downstream's timeout is not this caller's deadline.
	e = errorFromBody(504, http.Header{}, nil)
	assert.Equal(t, CodeTimeout, ErrorCode(e))
	assert.NotErrorIs(t, e, context.DeadlineExceeded)
}

func TestErrorFromBodyTruncates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body string
		want string
	}{
		{"ascii", strings.Repeat("a", 600), strings.Repeat("a", 512)},
		{"two-byte runes, boundary", strings.Repeat("é", 300), strings.Repeat("é", 256)},
		{"three-byte runes, cut", strings.Repeat("€", 200), strings.Repeat("€", 170)},
		{"four-byte runes, cut", "ab" + strings.Repeat("😀", 200), "ab" + strings.Repeat("😀", 127)},
		{"exactly 512", strings.Repeat("z", 512), strings.Repeat("z", 512)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := errorFromBody(500, http.Header{"Content-Type": {"text/plain"}}, []byte(tc.body))
			assert.Equal(t, tc.want, e.Message)
			assert.True(t, utf8.ValidString(e.Message))
			assert.LessOrEqual(t, len(e.Message), maxErrorMessage)
		})
	}
}

func TestTruncateUTF8(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"", 5, ""},
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"a€", 3, "a"},
		{"a€", 4, "a€"},
		{" x ", 10, "x"},
		{"\xff\xfe", 10, "\uFFFD"},
		{"ab\xff", 3, "ab"}, // the replacement would pass the bound
		{"ab\xff", 5, "ab\uFFFD"},
		{"ab\xffc", 3, "ab"},
		{"\uFFFD\uFFFD", 3, "\uFFFD"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, truncateUTF8([]byte(tc.in), tc.n))
		})
	}
}

// retryAfterNow is the clock for retryAfterCases.
var retryAfterNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var retryAfterCases = []struct {
	in     string
	want   time.Duration
	wantOK bool
}{
	{"", 0, false},
	{"   ", 0, false},
	{"0", 0, true},
	{"1", time.Second, true},
	{"120", 2 * time.Minute, true},
	{" 5 ", 5 * time.Second, true},
	{"0005", 5 * time.Second, true},
	{"9999999999", time.Duration(1<<63 - 1), true}, // 10 digits: too long for a Duration, clamped
	{"12345678901", 0, false},                      // more than 10 digits
	{"-1", 0, false},
	{"+1", 0, false},
	{"1.5", 0, false},
	{"5s", 0, false},
	{"1 2", 0, false},
	{"soon", 0, false},
	{"Sun, 01 Jun 2025 12:01:00 GMT", time.Minute, true},
	{"Sunday, 01-Jun-25 12:00:30 GMT", 30 * time.Second, true}, // RFC 850
	{"Sun Jun  1 13:00:00 2025", time.Hour, true},              // ANSI C asctime
	{"Sun, 01 Jun 2025 11:00:00 GMT", 0, true},                 // in the past
	{"Sun, 01 Jun 2025 12:00:00 GMT", 0, true},                 // now
	{"Sun, 32 Jun 2025 12:00:00 GMT", 0, false},
	{"Mon, 01 Jan 0001 00:00:00 GMT", 0, true},
	{"Fri, 31 Dec 9999 23:59:59 GMT", time.Duration(1<<63 - 1), true},
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range retryAfterCases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			d, ok := parseRetryAfter(tc.in, retryAfterNow)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, d)
		})
	}
}

func TestFormatRetryAfter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "1"},
		{0, "1"},
		{time.Nanosecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Nanosecond, "2"},
		{1500 * time.Millisecond, "2"},
		{time.Minute, "60"},
	}
	for _, tc := range cases {
		t.Run(tc.d.String(), func(t *testing.T) {
			t.Parallel()
			got := formatRetryAfter(tc.d)
			assert.Equal(t, tc.want, got)
			back, ok := parseRetryAfter(got, retryAfterNow)
			require.True(t, ok)
			assert.GreaterOrEqual(t, back, tc.d, "rounds up: never asks for less than d")
		})
	}
}

var mediaTypeCases = []struct {
	ct   string
	want bool // with emptyIsJSON false
}{
	{"application/json", true},
	{"application/json; charset=utf-8", true},
	{"application/json;charset=UTF-8", true},
	{"Application/JSON", true},
	{"application/problem+json", true},
	{"application/problem+json; charset=utf-8", true},
	{"application/vnd.foo+json; charset=utf-8", true},
	{"application/vnd.api+json", true},
	{"application/merge-patch+json", true},
	{" application/json ", true},
	{"application/jsonx", false},
	{"application/json-seq", false},
	{"application/x-json", false},
	{"application/+jsonx", false},
	{"text/json", false},
	{"text/plain+json", false},
	{"text/xml", false},
	{"text/plain", false},
	{"text/html; charset=utf-8", false},
	{"application/xml", false},
	{"multipart/form-data; boundary=x", false},
	{"json", false},
	{"application/json; charset", false}, // unparsable parameter
	{";;", false},
	{"\xff", false},
}

func TestIsJSONMediaType(t *testing.T) {
	t.Parallel()
	for _, tc := range mediaTypeCases {
		t.Run(tc.ct, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, isJSONMediaType(tc.ct, false))
			assert.Equal(t, tc.want, isJSONMediaType(tc.ct, true), "emptyIsJSON matters only for an empty Content-Type")
		})
	}
	assert.True(t, isJSONMediaType("", true))
	assert.False(t, isJSONMediaType("", false))
}

var jsonStringCases = []string{
	"",
	"plain",
	`quote " and backslash \`,
	"controls \x00\x01\x08\x0c\x1f\x7f \n\r\t",
	"<script>alert('x')</script> & more",
	"line\u2028para\u2029end",
	"unicode: é € 😀 日本",
	"invalid \xff\xfe\xfd end",
	"truncated rune \xe2\x82",
	"surrogate half \xed\xa0\x80",
	"\xc0\x80 overlong nul",
	"\uFFFD literal replacement",
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, s := range jsonStringCases {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			checkJSONString(t, s)
		})
	}
	// Valid strings that need no special escape come out as encoding/json's.
	for _, s := range []string{"plain", "<>&", "a\"b\\c", "\n\r\t\x01", "é\u2028"} {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendJSONString(nil, s)))
	}
}

// checkJSONString checks that appendJSONString encodes s as valid, HTML-safe
// JSON that decodes to s with each invalid byte replaced by U+FFFD, as
// encoding/json does.
func checkJSONString(t *testing.T, s string) {
	t.Helper()
	b := appendJSONString([]byte("[1,"), s)
	require.Equal(t, "[1,", string(b[:3]), "appends")
	out := b[3:]
	require.True(t, json.Valid(out), "invalid JSON %q for %q", out, s)
	require.True(t, utf8.Valid(out))
	for _, c := range []string{"<", ">", "&", "\u2028", "\u2029"} {
		require.NotContains(t, string(out), c)
	}
	var got string
	require.NoError(t, json.Unmarshal(out, &got))
	want := string([]rune(s)) // each invalid byte becomes U+FFFD
	require.Equal(t, want, got)
}

// TestProblemRoundTrip: what the server writes, the client reads back.
func TestProblemRoundTrip(t *testing.T) {
	t.Parallel()
	errs := []*Error{
		NewError("not_found.user", "no such user").WithParams("id", "1"),
		NewError("unavailable", ""),
		NewError("x.y.z", "<&>\n\"").WithParams("", "", "k", "\x00"),
		{Message: "no code"},
	}
	for _, e := range errs {
		t.Run(e.Error(), func(t *testing.T) {
			t.Parallel()
			for _, status := range []int{ErrorStatus(e), 200, 400, 499, 599} {
				checkProblemRoundTrip(t, e, status)
			}
		})
	}
}

func checkProblemRoundTrip(t *testing.T, e *Error, status int) {
	t.Helper()
	body := appendProblem(nil, e, status)
	got := errorFromBody(status, http.Header{"Content-Type": {contentTypeProblem}}, body)
	require.NotNil(t, got)
	assert.Equal(t, string([]rune(e.code())), got.Code)
	assert.Equal(t, string([]rune(e.Message)), got.Message)
	// Keys that differ only in invalid bytes collide once made valid: the
	// last in the body (sorted order) wins, as encoding/json does.
	var want map[string]string
	if len(e.Params) > 0 {
		want = make(map[string]string, len(e.Params))
		keys := make([]string, 0, len(e.Params))
		for k := range e.Params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			want[string([]rune(k))] = string([]rune(e.Params[k]))
		}
	}
	assert.Equal(t, want, got.Params)
	_, ok := RetryAfter(got)
	assert.False(t, ok)
}

func TestAsError(t *testing.T) {
	t.Parallel()
	e := NewError("not_found", "x")
	assert.Same(t, e, asError(fmt.Errorf("w: %w", e), false), "outermost *Error goes on the wire as it is")

	plain := errors.New("secret database text")
	hidden := asError(plain, false)
	assert.Equal(t, CodeInternalService, hidden.Code)
	assert.Equal(t, "Internal Server Error", hidden.Message)
	assert.ErrorIs(t, hidden, plain)

	exposed := asError(plain, true)
	assert.Equal(t, "secret database text", exposed.Message)

	timeout := asError(context.DeadlineExceeded, false)
	assert.Equal(t, CodeTimeout, timeout.Code)
	assert.Equal(t, "Gateway Timeout", timeout.Message)

	var typedNil *Error
	require.NotPanics(t, func() {
		got := asError(typedNil, false)
		assert.Equal(t, CodeInternalService, got.code())
	})
}
