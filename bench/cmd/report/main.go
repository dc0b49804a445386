// Command report turns the raw output of bench/run (go test -bench output of
// several interleaved runs, and load.sh's CSV) into RESULTS.md: medians,
// ratios to plain net/http and to monzo/typhon, and the bars of issue 7.
//
//	go run ./cmd/report -bench results/bench.txt -load results/load.csv -o RESULTS.md
package main

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	benchFile := flag.String("bench", "", "go test -bench output (several runs, concatenated)")
	loadFile := flag.String("load", "", "load.sh CSV")
	out := flag.String("o", "RESULTS.md", "Markdown file to write ('-': stdout)")
	notes := flag.String("notes", "", "a line about the run (machine load, pinning) for the header")
	goVersion := flag.String("go", runtime.Version(), "Go version the benchmarks ran with")
	flag.Parse()

	var r report
	if *benchFile != "" {
		if err := r.readBench(*benchFile); err != nil {
			fail(err)
		}
	}
	if *loadFile != "" {
		if err := r.readLoad(*loadFile); err != nil {
			fail(err)
		}
	}
	var w io.Writer = os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		w = f
	}
	r.write(w, *goVersion, *notes)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}

// bench is one benchmark's samples, by unit.
type bench struct {
	name    string
	samples map[string][]float64
}

