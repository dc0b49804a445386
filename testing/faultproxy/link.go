package faultproxy

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	chunkSize  = 32 << 10 // the most one read takes
	chunkQueue = 8        // reads a direction may hold for its writer
)

// link is one proxied connection: the client's side and the server's side.
// Each direction has a reader, which reads and queues, and a writer, which
// applies the faults and forwards.
type link struct {
	p      *Proxy
	client net.Conn
	done   chan struct{} // closed when the link is closed

	mu     sync.Mutex
	server net.Conn // nil until dialed
	closed bool

	once     sync.Once
	finished atomic.Int32 // directions whose close has been passed on
}

// chunk is what one read returned, and when.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe is one direction of a link.
type pipe struct {
	l        *link
	upstream bool
	src, dst net.Conn
	ch       chan chunk // closed by the reader at EOF
}

func (l *link) run() {
	p := l.p
	defer p.wg.Done()
	// While blackholed, nothing reaches the server, not even a connection.
	if !l.whileBlackholed() {
		return
	}
	server, err := p.dial(l)
	if err != nil {
		l.close(false)
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		server.Close()
		return
	}
	l.server = server
	l.mu.Unlock()

	up := &pipe{l: l, upstream: true, src: l.client, dst: server, ch: make(chan chunk, chunkQueue)}
	down := &pipe{l: l, upstream: false, src: server, dst: l.client, ch: make(chan chunk, chunkQueue)}
	p.wg.Add(4)
	go up.read()
	go up.write()
	go down.read()
	go down.write()
}

// close closes both sides of the link once; rst resets them instead.
func (l *link) close(rst bool) {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		conns := [2]net.Conn{l.client, l.server}
		l.mu.Unlock()
		if rst {
			l.p.resets.Add(1) // counted before anyone can see the reset
		}
		for _, c := range conns {
			if c == nil {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok && rst {
				_ = tc.SetLinger(0) // Close sends an RST, not a FIN
			}
			c.Close()
		}
		close(l.done)
		l.p.remove(l)
	})
}

// wait blocks until the faults change, the time until passes (if set), or
// the link ends; it returns false in the last case.
func (l *link) wait(changed <-chan struct{}, until time.Time) bool {
	var timeout <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-changed:
	case <-timeout:
	case <-l.done:
		return false
	}
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

// whileBlackholed waits for the proxy not to be blackholed; false if the
// link ended first.
func (l *link) whileBlackholed() bool {
	for {
		s := l.p.cur.Load()
		if !s.faults.Blackhole {
			return true
		}
		if !l.wait(s.changed, time.Time{}) {
			return false
		}
	}
}

// read reads src and queues what it reads for the writer, until EOF, an
// error, or the end of the link. It reads nothing while blackholed.
func (pp *pipe) read() {
	defer pp.l.p.wg.Done()
	for {
		if !pp.l.whileBlackholed() {
			return
		}
		buf := make([]byte, chunkSize)
		n, err := pp.src.Read(buf)
		if n > 0 {
			select {
			case pp.ch <- chunk{b: buf[:n], at: time.Now()}:
			case <-pp.l.done:
				return
			}
		}
		if err == io.EOF {
			close(pp.ch)
			return
		}
		if err != nil {
			// A reset, or the link closing: pass a reset on.
			pp.l.close(true)
			return
		}
	}
}

// write forwards what the reader queued to dst, applying the faults, and
// passes on the close when the reader saw EOF.
func (pp *pipe) write() {
	defer pp.l.p.wg.Done()
	var (
		sent int64     // bytes forwarded
		next time.Time // bandwidth limit: the time the next byte may go
	)
	for {
		var c chunk
		var ok bool
		select {
		case c, ok = <-pp.ch:
		case <-pp.l.done:
			return
		}
		if !ok {
			pp.finish()
			return
		}
		for len(c.b) > 0 {
			s := pp.l.p.cur.Load()
			f := s.faults.flow(pp.upstream)
			now := time.Now()
			if held, until := heldUntil(&s.faults, f, c, now, next); held {
				if !pp.l.wait(s.changed, until) {
					return
				}
				continue
			}
			n := len(c.b)
			if f.ResetAfter > 0 {
				if sent >= f.ResetAfter {
					pp.l.close(true)
					return
				}
				n = int(min(int64(n), f.ResetAfter-sent))
			}
			if f.BytesPerSecond > 0 {
				// Small pieces, so that the rate holds over short spans too.
				n = int(min(int64(n), max(f.BytesPerSecond/20, 1)))
				next = later(next, now).Add(time.Duration(int64(n) * int64(time.Second) / f.BytesPerSecond))
			}
			if _, err := pp.dst.Write(c.b[:n]); err != nil {
				pp.l.close(true)
				return
			}
			sent += int64(n)
			c.b = c.b[n:]
			if f.ResetAfter > 0 && sent >= f.ResetAfter {
				pp.l.close(true)
				return
			}
		}
	}
}

// heldUntil reports whether the faults hold c back at now, and until when:
// the zero time means until they change. next is when the bandwidth limit
// lets the next byte go.
func heldUntil(fs *Faults, f *Flow, c chunk, now, next time.Time) (bool, time.Time) {
	switch {
	case fs.Blackhole:
		return true, time.Time{}
	case f.Latency > 0 && now.Before(c.at.Add(f.Latency)):
		return true, c.at.Add(f.Latency)
	case f.BytesPerSecond > 0 && now.Before(next):
		return true, next
	}
	return false, time.Time{}
}

// finish passes on the close of src to dst, SlowClose later, and closes the
// link once both directions are done.
func (pp *pipe) finish() {
	if d := pp.l.p.cur.Load().faults.SlowClose; d > 0 {
		if !pp.l.wait(nil, time.Now().Add(d)) {
			return
		}
	}
	if !pp.l.whileBlackholed() {
		return
	}
	if tc, ok := pp.dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	if pp.l.finished.Add(1) == 2 {
		pp.l.close(false)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
