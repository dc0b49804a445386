package attack_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/typhon-go/typhon"
)

// resetAttack opens streams to /block on one connection, each followed at
// once by a frame that gets it reset (by the client, or provoked from the
// server), and checks Go's Rapid Reset defence, which typhon's bounded
// MaxConcurrentStreams keeps: at most MaxConcurrentStreams handlers run at
// once for the connection, and the connection is told to calm down
// (GOAWAY ENHANCE_YOUR_CALM) once too many streams wait for a handler.
func resetAttack(t *testing.T, name, bar string, endStream bool, provoke func(fr *http2.Framer, id uint32) error) {
	s := newScenario(t, name, bar)
	g := newTarget(t)
	srv, st := serve(t, g.serve)
	addr := srv.Addr().String()
	h := dialH2(t, addr, h2Options{})

	const streams, batch = 3000, 50
	sent := 0
	var werr error
	for sent < streams && werr == nil {
		werr = h.write(func(fr *http2.Framer) error {
			for range batch {
				id := uint32(2*sent + 1)
				if err := h.request(fr, id, "POST", "/block", endStream); err != nil {
					return err
				}
				if err := provoke(fr, id); err != nil {
					return err
				}
				sent++
			}
			return nil
		})
	}
	s.set("attacks", sent)

	// The server gives up on the connection, while the handlers it started
	// are still held.
	calmed := h.waitFor(func(h *h2Conn) bool { return h.goAway != nil })
	closed := h.waitClosed()
	s.mustProbe(addr, "while the attack's handlers are held")
	peak := g.peak.Load()
	g.releaseAll()
	s.mustProbe(addr, "after the attack")

	s.set("peak_handlers", peak)
	s.set("handlers_started", g.count("/block"))
	s.set("server_resets", h.resets())
	s.set("goaway", h.goAwayCode())
	s.set("conn_closed", closed)
	s.set("count_error", st.countErrors())
	assert.LessOrEqual(t, peak, int64(typhon.DefaultMaxConcurrentStreams), "handlers running at once for one connection")
	assert.LessOrEqual(t, g.count("/block"), 5*typhon.DefaultMaxConcurrentStreams, "handlers started for one connection")
	assert.True(t, calmed || closed, "the server neither sent GOAWAY nor closed the connection")
	assert.True(t, closed, "the connection stayed open")
	if calmed {
		assert.Equal(t, http2.ErrCodeEnhanceYourCalm.String(), h.goAwayCode())
	}
}

// TestH2RapidReset: HEADERS then RST_STREAM(CANCEL), 3,000 times, with
// handlers that ignore cancellation (CVE-2023-44487).
func TestH2RapidReset(t *testing.T) {
	resetAttack(t, "h2/rapid-reset",
		"3,000 HEADERS+RST_STREAM pairs: at most MaxConcurrentStreams (250) handlers at once, GOAWAY ENHANCE_YOUR_CALM, connection closed, other clients served",
		true, func(fr *http2.Framer, id uint32) error { return fr.WriteRSTStream(id, http2.ErrCodeCancel) })
}

// TestH2MadeYouReset: HEADERS then a WINDOW_UPDATE of 0 on the stream, a
// protocol error for which the server itself resets the stream, 3,000 times
// (CVE-2025-8671). Go counts server-sent resets of streams whose handler
// still runs against the same bound as client resets.
func TestH2MadeYouReset(t *testing.T) {
	resetAttack(t, "h2/made-you-reset",
		"3,000 HEADERS+WINDOW_UPDATE(0) pairs, each reset by the server: at most 250 handlers at once, GOAWAY ENHANCE_YOUR_CALM, connection closed, other clients served",
		false, func(fr *http2.Framer, id uint32) error { return fr.WriteWindowUpdate(id, 0) })
}

