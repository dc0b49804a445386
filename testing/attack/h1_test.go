package attack_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

// TestH1Slowloris: 50 connections dribble a request's headers a byte every
// 100 ms. ReadHeaderTimeout (typhon's default is 10 s; 500 ms here, to run
// fast) closes each, however steady the dribble; other clients are served
// meanwhile.
func TestH1Slowloris(t *testing.T) {
	s := newScenario(t, "h1/slowloris",
		"50 connections dribbling headers 1 byte/100 ms: each closed at ReadHeaderTimeout (500 ms here; default 10 s), Service never called, other clients served throughout")
	g := newTarget(t)
	srv, _ := serve(t, g.serve, typhon.WithHTTPServer(shortTimeouts))
	addr := srv.Addr().String()

	const conns = 50
	stop := make(chan struct{})
	during := s.probeWhile(addr, stop)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		worst time.Duration
	)
	for range conns {
		wg.Go(func() {
			d := trickle(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: "+strings.Repeat("s", 200), time.Now())
			mu.Lock()
			worst = max(worst, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(stop)
	assert.NoError(t, <-during, "a well-behaved client was not served during the attack")
	s.set("attacks", conns)
	s.set("closed_after", worst.Round(10*time.Millisecond))
	assert.Less(t, worst, 10*time.Second, "a dribbling connection was held too long")
	assert.Zero(t, g.total(), "the Service was called")
}

// TestH1SlowBody: headers announcing a 1 MB body, then a byte every
// 100 ms. With ReadTimeout set (1 s here) the body read fails and the
// server answers 400 rather than serve a truncated body; by default typhon
// sets no ReadTimeout (it would cut long uploads), so the upload lasts as
// long as the client keeps sending. Checked both ways over HTTP/1.1.
func TestH1SlowBody(t *testing.T) {
	for _, variant := range []string{"default", "read-timeout"} {
		t.Run(variant, func(t *testing.T) {
			s := newScenario(t, "h1/slow-body/"+variant,
				"1 MB body announced, then 1 byte/100 ms: default, upload runs while the client sends, other clients served; with ReadTimeout (1 s) answered 400 at about ReadTimeout, never 200")
			g := newTarget(t)
			var opts []typhon.ServerOption
			if variant == "read-timeout" {
				opts = append(opts, typhon.WithHTTPServer(func(s *http.Server) { s.ReadTimeout = time.Second }))
			}
			srv, _ := serve(t, g.serve, opts...)
			addr := srv.Addr().String()

			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(bound)))
			_, err = io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n")
			require.NoError(t, err)
			start := time.Now()
			got := make(chan *http.Response, 1)
			go func() {
				rsp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					rsp = nil
				}
				got <- rsp
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			sent := 0
			var rsp *http.Response
		dribble:
			for variant == "read-timeout" || sent < 20 {
				select {
				case rsp = <-got:
					break dribble
				case <-tick.C:
					if _, err := c.Write([]byte{'x'}); err != nil {
						rsp = <-got
						break dribble
					}
					sent++
				}
			}
			s.mustProbe(addr, "during a slow upload")
			s.set("attacks", 1)
			s.set("bytes_dribbled", sent)
			if variant == "default" {
				assert.Nil(t, rsp, "the slow upload was answered while the client was still sending")
				c.Close()
				rsp = <-got
				assert.Nil(t, rsp)
				s.set("status", "none_while_sending")
				return
			}
			require.NotNil(t, rsp, "no answer to the slow upload")
			rsp.Body.Close()
			s.set("status", rsp.StatusCode)
			s.set("answered_after", time.Since(start).Round(10*time.Millisecond))
			assert.Equal(t, http.StatusBadRequest, rsp.StatusCode)
		})
	}
}

// TestH1OversizedHeaders: a header block 8 KiB past MaxHeaderBytes (1 MiB
// by default) is answered 431 without calling the Service.
func TestH1OversizedHeaders(t *testing.T) {
	s := newScenario(t, "h1/oversized-headers",
		"MaxHeaderBytes + 8 KiB of headers (default 1 MiB): 431, Service never called, other clients served")
	g := newTarget(t)
	srv, _ := serve(t, g.serve)
	addr := srv.Addr().String()
	big := strings.Repeat("h", typhon.DefaultMaxHeaderBytes+8<<10)
	res := rawExchange(t, addr, "GET /big-headers HTTP/1.1\r\nHost: a\r\nX-Big: "+big+"\r\n\r\n")
	s.set("attacks", 1)
	s.set("status", res.statuses())
	assert.Equal(t, "431", res.statuses())
	assert.Zero(t, g.total(), "the Service was called")
	s.mustProbe(addr, "after the attack")
}

// TestOversizedBodies: with WithMaxBodyBytes(1 MiB), a 10 MiB body is
// answered 413, whether its length is declared (the Service is not called)
// or not (the Service's read fails, and typhon answers 413 whatever the
// Service did), over HTTP/1.1 and h2c; the next request is served.
func TestOversizedBodies(t *testing.T) {
	s := newScenario(t, "oversized-bodies",
		"10 MiB bodies over a 1 MiB WithMaxBodyBytes limit, declared and chunked, HTTP/1.1 and h2c: 413 every time, declared ones never reach the Service, follow-up request served")
	g := newTarget(t)
	srv, _ := serve(t, g.serve, typhon.WithMaxBodyBytes(1<<20))
	addr := srv.Addr().String()
	body := bytes.Repeat([]byte{'b'}, 10<<20)
	var statuses []string
	for _, h2c := range []bool{false, true} {
		for _, declared := range []bool{true, false} {
			tr := typhon.NewTransport()
			if h2c {
				var p http.Protocols
				p.SetUnencryptedHTTP2(true)
				tr.Protocols = &p
			}
			path := fmt.Sprintf("/upload-declared-%v", declared)
			var r io.Reader = bytes.NewReader(body)
			if !declared {
				r = io.MultiReader(r) // hides the length: chunked, or DATA without content-length
			}
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+path, r)
			require.NoError(t, err)
			rsp, err := tr.RoundTrip(req)
			require.NoError(t, err, "h2c=%v declared=%v", h2c, declared)
			_, _ = io.Copy(io.Discard, rsp.Body)
			rsp.Body.Close()
			cancel()
			tr.CloseIdleConnections()
			statuses = append(statuses, fmt.Sprint(rsp.StatusCode))
			assert.Equal(t, http.StatusRequestEntityTooLarge, rsp.StatusCode, "h2c=%v declared=%v", h2c, declared)
		}
	}
	s.set("attacks", len(statuses))
	s.set("statuses", strings.Join(statuses, ","))
	s.set("declared_reached_service", g.count("/upload-declared-true"))
	assert.Zero(t, g.count("/upload-declared-true"), "a declared oversized body reached the Service")
	s.mustProbe(addr, "after the oversized bodies")
}
