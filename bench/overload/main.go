// Command overload measures load shedding under overload, on loopback: a
// typhon server whose handler takes 20 ms sits behind a concurrency limit of
// 64 (capacity 64 / 20 ms = 3,200 req/s), and an open-loop client offers it 4x
// its capacity for a few seconds. It reports the latency of shed answers
// (target: p99 under 5 ms) and of admitted ones against the unloaded p99
// (target: under 2x), as a Markdown table of medians over several runs.
//
//	go run ./overload                 # HTTP/1.1 and h2c, static and adaptive limit, 3 runs of 3 s
//	go run ./overload -runs 5 -d 5s -proto h2c -limiter static
//
// The server runs in a child process (this program with -serve), pinned to
// CPU 0 with taskset where it is there, and the load generator in this
// process on CPU 1, as load.sh does: a generator keeping thousands of
// requests in flight would otherwise take the server's CPU and its own
// scheduling delays would show up as the server's latency. -inprocess runs
// both in one process, unpinned. Everything is on 127.0.0.1 and stops after
// runs × (warm-up + unloaded + overload) time; the child stops when this
// process closes its input, or after 15 minutes.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		cfg      config
		protos   string
		limiters string
	)
	flag.DurationVar(&cfg.work, "work", 20*time.Millisecond, "time the handler takes")
	flag.IntVar(&cfg.limit, "limit", 64, "concurrency limit")
	flag.Float64Var(&cfg.factor, "factor", 4, "offered load, as a multiple of capacity (limit / work)")
	flag.DurationVar(&cfg.duration, "d", 3*time.Second, "overload phase length")
	flag.DurationVar(&cfg.unloaded, "unloaded", 2*time.Second, "unloaded phase length")
	flag.Float64Var(&cfg.unloadedFactor, "unloaded-factor", 0.25, "unloaded load, as a multiple of capacity")
	flag.IntVar(&cfg.maxInflight, "max-inflight", 4096, "most requests the generator keeps in flight")
	flag.IntVar(&cfg.conns, "conns", 256, "most connections the client opens (HTTP/1.1: one per request in flight; 0 for no bound)")
	runs := flag.Int("runs", 3, "runs per setting; the table shows medians")
	flag.StringVar(&protos, "proto", "h1,h2c", "protocols: h1, h2c")
	flag.StringVar(&limiters, "limiter", "static,adaptive", "limiters: static (filters.ConcurrencyLimit), adaptive (filters.AdaptiveLimit capped at -limit)")
	verbose := flag.Bool("v", false, "print each run")
	serveMode := flag.Bool("serve", false, "be the server process: print its address, answer \"cpu\" lines, stop at end of input")
	flag.BoolVar(&cfg.inProcess, "inprocess", false, "serve in this process, unpinned, instead of a pinned child process")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of all runs to this file")
	flag.Parse()
	if *serveMode {
		cfg.limiter = limiters // one, from the parent
		if err := serve(cfg, os.Stdin, os.Stdout, 15*time.Minute); err != nil {
			fmt.Fprintln(os.Stderr, "overload -serve:", err)
			os.Exit(1)
		}
		return
	}
	if !cfg.inProcess {
		pinned, err := pinSelf()
		if pinned {
			if err != nil {
				os.Exit(1) // the pinned run printed why
			}
			return
		}
		cfg.pin = os.Getenv("OVERLOAD_PINNED") != ""
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "overload:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *runs < 1 || *runs > 50 || cfg.duration <= 0 || cfg.duration > 5*time.Minute {
		fmt.Fprintln(os.Stderr, "overload: -runs must be 1..50 and -d at most 5m")
		os.Exit(2)
	}
	load0 := loadAvg()
	var rows []row
	for _, p := range strings.Split(protos, ",") {
		for _, l := range strings.Split(limiters, ",") {
			c := cfg
			c.h2c, c.limiter = p == "h2c", l
			var results []result
			for i := range *runs {
				r, err := run(c)
				if err != nil {
					fmt.Fprintln(os.Stderr, "overload:", err)
					return
				}
				if *verbose {
					fmt.Fprintf(os.Stderr, "%s %s run %d: %+v\n", p, l, i+1, r)
				}
				results = append(results, r)
			}
			rows = append(rows, row{proto: p, limiter: l, r: median(results)})
		}
	}
	printTable(os.Stdout, cfg, *runs, rows, load0)
}

type row struct {
	proto, limiter string
	r              result
}

func printTable(w io.Writer, cfg config, runs int, rows []row, load0 string) {
	capacity := float64(cfg.limit) / cfg.work.Seconds()
	fmt.Fprintf(w, "Handler %v, limit %d (capacity %.0f req/s), offered %.0fx = %.0f req/s for %v; medians of %d runs.\n\n",
		cfg.work, cfg.limit, capacity, cfg.factor, cfg.factor*capacity, cfg.duration, runs)
	fmt.Fprintln(w, "| proto | limiter | admitted/s | shed/s | errors | shed p50 | shed p99 | admitted p50 | admitted p99 | unloaded p99 | admitted p99 / unloaded p99 | server CPU | generator CPU |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		srvCPU := "in process"
		if !cfg.inProcess {
			srvCPU = fmt.Sprintf("%.2f", r.r.serverCPU)
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %d | %s | %s | %s | %s | %s | %.2f | %s | %.2f |\n",
			r.proto, r.limiter, r.r.admittedRate, r.r.shedRate, r.r.errors,
			ms(r.r.shedP50), ms(r.r.shedP99), ms(r.r.admittedP50), ms(r.r.admittedP99), ms(r.r.unloadedP99), r.r.ratio, srvCPU, r.r.cpu)
	}
	fmt.Fprintf(w, "\nTargets: shed p99 < 5 ms; admitted p99 < 2x unloaded p99. %s CPUs; load average before/after: %s / %s.\n",
		cmp.Or(os.Getenv("OVERLOAD_NCPU"), strconv.Itoa(runtime.NumCPU())), load0, loadAvg())
	setup := "server in a child process pinned to CPU 0, load generator on CPU 1"
	if !cfg.pin {
		setup = "server in a child process, unpinned (no taskset)"
	}
	if cfg.inProcess {
		setup = "server and load generator in one process, unpinned"
	}
	fmt.Fprintf(w, "Setup: %s. errors: overload-phase answers neither 200 nor shed, plus requests the generator could not start (at its in-flight bound); CPU: cores used over both phases.\n", setup)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// loadAvg returns the 1-minute load average and, where Linux tells it, the
// share of the last 10 s in which runnable tasks waited for a CPU (PSI):
// how much the machine was shared while the figures were taken.
func loadAvg() string {
	s := "n/a"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			s = f[0]
		}
	}
	if b, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if v, ok := strings.CutPrefix(f, "avg10="); ok {
				s += " (CPU pressure " + v + "%)"
				break
			}
		}
	}
	return s
}
