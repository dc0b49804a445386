package faultproxy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon/testing/faultproxy"
)

// safety bounds every wait of these tests that should end much sooner.
const safety = 10 * time.Second

// tcpServer is a raw TCP server on loopback, stopped at the end of the test.
type tcpServer struct {
	addr     string
	accepted atomic.Int32
}

// serveTCP serves handle on a loopback port until the end of the test,
// when it closes the listener and every connection and waits for handle.
func serveTCP(t *testing.T, handle func(c net.Conn)) *tcpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &tcpServer{addr: ln.Addr().String()}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// echo writes back what it reads until EOF, then closes.
func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// dial connects to addr, with the connection closed at the end of the test
// and every read and write bounded by safety.
func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(safety)))
	return c.(*net.TCPConn)
}

// roundTrip writes msg to c and reads as many bytes back.
func roundTrip(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	return string(buf)
}

func TestNewBadTarget(t *testing.T) {
	t.Parallel()
	p, err := faultproxy.New("no-port")
	require.Error(t, err)
	assert.Nil(t, p)
	assert.True(t, strings.HasPrefix(err.Error(), "faultproxy: "), err.Error())
}

func TestForward(t *testing.T) {
	t.Parallel()
	srv := serveTCP(t, echo)
	p := faultproxy.NewT(t, srv.addr)
	assert.Equal(t, faultproxy.Faults{}, p.Faults())

	c := dial(t, p.Addr())
	assert.Equal(t, "hello", roundTrip(t, c, "hello"))
	assert.Equal(t, "again", roundTrip(t, c, "again"))
	st := p.Stats()
	assert.Equal(t, int64(1), st.Accepted)
	assert.Equal(t, int64(1), st.Open)
	assert.Zero(t, st.Resets)

	// A half-close goes through: the echo server sees EOF and closes, and
	// so the client sees EOF.
	require.NoError(t, c.CloseWrite())
	rest, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Empty(t, rest)
	assert.Equal(t, int32(1), srv.accepted.Load())
}

func TestLatency(t *testing.T) {
	t.Parallel()
	const d = 150 * time.Millisecond
	for _, tc := range []struct {
		name   string
		faults faultproxy.Faults
		want   time.Duration
	}{
		{"upstream", faultproxy.Faults{Upstream: faultproxy.Flow{Latency: d}}, d},
		{"downstream", faultproxy.Faults{Downstream: faultproxy.Flow{Latency: d}}, d},
		{"both", faultproxy.Faults{Upstream: faultproxy.Flow{Latency: d}, Downstream: faultproxy.Flow{Latency: d}}, 2 * d},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := faultproxy.NewT(t, serveTCP(t, echo).addr)
			c := dial(t, p.Addr())
			require.Equal(t, "warm", roundTrip(t, c, "warm")) // connected to the server

			p.SetFaults(tc.faults)
			start := time.Now()
			require.Equal(t, "ping", roundTrip(t, c, "ping"))
			elapsed := time.Since(start)
			assert.GreaterOrEqual(t, elapsed, tc.want)
			assert.Less(t, elapsed, tc.want+2*time.Second)
		})
	}
}

// TestLatencyPerRead checks that latency delays bytes without slowing
// them: many reads in flight take one latency, not one each.
func TestLatencyPerRead(t *testing.T) {
	t.Parallel()
	const d = 200 * time.Millisecond
	p := faultproxy.NewT(t, serveTCP(t, echo).addr)
	p.SetFaults(faultproxy.Faults{Downstream: faultproxy.Flow{Latency: d}})
	c := dial(t, p.Addr())

	start := time.Now()
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 10 && err == nil; i++ {
			_, err = c.Write(bytes.Repeat([]byte{'x'}, 1000))
		}
		done <- err
	}()
	_, err := io.ReadFull(c, make([]byte, 10*1000))
	require.NoError(t, err)
	require.NoError(t, <-done)
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, d)
	assert.Less(t, elapsed, 5*d, "latency added per read, not once")
}

func TestLatencyLifted(t *testing.T) {
	t.Parallel()
	p := faultproxy.NewT(t, serveTCP(t, echo).addr)
	p.SetFaults(faultproxy.Faults{Upstream: faultproxy.Flow{Latency: time.Hour}})
	c := dial(t, p.Addr())
	_, err := c.Write([]byte("held"))
	require.NoError(t, err)

	p.SetFaults(faultproxy.Faults{}) // the bytes held go at once
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "held", string(buf))
}

