package main

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/typhon-go/typhon"
)

// config is one setting of the load test.
type config struct {
	work           time.Duration // the handler's time
	limit          int           // concurrency limit
	factor         float64       // overload, as a multiple of capacity
	duration       time.Duration // overload phase
	unloaded       time.Duration // unloaded phase
	unloadedFactor float64       // unloaded load, as a multiple of capacity
	maxInflight    int           // bound on the generator's goroutines
	conns          int           // bound on the client's HTTP/1.1 connections (0: none)
	h2c            bool
	limiter        string // "static" or "adaptive"
	inProcess      bool   // serve in this process, not in a child process
	pin            bool   // pin the child process to CPU 0 (taskset)
}

// result is what one run measured.
type result struct {
	admittedRate, shedRate   float64 // per second, in the overload phase
	errors                   int     // answers neither 200 nor shed, and requests the generator could not start
	shedP50, shedP99         time.Duration
	admittedP50, admittedP99 time.Duration
	unloadedP99              time.Duration
	ratio                    float64 // admittedP99 / unloadedP99
	firstErr                 error   // the first error of the overload phase, if any
	unloadedMisses           int     // unloaded requests shed or failed
	cpu                      float64 // CPU this process used over both phases, in cores
	serverCPU                float64 // CPU the server process used over both phases, in cores (0 in process)
}

// run starts the server (see startTarget), measures an unloaded phase and
// an overload phase against it, and stops everything it started.
func run(cfg config) (result, error) {
	tg, err := startTarget(cfg)
	if err != nil {
		return result{}, err
	}
	tr := typhon.NewTransport()
	tr.MaxIdleConnsPerHost = cfg.maxInflight
	tr.MaxIdleConns = cfg.maxInflight
	if cfg.conns > 0 {
		tr.MaxConnsPerHost = cfg.conns
	}
	if cfg.h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	defer func() {
		tr.CloseIdleConnections()
		_ = tg.Close()
		tr.CloseIdleConnections()
	}()
	client := typhon.NewClient(typhon.WithTransport(tr))
	url := "http://" + tg.Addr() + "/"
	capacity := float64(cfg.limit) / cfg.work.Seconds()

	// Warm-up: code paths, pools, and the connections the overload phase
	// will use. Over HTTP/1.1 each request in flight needs a connection of
	// its own: without this, the step to 4x load would open them all at
	// once, and the dial storm (measured at 50-600 ms of extra latency in
	// the first tenth of a second) would time the client's connection
	// set-up, not the server's shedding.
	generate(client, url, capacity*cfg.unloadedFactor, 300*time.Millisecond, cfg.maxInflight)
	generate(client, url, capacity*cfg.factor, 500*time.Millisecond, cfg.maxInflight)
	cpu0, wall0 := cpuTime(), time.Now()
	srvCPU0, err := tg.CPU()
	if err != nil {
		return result{}, err
	}
	unloaded := generate(client, url, capacity*cfg.unloadedFactor, cfg.unloaded, cfg.maxInflight)
	loaded := generate(client, url, capacity*cfg.factor, cfg.duration, cfg.maxInflight)

	var r result
	secs := cfg.duration.Seconds()
	r.admittedRate = float64(len(loaded.admitted)) / secs
	r.shedRate = float64(len(loaded.shed)) / secs
	r.errors = loaded.errors + loaded.notStarted
	r.shedP50, r.shedP99 = quantile(loaded.shed, 0.50), quantile(loaded.shed, 0.99)
	r.admittedP50, r.admittedP99 = quantile(loaded.admitted, 0.50), quantile(loaded.admitted, 0.99)
	r.unloadedP99 = quantile(unloaded.admitted, 0.99)
	if r.unloadedP99 > 0 {
		r.ratio = float64(r.admittedP99) / float64(r.unloadedP99)
	}
	r.firstErr = loaded.firstErr
	r.unloadedMisses = len(unloaded.shed) + unloaded.errors + unloaded.notStarted
	wall := float64(time.Since(wall0))
	srvCPU1, err := tg.CPU()
	if err != nil {
		return result{}, err
	}
	r.cpu = float64(cpuTime()-cpu0) / wall
	if !cfg.inProcess {
		r.serverCPU = float64(srvCPU1-srvCPU0) / wall
	}
	return r, nil
}

// phase is what one generate call observed.
type phase struct {
	admitted, shed []time.Duration
	errors         int
	notStarted     int // the generator was at its bound of requests in flight
	firstErr       error
}

// generate offers rate requests per second for d, open loop: requests start
// on schedule (in batches, each millisecond) whether or not earlier ones
// have been answered, at most maxInflight at once. It returns once every
// request it started has been answered.
func generate(client typhon.Service, url string, rate float64, d time.Duration, maxInflight int) phase {
	var (
		mu  sync.Mutex
		ph  phase
		wg  sync.WaitGroup
		sem = make(chan struct{}, maxInflight)
	)
	one := func() {
		defer func() { <-sem; wg.Done() }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		rsp := client(typhon.NewRequest(ctx, http.MethodGet, url, nil))
		var body []byte
		err := rsp.Decode(&body)
		took := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			ph.admitted = append(ph.admitted, took)
		case typhon.IsCode(err, typhon.CodeUnavailable) && typhon.NotProcessed(err):
			ph.shed = append(ph.shed, took)
		default:
			ph.errors++
			if ph.firstErr == nil {
				ph.firstErr = err
			}
		}
	}
	start := time.Now()
	sent := 0
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for elapsed := time.Duration(0); elapsed < d; elapsed = time.Since(start) {
		due := int(rate*elapsed.Seconds()) - sent
		for range due {
			sent++
			select {
			case sem <- struct{}{}:
				wg.Add(1)
				go one()
			default:
				mu.Lock()
				ph.notStarted++
				mu.Unlock()
			}
		}
		<-tick.C
	}
	wg.Wait()
	return ph
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

// median takes the median of each figure over the runs.
func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	dur := func(f func(result) time.Duration) time.Duration {
		return time.Duration(pick(func(r result) float64 { return float64(f(r)) }))
	}
	return result{
		admittedRate:   pick(func(r result) float64 { return r.admittedRate }),
		shedRate:       pick(func(r result) float64 { return r.shedRate }),
		errors:         int(pick(func(r result) float64 { return float64(r.errors) })),
		shedP50:        dur(func(r result) time.Duration { return r.shedP50 }),
		shedP99:        dur(func(r result) time.Duration { return r.shedP99 }),
		admittedP50:    dur(func(r result) time.Duration { return r.admittedP50 }),
		admittedP99:    dur(func(r result) time.Duration { return r.admittedP99 }),
		unloadedP99:    dur(func(r result) time.Duration { return r.unloadedP99 }),
		ratio:          pick(func(r result) float64 { return r.ratio }),
		unloadedMisses: int(pick(func(r result) float64 { return float64(r.unloadedMisses) })),
		cpu:            pick(func(r result) float64 { return r.cpu }),
		serverCPU:      pick(func(r result) float64 { return r.serverCPU }),
	}
}
