package typhon

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// deadlineMillisCases and deadlineGRPCCases are shared by the table tests
// and the fuzz tests' seeds.
var deadlineMillisCases = []struct {
	in     string
	limit  time.Duration
	want   time.Duration
	wantOK bool
}{
	{"0", time.Hour, 0, true},
	{"1", time.Hour, time.Millisecond, true},
	{"1500", time.Hour, 1500 * time.Millisecond, true},
	{"0000000001", time.Hour, time.Millisecond, true},
	{"9999999999", 24 * time.Hour, 24 * time.Hour, true},
	{"9999999999", time.Duration(math.MaxInt64), 9999999999 * time.Millisecond, true},
	{"200", 100 * time.Millisecond, 100 * time.Millisecond, true},
	{"100", 100 * time.Millisecond, 100 * time.Millisecond, true},
	{"99", 100 * time.Millisecond, 99 * time.Millisecond, true},
	{"", time.Hour, 0, false},
	{"12345678901", time.Hour, 0, false}, // 11 digits
	{"-1", time.Hour, 0, false},
	{"+1", time.Hour, 0, false},
	{" 1", time.Hour, 0, false},
	{"1 ", time.Hour, 0, false},
	{"1.5", time.Hour, 0, false},
	{"1e3", time.Hour, 0, false},
	{"0x10", time.Hour, 0, false},
	{"1ms", time.Hour, 0, false},
	{"١", time.Hour, 0, false}, // an Arabic-Indic digit
}

var deadlineGRPCCases = []struct {
	in     string
	limit  time.Duration
	want   time.Duration
	wantOK bool
}{
	{"1H", 48 * time.Hour, time.Hour, true},
	{"5M", time.Hour, 5 * time.Minute, true},
	{"30S", time.Hour, 30 * time.Second, true},
	{"250m", time.Hour, 250 * time.Millisecond, true},
	{"10u", time.Hour, 10 * time.Microsecond, true},
	{"7n", time.Hour, 7, true},
	{"0S", time.Hour, 0, true},
	{"00000000n", time.Hour, 0, true},
	{"99999999n", time.Hour, 99999999, true},
	{"99999999H", 24 * time.Hour, 24 * time.Hour, true},                             // 11,415 years: no overflow
	{"99999999H", time.Duration(math.MaxInt64), time.Duration(math.MaxInt64), true}, // capped, not wrapped
	{"99999999M", time.Duration(math.MaxInt64), 99999999 * time.Minute, true},
	{"2S", time.Second, time.Second, true},
	{"", time.Hour, 0, false},
	{"1", time.Hour, 0, false},
	{"H", time.Hour, 0, false},
	{"100000000H", time.Hour, 0, false}, // 9 digits
	{"1h", time.Hour, 0, false},
	{"1s", time.Hour, 0, false},
	{"1X", time.Hour, 0, false},
	{"-1S", time.Hour, 0, false},
	{"1 S", time.Hour, 0, false},
	{" 1S", time.Hour, 0, false},
	{"1.5S", time.Hour, 0, false},
}

func TestParseMillis(t *testing.T) {
	t.Parallel()
	for _, tt := range deadlineMillisCases {
		got, ok := parseMillis(tt.in, tt.limit)
		assert.Equal(t, tt.wantOK, ok, "%q", tt.in)
		if tt.wantOK {
			assert.Equal(t, tt.want, got, "%q limit %v", tt.in, tt.limit)
		}
	}
}

func TestParseGRPCTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range deadlineGRPCCases {
		got, ok := parseGRPCTimeout(tt.in, tt.limit)
		assert.Equal(t, tt.wantOK, ok, "%q", tt.in)
		if tt.wantOK {
			assert.Equal(t, tt.want, got, "%q limit %v", tt.in, tt.limit)
		}
	}
}

