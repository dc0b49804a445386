// Command server serves one of the benchmark's server variants (see package
// servers) on loopback until it is killed or -max elapses, for load
// generators such as h2load and wrk:
//
//	server -impl typhon-stack -addr 127.0.0.1:0
//
// It prints "listening HOST:PORT" on stdout once it accepts connections.
// One binary serves every variant, so that they are built alike.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/typhon-go/typhon/bench/servers"
)

func main() {
	impl := flag.String("impl", "nethttp", fmt.Sprintf("server variant: one of %v", servers.Impls))
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (loopback)")
	maxRun := flag.Duration("max", 10*time.Minute, "exit after this long, whatever happens")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until exit")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	srv, err := servers.Start(*impl, l)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(2)
	}
	fmt.Println("listening", srv.Addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-time.After(*maxRun):
	}
	srv.Close()
}
