package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// newService is the server under test: a handler that takes cfg.work (or
// until its request is cancelled) behind the limiter cfg.limiter names.
func newService(cfg config) (typhon.Service, error) {
	var limiter typhon.Filter
	switch cfg.limiter {
	case "static":
		limiter = filters.ConcurrencyLimit(cfg.limit)
	case "adaptive":
		limiter = filters.AdaptiveLimit(filters.WithAdaptiveLimits(max(cfg.limit/4, 1), cfg.limit),
			filters.WithAdaptiveInitialLimit(cfg.limit))
	default:
		return nil, fmt.Errorf("unknown limiter %q", cfg.limiter)
	}
	work := cfg.work
	handler := typhon.Service(func(req typhon.Request) typhon.Response {
		t := time.NewTimer(work)
		defer t.Stop()
		select {
		case <-t.C:
			return req.Response("ok")
		case <-req.Context().Done():
			return typhon.ErrorResponse(req, req.Context().Err())
		}
	})
	return handler.Filter(limiter), nil
}

// A target is a running server under test.
type target interface {
	Addr() string
	// CPU returns the CPU time the server has used so far, or 0 where it
	// cannot be measured.
	CPU() (time.Duration, error)
	// Close stops the server and waits for it.
	Close() error
}

// startTarget starts the server for cfg: in a child process of its own
// (pinned to CPU 0 where taskset is there) unless cfg.inProcess.
func startTarget(cfg config) (target, error) {
	if cfg.inProcess {
		return startLocal(cfg)
	}
	return startChild(cfg)
}

// localTarget serves in this process, sharing its CPUs with the load
// generator; its CPU figure is the whole process's.
type localTarget struct{ srv *typhon.Server }

func startLocal(cfg config) (*localTarget, error) {
	svc, err := newService(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := typhon.Listen(svc, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &localTarget{srv: srv}, nil
}

func (t *localTarget) Addr() string                { return t.srv.Addr().String() }
func (t *localTarget) CPU() (time.Duration, error) { return cpuTime(), nil }
func (t *localTarget) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return t.srv.Stop(ctx)
}

// childTarget is this program run with -serve: it prints its address, then
// answers each "cpu" line on its standard input with its CPU time in
// nanoseconds, and stops when its standard input closes.
type childTarget struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	addr string
}

func startChild(cfg config) (*childTarget, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{self, "-serve",
		"-work", cfg.work.String(), "-limit", strconv.Itoa(cfg.limit), "-limiter", cfg.limiter}
	if cfg.pin {
		args = append([]string{"taskset", "-c", "0"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &childTarget{cmd: cmd, in: in, out: bufio.NewReader(out)}
	line, err := t.out.ReadString('\n')
	if err != nil {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("server process: no address: %w", err)
	}
	t.addr = strings.TrimSpace(line)
	return t, nil
}

func (t *childTarget) Addr() string { return t.addr }

func (t *childTarget) CPU() (time.Duration, error) {
	if _, err := io.WriteString(t.in, "cpu\n"); err != nil {
		return 0, err
	}
	line, err := t.out.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("server process: %w", err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	return time.Duration(ns), err
}

func (t *childTarget) Close() error {
	t.in.Close()
	done := make(chan error, 1)
	go func() { done <- t.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.cmd.Process.Kill()
		<-done
		return errors.New("server process did not stop within 15 s; killed")
	}
}

// serve is the child's side of childTarget. It exits by itself after
// maxLife, should its parent have gone without closing its input.
func serve(cfg config, in io.Reader, out io.Writer, maxLife time.Duration) error {
	srv, err := startLocal(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintln(out, srv.Addr())
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.NewTimer(maxLife)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return nil
			}
			if l == "cpu" {
				fmt.Fprintln(out, int64(cpuTime()))
			}
		case <-deadline.C:
			return fmt.Errorf("stopping after %v: the parent never closed standard input", maxLife)
		}
	}
}

// pinSelf re-runs this program under taskset on CPU 1, so that the load
// generator and the server (on CPU 0) do not compete for a core. It returns
// false, and does nothing, where that cannot be done: then the caller goes
// on unpinned.
func pinSelf() (pinned bool, err error) {
	if os.Getenv("OVERLOAD_PINNED") != "" {
		return false, nil
	}
	if runtime.GOOS != "linux" || runtime.NumCPU() < 2 {
		return false, nil
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return false, nil
	}
	self, err := os.Executable()
	if err != nil {
		return false, nil
	}
	cmd := exec.Command("taskset", append([]string{"-c", "1", self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), "OVERLOAD_PINNED=1", "OVERLOAD_NCPU="+strconv.Itoa(runtime.NumCPU()))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return true, cmd.Run()
}
