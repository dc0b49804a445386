package typhon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
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
	case io.Reader:
		if buf, ok := readerBytes(b); ok {
			return bufferedBody(buf, false), nil
		}
		rc, ok := b.(io.ReadCloser)
		if !ok {
			rc = io.NopCloser(b)
		}
		return encodedBody{body: rc, length: -1}, nil
	}
	buf, isJSON, err := encodeBytes(v)
	if err != nil {
		return encodedBody{}, err
	}
	return bufferedBody(buf, isJSON), nil
}

// encodeBytes encodes a body value that is not nil and not an io.Reader:
// []byte as it is, anything else as JSON.
func encodeBytes(v any) (buf []byte, isJSON bool, err error) {
	if b, ok := v.([]byte); ok {
		return b, false, nil
	}
	buf, err = json.Marshal(v)
	return buf, err == nil, err
}

// readerBytes returns the unread bytes of an in-memory reader, which are
// sent as they are, replayable; ok is false for any other reader, which is
// streamed.
func readerBytes(r io.Reader) (buf []byte, ok bool) {
	switch b := r.(type) {
	case *bytes.Buffer:
		return b.Bytes(), true
	case *bytes.Reader:
		rest := make([]byte, b.Len())
		_, _ = io.ReadFull(b, rest)
		return rest, true
	case *strings.Reader:
		rest := make([]byte, b.Len())
		_, _ = io.ReadFull(b, rest)
		return rest, true
	}
	return nil, false
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
// the buffer. With borrow, the bytes of an in-memory body are returned as
// they are, not copied: for a caller that only reads them before returning
// (json.Unmarshal copies what it keeps).
func readBody(body io.ReadCloser, sizeHint int64, borrow bool) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	defer body.Close()
	if bb, ok := body.(*bytesBody); ok && borrow {
		b := bb.b[min(bb.off, len(bb.b)):]
		bb.off = len(bb.b)
		return b, nil
	}
	if sizeHint > 0 && sizeHint < 64<<20 {
		// +1: see EOF without growing. (bytes.Buffer.ReadFrom would grow
		// a buffer of this size before its first read.)
		return readAll(body, make([]byte, 0, sizeHint+1))
	}
	return io.ReadAll(body)
}

// readAll is io.ReadAll into buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
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
// one call. It runs onDone, if set (by OnBodyDone, which then needs no
// wrapper), once: when it is read to the end or closed.
type bytesBody struct {
	b      []byte
	off    int
	onDone func()
	done   atomic.Bool
}

func newBytesBody(b []byte) *bytesBody { return &bytesBody{b: b} }

func (r *bytesBody) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		r.finish()
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// WriteTo writes the unread bytes to w in one call.
func (r *bytesBody) WriteTo(w io.Writer) (int64, error) {
	if r.off >= len(r.b) {
		r.finish()
		return 0, nil
	}
	n, err := w.Write(r.b[r.off:])
	r.off += n
	r.finish()
	return int64(n), err
}

// Len returns the number of unread bytes.
func (r *bytesBody) Len() int { return len(r.b) - r.off }

func (r *bytesBody) Close() error {
	r.finish()
	return nil
}

// finish runs onDone the first time it is called.
func (r *bytesBody) finish() {
	if r.onDone != nil && r.done.CompareAndSwap(false, true) {
		r.onDone()
	}
}