// TestH2ContinuationFlood: a HEADERS frame without END_HEADERS followed by
// up to 400 CONTINUATION frames of 16 KB literals (CVE-2023-45288): the
// server stops decoding once the header budget (MaxHeaderBytes) is spent
// and closes the connection; the Service is never called.
func TestH2ContinuationFlood(t *testing.T) {
	s := newScenario(t, "h2/continuation-flood",
		"HEADERS + up to 400 x 16 KB CONTINUATION: connection closed once MaxHeaderBytes is spent, Service never called, other clients served")
	g := newTarget(t)
	srv, st := serve(t, g.serve)
	addr := srv.Addr().String()
	h := dialH2(t, addr, h2Options{})

	var lb strings.Builder
	_ = hpack.NewEncoder(&lb).WriteField(hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("a", 16000), Sensitive: true})
	literal := []byte(lb.String())
	sent := 0
	err := h.write(func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block("GET", "/flood"), EndHeaders: false})
	})
	require.NoError(t, err)
	// One frame at a time, stopping once the server has given up: the
	// figure is how much was sent before it said so.
	for sent < 400 && err == nil && h.goAwayCode() == "none" {
		err = h.write(func(fr *http2.Framer) error { return fr.WriteContinuation(1, false, literal) })
		if err == nil {
			sent++
		}
	}
	closed := h.waitClosed()
	s.set("attacks", sent)
	s.set("header_bytes_sent", sent*len(literal))
	s.set("goaway", h.goAwayCode())
	s.set("conn_closed", closed)
	s.set("handler_calls", g.total())
	s.set("count_error", st.countErrors())
	assert.True(t, closed, "the connection stayed open")
	assert.Contains(t, []string{"none", http2.ErrCodeProtocol.String(), http2.ErrCodeEnhanceYourCalm.String()}, h.goAwayCode())
	assert.Zero(t, g.total(), "the Service was called")
	s.mustProbe(addr, "after the attack")
}

// TestH2HPACKBomb: a 4,000-byte header stored in the HPACK dynamic table,
// then referenced 400 times by one-byte indices: 4.5 KB on the wire, 1.6 MB
// decoded. The stream is answered 431 without calling the Service, and the
// connection stays usable: the next stream on it is answered 200.
func TestH2HPACKBomb(t *testing.T) {
	s := newScenario(t, "h2/hpack-bomb",
		"4.5 KB header block decoding to 1.6 MB: that stream 431 without calling the Service, the next stream on the same connection 200")
	g := newTarget(t)
	srv, _ := serve(t, g.serve)
	addr := srv.Addr().String()
	h := dialH2(t, addr, h2Options{})

	err := h.write(func(fr *http2.Framer) error {
		// Literal with incremental indexing: it becomes dynamic entry 62.
		block := h.block("GET", "/bomb", hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)})
		for range 400 {
			block = append(block, 0x80|62) // indexed field 62
		}
		s.set("block_bytes", len(block))
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true})
	})
	require.NoError(t, err)
	require.True(t, h.waitFor(func(h *h2Conn) bool { return h.status[1] != "" }), "no answer to the bomb")
	require.NoError(t, h.write(func(fr *http2.Framer) error { return h.request(fr, 3, "GET", "/after", true) }))
	require.True(t, h.waitFor(func(h *h2Conn) bool { return h.status[3] != "" }), "no answer on the same connection after the bomb")

	s.set("attacks", 1)
	s.set("decoded_bytes", 400*4000)
	s.set("bomb_status", h.statusOf(1))
	s.set("next_status", h.statusOf(3))
	s.set("goaway", h.goAwayCode())
	s.set("bomb_handler_calls", g.count("/bomb"))
	assert.Equal(t, "431", h.statusOf(1))
	assert.Equal(t, "200", h.statusOf(3))
	assert.Zero(t, g.count("/bomb"), "the Service was called with the bomb")
	assert.Equal(t, "none", h.goAwayCode())
	s.mustProbe(addr, "after the attack")
}