func TestInboundTimeout(t *testing.T) {
	t.Parallel()
	const limit = time.Minute
	tests := []struct {
		name    string
		headers map[string][]string
		want    time.Duration
		wantOK  bool
	}{
		{"none", nil, limit, false},
		{"typhon", map[string][]string{"Typhon-Timeout-Ms": {"1500"}}, 1500 * time.Millisecond, true},
		{"connect", map[string][]string{"Connect-Timeout-Ms": {"250"}}, 250 * time.Millisecond, true},
		{"grpc", map[string][]string{"Grpc-Timeout": {"2S"}}, 2 * time.Second, true},
		{"zero: expired", map[string][]string{"Typhon-Timeout-Ms": {"0"}}, 0, true},
		{"grpc zero", map[string][]string{"Grpc-Timeout": {"0m"}}, 0, true},
		{"minimum of three", map[string][]string{
			"Typhon-Timeout-Ms": {"3000"}, "Connect-Timeout-Ms": {"2000"}, "Grpc-Timeout": {"4S"},
		}, 2 * time.Second, true},
		{"minimum is grpc", map[string][]string{
			"Typhon-Timeout-Ms": {"3000"}, "Grpc-Timeout": {"500m"},
		}, 500 * time.Millisecond, true},
		{"zero wins", map[string][]string{
			"Typhon-Timeout-Ms": {"3000"}, "Connect-Timeout-Ms": {"0"},
		}, 0, true},
		{"clamped by the limit", map[string][]string{"Typhon-Timeout-Ms": {"3600000"}}, limit, true},
		{"grpc clamped", map[string][]string{"Grpc-Timeout": {"99999999H"}}, limit, true},
		{"malformed ignored", map[string][]string{"Typhon-Timeout-Ms": {"soon"}}, limit, false},
		{"malformed beside good", map[string][]string{
			"Typhon-Timeout-Ms": {"-5"}, "Connect-Timeout-Ms": {"1.5"}, "Grpc-Timeout": {"700m"},
		}, 700 * time.Millisecond, true},
		{"all malformed", map[string][]string{
			"Typhon-Timeout-Ms": {""}, "Connect-Timeout-Ms": {"x"}, "Grpc-Timeout": {"1h"},
		}, limit, false},
		{"first value counts", map[string][]string{"Typhon-Timeout-Ms": {"100", "1"}}, 100 * time.Millisecond, true},
		{"empty list ignored", map[string][]string{"Typhon-Timeout-Ms": {}}, limit, false},
		{"non-canonical key ignored", map[string][]string{"typhon-timeout-ms": {"1"}}, limit, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := inboundTimeout(http.Header(tt.headers), limit)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestHandlerBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     handlerConfig
		headers map[string][]string
		want    time.Duration
		wantOK  bool
	}{
		{"no header, no max", handlerConfig{}, nil, maxInboundTimeout, false},
		{"header", handlerConfig{}, map[string][]string{"Typhon-Timeout-Ms": {"80"}}, 80 * time.Millisecond, true},
		{"huge header capped at 24h", handlerConfig{}, map[string][]string{"Typhon-Timeout-Ms": {"9999999999"}}, 24 * time.Hour, true},
		{"max without header", handlerConfig{maxTimeout: time.Second}, nil, time.Second, true},
		{"max caps header", handlerConfig{maxTimeout: time.Second}, map[string][]string{"Grpc-Timeout": {"1M"}}, time.Second, true},
		{"header under max", handlerConfig{maxTimeout: time.Second}, map[string][]string{"Grpc-Timeout": {"20m"}}, 20 * time.Millisecond, true},
		{"inbound off", handlerConfig{noInboundDeadlines: true}, map[string][]string{"Typhon-Timeout-Ms": {"0"}}, maxInboundTimeout, false},
		{"inbound off, max kept", handlerConfig{noInboundDeadlines: true, maxTimeout: time.Second}, map[string][]string{"Typhon-Timeout-Ms": {"10"}}, time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &handler{cfg: tt.cfg}
			got, ok := h.budget(&http.Request{Header: http.Header(tt.headers)})
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}
