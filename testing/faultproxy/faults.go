package faultproxy

import "time"

// Faults is the set of faults a [Proxy] injects. The zero value injects
// none: the proxy forwards bytes as they come. Upstream is the direction from
// the client to the server, Downstream from the server to the client; give
// both the same [Flow] for a fault in both directions. Negative durations
// and sizes count as zero.
type Faults struct {
	// Upstream is what happens to bytes from the client to the server.
	Upstream Flow
	// Downstream is what happens to bytes from the server to the client.
	Downstream Flow

	// Blackhole stops the proxy: it forwards nothing more, reads nothing
	// more (after the read in progress on each connection), and keeps every
	// connection open, as a network that silently drops packets would. New
	// connections are accepted but not passed on to the server. Bytes held
	// are forwarded, in order, once Blackhole is off again.
	Blackhole bool

	// SlowClose delays passing on a close: when one side closes its
	// connection (or half of it), the other side learns of it SlowClose
	// later. Resets are passed on at once.
	SlowClose time.Duration
}

// Flow is what happens to the bytes going one way through a [Proxy]. The
// zero value forwards them at once, at full speed.
type Flow struct {
	// Latency delays every byte by this much: each read is forwarded no
	// sooner than Latency after the proxy read it. It delays, it does not
	// slow: the throughput is unchanged. A change applies to the bytes not
	// yet forwarded.
	Latency time.Duration

	// BytesPerSecond limits the throughput of each connection to this many
	// bytes per second; 0 means no limit.
	BytesPerSecond int64

	// ResetAfter resets a connection once it has forwarded this many bytes
	// this way, counted from the connection's start: the proxy closes both
	// of its sides with an RST (SO_LINGER 0), so the client and the server
	// see "connection reset by peer". The receiver gets at most ResetAfter
	// bytes: the reset discards what the kernel has not yet sent. A
	// connection that has already forwarded that many when the fault is set
	// is reset when it next has bytes to forward. 0 means never.
	ResetAfter int64
}

// clean returns f with negative values set to zero.
func (f Faults) clean() Faults {
	f.Upstream, f.Downstream = f.Upstream.clean(), f.Downstream.clean()
	f.SlowClose = max(f.SlowClose, 0)
	return f
}

func (f Flow) clean() Flow {
	f.Latency = max(f.Latency, 0)
	f.BytesPerSecond = max(f.BytesPerSecond, 0)
	f.ResetAfter = max(f.ResetAfter, 0)
	return f
}

func (f *Faults) flow(upstream bool) *Flow {
	if upstream {
		return &f.Upstream
	}
	return &f.Downstream
}
