package typhontest

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// pipeBuffer is how much one direction of a pipe holds before a write waits
// for the peer to read: about what a loopback TCP connection buffers.
const pipeBuffer = 1 << 20

// pipe is a buffered, bidirectional in-memory connection. Unlike net.Pipe,
// a write returns once its bytes are buffered, so both ends may write at
// once (TLS and HTTP/2 handshakes do).
type pipe struct {
	mu   sync.Mutex
	wake chan struct{} // closed, then replaced, on every change of state
	// data[i] is what end i has to read; eof[i] is set once the other end
	// will write no more (closed or CloseWrite).
	data [2][]byte
	eof  [2]bool
	ends [2]pipeConn
}

// pipeConn is one end of a pipe: it reads data[i] and writes data[1-i].
type pipeConn struct {
	p             *pipe
	i             int
	closed        bool // guarded by p.mu, as are the deadlines
	rdl, wdl      time.Time
	local, remote net.Addr
}

// newPipe returns the two ends of a new pipe, with their local addresses.
func newPipe(a, b net.Addr) (net.Conn, net.Conn) {
	p := &pipe{wake: make(chan struct{})}
	p.ends[0] = pipeConn{p: p, i: 0, local: a, remote: b}
	p.ends[1] = pipeConn{p: p, i: 1, local: b, remote: a}
	return &p.ends[0], &p.ends[1]
}

// broadcast wakes every waiter; p.mu is held.
func (p *pipe) broadcast() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// wait releases p.mu until the state changes or deadline passes, then
// takes it again.
func (p *pipe) wait(deadline time.Time) {
	wake := p.wake
	p.mu.Unlock()
	defer p.mu.Lock()
	if deadline.IsZero() {
		<-wake
		return
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	}
}

func expired(deadline time.Time) bool {
	return !deadline.IsZero() && !time.Now().Before(deadline)
}

func (c *pipeConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: memNetwork, Source: c.local, Addr: c.remote, Err: err}
}

func (c *pipeConn) Read(b []byte) (int, error) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		switch {
		case c.closed:
			return 0, c.opError("read", net.ErrClosed)
		case len(p.data[c.i]) > 0:
			if len(b) == 0 {
				return 0, nil
			}
			n := copy(b, p.data[c.i])
			p.data[c.i] = p.data[c.i][n:]
			if len(p.data[c.i]) == 0 {
				p.data[c.i] = nil // let the buffer go
			}
			p.broadcast()
			return n, nil
		case p.eof[c.i]:
			return 0, io.EOF
		case expired(c.rdl):
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		case len(b) == 0:
			return 0, nil
		}
		p.wait(c.rdl)
	}
}

func (c *pipeConn) Write(b []byte) (int, error) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	peer := 1 - c.i
	n := 0
	for {
		switch {
		case c.closed:
			return n, c.opError("write", net.ErrClosed)
		case p.eof[peer]:
			// We closed our write side, or the peer closed the connection.
			return n, c.opError("write", syscall.EPIPE)
		case expired(c.wdl):
			return n, c.opError("write", os.ErrDeadlineExceeded)
		}
		if room := pipeBuffer - len(p.data[peer]); room > 0 {
			k := min(room, len(b)-n)
			p.data[peer] = append(p.data[peer], b[n:n+k]...)
			n += k
			p.broadcast()
		}
		if n == len(b) {
			return n, nil
		}
		p.wait(c.wdl)
	}
}

// Close closes this end: its reads and writes fail, the peer reads what is
// left and then io.EOF, and the peer's writes fail. It is idempotent.
func (c *pipeConn) Close() error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	p.data[c.i] = nil
	p.eof[c.i] = true   // nothing more will be read here: the peer's writes fail
	p.eof[1-c.i] = true // the peer reads EOF after what is buffered
	p.broadcast()
	return nil
}

// CloseWrite shuts down the writing side, as net.TCPConn's does: the peer
// reads io.EOF after what is buffered, and this end can still read.
func (c *pipeConn) CloseWrite() error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	p.eof[1-c.i] = true
	p.broadcast()
	return nil
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.local }
func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }

func (c *pipeConn) SetDeadline(t time.Time) error {
	return c.setDeadlines(&t, &t)
}

func (c *pipeConn) SetReadDeadline(t time.Time) error {
	return c.setDeadlines(&t, nil)
}

func (c *pipeConn) SetWriteDeadline(t time.Time) error {
	return c.setDeadlines(nil, &t)
}

func (c *pipeConn) setDeadlines(r, w *time.Time) error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.closed {
		return c.opError("set deadline", net.ErrClosed)
	}
	if r != nil {
		c.rdl = *r
	}
	if w != nil {
		c.wdl = *w
	}
	p.broadcast() // waiters look at the new deadline
	return nil
}
