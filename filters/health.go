package filters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/typhon-go/typhon"
)

// A Checker reports whether one thing a service depends on is healthy: nil
// when it is, an error saying what is wrong when it is not. details (may be
// nil) are shown beside the outcome either way: a version, a pool's size, a
// replica's lag. A Checker must return soon after ctx ends, which it does
// at the check timeout ([WithHealthTimeout]) or when the prober hangs up: a
// Checker that ignores ctx is reported as timed out all the same, but its
// goroutine runs on until it returns.
type Checker func(ctx context.Context) (details map[string]string, err error)

// DefaultHealthTimeout is how long [Health] waits for its checkers, unless
// [WithHealthTimeout] says otherwise.
const DefaultHealthTimeout = 2 * time.Second

// The paths [Health.Filter] answers, unless [WithHealthPaths] says otherwise.
const (
	DefaultLivenessPath  = "/healthz"
	DefaultReadinessPath = "/readyz"
)

// The status of a [HealthReport] and of each [CheckResult].
const (
	HealthOK          = "ok"
	HealthUnavailable = "unavailable"
)

// A HealthOption configures [NewHealth]: [WithHealthTimeout],
// [WithHealthPaths].
type HealthOption interface{ applyHealth(*Health) }

type healthOptionFunc func(*Health)

func (f healthOptionFunc) applyHealth(h *Health) { f(h) }

// WithHealthTimeout bounds how long a health check waits for its checkers,
// which run concurrently: a checker still running after d is reported
// unavailable, "timed out". The default is [DefaultHealthTimeout]. It
// panics if d is not positive.
func WithHealthTimeout(d time.Duration) HealthOption {
	if d <= 0 {
		panic("filters: WithHealthTimeout needs a positive duration, got " + d.String())
	}
	return healthOptionFunc(func(h *Health) { h.timeout = d })
}

// WithHealthPaths sets the paths [Health.Filter] answers: by default
// [DefaultLivenessPath] and [DefaultReadinessPath]. An empty path keeps its
// default.
func WithHealthPaths(liveness, readiness string) HealthOption {
	return healthOptionFunc(func(h *Health) {
		if liveness != "" {
			h.livePath = liveness
		}
		if readiness != "" {
			h.readyPath = readiness
		}
	})
}

// Health answers liveness and readiness probes, as a Kubernetes kubelet or a
// load balancer sends them, from [Checker]s registered by name:
//
//   - liveness (GET /healthz): is the process working at all? A failure
//     tells the orchestrator to restart it, so register only checks of the
//     process itself (a deadlocked worker), never of its dependencies.
//   - readiness (GET /readyz): should traffic be sent here? It fails when a
//     readiness checker fails (a database out of reach), and from the
//     moment the server starts shutting down ([Health.WatchServer],
//     [Health.Drain]), without running the checkers.
//
// Each answer is JSON, 200 when every checker passed and 503 otherwise
// (a plain Response with that status, not an Error, so that the report is
// the body), with Cache-Control: no-store:
//
//	{"status":"unavailable","checks":{"db":{"status":"unavailable","error":"dial tcp: refused","details":{"host":"db:5432"}}}}
//
// A probe runs its checkers concurrently, each on its own goroutine, with a
// context that ends at the timeout ([WithHealthTimeout], by default
// [DefaultHealthTimeout]) or when the probe's request ends; a checker not
// done by then is reported "timed out" and the answer does not wait for it.
// A panicking checker is reported as failed.
//
// With typhon.WithLameDuck(d) on the server, shutting down is a clean
// hand-over: Stop makes /readyz answer 503 at once, then keeps serving every
// route (so /healthz still answers 200) for d while the load balancer
// notices, then closes the listener and drains:
//
//	h := filters.NewHealth()
//	h.RegisterReadiness("db", pingDB)
//	srv, err := typhon.Listen(router.Serve().Filter(h.Filter()), ":8080", typhon.WithLameDuck(10*time.Second))
//	h.WatchServer(srv)
//
// The zero Health is ready to use, with the defaults. A Health is safe for
// concurrent use; checkers may be registered while it serves.
type Health struct {
	timeout   time.Duration
	livePath  string
	readyPath string

	mu       sync.Mutex
	live     []healthCheck
	ready    []healthCheck
	servers  []*typhon.Server
	draining atomic.Bool
}

