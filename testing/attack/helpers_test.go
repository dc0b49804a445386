package attack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/typhon-go/typhon"
)

// bound bounds every wait in this package: far longer than anything takes
// on a loaded machine, so that it fails only on a hang. No test sleeps to
// synchronise; waits end on events, with bound as the deadline.
const bound = 20 * time.Second

// scenario is one attack or lifecycle scenario: it checks, when the test
// ends, that the goroutines have come back to where they were, and logs the
// test's figures as one RESULT line for report.sh. The tests of this package
// are not parallel: they count the process's goroutines.
type scenario struct {
	t    *testing.T
	name string
	bar  string

	mu    sync.Mutex
	keys  []string
	figs  map[string]string
	lost  atomic.Int64 // requests of well-behaved clients that failed
	tried atomic.Int64 // such requests made
}

func newScenario(t *testing.T, name, bar string) *scenario {
	ignore := goleak.IgnoreCurrent()
	base := runtime.NumGoroutine()
	s := &scenario{t: t, name: name, bar: bar, figs: map[string]string{}}
	t.Cleanup(func() {
		leaked := settle(base)
		s.set("leaked", leaked)
		s.set("lost", s.lost.Load())
		if n := s.tried.Load(); n > 0 {
			s.set("served", fmt.Sprintf("%d/%d", n-s.lost.Load(), n))
		}
		t.Log(s.line())
		goleak.VerifyNone(t, ignore)
	})
	return s
}

// settle waits, up to bound, for the number of goroutines to fall back to
// base and returns how many are still above it.
func settle(base int) int {
	deadline := time.Now().Add(bound)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.Gosched()
		<-time.After(10 * time.Millisecond) // polling a count, not synchronising
	}
	return max(0, runtime.NumGoroutine()-base)
}

// set records a figure; the first set fixes its place on the line.
func (s *scenario) set(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.figs[key]; !ok {
		s.keys = append(s.keys, key)
	}
	s.figs[key] = strings.ReplaceAll(fmt.Sprint(v), " ", "_")
}

// line is the RESULT line: scenario, attacks, lost, leaked, then the other
// figures in the order they were set, then the bar.
func (s *scenario) line() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "RESULT scenario=%s", s.name)
	first := []string{"attacks", "lost", "leaked"}
	for _, k := range first {
		v, ok := s.figs[k]
		if !ok {
			v = "0"
		}
		fmt.Fprintf(&b, " %s=%s", k, v)
	}
	for _, k := range s.keys {
		if k != "attacks" && k != "lost" && k != "leaked" {
			fmt.Fprintf(&b, " %s=%s", k, s.figs[k])
		}
	}
	fmt.Fprintf(&b, " bar=%q", s.bar)
	return b.String()
}

