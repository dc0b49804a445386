package attack_test

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/typhon-go/typhon"
)

// TestServerDefaults checks the defaults the attack tests rely on, as a
// server built with typhon.Listen(svc, "") has them; the tests below
// shorten the timeouts with WithHTTPServer to run fast.
func TestServerDefaults(t *testing.T) {
	s := newScenario(t, "defaults",
		"ReadHeaderTimeout in (0, 10 s], IdleTimeout > 0, MaxHeaderBytes <= 1 MiB, MaxConcurrentStreams in [100, 1000], MaxReadFrameSize 16 KiB")
	var got struct {
		ReadHeaderTimeout, IdleTimeout time.Duration
		MaxHeaderBytes                 int
		HTTP2                          http.HTTP2Config
	}
	serve(t, okService, typhon.WithHTTPServer(func(s *http.Server) {
		got.ReadHeaderTimeout, got.IdleTimeout, got.MaxHeaderBytes = s.ReadHeaderTimeout, s.IdleTimeout, s.MaxHeaderBytes
		got.HTTP2 = *s.HTTP2
	}))
	s.set("read_header_timeout", got.ReadHeaderTimeout)
	s.set("idle_timeout", got.IdleTimeout)
	s.set("max_header_bytes", got.MaxHeaderBytes)
	s.set("max_concurrent_streams", got.HTTP2.MaxConcurrentStreams)
	s.set("max_read_frame_size", got.HTTP2.MaxReadFrameSize)
	assert.Positive(t, got.ReadHeaderTimeout)
	assert.LessOrEqual(t, got.ReadHeaderTimeout, 10*time.Second)
	assert.Positive(t, got.IdleTimeout)
	assert.Positive(t, got.MaxHeaderBytes)
	assert.LessOrEqual(t, got.MaxHeaderBytes, 1<<20)
	assert.GreaterOrEqual(t, got.HTTP2.MaxConcurrentStreams, 100)
	assert.LessOrEqual(t, got.HTTP2.MaxConcurrentStreams, 1000)
	assert.Equal(t, 16<<10, got.HTTP2.MaxReadFrameSize)
}

func okService(req typhon.Request) typhon.Response { return req.Response("ok") }

// shortTimeouts makes the server's header and idle timeouts short, so that
// the hoarding tests run in seconds; the mechanism is the default one.
func shortTimeouts(s *http.Server) {
	s.ReadHeaderTimeout = 500 * time.Millisecond
	s.IdleTimeout = 500 * time.Millisecond
}