type healthCheck struct {
	name  string
	check Checker
}

// NewHealth returns a Health configured by opts.
func NewHealth(opts ...HealthOption) *Health {
	h := &Health{}
	for _, o := range opts {
		o.applyHealth(h)
	}
	return h
}

// RegisterLiveness adds c to the liveness checks, under name. It panics if
// c is nil, name is empty, or a liveness check already has name.
func (h *Health) RegisterLiveness(name string, c Checker) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.live = registerCheck(h.live, "RegisterLiveness", name, c)
}

// RegisterReadiness adds c to the readiness checks, under name. It panics
// if c is nil, name is empty, or a readiness check already has name.
func (h *Health) RegisterReadiness(name string, c Checker) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ready = registerCheck(h.ready, "RegisterReadiness", name, c)
}

func registerCheck(checks []healthCheck, method, name string, c Checker) []healthCheck {
	if name == "" || c == nil {
		panic("filters: Health." + method + " needs a name and a Checker")
	}
	for _, hc := range checks {
		if hc.name == name {
			panic("filters: Health." + method + ": " + name + " is already registered")
		}
	}
	// A new slice each time: probes running hold the old one.
	return append(checks[:len(checks):len(checks)], healthCheck{name, c})
}

// Drain makes readiness fail from now on, for good: the service is about to
// stop. [Health.WatchServer] does it when a server starts shutting down.
func (h *Health) Drain() { h.draining.Store(true) }

// WatchServer makes readiness fail from the moment srv starts shutting down
// (srv.Done is closed: Stop was called, or its listener failed). Several
// servers may be watched; readiness fails when any of them is done. It
// starts no goroutine.
func (h *Health) WatchServer(srv *typhon.Server) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.servers = append(h.servers, srv)
}

// Draining reports whether readiness fails because of [Health.Drain] or a
// watched server shutting down.
func (h *Health) Draining() bool {
	if h.draining.Load() {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.servers {
		select {
		case <-s.Done():
			return true
		default:
		}
	}
	return false
}

// Filter returns a Filter that answers GET and HEAD requests for the
// liveness and readiness paths (by default /healthz and /readyz) with
// [Health.Liveness] and [Health.Readiness], and passes every other request
// on. Put it outermost, so that probes skip the filters meant for real
// traffic (rate limits, access logs).
func (h *Health) Filter() typhon.Filter {
	return func(req typhon.Request, svc typhon.Service) typhon.Response {
		if req.Request != nil && req.URL != nil && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			switch req.URL.Path {
			case h.livenessPath():
				return h.Liveness(req)
			case h.readinessPath():
				return h.Readiness(req)
			}
		}
		return svc(req)
	}
}

func (h *Health) livenessPath() string {
	if h.livePath == "" {
		return DefaultLivenessPath
	}
	return h.livePath
}

func (h *Health) readinessPath() string {
	if h.readyPath == "" {
		return DefaultReadinessPath
	}
	return h.readyPath
}

// Liveness is a Service that runs the liveness checks and answers with
// their report: 200 when all pass, 503 otherwise. Mount it on a Router to
// serve it elsewhere than [Health.Filter] does: r.GET("/live", h.Liveness).
func (h *Health) Liveness(req typhon.Request) typhon.Response {
	h.mu.Lock()
	checks := h.live
	h.mu.Unlock()
	return healthResponse(req, h.run(req.Context(), checks))
}

