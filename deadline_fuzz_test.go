package typhon

import (
	"math"
	"math/big"
	"net/http"
	"testing"
	"time"
)

// FuzzInboundTimeout checks the deadline headers' parsers against a
// reference in arbitrary precision: they never panic, a budget is in
// [0, limit], and it is the minimum of the well-formed headers, capped.
func FuzzInboundTimeout(f *testing.F) {
	for _, c := range deadlineMillisCases {
		f.Add(c.in, "", "", int64(c.limit))
	}
	for _, c := range deadlineGRPCCases {
		f.Add("", "", c.in, int64(c.limit))
	}
	f.Add("1500", "250", "1S", int64(time.Minute))
	f.Fuzz(func(t *testing.T, typhonMs, connectMs, grpc string, limitNs int64) {
		limit := time.Duration(limitNs)
		if limit <= 0 {
			limit = maxInboundTimeout
		}
		h := http.Header{}
		for k, v := range map[string]string{TimeoutHeader: typhonMs, "Connect-Timeout-Ms": connectMs, "Grpc-Timeout": grpc} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		got, ok := inboundTimeout(h, limit)
		if got < 0 || got > limit {
			t.Fatalf("inboundTimeout = %v, outside [0, %v]", got, limit)
		}
		want, wantOK := new(big.Int).SetInt64(int64(limit)), false
		for _, ref := range []*big.Int{
			deadlineRefMillis(typhonMs), deadlineRefMillis(connectMs), deadlineRefGRPC(grpc),
		} {
			if ref != nil {
				wantOK = true
				if ref.Cmp(want) < 0 {
					want = ref
				}
			}
		}
		if ok != wantOK || int64(got) != want.Int64() {
			t.Fatalf("inboundTimeout(%q, %q, %q, %v) = %v, %v; want %v, %v", typhonMs, connectMs, grpc, limit, got, ok, want, wantOK)
		}
	})
}

// deadlineRefMillis is the reference parser of a milliseconds header: the
// budget in nanoseconds, or nil when malformed.
func deadlineRefMillis(s string) *big.Int {
	return deadlineRefDigits(s, 10, time.Millisecond)
}

func deadlineRefGRPC(s string) *big.Int {
	if s == "" {
		return nil
	}
	units := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second, 'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond}
	unit, ok := units[s[len(s)-1]]
	if !ok {
		return nil
	}
	return deadlineRefDigits(s[:len(s)-1], 8, unit)
}

func deadlineRefDigits(s string, maxLen int, unit time.Duration) *big.Int {
	if s == "" || len(s) > maxLen {
		return nil
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return nil
		}
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil
	}
	return n.Mul(n, big.NewInt(int64(unit)))
}

// FuzzParseGRPCTimeout checks that no Grpc-Timeout value, whatever the
// limit, panics or leaves [0, limit].
func FuzzParseGRPCTimeout(f *testing.F) {
	for _, c := range deadlineGRPCCases {
		f.Add(c.in, int64(c.limit))
	}
	f.Fuzz(func(t *testing.T, s string, limitNs int64) {
		limit := time.Duration(limitNs)
		if limit <= 0 {
			limit = time.Duration(math.MaxInt64)
		}
		got, ok := parseGRPCTimeout(s, limit)
		if got < 0 || got > limit || (!ok && got != 0) {
			t.Fatalf("parseGRPCTimeout(%q, %v) = %v, %v", s, limit, got, ok)
		}
	})
}
