package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dialTimeout bounds the proxy's connection to its target.
const dialTimeout = 5 * time.Second

// Proxy forwards each TCP connection made to [Proxy.Addr] to its target,
// injecting the [Faults] set with [Proxy.SetFaults]. Make one with [New] or
// [NewT]; its methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup // the accept loop and every connection's goroutines

	cur atomic.Pointer[state]

	mu     sync.Mutex // guards SetFaults, links and closed
	links  map[*link]struct{}
	closed bool

	accepted atomic.Int64
	resets   atomic.Int64
}

// state is the faults in force, with a channel closed when they change.
type state struct {
	faults  Faults
	changed chan struct{}
}

// Stats counts what a [Proxy] has done.
type Stats struct {
	Accepted int64 // connections accepted from clients
	Open     int64 // connections open now
	Resets   int64 // connections the proxy reset: by ResetAfter, or passing a reset on
}

// New starts a proxy that listens on a free loopback port (127.0.0.1:0) and
// forwards every connection to target, a "host:port" address, with no
// faults. It connects to target for each connection it accepts, so target
// need not be listening yet. The caller calls [Proxy.Close].
func New(target string) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("faultproxy: bad target address %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{target: target, ln: ln, links: make(map[*link]struct{})}
	p.cur.Store(&state{changed: make(chan struct{})})
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// NewT is [New] for a test: it fails tb if the proxy cannot start, and
// closes the proxy when tb and its subtests end.
func NewT(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := New(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// Addr returns the address the proxy listens on, such as "127.0.0.1:40123":
// point the client at it ("http://" + p.Addr()).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetFaults replaces the faults in force, for the connections open now and
// for the ones to come. It takes effect at once: a proxy holding bytes for
// a latency, a bandwidth limit or a blackhole looks again.
func (p *Proxy) SetFaults(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.cur.Load()
	p.cur.Store(&state{faults: f.clean(), changed: make(chan struct{})})
	close(old.changed)
}

// Faults returns the faults in force.
func (p *Proxy) Faults() Faults { return p.cur.Load().faults }

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	open := int64(len(p.links))
	p.mu.Unlock()
	return Stats{Accepted: p.accepted.Load(), Open: open, Resets: p.resets.Load()}
}

// Close stops the proxy: it stops listening, closes every connection (both
// sides, without waiting for held bytes or a SlowClose) and returns once
// every goroutine of the proxy has ended. Calls after the first return nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range links {
		l.close(false)
	}
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("faultproxy: %w", err)
	}
	return nil
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A temporary failure (too many open files): wait a little,
			// unless the proxy is closing.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.accepted.Add(1)
		l := &link{p: p, client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go l.run()
	}
}

func (p *Proxy) remove(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// dial connects to the target, giving up when l ends.
func (p *Proxy) dial(l *link) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", p.target)
}