func TestBandwidth(t *testing.T) {
	t.Parallel()
	const (
		size = 64 << 10
		rate = 128 << 10 // bytes per second: size takes half a second
		min  = 400 * time.Millisecond
	)
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)

	t.Run("downstream", func(t *testing.T) {
		t.Parallel()
		srv := serveTCP(t, func(c net.Conn) { _, _ = c.Write(payload) })
		p := faultproxy.NewT(t, srv.addr)
		p.SetFaults(faultproxy.Faults{Downstream: faultproxy.Flow{BytesPerSecond: rate}})
		start := time.Now()
		got, err := io.ReadAll(dial(t, p.Addr()))
		elapsed := time.Since(start)
		require.NoError(t, err)
		assert.Equal(t, payload, got)
		assert.GreaterOrEqual(t, elapsed, min)
		assert.Less(t, elapsed, min+3*time.Second)
	})
	t.Run("upstream", func(t *testing.T) {
		t.Parallel()
		// The server reads everything, then answers with the length.
		srv := serveTCP(t, func(c net.Conn) {
			n, _ := io.Copy(io.Discard, c)
			_, _ = c.Write([]byte(strconv.FormatInt(n, 10)))
		})
		p := faultproxy.NewT(t, srv.addr)
		p.SetFaults(faultproxy.Faults{Upstream: faultproxy.Flow{BytesPerSecond: rate}})
		c := dial(t, p.Addr())
		start := time.Now()
		_, err := c.Write(payload)
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())
		got, err := io.ReadAll(c)
		elapsed := time.Since(start)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(size), string(got))
		assert.GreaterOrEqual(t, elapsed, min)
		assert.Less(t, elapsed, min+3*time.Second)
	})
}

func TestResetAfter(t *testing.T) {
	t.Parallel()
	const (
		limit = 10_000
		size  = 1 << 20
	)
	payload := bytes.Repeat([]byte{'z'}, size)

	t.Run("downstream", func(t *testing.T) {
		t.Parallel()
		serverErr := make(chan error, 1)
		srv := serveTCP(t, func(c net.Conn) {
			// Wait for the client's request, so that it has connected
			// before the reset.
			_, err := c.Read(make([]byte, 1))
			for i := 0; i < 64 && err == nil; i++ { // at most 64 MiB
				_, err = c.Write(payload)
			}
			serverErr <- err
		})
		p := faultproxy.NewT(t, srv.addr)
		p.SetFaults(faultproxy.Faults{Downstream: faultproxy.Flow{ResetAfter: limit}})

		c := dial(t, p.Addr())
		_, err := c.Write([]byte("?"))
		require.NoError(t, err)
		got, err := io.ReadAll(c)
		require.Error(t, err)
		assert.True(t, errors.Is(err, syscall.ECONNRESET), "want a reset, got %v", err)
		assert.LessOrEqual(t, len(got), limit)
		select {
		case err := <-serverErr:
			assert.Error(t, err, "the server's side is reset too")
		case <-time.After(safety):
			t.Fatal("the server kept writing")
		}
		assert.Equal(t, int64(1), p.Stats().Resets)
	})
	t.Run("upstream", func(t *testing.T) {
		t.Parallel()
		type result struct {
			n   int64
			err error
		}
		read := make(chan result, 1)
		srv := serveTCP(t, func(c net.Conn) {
			n, err := io.Copy(io.Discard, c)
			read <- result{n, err}
		})
		p := faultproxy.NewT(t, srv.addr)
		p.SetFaults(faultproxy.Faults{Upstream: faultproxy.Flow{ResetAfter: limit}})

		c := dial(t, p.Addr())
		_, _ = c.Write(payload) // may fail: the proxy resets the client's side too
		var r result
		select {
		case r = <-read:
		case <-time.After(safety):
			t.Fatal("the server did not see the reset")
		}
		assert.True(t, errors.Is(r.err, syscall.ECONNRESET), "want a reset, got %v", r.err)
		assert.LessOrEqual(t, r.n, int64(limit))
		_, err := io.ReadAll(c)
		assert.True(t, errors.Is(err, syscall.ECONNRESET), "want a reset, got %v", err)
	})
}

