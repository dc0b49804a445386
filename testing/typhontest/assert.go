package typhontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/typhon-go/typhon"
)

// AssertStatus checks that rsp's status code is want.
func AssertStatus(t testing.TB, rsp typhon.Response, want int) bool {
	t.Helper()
	if got := status(rsp); got != want {
		t.Errorf("typhontest: status %d, want %d\n%s", got, want, describe(rsp))
		return false
	}
	return true
}

// AssertOK checks that rsp is a success: no Error, and a status below 400.
func AssertOK(t testing.TB, rsp typhon.Response) bool {
	t.Helper()
	if rsp.Error != nil || status(rsp) >= 400 {
		t.Errorf("typhontest: want a success\n%s", describe(rsp))
		return false
	}
	return true
}

// AssertCode checks that rsp has an Error whose code is code or a
// refinement of it, as [typhon.IsCode] decides: code "not_found" accepts
// "not_found.user".
func AssertCode(t testing.TB, rsp typhon.Response, code string) bool {
	t.Helper()
	switch {
	case rsp.Error == nil:
		t.Errorf("typhontest: no error, want error code %q\n%s", code, describe(rsp))
		return false
	case !typhon.IsCode(rsp.Error, code):
		t.Errorf("typhontest: error code %q, want %q\n%s", typhon.ErrorCode(rsp.Error), code, describe(rsp))
		return false
	}
	return true
}

// AssertHeader checks that rsp.Header.Get(key), the header's first value,
// is want. An empty want checks that the header is absent or empty.
func AssertHeader(t testing.TB, rsp typhon.Response, key, want string) bool {
	t.Helper()
	if got := header(rsp).Get(key); got != want {
		if want == "" {
			t.Errorf("typhontest: header %s is %q, want it absent\n%s", key, got, describe(rsp))
		} else {
			t.Errorf("typhontest: header %s is %q, want %q\n%s", key, got, want, describe(rsp))
		}
		return false
	}
	return true
}

// AssertBody checks that rsp's body is want, byte for byte, whatever its
// status or Content-Type. It reads the whole body (a streamed body to its
// end) and fails if reading it fails.
func AssertBody(t testing.TB, rsp typhon.Response, want string) bool {
	t.Helper()
	got, err := readAll(rsp)
	switch {
	case err != nil:
		t.Errorf("typhontest: cannot read body: %v\n%s", err, describe(rsp))
		return false
	case string(got) != want:
		t.Errorf("typhontest: body mismatch\n\tgot:  %q\n\twant: %q\n%s", got, want, describe(rsp))
		return false
	}
	return true
}

// AssertJSON checks that rsp's body decodes, as [Decode] decodes it, to a
// value equal to want (reflect.DeepEqual). As Decode, it fails on a Response
// with an Error: check those with AssertCode, or AssertBody for the
// problem+json body. Decoding into a struct ignores fields it lacks, so
// compare with a map[string]any to check every field.
func AssertJSON[T any](t testing.TB, rsp typhon.Response, want T) bool {
	t.Helper()
	var got T
	if err := decode(rsp, &got); err != nil {
		t.Errorf("typhontest: cannot decode response body into %T: %v\n%s", got, err, describe(rsp))
		return false
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("typhontest: body mismatch\n\tgot:  %s\n\twant: %s\n%s", jsonish(got), jsonish(want), describe(rsp))
		return false
	}
	return true
}

// Decode returns rsp's body decoded into a T as [typhon.Response.Decode]
// decodes it: the Response must have no Error, a status below 400 and a
// JSON body, except that a []byte takes the body as it is. On failure it
// reports the Response and stops the test with t.Fatalf, so it must be
// called from the test's goroutine.
func Decode[T any](t testing.TB, rsp typhon.Response) T {
	t.Helper()
	var v T
	if err := decode(rsp, &v); err != nil {
		t.Fatalf("typhontest: cannot decode response body into %T: %v\n%s", v, err, describe(rsp))
	}
	return v
}

// decode decodes rsp's body into v as rsp.Decode would, from a copy of the
// body, leaving rsp.Body readable from the start.
func decode(rsp typhon.Response, v any) error {
	if rsp.Error != nil {
		return rsp.Error // as rsp.Decode, which would also close the body
	}
	if rsp.Response == nil {
		return rsp.Decode(v) // "empty Response"
	}
	b, err := readAll(rsp)
	var body io.Reader = bytes.NewReader(b)
	if err != nil {
		body = io.MultiReader(body, errReader{err})
	}
	c := *rsp.Response
	c.Body = io.NopCloser(body)
	return typhon.Response{Response: &c}.Decode(v)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// jsonish formats v for a message: as JSON when it can, else with %#v.
func jsonish(v any) string {
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprintf("%#v", v)
}
