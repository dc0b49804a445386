package typhontest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/typhon-go/typhon"
)

// shownBody is how much of a body a failure message shows.
const shownBody = 1 << 10

// bodyRecord is everything read so far from a response body that a helper
// has looked at, so that a later helper, a failure message or the test can
// still read it from the start.
type bodyRecord struct {
	buf  []byte
	src  io.ReadCloser // nil once read to the end, failed, or closed
	err  error         // what ended src, other than io.EOF
	done bool
}

// fill reads src until buf holds at least n bytes or src ends; n < 0 reads
// to the end.
func (r *bodyRecord) fill(n int) {
	for !r.done && (n < 0 || len(r.buf) < n) {
		if cap(r.buf)-len(r.buf) < 512 {
			r.buf = slices.Grow(r.buf, max(512, len(r.buf)))
		}
		k, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+k]
		if err != nil {
			if err != io.EOF {
				r.err = err
			}
			r.finish()
		}
	}
}

func (r *bodyRecord) finish() {
	if !r.done {
		r.done = true
		r.src.Close()
		r.src = nil
	}
}

// errClosedEarly is what a body closed before its end gives after what was
// read of it.
var errClosedEarly = errors.New("typhontest: body closed before its end")

// replayBody reads a bodyRecord from its start, and then what is left of
// the body, recording it too.
type replayBody struct {
	rec *bodyRecord
	off int
}

func (b *replayBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.off >= len(b.rec.buf) {
		if b.rec.done {
			if b.rec.err != nil {
				return 0, b.rec.err
			}
			return 0, io.EOF
		}
		b.rec.fill(len(b.rec.buf) + len(p))
		if b.off >= len(b.rec.buf) {
			return b.Read(p)
		}
	}
	n := copy(p, b.rec.buf[b.off:])
	b.off += n
	return n, nil
}

// Close releases the body's source (its connection); what was read stays
// recorded, and reading it again ends with errClosedEarly.
func (b *replayBody) Close() error {
	if !b.rec.done {
		b.rec.err = errClosedEarly
		b.rec.finish()
	}
	return nil
}

// record returns the record of rsp's body, and makes rsp.Body read it again
// from the start. It returns nil when rsp has no body. rsp.Response is
// shared by copies of rsp, so they all see the new Body.
func record(rsp typhon.Response) *bodyRecord {
	if rsp.Response == nil || rsp.Body == nil || rsp.Body == http.NoBody {
		return nil
	}
	rec := &bodyRecord{src: rsp.Body}
	if rb, ok := rsp.Body.(*replayBody); ok {
		rec = rb.rec
	}
	rsp.Body = &replayBody{rec: rec}
	return rec
}

// readAll reads rsp's whole body, leaving it readable from the start; err
// is the read error, if any.
func readAll(rsp typhon.Response) (b []byte, err error) {
	rec := record(rsp)
	if rec == nil {
		return nil, nil
	}
	rec.fill(-1)
	return rec.buf, rec.err
}

// status is rsp's status code, as typhon would normalise it: the error's
// status for a Response with an Error and no error status (a Service's
// bare Response{Error: err}), else StatusCode.
func status(rsp typhon.Response) int {
	if rsp.Response == nil || rsp.StatusCode == 0 || (rsp.Error != nil && rsp.StatusCode < 400) {
		return typhon.ErrorStatus(rsp.Error)
	}
	return rsp.StatusCode
}

func header(rsp typhon.Response) http.Header {
	if rsp.Response == nil {
		return nil
	}
	return rsp.Header
}

// describe formats rsp for a failure message: the status line, the headers
// (sorted), the first KiB of the body (read for the purpose, and left
// readable), and the error. A streamed body is read until it has given a
// KiB or ended, so a failure message on a stream that stalls waits for it.
func describe(rsp typhon.Response) string {
	var b strings.Builder
	b.WriteString("response:\n\t")
	proto := "HTTP/1.1"
	if rsp.Response != nil && rsp.Proto != "" {
		proto = rsp.Proto
	}
	st := status(rsp)
	b.WriteString(proto + " " + strconv.Itoa(st))
	if text := http.StatusText(st); text != "" {
		b.WriteString(" " + text)
	} else if st == typhon.StatusClientClosedRequest {
		b.WriteString(" Client Closed Request")
	}
	b.WriteByte('\n')
	h := header(rsp)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "\t%s: %s\n", k, v)
		}
	}
	if rec := record(rsp); rec != nil {
		rec.fill(shownBody + 1)
		b.WriteString("\n\t")
		shown := rec.buf[:min(len(rec.buf), shownBody)]
		b.WriteString(printable(shown))
		switch {
		case len(rec.buf) > shownBody:
			fmt.Fprintf(&b, "\n\t... (body cut at %d bytes)", shownBody)
		case rec.err != nil:
			fmt.Fprintf(&b, "\n\t... (body failed after %d bytes: %v)", len(rec.buf), rec.err)
		case len(rec.buf) == 0:
			b.WriteString("(empty body)")
		}
		b.WriteByte('\n')
	}
	if rsp.Error != nil {
		fmt.Fprintf(&b, "\terror (%T): %v\n", rsp.Error, rsp.Error)
	} else {
		b.WriteString("\terror: nil\n")
	}
	return b.String()
}

// printable is b as text, indented, or quoted when it is not valid UTF-8.
func printable(b []byte) string {
	b = bytes.TrimRight(b, "\n")
	if !utf8.Valid(b) {
		return strconv.Quote(string(b))
	}
	return strings.ReplaceAll(string(b), "\n", "\n\t")
}
