package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
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
				maxInflight: 256, h2c: h2c, limiter: limiter, inProcess: true,
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

// TestServe drives the child process's side (-serve) through pipes: it
// prints an address that serves, answers "cpu" with a number, and stops
// when its input closes.
func TestServe(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- serve(config{work: time.Millisecond, limit: 4, limiter: "static"}, inR, outW, time.Minute)
		outW.Close()
	}()
	out := bufio.NewReader(outR)
	addr, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	rsp, err := http.Get("http://" + strings.TrimSpace(addr) + "/")
	if err != nil {
		t.Fatal(err)
	}
	rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		t.Errorf("status %d", rsp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	if _, err := io.WriteString(inW, "cpu\n"); err != nil {
		t.Fatal(err)
	}
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64); err != nil || ns < 0 {
		t.Errorf("cpu answer %q: %v", line, err)
	}
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop when its input closed")
	}
}

func TestServeUnknownLimiter(t *testing.T) {
	err := serve(config{work: time.Millisecond, limit: 4, limiter: "nope"}, strings.NewReader(""), io.Discard, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("serve with an unknown limiter: %v", err)
	}
}
