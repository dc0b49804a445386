// Package bench holds typhon's comparative benchmarks: typhon against plain
// net/http, net/http with chi, and github.com/monzo/typhon v1.1.10, on the
// same work (see package servers). It is a module of its own, so that the
// library's go.mod never depends on what it is compared with.
//
//	./run                          # the whole suite, pinned; writes RESULTS.md
//	go test -bench . -benchtime=1x ./...   # what CI runs: it builds and runs once
//
// The benchmarks are in the _test.go files: in-process (inprocess_test.go),
// over loopback (roundtrip_test.go) and memory per connection and per
// request in flight (memory_test.go). load.sh measures server CPU per
// request under h2load and wrk.
package bench
