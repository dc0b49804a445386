package filters

import (
	"container/list"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

func newRateLimitKeysForTest(max int) *rateLimitKeys {
	return &rateLimitKeys{r: 1, burst: 1, max: max, m: make(map[string]*list.Element)}
}

// TestRateLimitKeysBounded: however many keys come, at most max are kept,
// the least recently used going first.
func TestRateLimitKeysBounded(t *testing.T) {
	t.Parallel()
	k := newRateLimitKeysForTest(3)
	for i := range 1000 {
		k.limiter(strconv.Itoa(i))
		assert.LessOrEqual(t, k.len(), 3)
		assert.Len(t, k.m, k.len())
	}
	a := k.limiter("a")
	assert.Same(t, a, k.limiter("a"), "a known key keeps its limiter")
	k.limiter("b")
	k.limiter("c")
	assert.Same(t, a, k.limiter("a"))
	k.limiter("d") // forgets b, the least recently used
	k.limiter("e") // forgets c
	assert.Same(t, a, k.limiter("a"))
	for _, key := range []string{"b", "c"} {
		_, ok := k.m[key]
		assert.False(t, ok, key)
	}
	assert.NotSame(t, a, k.limiter("b"), "a forgotten key starts afresh")
}

// TestRateLimitKeysCopied: a key is kept as a copy, not as a view into the
// (maybe large) string it came from.
func TestRateLimitKeysCopied(t *testing.T) {
	t.Parallel()
	k := newRateLimitKeysForTest(3)
	big := strings.Repeat("x", 1<<10) + "key"
	view := big[len(big)-3:]
	k.limiter(view)
	for key := range k.m {
		assert.Equal(t, "key", key)
		assert.NotEqual(t, uintptr(unsafe.Pointer(unsafe.StringData(view))), uintptr(unsafe.Pointer(unsafe.StringData(key))))
	}
}