// TestH2StreamLimitOverrun opens MaxConcurrentStreams+10 streams that never
// finish their request: the excess streams are reset, no more handlers than
// the limit run, and another connection is served meanwhile.
func TestH2StreamLimitOverrun(t *testing.T) {
	s := newScenario(t, "h2/stream-limit-overrun",
		"MaxConcurrentStreams+10 unfinished streams: at least 10 reset (REFUSED_STREAM or PROTOCOL_ERROR), at most 250 handlers, other clients served")
	g := newTarget(t)
	srv, st := serve(t, g.serve)
	addr := srv.Addr().String()
	h := dialH2(t, addr, h2Options{})
	// The server's SETTINGS are acknowledged first, so its limit is in force.
	require.True(t, h.waitFor(func(h *h2Conn) bool { return h.frames > 0 }), "no SETTINGS from the server")

	const streams = typhon.DefaultMaxConcurrentStreams + 10
	require.NoError(t, h.write(func(fr *http2.Framer) error {
		for i := range streams {
			if err := h.request(fr, uint32(2*i+1), "POST", "/upload", false); err != nil {
				return err
			}
		}
		return nil
	}))
	refused := h.waitFor(func(h *h2Conn) bool {
		n := 0
		for _, c := range h.rsts {
			n += c
		}
		return n >= 10
	})
	s.mustProbe(addr, "while the connection holds every stream it may")
	require.True(t, waitUntil(func() bool { return g.count("/upload") >= typhon.DefaultMaxConcurrentStreams }),
		"handlers started: %d", g.count("/upload"))

	s.set("attacks", streams)
	s.set("streams_reset", h.resets())
	s.set("handlers_started", g.count("/upload"))
	s.set("goaway", h.goAwayCode())
	s.set("count_error", st.countErrors())
	assert.True(t, refused, "fewer than 10 excess streams were reset: %d", h.resets())
	assert.LessOrEqual(t, g.count("/upload"), typhon.DefaultMaxConcurrentStreams)
	h.close() // the held handlers' bodies fail; they return
	s.mustProbe(addr, "after the attack")
}

// TestH2MalformedRequests sends requests that HTTP/2 forbids and that a
// proxy downgrading to HTTP/1.1 could turn into smuggling: each is refused
// (400, or the stream reset) before the Service sees it, or fails its body
// read, which typhon answers 400 whatever the Service did.
func TestH2MalformedRequests(t *testing.T) {
	s := newScenario(t, "h2/malformed-requests",
		"connection-specific headers, te other than trailers, transfer-encoding, content-length != DATA, CR/LF in values, uppercase names: 400 or stream reset, never 200; GET /smuggled never reaches the Service")
	g := newTarget(t)
	srv, _ := serve(t, g.serve)
	addr := srv.Addr().String()
	hf := func(name, value string) hpack.HeaderField { return hpack.HeaderField{Name: name, Value: value} }
	vectors := []struct {
		name  string
		extra []hpack.HeaderField
		data  string // sent after HEADERS when set
	}{
		{name: "connection-header", extra: []hpack.HeaderField{hf("connection", "keep-alive")}},
		{name: "te-gzip", extra: []hpack.HeaderField{hf("te", "gzip")}},
		{name: "transfer-encoding", extra: []hpack.HeaderField{hf("transfer-encoding", "chunked")}, data: "0\r\n\r\n" + smuggled},
		{name: "upgrade-header", extra: []hpack.HeaderField{hf("upgrade", "h2c")}},
		{name: "content-length-short", extra: []hpack.HeaderField{hf("content-length", "3")}, data: "abc" + smuggled},
		{name: "content-length-long", extra: []hpack.HeaderField{hf("content-length", "100")}, data: "abc"},
		{name: "crlf-in-value", extra: []hpack.HeaderField{hf("x-a", "a\r\n\r\n"+smuggled)}},
		{name: "uppercase-name", extra: []hpack.HeaderField{hf("X-Upper", "a")}},
	}
	var outcomes []string
	for _, v := range vectors {
		before := g.total()
		h := dialH2(t, addr, h2Options{})
		err := h.write(func(fr *http2.Framer) error {
			if err := h.request(fr, 1, "POST", "/", v.data == "", v.extra...); err != nil {
				return err
			}
			if v.data != "" {
				return fr.WriteData(1, true, []byte(v.data))
			}
			return nil
		})
		require.NoError(t, err, v.name)
		h.waitFor(func(h *h2Conn) bool { return h.status[1] != "" || len(h.rsts) > 0 || h.goAway != nil })
		out := h.statusOf(1)
		if out == "" && h.resets() > 0 {
			out = "RST"
		}
		if out == "" {
			out = "GOAWAY_" + h.goAwayCode()
		}
		h.close()
		out += fmt.Sprintf("(service_calls=%d)", g.total()-before)
		t.Logf("%-22s %s", v.name, out)
		outcomes = append(outcomes, v.name+":"+out)
		assert.NotEqual(t, "200", out, v.name)
	}
	s.set("attacks", len(vectors))
	s.set("outcomes", strings.Join(outcomes, ","))
	s.set("smuggled", g.count("/smuggled"))
	assert.Zero(t, g.count("/smuggled"))
	s.mustProbe(addr, "after the malformed requests")
}
