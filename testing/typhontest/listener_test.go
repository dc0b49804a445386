package typhontest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon/testing/typhontest"
)

// dial returns both ends of a new connection to l, closed (and l with
// them) at the end of the test.
func dial(t *testing.T, l *typhontest.Listener) (client, server net.Conn) {
	t.Helper()
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := l.DialContext(t.Context(), "tcp", "ignored:1")
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestListenerConnectsPairs(t *testing.T) {
	t.Parallel()
	l := typhontest.NewListener()
	defer l.Close()
	c1, s1 := dial(t, l)
	c2, _ := dial(t, l)

	assert.Equal(t, "memory", l.Addr().Network())
	assert.Equal(t, "192.0.2.1:80", l.Addr().String())
	assert.Equal(t, l.Addr(), c1.RemoteAddr())
	assert.Equal(t, l.Addr(), s1.LocalAddr())
	assert.Equal(t, c1.LocalAddr(), s1.RemoteAddr())
	assert.NotEqual(t, c1.LocalAddr(), c2.LocalAddr(), "each connection has its own client port")

	_, err := c1.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 8)
	n, err := s1.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf[:n]))
}

// TestPipeWritesDoNotWaitForReads is why the Listener does not use
// net.Pipe: both ends write before either reads, as TLS and HTTP/2
// handshakes do. With net.Pipe's synchronous writes this deadlocks.
func TestPipeWritesDoNotWaitForReads(t *testing.T) {
	t.Parallel()
	client, server := dial(t, typhontest.NewListener())
	msg := bytes.Repeat([]byte("x"), 256<<10)
	_, err := client.Write(msg)
	require.NoError(t, err)
	_, err = server.Write(msg)
	require.NoError(t, err)

	got := make([]byte, len(msg))
	_, err = io.ReadFull(server, got)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	_, err = io.ReadFull(client, got)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
}

// A write past the buffer waits for the peer to read, as on TCP.
func TestPipeWriteWaitsWhenFull(t *testing.T) {
	t.Parallel()
	client, server := dial(t, typhontest.NewListener())
	msg := bytes.Repeat([]byte("y"), 3<<20) // three times the buffer
	written := make(chan error, 1)
	go func() {
		_, err := client.Write(msg)
		written <- err
	}()
	got, err := io.ReadAll(io.LimitReader(server, int64(len(msg))))
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	require.NoError(t, <-written)
}

func TestPipeClose(t *testing.T) {
	t.Parallel()
	client, server := dial(t, typhontest.NewListener())
	_, err := client.Write([]byte("last words"))
	require.NoError(t, err)
	require.NoError(t, client.Close())
	require.NoError(t, client.Close(), "Close is idempotent")

	got, err := io.ReadAll(server)
	require.NoError(t, err, "the peer reads what was buffered, then EOF")
	assert.Equal(t, "last words", string(got))

	_, err = server.Write([]byte("anyone?"))
	assert.ErrorIs(t, err, syscall.EPIPE)
	_, err = client.Read(make([]byte, 1))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = client.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)
}

func TestPipeCloseWrite(t *testing.T) {
	t.Parallel()
	client, server := dial(t, typhontest.NewListener())
	_, err := client.Write([]byte("request"))
	require.NoError(t, err)
	require.NoError(t, client.(interface{ CloseWrite() error }).CloseWrite())

	got, err := io.ReadAll(server)
	require.NoError(t, err)
	assert.Equal(t, "request", string(got))

	_, err = server.Write([]byte("response"))
	require.NoError(t, err, "the half-closed end still reads")
	buf := make([]byte, 16)
	n, err := client.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "response", string(buf[:n]))
	_, err = client.Write([]byte("more"))
	assert.ErrorIs(t, err, syscall.EPIPE)
}

func TestPipeDeadlines(t *testing.T) {
	t.Parallel()
	client, server := dial(t, typhontest.NewListener())

	// A deadline in the past fails a read at once.
	require.NoError(t, server.SetReadDeadline(time.Unix(1, 0)))
	_, err := server.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())

	// Setting a deadline in the past wakes a read that is waiting, as
	// net/http does to abort a background read.
	require.NoError(t, server.SetReadDeadline(time.Time{}))
	readErr := make(chan error, 1)
	go func() {
		_, err := server.Read(make([]byte, 1))
		readErr <- err
	}()
	require.NoError(t, server.SetReadDeadline(time.Unix(1, 0)))
	require.ErrorIs(t, <-readErr, os.ErrDeadlineExceeded)

	// Write deadlines apply to a write waiting for room.
	require.NoError(t, client.SetWriteDeadline(time.Unix(1, 0)))
	_, err = client.Write([]byte("x"))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, client.SetDeadline(time.Time{}))
	_, err = client.Write([]byte("x"))
	require.NoError(t, err)
}

// A deadline in the future fires on its timer, in a synctest bubble's
// virtual time too.
func TestPipeDeadlineTimer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, server := dial(t, typhontest.NewListener())
		start := time.Now()
		require.NoError(t, server.SetReadDeadline(start.Add(5*time.Second)))
		_, err := server.Read(make([]byte, 1))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Equal(t, 5*time.Second, time.Since(start))
	})
}

func TestListenerClose(t *testing.T) {
	t.Parallel()
	l := typhontest.NewListener()
	accepted := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		accepted <- err
	}()
	require.NoError(t, l.Close())
	require.ErrorIs(t, <-accepted, net.ErrClosed)
	require.NoError(t, l.Close(), "Close is idempotent")

	_, err := l.DialContext(t.Context(), "tcp", "")
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "a typhon client calls this unavailable")
}

func TestListenerDialCanceled(t *testing.T) {
	t.Parallel()
	l := typhontest.NewListener()
	defer l.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := l.DialContext(ctx, "tcp", "") // nobody accepts
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}
