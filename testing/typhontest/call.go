package typhontest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/typhon-go/typhon"
)

// Call is a request that reached a [Stubs] or a [Mock], as it was when it
// arrived: its method, URL, headers and body, copied, so that what the
// Service does with the Request afterwards does not change the record.
type Call struct {
	Method string
	URL    *url.URL
	Header http.Header
	// Body is the whole request body; nil when there was none. When
	// reading it failed, it is what was read, and ReadErr says why.
	Body    []byte
	ReadErr error
}

// String returns the method and URL: "POST http://users/users".
func (c Call) String() string {
	if c.URL == nil {
		return c.Method
	}
	return c.Method + " " + c.URL.String()
}

// Decode decodes the body, as JSON, into v.
func (c Call) Decode(v any) error {
	return json.Unmarshal(c.Body, v)
}

// recordCall copies req into a Call. It reads the body and gives req a new
// one that reads the same bytes (and then fails as the original did), with
// a GetBody to replay it, so the Service called next can still read it.
func recordCall(req typhon.Request) Call {
	c := Call{Method: req.Method, Header: req.Header.Clone()}
	if req.URL != nil {
		u := *req.URL
		if u.User != nil {
			user := *u.User
			u.User = &user
		}
		c.URL = &u
	}
	if req.Body == nil || req.Body == http.NoBody {
		return c
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	c.Body, c.ReadErr = b, err
	if err != nil {
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), errReader{err}))
		req.GetBody = nil
		return c
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	if len(b) == 0 {
		req.Body = http.NoBody
	}
	return c
}
