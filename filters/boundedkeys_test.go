package filters

import (
	"strconv"
	"testing"
)

func TestBoundedKeysEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	made := 0
	k := newBoundedKeys(3, func(key string) *string { made++; return &key })
	for _, key := range []string{"a", "b", "c", "a", "d"} { // d evicts b
		if got := *k.get(key); got != key {
			t.Fatalf("get(%q) = %q", key, got)
		}
	}
	if _, ok := k.peek("b"); ok {
		t.Error("b, used least recently, was kept")
	}
	for _, key := range []string{"a", "c", "d"} {
		if _, ok := k.peek(key); !ok {
			t.Errorf("%s was evicted", key)
		}
	}
	if made != 4 {
		t.Errorf("made %d entries, want 4", made)
	}
	for i := range 1000 { // a stream of unknown keys stays bounded
		k.get(strconv.Itoa(i))
		if k.len() > 3 {
			t.Fatalf("%d keys held, want at most 3", k.len())
		}
	}
}

func TestBoundedKeysHitAllocatesNothing(t *testing.T) {
	k := newBoundedKeys(DefaultBreakerMaxKeys, func(key string) int { return len(key) })
	k.get("backend:8080")
	k.get("other:8080")
	if n := testing.AllocsPerRun(100, func() {
		k.get("backend:8080")
		k.get("other:8080")
	}); n != 0 {
		t.Errorf("%v allocations per hit", n)
	}
}
