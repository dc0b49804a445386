// Command report runs typhon's attack, lifecycle and conformance suites and
// writes docs/RELIABILITY.md from what they measured: the RESULT lines the
// tests log, their pass or fail, and h2spec's counts. Run it from anywhere
// in the module (testing/attack/report.sh does):
//
//	go run ./testing/attack/report [-out docs/RELIABILITY.md]
//
// It exits non-zero when a test or h2spec failed, after writing the report.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// suites are the test runs the report is made of.
var suites = [][]string{
	{"./testing/attack/"},
	{"-run", "^TestE2EBlackholeDetectedByPings$", "./testing/faultproxy/"},
}

type result struct {
	test     string
	scenario string
	keys     []string
	figs     map[string]string
	bar      string
	outcome  string // pass, fail, or "" if the test never ended
}

type testEvent struct {
	Action, Package, Test, Output string
}

func main() {
	out := flag.String("out", "docs/RELIABILITY.md", "report to write, relative to the module root")
	flag.Parse()
	log.SetFlags(0)
	root, err := moduleRoot()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.Chdir(root); err != nil {
		log.Fatal(err)
	}

	var results []*result
	ok := true
	started := time.Now()
	for _, args := range suites {
		rs, passed, err := runSuite(args)
		if err != nil {
			log.Fatal(err)
		}
		results = append(results, rs...)
		ok = ok && passed
	}
	// By scenario name: defaults, h1/, h2/, lifecycle/, then the rest.
	sort.SliceStable(results, func(i, j int) bool { return results[i].scenario < results[j].scenario })
	h2 := runH2spec()
	ok = ok && h2.ok
	took := time.Since(started).Round(time.Second)

	var b bytes.Buffer
	writeReport(&b, results, h2, took)
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %s: %d scenarios, h2spec %s/%s passed, in %v\n", *out, len(results), h2.figs["passed"], h2.figs["total"], took)
	if !ok {
		fmt.Println("FAILED: see the report")
		os.Exit(1)
	}
}

func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("report: run it inside the typhon module")
	}
	return filepath.Dir(mod), nil
}

var resultLine = regexp.MustCompile(`RESULT (scenario=\S+.*?) bar="(.*)"\s*$`)

// runSuite runs go test -json -race on args and returns the RESULT lines
// with the outcome of the test that logged each.
func runSuite(args []string) ([]*result, bool, error) {
	cmd := exec.Command("go", append([]string{"test", "-json", "-race", "-count=1"}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, false, err
	}
	fmt.Printf("go test -race %s\n", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return nil, false, err
	}
	var results []*result
	byTest := map[string][]*result{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev testEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		switch ev.Action {
		case "output":
			if m := resultLine.FindStringSubmatch(ev.Output); m != nil {
				r := parseResult(ev.Test, m[1], m[2])
				results = append(results, r)
				byTest[ev.Test] = append(byTest[ev.Test], r)
			}
			if strings.HasPrefix(ev.Output, "--- FAIL") || strings.Contains(ev.Output, "FAIL\t") {
				fmt.Print(ev.Output)
			}
		case "pass", "fail":
			for _, r := range byTest[ev.Test] {
				r.outcome = ev.Action
			}
		}
	}
	err = cmd.Wait()
	return results, err == nil, nil
}

func parseResult(test, fields, bar string) *result {
	r := &result{test: test, figs: map[string]string{}, bar: strings.ReplaceAll(bar, `\"`, `"`)}
	for _, kv := range strings.Fields(fields) {
		k, v, _ := strings.Cut(kv, "=")
		if k == "scenario" {
			r.scenario = v
			continue
		}
		r.keys = append(r.keys, k)
		r.figs[k] = v
	}
	return r
}

type h2specResult struct {
	ok      bool
	figs    map[string]string
	failing []string // "id: reason"
	summary string
}

var h2Line = regexp.MustCompile(`^H2SPEC (.*)$`)

func runH2spec() h2specResult {
	fmt.Println("testing/attack/h2spec.sh")
	cmd := exec.Command("./testing/attack/h2spec.sh")
	var outb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outb, &outb
	err := cmd.Run()
	res := h2specResult{ok: err == nil, figs: map[string]string{}}
	for _, line := range strings.Split(outb.String(), "\n") {
		switch {
		case h2Line.MatchString(line):
			for _, kv := range strings.Fields(h2Line.FindStringSubmatch(line)[1]) {
				k, v, _ := strings.Cut(kv, "=")
				res.figs[k] = v
			}
		case strings.HasPrefix(line, "  failing "):
			res.failing = append(res.failing, strings.TrimPrefix(line, "  failing "))
		case strings.Contains(line, " tests, "):
			res.summary = strings.TrimSpace(line)
		}
	}
	if !res.ok {
		fmt.Print(outb.String())
	}
	return res
}