// TestH2IdleHoarding opens connections that hold a place without asking
// for anything: after the preface, with PINGs only (not activity for Go),
// with a header block never finished, and with the preface itself trickled
// a byte at a time. IdleTimeout closes the first three (GOAWAY, then the
// close 1 s later), ReadHeaderTimeout the last.
func TestH2IdleHoarding(t *testing.T) {
	s := newScenario(t, "h2/idle-hoarding",
		"20 connections each: preface only, PINGs only, unfinished HEADERS, trickled preface; with IdleTimeout = ReadHeaderTimeout = 500 ms all closed within IdleTimeout + 1 s goAwayTimeout (+ slack), other clients served")
	g := newTarget(t)
	srv, _ := serve(t, g.serve, typhon.WithHTTPServer(shortTimeouts))
	addr := srv.Addr().String()

	const perMode = 20
	modes := map[string]func(t *testing.T) time.Duration{
		"preface": func(t *testing.T) time.Duration {
			start := time.Now()
			h := dialH2(t, addr, h2Options{})
			h.waitClosed()
			return time.Since(start)
		},
		"pings": func(t *testing.T) time.Duration {
			start := time.Now()
			h := dialH2(t, addr, h2Options{})
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-h.done:
					return time.Since(start)
				case <-tick.C:
					_ = h.write(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{byte(i)}) })
				}
			}
		},
		"half-headers": func(t *testing.T) time.Duration {
			start := time.Now()
			h := dialH2(t, addr, h2Options{})
			_ = h.write(func(fr *http2.Framer) error {
				return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block("GET", "/half"), EndHeaders: false})
			})
			h.waitClosed()
			return time.Since(start)
		},
		"preface-trickle": func(t *testing.T) time.Duration {
			start := time.Now()
			return trickle(t, addr, http2.ClientPreface, start)
		},
	}
	var (
		mu    sync.Mutex
		worst = map[string]time.Duration{}
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	during := s.probeWhile(addr, stop)
	for name, f := range modes {
		for range perMode {
			wg.Go(func() {
				d := f(t)
				mu.Lock()
				worst[name] = max(worst[name], d)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	close(stop)
	assert.NoError(t, <-during, "a well-behaved client was not served while connections were hoarded")

	s.set("attacks", perMode*len(modes))
	for _, name := range []string{"preface", "pings", "half-headers", "preface-trickle"} {
		s.set("closed_after_"+name, worst[name].Round(10*time.Millisecond))
		assert.Less(t, worst[name], 10*time.Second, "%s: connections held too long", name)
	}
	assert.Zero(t, g.total(), "the Service was called")
}

// trickle writes msg one byte every 100 ms until the server closes the
// connection, and returns how long after start it did. The connection
// gives up after bound.
func trickle(t *testing.T, addr, msg string, start time.Time) time.Duration {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(bound))
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, c) // until EOF, a reset or the deadline
		closed <- time.Since(start)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i = (i + 1) % len(msg) {
		select {
		case d := <-closed:
			return d
		case <-tick.C:
			if _, err := c.Write([]byte{msg[i]}); err != nil {
				return <-closed
			}
		}
	}
}

// slowRead requests an endless response on a connection whose client
// reads nothing, and checks that the handler it holds is released: when the
// client goes (the default: typhon sets no WriteTimeout, which would cut
// every long response), or at the WriteTimeout the server sets.
func slowRead(t *testing.T, name, bar string, h2 bool) {
	for _, variant := range []string{"default", "write-timeout"} {
		t.Run(variant, func(t *testing.T) {
			s := newScenario(t, name+"/"+variant, bar)
			g := newTarget(t)
			var opts []typhon.ServerOption
			if variant == "write-timeout" {
				opts = append(opts, typhon.WithHTTPServer(func(s *http.Server) { s.WriteTimeout = time.Second }))
			}
			srv, _ := serve(t, g.serve, opts...)
			addr := srv.Addr().String()
			var leave func()
			if h2 {
				// A zero stream window: the server may not send a byte of body.
				h := dialH2(t, addr, h2Options{settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}}})
				require.NoError(t, h.write(func(fr *http2.Framer) error { return h.request(fr, 1, "GET", "/endless", true) }))
				leave = h.close
			} else {
				c, err := net.Dial("tcp", addr)
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
				_, err = io.WriteString(c, "GET /endless HTTP/1.1\r\nHost: a\r\n\r\n")
				require.NoError(t, err)
				leave = func() { c.Close() }
			}
			require.True(t, waitUntil(func() bool { return g.count("/endless") == 1 }), "the request never arrived")
			start := time.Now()
			s.mustProbe(addr, "while a handler is held by a reader that reads nothing")
			held := g.streaming.Load() == 1
			if variant == "default" {
				assert.True(t, held, "the response ended while its reader read nothing")
				leave()
			}
			ok := waitUntil(func() bool { return g.streaming.Load() == 0 })
			s.set("attacks", 1)
			s.set("held_during_probe", held)
			s.set("released_after", time.Since(start).Round(10*time.Millisecond))
			assert.True(t, ok, "the held response was not ended")
			s.mustProbe(addr, "after the slow reader")
		})
	}
}

// TestH2SlowRead: SETTINGS_INITIAL_WINDOW_SIZE 0, so no DATA may be sent.
func TestH2SlowRead(t *testing.T) {
	slowRead(t, "h2/slow-read-zero-window",
		"stream window 0 on an endless response: other clients served; the held handler is released when the client goes (default) or at WriteTimeout (1 s, when set)", true)
}

// TestH1SlowRead: a client that never reads: the socket buffers fill, then
// the server's writes block.
func TestH1SlowRead(t *testing.T) {
	slowRead(t, "h1/slow-read",
		"client never reads an endless response: other clients served; the held handler is released when the client goes (default) or at WriteTimeout (1 s, when set)", false)
}