func TestBlackhole(t *testing.T) {
	t.Parallel()
	srv := serveTCP(t, echo)
	p := faultproxy.NewT(t, srv.addr)
	c := dial(t, p.Addr())
	require.Equal(t, "before", roundTrip(t, c, "before"))

	p.SetFaults(faultproxy.Faults{Blackhole: true})
	_, err := c.Write([]byte("during"))
	require.NoError(t, err, "the connection stays open")
	// A new connection is accepted by the proxy, but not passed on.
	c2 := dial(t, p.Addr())
	_, err = c2.Write([]byte("second"))
	require.NoError(t, err)

	// Nothing comes back while blackholed (a bounded look, not a sleep).
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Equal(t, int32(1), srv.accepted.Load(), "the server saw no new connection")
	assert.Equal(t, int64(2), p.Stats().Accepted)

	// Lifted, the held bytes go through, in order.
	p.SetFaults(faultproxy.Faults{})
	require.NoError(t, c.SetReadDeadline(time.Now().Add(safety)))
	buf := make([]byte, len("during"))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "during", string(buf))
	_, err = io.ReadFull(c2, buf)
	require.NoError(t, err)
	assert.Equal(t, "second", string(buf))
	assert.Equal(t, "after", roundTrip(t, c, "after"))
	assert.Equal(t, int32(2), srv.accepted.Load())
}

func TestSlowClose(t *testing.T) {
	t.Parallel()
	const d = 300 * time.Millisecond
	srv := serveTCP(t, func(c net.Conn) { _, _ = c.Write([]byte("bye")) }) // then closes
	p := faultproxy.NewT(t, srv.addr)
	p.SetFaults(faultproxy.Faults{SlowClose: d})

	start := time.Now()
	c := dial(t, p.Addr())
	buf := make([]byte, 3)
	_, err := io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "bye", string(buf))
	_, err = c.Read(buf)
	assert.Equal(t, io.EOF, err)
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, d, "the close came late")
	assert.Less(t, elapsed, d+3*time.Second)
}

func TestClose(t *testing.T) {
	t.Parallel()
	srv := serveTCP(t, echo)
	p, err := faultproxy.New(srv.addr)
	require.NoError(t, err)
	c := dial(t, p.Addr())
	require.Equal(t, "hi", roundTrip(t, c, "hi"))
	// A held connection and a blackholed one end too.
	p.SetFaults(faultproxy.Faults{Blackhole: true, Upstream: faultproxy.Flow{Latency: time.Hour}})
	c2 := dial(t, p.Addr())
	_, err = c2.Write([]byte("held"))
	require.NoError(t, err)

	require.NoError(t, p.Close())
	for _, c := range []net.Conn{c, c2} {
		_, err = c.Read(make([]byte, 1))
		assert.Error(t, err)
		assert.NotErrorIs(t, err, os.ErrDeadlineExceeded, "closed, not hanging")
	}
	assert.Zero(t, p.Stats().Open)
	assert.NoError(t, p.Close(), "a second Close")
	_, err = net.Dial("tcp", p.Addr())
	assert.Error(t, err, "no longer listening")
}

func TestNewTClosesAtCleanup(t *testing.T) {
	t.Parallel()
	srv := serveTCP(t, echo)
	var addr string
	t.Run("inner", func(t *testing.T) {
		p := faultproxy.NewT(t, srv.addr)
		addr = p.Addr()
		require.Equal(t, "x", roundTrip(t, dial(t, addr), "x"))
	})
	_, err := net.Dial("tcp", addr)
	assert.Error(t, err)
}

func TestTargetDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	p := faultproxy.NewT(t, addr)
	_, err = dial(t, p.Addr()).Read(make([]byte, 1))
	assert.Equal(t, io.EOF, err, "the proxy hangs up when it cannot reach the target")
}

// TestSetFaultsConcurrently switches faults while traffic flows, for the
// race detector.
func TestSetFaultsConcurrently(t *testing.T) {
	t.Parallel()
	p := faultproxy.NewT(t, serveTCP(t, echo).addr)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		c := dial(t, p.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := c.Write([]byte("abc")); err != nil {
					t.Error(err)
					return
				}
				if _, err := io.ReadFull(c, make([]byte, 3)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	flows := []faultproxy.Flow{{}, {Latency: time.Millisecond}, {BytesPerSecond: 1 << 20}}
	for i := 0; i < 50; i++ {
		f := flows[i%len(flows)]
		p.SetFaults(faultproxy.Faults{Upstream: f, Downstream: f, Blackhole: i%7 == 3})
		_ = p.Faults()
		_ = p.Stats()
	}
	p.SetFaults(faultproxy.Faults{})
	wg.Wait()
}
