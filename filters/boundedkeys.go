package filters

import (
	"sync"
	"sync/atomic"
)

// boundedKeys maps keys to per-key state, holding at most max entries: a new
// key at capacity evicts the entry used least recently. Lookups of known
// keys take a read lock and allocate nothing. Recency is a logical clock
// (epoch) that ticks when an entry other than the most recent one is used,
// so the entry marked with the current epoch is the most recent one, and a
// run of calls to one key writes no shared memory.
type boundedKeys[V any] struct {
	mu    sync.RWMutex
	m     map[string]*boundedEntry[V]
	max   int
	epoch atomic.Uint64 // logical clock of uses
	mk    func(key string) V
}

type boundedEntry[V any] struct {
	v    V
	used atomic.Uint64 // epoch at the last use
}

func newBoundedKeys[V any](max int, mk func(key string) V) *boundedKeys[V] {
	return &boundedKeys[V]{m: make(map[string]*boundedEntry[V]), max: max, mk: mk}
}

// get returns the state for key, creating it when it is new.
func (b *boundedKeys[V]) get(key string) V {
	b.mu.RLock()
	e := b.m[key]
	b.mu.RUnlock()
	if e == nil {
		return b.insert(key)
	}
	if e.used.Load() != b.epoch.Load() {
		e.used.Store(b.epoch.Add(1)) // now the most recent
	}
	return e.v
}

// peek returns the state for key without creating it.
func (b *boundedKeys[V]) peek(key string) (V, bool) {
	b.mu.RLock()
	e := b.m[key]
	b.mu.RUnlock()
	if e == nil {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (b *boundedKeys[V]) insert(key string) V {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.m[key]; e != nil {
		return e.v
	}
	if len(b.m) >= b.max {
		b.evictLocked()
	}
	e := &boundedEntry[V]{v: b.mk(key)}
	e.used.Store(b.epoch.Add(1))
	b.m[key] = e
	return e.v
}

// evictLocked forgets the entry used least recently: O(max), paid only by a
// new key when the map is full.
func (b *boundedKeys[V]) evictLocked() {
	var oldest string
	first := true
	var mark uint64
	for k, e := range b.m {
		if u := e.used.Load(); first || u < mark {
			oldest, mark, first = k, u, false
		}
	}
	if !first {
		delete(b.m, oldest)
	}
}

// len returns the number of keys held.
func (b *boundedKeys[V]) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
