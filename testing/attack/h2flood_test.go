package attack_test

import (
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"golang.org/x/net/http2"
)

// floodAttack writes control frames that each ask for an answer (a PING
// ACK, a SETTINGS ACK) on a connection whose client never reads, with a
// 4 KiB receive buffer: the answers pile up in the server, which stops at
// its bound on queued control frames (10,000) and drops the connection
// (CVE-2019-9512), or coalesces them so that nothing piles up (SETTINGS
// ACKs, CVE-2019-9515). At most 2,000,000 frames, for at most floodFor. The
// server's heap may not grow by more than 64 MiB meanwhile.
func floodAttack(t *testing.T, name, bar string, mustDrop bool, floodFor time.Duration, frame func(fr *http2.Framer, i int) error) {
	s := newScenario(t, name, bar)
	g := newTarget(t)
	srv, st := serve(t, g.serve)
	addr := srv.Addr().String()
	h := dialH2(t, addr, h2Options{silent: true})

	stop := make(chan struct{})
	during := s.probeWhile(addr, stop)
	growth := heapGrowth(stop)
	const most, batch = 2_000_000, 1000
	_ = h.c.SetWriteDeadline(time.Now().Add(floodFor))
	sent := 0
	var err error
	for sent < most && err == nil {
		err = h.write(func(fr *http2.Framer) error {
			for range batch {
				if err := frame(fr, sent); err != nil {
					return err
				}
				sent++
			}
			return nil
		})
	}
	close(stop)
	probeErr := <-during
	grown := <-growth

	var ne net.Error
	timedOut := errors.As(err, &ne) && ne.Timeout()
	dropped := err != nil && !timedOut
	s.set("attacks", sent)
	s.set("conn_dropped", dropped)
	s.set("write_stalled", timedOut)
	s.set("heap_growth_mib", grown>>20)
	s.set("count_error", st.countErrors())
	assert.NoError(t, probeErr, "a well-behaved client was not served during the flood")
	assert.Less(t, grown, uint64(64<<20), "the server's heap grew by %d MiB", grown>>20)
	if mustDrop {
		assert.True(t, dropped, "the server did not drop the connection after %d frames: %v", sent, err)
	}
	s.mustProbe(addr, "after the flood")
}

// TestH2PingFlood: PINGs from a client that never reads the ACKs. Each PING
// queues an ACK; the server drops the connection at 10,000 queued.
func TestH2PingFlood(t *testing.T) {
	floodAttack(t, "h2/ping-flood",
		"up to 2,000,000 PINGs, ACKs never read: connection dropped at the control-frame queue bound (10,000), heap growth < 64 MiB, other clients served throughout",
		true, 15*time.Second, func(fr *http2.Framer, i int) error { return fr.WritePing(false, [8]byte{byte(i), byte(i >> 8)}) })
}

// TestH2SettingsFlood: SETTINGS frames from a client that never reads the
// ACKs. net/http keeps one pending SETTINGS ACK at most, whatever the number
// of SETTINGS frames, so nothing piles up and the connection need not be
// dropped: the flood ends when the client's own writes stall (TCP flow
// control) or its frames run out.
func TestH2SettingsFlood(t *testing.T) {
	floodAttack(t, "h2/settings-flood",
		"up to 2,000,000 SETTINGS, ACKs never read: ACKs coalesced (nothing queues), heap growth < 64 MiB, other clients served throughout",
		false, 5*time.Second, func(fr *http2.Framer, i int) error {
			return fr.WriteSettings()
		})
}

// heapGrowth samples the heap every 50 ms until stop is closed, then tells
// how far it rose above where it started.
func heapGrowth(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start, peak := ms.HeapInuse, ms.HeapInuse
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				out <- peak - start
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	return out
}
