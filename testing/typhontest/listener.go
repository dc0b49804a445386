package typhontest

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// Listener is a [net.Listener] for in-memory connections: [Listener.DialContext]
// returns one end of a connected pair and hands the other to Accept. No port
// is opened; serve it with [typhon.Serve] (or any net/http server) and give
// DialContext to an [net/http.Transport]. [NewServer] does both.
//
// Each direction of a connection buffers up to 1 MiB, as a loopback TCP
// connection does, so a write does not wait for the peer's read (net.Pipe's
// synchronous writes can deadlock a TLS or HTTP/2 handshake); past that, a
// write waits for the peer to read. Connections support deadlines and
// CloseWrite.
//
// Create a Listener with [NewListener]. Its methods are safe for concurrent
// use.
type Listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	next  atomic.Uint32
	addr  memAddr
}

// NewListener returns a Listener that accepts the connections its
// DialContext makes. Its address is "192.0.2.1:80" on network "memory"; the
// client end of each connection has address "192.0.2.2:port" with a
// distinct port (192.0.2.0/24 is reserved for documentation, RFC 5737).
func NewListener() *Listener {
	return &Listener{
		conns: make(chan net.Conn),
		done:  make(chan struct{}),
		addr:  "192.0.2.1:80",
	}
}

// Accept waits for and returns the server end of the next connection made
// by DialContext. After Close, it returns an error wrapping net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: memNetwork, Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close stops the listener: Accept and DialContext fail from then on.
// Connections already made stay open. Close is idempotent.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the listener's address, "192.0.2.1:80" on network "memory".
func (l *Listener) Addr() net.Addr { return l.addr }

// DialContext connects to the listener, whatever network and address it is
// given, and returns the client end of the connection once Accept has taken
// the server end. It fails with an error wrapping syscall.ECONNREFUSED when
// the listener is closed (so a typhon client reports unavailable), and with
// ctx's error when ctx ends first. Its signature fits
// [net/http.Transport.DialContext].
func (l *Listener) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	select {
	case <-l.done:
		return nil, l.refused()
	default:
	}
	port := 49152 + int(l.next.Add(1)-1)%16384
	client, server := newPipe(memAddr("192.0.2.2:"+strconv.Itoa(port)), l.addr)
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, l.refused()
	case <-ctx.Done():
		return nil, &net.OpError{Op: "dial", Net: memNetwork, Addr: l.addr, Err: ctx.Err()}
	}
}

func (l *Listener) refused() error {
	return &net.OpError{Op: "dial", Net: memNetwork, Addr: l.addr, Err: syscall.ECONNREFUSED}
}

const memNetwork = "memory"

// memAddr is an in-memory address: "host:port" on network "memory".
type memAddr string

func (a memAddr) Network() string { return memNetwork }
func (a memAddr) String() string  { return string(a) }
