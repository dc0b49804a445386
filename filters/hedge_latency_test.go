package filters

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHedgeRank(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		p    float64
		want int
	}{
		{1, 95, 0},
		{20, 95, 18},
		{100, 95, 94},
		{1000, 95, 949},
		{100, 99, 98},
		{100, 50, 49},
		{10, 50, 4},
		{3, 0.1, 0},
		{3, 99.9, 2},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, hedgeRank(tt.n, tt.p), "n=%d p=%g", tt.n, tt.p)
	}
}

func TestHedgeLatencies(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	seq := func(from, to int) []time.Duration {
		var d []time.Duration
		for i := from; i <= to; i++ {
			d = append(d, time.Duration(i)*time.Millisecond)
		}
		return d
	}
	rev := func(d []time.Duration) []time.Duration { slices.Reverse(d); return d }
	tests := []struct {
		name    string
		window  int
		p       float64
		samples []time.Duration
		want    time.Duration // -1: not enough samples
	}{
		{"no samples", 100, 95, nil, -1},
		{"19 samples for p95", 100, 95, seq(1, 19), -1},
		{"20 samples for p95", 100, 95, seq(1, 20), 19 * time.Millisecond},
		{"reversed", 100, 95, rev(seq(1, 20)), 19 * time.Millisecond},
		{"equal", 100, 95, ms(5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5), 5 * time.Millisecond},
		{"one outlier", 100, 95, append(ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), time.Second), time.Millisecond},
		{"two outliers", 100, 95, append(ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), time.Second, time.Second), time.Second},
		{"the window forgets", 20, 95, append(seq(1000, 1019), seq(1, 20)...), 19 * time.Millisecond},
		{"p50 of 10", 100, 50, seq(1, 10), 5 * time.Millisecond},
		{"a window of 1", 1, 95, ms(3, 7), 7 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newHedgeLatencies(tt.window, tt.p)
			for _, d := range tt.samples {
				l.record(d)
			}
			d, ok := l.percentile()
			if tt.want < 0 {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, d)
		})
	}
}

// TestHedgeLatenciesRecomputed: with a large window the percentile is
// recomputed every sixteenth of it, so it follows a change in latency.
func TestHedgeLatenciesRecomputed(t *testing.T) {
	t.Parallel()
	l := newHedgeLatencies(1000, 95)
	for range 1000 {
		l.record(time.Millisecond)
	}
	d, _ := l.percentile()
	require.Equal(t, time.Millisecond, d)
	for range 1000 {
		l.record(time.Second)
	}
	d, _ = l.percentile()
	assert.Equal(t, time.Second, d)
}

func FuzzHedgeSelect(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(3))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint8(0))
	f.Add([]byte{9, 9, 9, 1, 1, 1, 5, 5, 5, 5, 5}, uint8(200))
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		var a []time.Duration
		for len(data) >= 2 {
			a = append(a, time.Duration(binary.LittleEndian.Uint16(data)))
			data = data[2:]
		}
		if len(a) == 0 {
			return
		}
		idx := int(k) % len(a)
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		got := hedgeSelect(slices.Clone(a), idx)
		if got != sorted[idx] {
			t.Fatalf("hedgeSelect(%v, %d) = %v, want %v", a, idx, got, sorted[idx])
		}
	})
}
