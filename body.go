package typhon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// encodedBody is a body value made ready to send.
type encodedBody struct {
	body   io.ReadCloser
	length int64  // -1: unknown
	buf    []byte // set when the body is held in memory: replayable
	json   bool   // Content-Type application/json applies
}

// encodeBody turns v into a body: nil is no body, []byte and io.Reader go out
// as they are, anything else (a string too) as JSON.
func encodeBody(v any) (encodedBody, error) {
	switch b := v.(type) {
	case nil:
		return encodedBody{}, nil
	case []byte:
		return bufferedBody(b, false), nil
	case *bytes.Buffer:
		return bufferedBody(b.Bytes(), false), nil
	case *bytes.Reader:
		rest := make([]byte, b.Len())
		_, _ = io.ReadFull(b, rest)
		return bufferedBody(rest, false), nil
	case *strings.Reader:
		rest := make([]byte, b.Len())
		_, _ = io.ReadFull(b, rest)
		return bufferedBody(rest, false), nil
	case io.Reader:
		rc, ok := b.(io.ReadCloser)
		if !ok {
			rc = io.NopCloser(b)
		}
		return encodedBody{body: rc, length: -1}, nil
	}
	buf, err := json.Marshal(v)
	if err != nil {
		return encodedBody{}, err
	}
	return bufferedBody(buf, true), nil
}

func bufferedBody(b []byte, isJSON bool) encodedBody {
	if len(b) == 0 {
		return encodedBody{body: http.NoBody, buf: b, json: isJSON}
	}
	return encodedBody{body: newBytesBody(b), length: int64(len(b)), buf: b, json: isJSON}
}

// getBody returns a replay function for an in-memory body.
func (e encodedBody) getBody() func() (io.ReadCloser, error) {
	if e.buf == nil {
		return nil
	}
	buf := e.buf
	return func() (io.ReadCloser, error) {
		if len(buf) == 0 {
			return http.NoBody, nil
		}
		return newBytesBody(buf), nil
	}
}

// readBody reads all of body and closes it. sizeHint, when positive, sizes
// the buffer.
func readBody(body io.ReadCloser, sizeHint int64) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	defer body.Close()
	if sizeHint > 0 && sizeHint < 64<<20 {
		buf := make([]byte, 0, sizeHint+1) // +1: see EOF without growing
		w := bytes.NewBuffer(buf)
		_, err := w.ReadFrom(body)
		return w.Bytes(), err
	}
	return io.ReadAll(body)
}

// decodeBody decodes b into v: *[]byte takes the bytes as they are, anything
// else is JSON.
func decodeBody(b []byte, v any) error {
	if p, ok := v.(*[]byte); ok {
		*p = b
		return nil
	}
	if len(b) == 0 {
		return errors.New("empty body")
	}
	return json.Unmarshal(b, v)
}

// bytesBody is an in-memory body: one allocation where
// io.NopCloser(bytes.NewReader(b)) takes two, and the server writes it in
// one call.
type bytesBody struct {
	b   []byte
	off int
}

func newBytesBody(b []byte) *bytesBody { return &bytesBody{b: b} }

func (r *bytesBody) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// WriteTo writes the unread bytes to w in one call.
func (r *bytesBody) WriteTo(w io.Writer) (int64, error) {
	if r.off >= len(r.b) {
		return 0, nil
	}
	n, err := w.Write(r.b[r.off:])
	r.off += n
	return int64(n), err
}

// Len returns the number of unread bytes.
func (r *bytesBody) Len() int { return len(r.b) - r.off }

func (r *bytesBody) Close() error { return nil }