// probe makes one request over HTTP/1.1 and one over h2c, each on a new
// connection, as a well-behaved client would, and counts the failures as
// lost requests.
func (s *scenario) probe(addr string) error {
	var errs []error
	for _, h2c := range []bool{false, true} {
		s.tried.Add(1)
		if err := probeOnce(addr, h2c); err != nil {
			s.lost.Add(1)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("probe: %v", errs)
	}
	return nil
}

// mustProbe probes and fails the test if a request is lost.
func (s *scenario) mustProbe(addr, when string) {
	s.t.Helper()
	require.NoError(s.t, s.probe(addr), "a well-behaved client was not served %s", when)
}

// probeWhile probes every 100 ms until stop is closed, and returns a channel
// that tells how many probes failed once it has stopped.
func (s *scenario) probeWhile(addr string, stop <-chan struct{}) <-chan error {
	out := make(chan error, 1)
	go func() {
		var first error
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := s.probe(addr); err != nil && first == nil {
				first = err
			}
			select {
			case <-stop:
				out <- first
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

func probeOnce(addr string, h2c bool) error {
	tr := typhon.NewTransport()
	defer tr.CloseIdleConnections()
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound/2)
	defer cancel()
	client := typhon.NewClient(typhon.WithTransport(tr))
	var got string
	if err := client(typhon.NewRequest(ctx, "GET", "http://"+addr+"/probe", nil)).Decode(&got); err != nil {
		return err
	}
	if got != "ok" {
		return fmt.Errorf("probe answered %q", got)
	}
	return nil
}

// target is the Service under attack. It counts arrivals per path and
// answers:
//   - /block: holds the request, ignoring its context, until released
//     (counting how many are held at once);
//   - /big: 1 MiB;
//   - /endless: 'x' streamed until the client goes (256 MiB at most);
//   - anything else: drains the body, ignoring a read error as a careless
//     Service would, and answers "ok", with the path in X-Path.
type target struct {
	mu       sync.Mutex
	arrivals map[string]int
	hosts    map[string]string // path -> Host of its last arrival

	held, peak  atomic.Int64
	streaming   atomic.Int64 // /endless answers not yet closed by the server
	release     chan struct{}
	releaseOnce sync.Once
}

func newTarget(t *testing.T) *target {
	g := &target{arrivals: map[string]int{}, hosts: map[string]string{}, release: make(chan struct{})}
	t.Cleanup(g.releaseAll)
	return g
}

func (g *target) releaseAll() { g.releaseOnce.Do(func() { close(g.release) }) }

func (g *target) serve(req typhon.Request) typhon.Response {
	path := req.URL.Path
	g.mu.Lock()
	g.arrivals[path]++
	g.hosts[path] = req.Host
	g.mu.Unlock()
	switch path {
	case "/block":
		n := g.held.Add(1)
		for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
		}
		defer g.held.Add(-1)
		t := time.NewTimer(bound)
		defer t.Stop()
		select {
		case <-g.release:
		case <-t.C:
		}
		return req.Response("released")
	case "/big":
		return req.Response(bytes.Repeat([]byte{'x'}, 1<<20))
	case "/endless":
		g.streaming.Add(1)
		return req.Response(&countedBody{Reader: io.LimitReader(letters{}, 256<<20), n: &g.streaming})
	}
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body) // a careless Service: typhon answers a failed read
	}
	rsp := req.Response("ok")
	rsp.Header.Set("X-Path", path)
	return rsp
}

func (g *target) count(path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.arrivals[path]
}

func (g *target) hostOf(path string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hosts[path]
}

// total counts the arrivals on every path but /probe.
func (g *target) total() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for p, c := range g.arrivals {
		if p != "/probe" {
			n += c
		}
	}
	return n
}

// serverStats records what a server's hooks saw: connections opened and
// closed, and the HTTP/2 errors net/http counted (CountError).
type serverStats struct {
	opened, closed atomic.Int64
	mu             sync.Mutex
	errs           map[string]int
}

// countErrors lists the errors counted, sorted, as "name:count,...".
func (st *serverStats) countErrors() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []string
	for k, v := range st.errs {
		out = append(out, fmt.Sprintf("%s:%d", k, v))
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// serve starts a typhon server for svc on 127.0.0.1 with typhon's defaults
// plus opts, quiet, with hooks that only observe; it is stopped at the end
// of the test.
func serve(t *testing.T, svc typhon.Service, opts ...typhon.ServerOption) (*typhon.Server, *serverStats) {
	t.Helper()
	st := &serverStats{errs: map[string]int{}}
	all := append([]typhon.ServerOption{
		typhon.WithLogger(quietLogger()),
		typhon.WithHTTPServer(func(s *http.Server) {
			s.ErrorLog = log.New(io.Discard, "", 0)
			s.ConnState = func(_ net.Conn, cs http.ConnState) {
				switch cs {
				case http.StateNew:
					st.opened.Add(1)
				case http.StateClosed, http.StateHijacked:
					st.closed.Add(1)
				}
			}
			s.HTTP2.CountError = func(name string) {
				st.mu.Lock()
				st.errs[name]++
				st.mu.Unlock()
			}
		}),
	}, opts...)
	srv, err := typhon.Listen(svc, "", all...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no drain: the lifecycle tests check draining
		_ = srv.Stop(ctx)
	})
	return srv, st
}

// waitUntil polls cond (every few ms, a cheap check) until it holds or
// bound passes, and reports whether it held.
func waitUntil(cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-time.After(5 * time.Millisecond)
	}
	return true
}

// letters is an endless stream of 'x'.
type letters struct{}

func (letters) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// countedBody decrements n when the server closes it: the response is over.
type countedBody struct {
	io.Reader
	n    *atomic.Int64
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.n.Add(-1) })
	return nil
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