func (b *bench) median(unit string) (float64, bool) {
	v := b.samples[unit]
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type loadRow struct {
	proto, impl        string
	cpuUS, rps, foreig []float64
	byRound            map[string]float64 // round -> CPU µs/request
}

// pairedRatio is the median over the rounds of row's CPU per request over
// base's in the same round: the two ran a few seconds apart, so a round in
// which the machine was busier weighs on both, where a ratio of medians
// would mix rounds. ok is false when they share no round.
func pairedRatio(row, base *loadRow) (float64, bool) {
	var v []float64
	for round, us := range row.byRound {
		if b, ok := base.byRound[round]; ok && b > 0 {
			v = append(v, us/b)
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

type report struct {
	benches map[string]*bench
	order   []string
	load    map[string]*loadRow // proto/impl
	runs    int
}

func (r *report) readBench(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r.benches = map[string]*bench{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := fields[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := r.benches[name]
		if b == nil {
			b = &bench{name: name, samples: map[string][]float64{}}
			r.benches[name] = b
			r.order = append(r.order, name)
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			b.samples[fields[i+1]] = append(b.samples[fields[i+1]], v)
		}
		if n := len(b.samples["ns/op"]); n > r.runs {
			r.runs = n
		}
	}
	return sc.Err()
}

func (r *report) readLoad(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return err
	}
	r.load = map[string]*loadRow{}
	for i, rec := range recs {
		if i == 0 || len(rec) < 9 {
			continue
		}
		k := rec[1] + "/" + rec[2]
		row := r.load[k]
		if row == nil {
			row = &loadRow{proto: rec[1], impl: rec[2], byRound: map[string]float64{}}
			r.load[k] = row
		}
		us, _ := strconv.ParseFloat(rec[6], 64)
		rps, _ := strconv.ParseFloat(rec[7], 64)
		fo, _ := strconv.ParseFloat(rec[8], 64)
		row.cpuUS = append(row.cpuUS, us)
		row.byRound[rec[0]] = us
		row.rps = append(row.rps, rps)
		row.foreig = append(row.foreig, fo)
	}
	return nil
}

// key splits a benchmark name into its group (every path element but
// impl=) and its impl.
func key(name string) (group, impl string) {
	parts := strings.Split(name, "/")
	var g []string
	for _, p := range parts {
		if v, ok := strings.CutPrefix(p, "impl="); ok {
			impl = v
			continue
		}
		g = append(g, p)
	}
	return strings.Join(g, "/"), impl
}

func (r *report) get(name, unit string) (float64, bool) {
	b := r.benches[name]
	if b == nil {
		return 0, false
	}
	return b.median(unit)
}

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func fmtNs(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + " ms"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + " µs"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + " µs"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " ns"
}

func ratio(v, base float64, ok bool) string {
	if !ok || base == 0 {
		return ""
	}
	return strconv.FormatFloat(v/base, 'f', 2, 64) + "×"
}

func delta(v, base float64, ok bool) string {
	if !ok {
		return ""
	}
	d := v - base
	if d >= 0 {
		return "+" + strconv.FormatFloat(d, 'f', 0, 64)
	}
	return strconv.FormatFloat(d, 'f', 0, 64)
}

// table writes the benchmarks whose names start with prefix as one table,
// a row per benchmark, with ratios to the impl=nethttp and impl=monzo
// benchmarks of the same group.
func (r *report) table(w io.Writer, prefix string) {
	fmt.Fprintln(w, "| benchmark | impl | time/op | B/op | allocs/op | time × net/http | allocs Δ net/http | time × monzo | allocs Δ monzo |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, name := range r.order {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		group, impl := key(name)
		ns, _ := r.get(name, "ns/op")
		bop, _ := r.get(name, "B/op")
		al, _ := r.get(name, "allocs/op")
		bns, okN := r.get(strings.Replace(name, "impl="+impl, "impl=nethttp", 1), "ns/op")
		bal, _ := r.get(strings.Replace(name, "impl="+impl, "impl=nethttp", 1), "allocs/op")
		mns, okM := r.get(strings.Replace(name, "impl="+impl, "impl=monzo", 1), "ns/op")
		mal, _ := r.get(strings.Replace(name, "impl="+impl, "impl=monzo", 1), "allocs/op")
		showN := okN && impl != "nethttp" && impl != ""
		showM := okM && strings.HasPrefix(impl, "typhon")
		if strings.HasSuffix(impl, "-sendvia") {
			mname := strings.Replace(name, "impl="+impl, "impl=monzo-sendvia", 1)
			mns, okM = r.get(mname, "ns/op")
			mal, _ = r.get(mname, "allocs/op")
			showM = okM && strings.HasPrefix(impl, "typhon")
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			strings.TrimPrefix(group, prefix), impl, fmtNs(ns), fmtNum(bop), fmtNum(al),
			ratio(ns, bns, showN), delta(al, bal, showN), ratio(ns, mns, showM), delta(al, mal, showM))
	}
	fmt.Fprintln(w)
}

// filterTable writes the benchmarks under prefix (BenchmarkFilter/,
// BenchmarkServerFilter/) with what each costs over filter=none.
func (r *report) filterTable(w io.Writer, prefix string) {
	fmt.Fprintln(w, "| filter | time/op | B/op | allocs/op | time over none | allocs over none |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	none := prefix + "filter=none"
	bns, okB := r.get(none, "ns/op")
	bal, _ := r.get(none, "allocs/op")
	for _, name := range r.order {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		ns, _ := r.get(name, "ns/op")
		bop, _ := r.get(name, "B/op")
		al, _ := r.get(name, "allocs/op")
		label := strings.TrimPrefix(name, prefix+"filter=")
		over, overA := "", ""
		if okB && name != none {
			over = "+" + fmtNs(max(ns-bns, 0))
			overA = delta(al, bal, true)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", label, fmtNs(ns), fmtNum(bop), fmtNum(al), over, overA)
	}
	fmt.Fprintln(w)
}

func (r *report) memoryTable(w io.Writer) {
	fmt.Fprintln(w, "| proto | impl | heap B / idle conn | stack B / idle conn | heap B / request in flight | stack B / request in flight |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|")
	for _, name := range r.order {
		if !strings.HasPrefix(name, "BenchmarkMemory/") {
			continue
		}
		group, impl := key(strings.TrimPrefix(name, "BenchmarkMemory/"))
		hc, _ := r.get(name, "heapB/conn")
		sc, _ := r.get(name, "stackB/conn")
		hr, _ := r.get(name, "heapB/req")
		sr, _ := r.get(name, "stackB/req")
		fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %.0f | %.0f |\n", strings.TrimPrefix(group, "proto="), impl, hc, sc, hr, sr)
	}
	fmt.Fprintln(w)
}

func (r *report) loadTable(w io.Writer) {
	fmt.Fprintln(w, "| proto | impl | CPU µs/request (median) | min–max | requests/s (median) | × net/http (median of rounds) | worst foreign CPU on the server's core |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|")
	for _, proto := range []string{"h1", "h2c"} {
		base := r.load[proto+"/nethttp"]
		for _, impl := range []string{"nethttp", "chi", "typhon-bare", "typhon-stack", "monzo"} {
			row := r.load[proto+"/"+impl]
			if row == nil {
				continue
			}
			m := median(row.cpuUS)
			rt := ""
			if base != nil && impl != "nethttp" {
				x, ok := pairedRatio(row, base)
				rt = ratio(x, 1, ok)
			}
			gen := "wrk"
			if proto == "h2c" {
				gen = "h2load"
			}
			fmt.Fprintf(w, "| %s (%s) | %s | %.2f | %.2f–%.2f | %.0f | %s | %.0f%% |\n", proto, gen, impl, m,
				slices.Min(row.cpuUS), slices.Max(row.cpuUS), median(row.rps), rt, slices.Max(row.foreig))
		}
	}
	fmt.Fprintln(w)
}

// bars checks issue 7's bars against the medians.
func (r *report) bars(w io.Writer) {
	fmt.Fprintln(w, "| bar | measured | met |")
	fmt.Fprintln(w, "|---|---|:-:|")
	mark := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	for _, proto := range []string{"h1", "h2c"} {
		for _, mode := range []string{"seq", "par"} {
			g := "BenchmarkRoundTrip/proto=" + proto + "/body=small/mode=" + mode
			ns, ok1 := r.get(g+"/impl=typhon-stack", "ns/op")
			al, _ := r.get(g+"/impl=typhon-stack", "allocs/op")
			bns, ok2 := r.get(g+"/impl=nethttp", "ns/op")
			bal, _ := r.get(g+"/impl=nethttp", "allocs/op")
			if !ok1 || !ok2 {
				continue
			}
			fmt.Fprintf(w, "| round trip %s %s, ServerStack: time ≤ 1.05× net/http | %.3f× | %s |\n", proto, mode, ns/bns, mark(ns/bns <= 1.05))
			fmt.Fprintf(w, "| round trip %s %s, ServerStack: allocs ≤ net/http + 4 | %+.0f | %s |\n", proto, mode, al-bal, mark(al-bal <= 4))
		}
	}
	for _, proto := range []string{"h1", "h2c"} {
		t, b := r.load[proto+"/typhon-stack"], r.load[proto+"/nethttp"]
		if t == nil || b == nil {
			continue
		}
		x, ok := pairedRatio(t, b)
		if !ok {
			continue
		}
		fmt.Fprintf(w, "| server CPU/request under load, %s, ServerStack ≤ 1.05× net/http | %.3f× | %s |\n", proto, x, mark(x <= 1.05))
	}
	// typhon faster and fewer allocations than monzo on every shared benchmark.
	var slower, more []string
	shared := 0
	for _, name := range r.order {
		_, impl := key(name)
		if !strings.HasPrefix(impl, "typhon") || strings.HasPrefix(name, "BenchmarkMemory") {
			continue
		}
		mimpl := "monzo"
		if strings.HasSuffix(impl, "-sendvia") {
			mimpl = "monzo-sendvia"
		}
		mname := strings.Replace(name, "impl="+impl, "impl="+mimpl, 1)
		mns, ok := r.get(mname, "ns/op")
		if !ok {
			continue
		}
		shared++
		ns, _ := r.get(name, "ns/op")
		al, _ := r.get(name, "allocs/op")
		mal, _ := r.get(mname, "allocs/op")
		short := strings.TrimPrefix(name, "Benchmark")
		if ns >= mns {
			note := ""
			if r.overlap(name, mname, "ns/op") {
				note = ", within the spread of the runs"
			}
			slower = append(slower, fmt.Sprintf("%s (%.2f×%s)", short, ns/mns, note))
		}
		if al >= mal {
			more = append(more, fmt.Sprintf("%s (%+.0f)", short, al-mal))
		}
	}
	if shared > 0 {
		fmt.Fprintf(w, "| typhon faster than monzo/typhon on every shared benchmark (%d typhon rows) | %s | %s |\n", shared, listOrNone(slower), mark(len(slower) == 0))
		fmt.Fprintf(w, "| typhon fewer allocs than monzo/typhon on every shared benchmark | %s | %s |\n", listOrNone(more), mark(len(more) == 0))
	}
	fmt.Fprintln(w)
}

// overlap reports whether the samples of a and b in unit overlap: their
// medians differ by less than their runs do.
func (r *report) overlap(a, b, unit string) bool {
	sa, sb := r.benches[a].samples[unit], r.benches[b].samples[unit]
	if len(sa) == 0 || len(sb) == 0 {
		return false
	}
	return slices.Min(sa) <= slices.Max(sb) && slices.Min(sb) <= slices.Max(sa)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "all"
	}
	return "not: " + strings.Join(s, ", ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func (r *report) write(w io.Writer, goVersion, notes string) {
	fmt.Fprintln(w, "# typhon benchmark results")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Written by `bench/run`; do not edit by hand. What each benchmark does is in the comments of bench/*_test.go, how to read the figures in the README's Performance section.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- Machine: %d CPUs (`nproc`), %s; %s\n", runtime.NumCPU(), cpuModel(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Fprintf(w, "- Go: %s; run of %s\n", goVersion, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Method: Go benchmarks pinned to CPU 0 (`taskset -c 0`, `-cpu 1`), %d interleaved runs of `-count 1`, medians; client and server share the core, so time/op is the CPU of both ends. Server CPU under load: the server pinned to CPU 0 with GOMAXPROCS=1, h2load/wrk on CPU 1, CPU time from /proc/PID/stat per request completed, medians of the rounds; its × net/http is the median of the ratios within each round (the servers of a round run seconds apart). GODEBUG: `%s` (see bench/run on adaptivestackstart).\n", r.runs, cmp.Or(os.Getenv("GODEBUG"), "none"))
	if notes != "" {
		fmt.Fprintf(w, "- Conditions: %s\n", notes)
	}
	fmt.Fprintln(w)
	if len(r.benches) > 0 || len(r.load) > 0 {
		fmt.Fprintln(w, "## Bars (issue 7)")
		fmt.Fprintln(w)
		r.bars(w)
	}
	if len(r.load) > 0 {
		fmt.Fprintln(w, "## Server CPU per request under load (GET /users/42, small JSON)")
		fmt.Fprintln(w)
		r.loadTable(w)
	}
	memory := func(w io.Writer, _ string) { r.memoryTable(w) }
	sections := []struct {
		title, prefix, note string
		render              func(w io.Writer, prefix string) // nil: r.table
	}{
		{"Round trip over loopback", "BenchmarkRoundTrip/", "Each toolkit's client and server (net/http's client for net/http and chi); `-sendvia`: the client called through its SendVia future. 1MiB: a streamed answer of unknown length.", nil},
		{"Handler in memory", "BenchmarkHandler", "GET /users/42 through each toolkit's http.Handler, no network.", nil},
		{"Service called directly", "BenchmarkService", "A new Request through the routed Service, body read and closed.", nil},
		{"Router", "BenchmarkRouter/", "Routing one request to a route that answers 200 (50_routes: a parameter route in the middle of a 50-route table).", nil},
		{"JSON", "BenchmarkJSON/", "A small JSON body decoded from a request / encoded into a response.", nil},
		{"Errors", "BenchmarkError/", "A not_found error with one parameter encoded into / decoded from a response.", nil},
		{"typhon filters, passing a call through", "BenchmarkFilter/", "An outbound call (a new Request each time) to a Service answering a small body, through each filter with its defaults (Trace and Metrics with no-op providers, Log with a discarding handler); `none` is the Service alone, `ErrorFilter/impl=monzo` monzo/typhon's.", r.filterTable},
		{"ServerStack's filters on the server side", "BenchmarkServerFilter/", "A request served in memory through HTTPHandler and each filter of filters.ServerStack with its defaults (OpenTelemetry's global providers unset, as in a service that sets none).", r.filterTable},
		{"Memory", "BenchmarkMemory/", "Live heap and goroutine stacks (runtime.ReadMemStats after GC) per open idle connection (after one request) and per request in flight (a handler waiting), 256 of each; `tcp` is the floor of both ends' sockets, which every row includes.", memory},
	}
	for _, s := range sections {
		if !r.has(s.prefix) {
			continue
		}
		fmt.Fprintf(w, "## %s\n\n%s\n\n", s.title, s.note)
		if s.render == nil {
			s.render = r.table
		}
		s.render(w, s.prefix)
	}
}

func (r *report) has(prefix string) bool {
	for _, n := range r.order {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
