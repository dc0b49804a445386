package main

import (
	"strings"
	"testing"
	"time"
)

// TestRunSmoke runs the load test briefly at a low rate, over both
// protocols and both limiters, and checks that it sheds and admits: the
// figures themselves are for the command, not for a test on a shared box.
func TestRunSmoke(t *testing.T) {
	for _, h2c := range []bool{false, true} {
		for _, limiter := range []string{"static", "adaptive"} {
			cfg := config{
				work: 10 * time.Millisecond, limit: 4, factor: 4,
				duration: 300 * time.Millisecond, unloaded: 200 * time.Millisecond, unloadedFactor: 0.25,
				maxInflight: 256, h2c: h2c, limiter: limiter,
			}
			r, err := run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r.admittedRate == 0 || r.shedRate == 0 || r.unloadedP99 == 0 {
				t.Errorf("h2c=%v %s: nothing admitted or shed: %+v", h2c, limiter, r)
			}
		}
	}
	var b strings.Builder
	printTable(&b, config{work: 20 * time.Millisecond, limit: 64, factor: 4, duration: time.Second}, 1,
		[]row{{proto: "h1", limiter: "static", r: result{shedP99: time.Millisecond}}}, "0.00")
	if !strings.Contains(b.String(), "| h1 | static |") {
		t.Errorf("table:\n%s", b.String())
	}
}
