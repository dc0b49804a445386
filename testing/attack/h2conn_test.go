package attack_test

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conn is a raw h2c client connection: frames written with x/net's
// Framer and hpack, and (unless it was dialled silent) a reader goroutine
// that records what the server sends. It acknowledges the server's SETTINGS
// and nothing else: no WINDOW_UPDATE, no PING answer.
type h2Conn struct {
	t    *testing.T
	c    net.Conn
	addr string

	wmu  sync.Mutex // guards the write side
	bw   *bufio.Writer
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer

	mu      sync.Mutex
	goAway  *http2.ErrCode
	rsts    map[http2.ErrCode]int
	status  map[uint32]string
	frames  int
	readErr error
	event   chan struct{} // a frame arrived or the reader ended (capacity 1)
	done    chan struct{} // the reader has ended
}

type h2Options struct {
	settings []http2.Setting // the client's SETTINGS
	silent   bool            // no reader: the client never reads
}

// dialH2 connects to addr and sends the client preface and SETTINGS. The
// connection is closed at the end of the test, and every read and write on
// it fails after bound.
func dialH2(t *testing.T, addr string, o h2Options) *h2Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(bound)))
	h := &h2Conn{
		t: t, c: c, addr: addr,
		bw:     bufio.NewWriterSize(c, 64<<10),
		rsts:   map[http2.ErrCode]int{},
		status: map[uint32]string{},
		event:  make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	h.fr = http2.NewFramer(h.bw, nil)
	h.fr.AllowIllegalWrites = true // WINDOW_UPDATE 0 and other deliberate faults
	h.enc = hpack.NewEncoder(&h.hbuf)
	t.Cleanup(h.close)
	require.NoError(t, h.write(func(fr *http2.Framer) error {
		if _, err := h.bw.WriteString(http2.ClientPreface); err != nil {
			return err
		}
		return fr.WriteSettings(o.settings...)
	}))
	if o.silent {
		close(h.done)
	} else {
		go h.read()
	}
	return h
}

func (h *h2Conn) close() {
	h.c.Close()
	<-h.done
}

// write runs f on the Framer, with the write side to itself, and flushes.
func (h *h2Conn) write(f func(fr *http2.Framer) error) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if err := f(h.fr); err != nil {
		return err
	}
	return h.bw.Flush()
}

// block encodes a request's header block: method and path, then extra.
func (h *h2Conn) block(method, path string, extra ...hpack.HeaderField) []byte {
	h.hbuf.Reset()
	fields := append([]hpack.HeaderField{
		{Name: ":method", Value: method},
		{Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: h.addr},
		{Name: ":path", Value: path},
	}, extra...)
	for _, f := range fields {
		_ = h.enc.WriteField(f) // writes to a bytes.Buffer
	}
	return bytes.Clone(h.hbuf.Bytes())
}

// request writes a HEADERS frame for a request on stream id. Call it inside
// write.
func (h *h2Conn) request(fr *http2.Framer, id uint32, method, path string, endStream bool, extra ...hpack.HeaderField) error {
	return fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID:      id,
		BlockFragment: h.block(method, path, extra...),
		EndStream:     endStream,
		EndHeaders:    true,
	})
}

func (h *h2Conn) read() {
	defer close(h.done)
	fr := http2.NewFramer(nil, h.c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	for {
		f, err := fr.ReadFrame()
		h.mu.Lock()
		if err != nil {
			h.readErr = err
			h.mu.Unlock()
			h.notify()
			return
		}
		h.frames++
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.mu.Unlock()
				_ = h.write(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
				h.mu.Lock()
			}
		case *http2.GoAwayFrame:
			code := f.ErrCode
			h.goAway = &code
		case *http2.RSTStreamFrame:
			h.rsts[f.ErrCode]++
		case *http2.MetaHeadersFrame:
			if s := f.PseudoValue("status"); s != "" {
				h.status[f.StreamID] = s
			}
		}
		h.mu.Unlock()
		h.notify()
	}
}

func (h *h2Conn) notify() {
	select {
	case h.event <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds (checked under the lock after each frame)
// or the reader ends, for at most bound, and reports whether cond held.
func (h *h2Conn) waitFor(cond func(h *h2Conn) bool) bool {
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		h.mu.Lock()
		ok := cond(h)
		h.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-h.event:
		case <-h.done:
			h.mu.Lock()
			defer h.mu.Unlock()
			return cond(h)
		case <-timer.C:
			return false
		}
	}
}

// waitClosed waits, at most bound, for the server to close the connection
// (the reader sees EOF or a reset), and reports whether it did.
func (h *h2Conn) waitClosed() bool {
	select {
	case <-h.done:
		h.mu.Lock()
		defer h.mu.Unlock()
		var ne net.Error
		return h.readErr != nil && !(errors.As(h.readErr, &ne) && ne.Timeout())
	case <-time.After(bound):
		return false
	}
}

// goAwayCode is the code of the server's GOAWAY, or "none".
func (h *h2Conn) goAwayCode() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.goAway == nil {
		return "none"
	}
	return h.goAway.String()
}

func (h *h2Conn) resets() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.rsts {
		n += c
	}
	return n
}

func (h *h2Conn) statusOf(id uint32) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status[id]
}
