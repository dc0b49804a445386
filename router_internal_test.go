package typhon

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// patternShapeCases are the table of TestPatternShape and the seeds of
// FuzzPatternShape. An empty want with a non-empty err is an error.
var patternShapeCases = []struct {
	pattern, want, err string
}{
	{pattern: "/", want: "/"},
	{pattern: "", want: ""},
	{pattern: "/users", want: "/users"},
	{pattern: "/users/", want: "/users/"},
	{pattern: "/users/{id}", want: "/users/{}"},
	{pattern: "/users/{uid}", want: "/users/{}"},
	{pattern: "/users/{id}/", want: "/users/{}/"},
	{pattern: "/users/{id}.json", want: "/users/{}.json"},
	{pattern: "/o/{org}/u/{id}", want: "/o/{}/u/{}"},
	{pattern: "/{a}", want: "/{}"},
	{pattern: "/files/*", want: "/files/*"},
	{pattern: "/o/{org}/*", want: "/o/{}/*"},
	// Regexps are anchored as chi anchors them, so that patterns chi
	// treats as one have one shape.
	{pattern: "/users/{id:[0-9]+}", want: "/users/{:^[0-9]+$}"},
	{pattern: "/users/{n:^[0-9]+$}", want: "/users/{:^[0-9]+$}"},
	{pattern: "/users/{n:^[0-9]+}", want: "/users/{:^[0-9]+$}"},
	{pattern: "/users/{n:[0-9]+$}", want: "/users/{:^[0-9]+$}"},
	{pattern: "/a/{id:[0-9]{3}}", want: "/a/{:^[0-9]{3}$}"},
	{pattern: "/a/{id:x{1,2}}/b/{n}", want: "/a/{:^x{1,2}$}/b/{}"},
	{pattern: "/a/{id:}", want: "/a/{:}"},
	{pattern: "/a/{:[a-z]+}", want: "/a/{:^[a-z]+$}"},
	{pattern: "/a/{id:^}", want: "/a/{:^$}"},
	{pattern: "/a/{id:$}", want: "/a/{:^$}"},
	{pattern: "/u/{id", err: "unmatched '{' at offset 3"},
	{pattern: "/u/{id:[0-9]{3}", err: "unmatched '{' at offset 3"},
	{pattern: "/u/id}", err: "unmatched '}' at offset 5"},
	{pattern: "}", err: "unmatched '}' at offset 0"},
	{pattern: "/u/{}", err: "empty parameter name at offset 3"},
	{pattern: "/u/{a}/{", err: "unmatched '{' at offset 7"},
}

func TestPatternShape(t *testing.T) {
	t.Parallel()
	for _, c := range patternShapeCases {
		t.Run(c.pattern, func(t *testing.T) {
			t.Parallel()
			got, err := patternShape(c.pattern)
			if c.err != "" {
				require.EqualError(t, err, c.err)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// FuzzPatternShape checks that patternShape never panics, is deterministic,
// and that a shape that parses is its own shape.
func FuzzPatternShape(f *testing.F) {
	for _, c := range patternShapeCases {
		f.Add(c.pattern)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		shape, err := patternShape(pattern)
		again, err2 := patternShape(pattern)
		if shape != again || (err == nil) != (err2 == nil) {
			t.Fatalf("patternShape(%q) not deterministic: %q, %v then %q, %v", pattern, shape, err, again, err2)
		}
		if err != nil {
			if shape != "" {
				t.Fatalf("patternShape(%q) = %q with error %v", pattern, shape, err)
			}
			return
		}
		if len(shape) > len(pattern)+2*strings.Count(pattern, ":") {
			t.Fatalf("patternShape(%q) = %q: longer than names erased and regexps anchored", pattern, shape)
		}
		// A shape that is itself a valid pattern (no "{}", no braces in
		// names) is its own shape.
		if s2, err := patternShape(shape); err == nil && s2 != shape {
			t.Fatalf("patternShape(%q) = %q, whose shape is %q", pattern, shape, s2)
		}
	})
}

func TestRoutingPath(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		url  *url.URL
		want string
	}{
		{"nil URL", nil, "/"},
		{"empty", &url.URL{}, "/"},
		{"plain", &url.URL{Path: "/a/b"}, "/a/b"},
		{"escaped slash", &url.URL{Path: "/a/b/c", RawPath: "/a/b%2Fc"}, "/a/b%2Fc"},
		{"space without RawPath", &url.URL{Path: "/a b"}, "/a%20b"},
		{"percent without RawPath", &url.URL{Path: "/%41"}, "/%2541"},
		{"RawPath not an encoding of Path", &url.URL{Path: "/a/b", RawPath: "/x%2Fy"}, "/a/b"},
		{"invalid RawPath", &url.URL{Path: "/a/b", RawPath: "/a%zz"}, "/a/b"},
		{"asterisk", &url.URL{Path: "*"}, "*"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, c.want, routingPath(&http.Request{URL: c.url}))
		})
	}
}

func TestMethodIndex(t *testing.T) {
	t.Parallel()
	for i, m := range routeMethods {
		assert.Equal(t, i, methodIndex(m), m)
	}
	assert.Equal(t, headIndex, methodIndex(http.MethodHead))
	for _, m := range []string{"", "get", "PROPFIND", "GET ", "QUERY"} {
		assert.Equal(t, -1, methodIndex(m), m)
	}
}

func TestJoinPattern(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ prefix, pattern, want string }{
		{"", "/a", "/a"},
		{"/", "/a", "/a"},
		{"/api", "/a", "/api/a"},
		{"/api/", "/a", "/api/a"},
		{"/api", "/", "/api/"},
		{"/o/{org}", "/u/{id}", "/o/{org}/u/{id}"},
	} {
		assert.Equal(t, c.want, joinPattern(c.prefix, c.pattern), "%q + %q", c.prefix, c.pattern)
	}
}

// TestRouterExchangeAfterMount checks that a mount leaves no state in the
// exchange record: a Router called again with the same Request after a
// mounted Router returned routes the full path.
func TestRouterExchangeAfterMount(t *testing.T) {
	t.Parallel()
	var inner Router
	inner.GET("/x", func(req Request) Response { return NewResponse(req) })
	var outer Router
	outer.Mount("/m", inner.Serve())
	outer.GET("/m2/x", func(req Request) Response { return NewResponse(req) })
	svc := outer.Serve()

	req := NewRequest(t.Context(), "GET", "/m/x", nil)
	require.NoError(t, svc(req).Error)
	assert.False(t, req.x.mounted)
	assert.Equal(t, "/m/x", RoutePattern(req))

	miss := NewRequest(t.Context(), "GET", "/m/none", nil)
	assert.Equal(t, http.StatusNotFound, svc(miss).StatusCode)
	assert.False(t, miss.x.mounted)
}