// Readiness is a Service that answers 503 while draining (see
// [Health.WatchServer]); otherwise it runs the readiness checks and answers
// with their report: 200 when all pass, 503 otherwise.
func (h *Health) Readiness(req typhon.Request) typhon.Response {
	if h.Draining() {
		return healthResponse(req, HealthReport{Status: HealthUnavailable, Draining: true, Checks: map[string]CheckResult{}})
	}
	h.mu.Lock()
	checks := h.ready
	h.mu.Unlock()
	return healthResponse(req, h.run(req.Context(), checks))
}

// HealthReport is the JSON body of a health answer.
type HealthReport struct {
	// Status is HealthOK when every check passed (or there are none) and
	// the server is not draining, HealthUnavailable otherwise.
	Status string `json:"status"`
	// Draining is true when readiness fails because the server is shutting
	// down; the checks are not run then.
	Draining bool `json:"draining,omitempty"`
	// Checks holds each check's result by name.
	Checks map[string]CheckResult `json:"checks"`
}

// CheckResult is the outcome of one [Checker].
type CheckResult struct {
	Status  string            `json:"status"`          // HealthOK or HealthUnavailable
	Error   string            `json:"error,omitempty"` // the checker's error, "timed out after 2s", ...
	Details map[string]string `json:"details,omitempty"`
}

func healthResponse(req typhon.Request, rep HealthReport) typhon.Response {
	rsp := req.Response(rep)
	if rsp.Error != nil {
		return rsp
	}
	if rep.Status != HealthOK {
		rsp.StatusCode = http.StatusServiceUnavailable
	}
	rsp.Header.Set("Cache-Control", "no-store")
	return rsp
}

type healthResult struct {
	name string
	res  CheckResult
}

// run runs checks concurrently and reports on them, waiting no longer than
// the timeout.
func (h *Health) run(ctx context.Context, checks []healthCheck) HealthReport {
	rep := HealthReport{Status: HealthOK, Checks: make(map[string]CheckResult, len(checks))}
	if len(checks) == 0 {
		return rep
	}
	timeout := h.timeout
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errHealthTimeout)
	defer cancel()                                  // ends the checkers still running
	results := make(chan healthResult, len(checks)) // buffered: a late checker never blocks
	for _, c := range checks {
		go func() { results <- healthResult{c.name, runCheck(ctx, c.check, timeout)} }()
	}
wait:
	for range checks {
		select {
		case r := <-results:
			rep.Checks[r.name] = r.res
		case <-ctx.Done():
			break wait
		}
	}
	for len(results) > 0 { // what came in as the wait ended
		r := <-results
		rep.Checks[r.name] = r.res
	}
	for _, c := range checks {
		if _, ok := rep.Checks[c.name]; !ok {
			rep.Checks[c.name] = CheckResult{Status: HealthUnavailable, Error: healthCtxMessage(ctx, timeout)}
		}
	}
	for _, r := range rep.Checks {
		if r.Status != HealthOK {
			rep.Status = HealthUnavailable
			break
		}
	}
	return rep
}

// errHealthTimeout is the cause of a checker's context ending at the check
// timeout.
var errHealthTimeout = errors.New("filters: health check timed out")

// healthCtxMessage says why a checker's context ended: the check timeout,
// or the probe's own end (its caller gone, its deadline passed).
func healthCtxMessage(ctx context.Context, timeout time.Duration) string {
	cause := context.Cause(ctx)
	if errors.Is(cause, errHealthTimeout) {
		return "timed out after " + timeout.String()
	}
	return "probe ended: " + cause.Error()
}

// runCheck runs c, turning a panic into a failure. A checker that gives up
// because its context ended is reported as the checks it did not wait for
// are.
func runCheck(ctx context.Context, c Checker, timeout time.Duration) (res CheckResult) {
	defer func() {
		if p := recover(); p != nil {
			res = CheckResult{Status: HealthUnavailable, Error: fmt.Sprint("panic: ", p)}
		}
	}()
	details, err := c(ctx)
	if err != nil {
		msg := err.Error()
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			msg = healthCtxMessage(ctx, timeout)
		}
		return CheckResult{Status: HealthUnavailable, Error: msg, Details: details}
	}
	return CheckResult{Status: HealthOK, Details: details}
}
