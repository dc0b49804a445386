package filters

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// hedgeLatencies keeps the latencies of the last calls in a ring and the
// p-th percentile of them, recomputed every so often so that reading it is
// one atomic load. It is safe for concurrent use.
type hedgeLatencies struct {
	p          float64 // percentile, in (0, 100)
	minSamples int     // fewer samples than this: no percentile yet
	cached     atomic.Int64

	mu      sync.Mutex
	ring    []time.Duration
	next    int // where the next sample goes once the ring is full
	since   int // samples recorded since the last computation
	scratch []time.Duration
}

func newHedgeLatencies(window int, p float64) *hedgeLatencies {
	l := &hedgeLatencies{
		p:          p,
		minSamples: min(window, max(10, int(math.Ceil(100/(100-p))))),
		ring:       make([]time.Duration, 0, window),
		scratch:    make([]time.Duration, window),
	}
	l.cached.Store(-1)
	return l
}

// percentile returns the cached percentile, and false until there are
// enough samples for it to mean something (20 for p95, 100 for p99).
func (l *hedgeLatencies) percentile() (time.Duration, bool) {
	d := l.cached.Load()
	return time.Duration(d), d >= 0
}

// record adds a sample. The percentile is recomputed once samples amounting
// to a sixteenth of the ring have come in, so its cost per sample stays
// constant whatever the window.
func (l *hedgeLatencies) record(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, d)
	} else {
		l.ring[l.next] = d
		l.next = (l.next + 1) % len(l.ring)
	}
	l.since++
	n := len(l.ring)
	if n < l.minSamples || l.since < max(1, n/16) {
		return
	}
	l.since = 0
	s := l.scratch[:n]
	copy(s, l.ring)
	l.cached.Store(int64(hedgeSelect(s, hedgeRank(n, l.p))))
}

// hedgeRank is the 0-based index of the p-th percentile of n sorted
// samples, by nearest rank: the smallest sample that p percent of the
// samples do not exceed.
func hedgeRank(n int, p float64) int {
	k := int(math.Ceil(p/100*float64(n))) - 1
	return min(max(k, 0), n-1)
}

// hedgeSelect returns the k-th smallest element of a (0-based), reordering
// a: quickselect with a random pivot and a three-way partition, so that
// runs of equal latencies cost no more than distinct ones. Each round
// leaves out at least the pivot, so it ends.
func hedgeSelect(a []time.Duration, k int) time.Duration {
	lo, hi := 0, len(a)-1
	for lo < hi {
		pivot := a[lo+rand.IntN(hi-lo+1)]
		lt, i, gt := lo, lo, hi // a[lo:lt] < pivot, a[lt:i] == pivot, a[gt+1:hi+1] > pivot
		for i <= gt {
			switch {
			case a[i] < pivot:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case a[i] > pivot:
				a[i], a[gt] = a[gt], a[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return a[k]
		}
	}
	return a[k]
}
