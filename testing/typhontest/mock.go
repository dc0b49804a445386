package typhontest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/typhon-go/typhon"
)

// Mock is a scripted Service, for testing what calls it: filters, clients,
// and services that fan out. Its n-th call is answered by the n-th [Step] of
// its script, and every call after the last step by the last step again;
// end the script with [NoMoreCalls] to fail the test on a call past the
// end. A Mock with no steps answers every call with an empty 200.
//
// Every call is recorded, with its body, when it arrives; the step still
// reads the body. Waits (a step's latency, [Hang]) use timers and the
// request's context, never sleeps, so a Mock used inside a testing/synctest
// bubble runs in the bubble's virtual time: a 5 s latency takes no real
// time and exactly 5 s of the bubble's. A wait also ends when the test
// ends, so a Mock left hanging does not outlive its test.
//
// Serve it with [Mock.Serve]. A Mock is safe for concurrent use.
type Mock struct {
	t     testing.TB
	steps []Step
	mu    sync.Mutex
	calls []Call
	ended bool
}

// NewMock returns a Mock that answers with steps, in order, for the test t.
func NewMock(t testing.TB, steps ...Step) *Mock {
	m := &Mock{t: t, steps: slices.Clone(steps)}
	// Make the test context's Done channel here, where the Mock is made:
	// made lazily inside a testing/synctest bubble that later uses the
	// Mock, it would belong to the bubble, and ending the test, outside
	// the bubble, would close it from outside: a fatal error.
	t.Context().Done()
	t.Cleanup(func() {
		m.mu.Lock()
		m.ended = true
		m.mu.Unlock()
	})
	return m
}

// Serve returns the Mock as a Service.
func (m *Mock) Serve() typhon.Service { return m.serve }

// Calls returns a copy of the calls made so far, in the order they arrived.
func (m *Mock) Calls() []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Call(nil), m.calls...)
}

// Count returns how many calls have arrived so far, finished or not.
func (m *Mock) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

func (m *Mock) serve(req typhon.Request) typhon.Response {
	if req.Request == nil {
		return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeInternalService, "typhontest: Mock called with a zero Request"))
	}
	call := recordCall(req)
	m.mu.Lock()
	n := len(m.calls)
	m.calls = append(m.calls, call)
	m.mu.Unlock()
	var s Step
	if len(m.steps) > 0 {
		s = m.steps[min(n, len(m.steps)-1)]
	}
	return s.run(m, req, n)
}

// errorf reports a failure unless the test has ended.
func (m *Mock) errorf(format string, args ...any) {
	m.mu.Lock()
	ended := m.ended
	m.mu.Unlock()
	if !ended {
		m.t.Errorf(format, args...)
	}
}

// errTestEnded ends the waits of a Mock whose test has ended.
var errTestEnded = errors.New("typhontest: the test has ended")

// Step is one answer in a [Mock]'s script: [Respond], [RespondFunc],
// [Fail], [Hang], [Panic] or [NoMoreCalls], with latency added by
// [Step.After]. The zero Step answers an empty 200. A Step is a value: it
// can be used in several scripts, and several times in one.
type Step struct {
	delay time.Duration
	// act answers call n (0-based); ctx is the request's context, ended
	// also when the test ends.
	act  func(m *Mock, ctx context.Context, req typhon.Request, n int) typhon.Response
	wait bool // act waits on ctx
}

// After returns s with latency d added: the call waits d before s answers,
// on a timer. If the request's context ends first, the call is answered at
// once with the context's error (timeout or canceled), as a server whose
// caller went away.
func (s Step) After(d time.Duration) Step {
	s.delay = d
	return s
}

func (s Step) run(m *Mock, req typhon.Request, n int) typhon.Response {
	if s.delay <= 0 && !s.wait {
		if s.act == nil {
			return typhon.NewResponse(req)
		}
		return s.act(m, req.Context(), req, n)
	}
	// A context that also ends with the test. Waiting on it alone (never
	// on the test's context directly) keeps the wait durably blocking
	// inside a synctest bubble, wherever the Mock was made.
	ctx, cancel := context.WithCancelCause(req.Context())
	defer cancel(nil)
	stop := context.AfterFunc(m.t.Context(), func() { cancel(errTestEnded) })
	defer stop()
	if s.delay > 0 {
		timer := time.NewTimer(s.delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return typhon.ErrorResponse(req, ctx.Err())
		}
	}
	if s.act == nil {
		return typhon.NewResponse(req)
	}
	return s.act(m, ctx, req, n)
}

// Respond answers 200 with body, encoded as [typhon.Request.Response]
// encodes it, anew for each call: nil is no body, []byte is sent as it is,
// anything else as JSON. An io.Reader body can be read by one call only:
// use RespondFunc to make one per call.
func Respond(body any) Step {
	return Step{act: func(_ *Mock, _ context.Context, req typhon.Request, _ int) typhon.Response {
		return req.Response(body)
	}}
}

// RespondFunc answers with svc: any status, headers or body, made anew for
// each call. svc is called with the Request; a nil svc panics.
func RespondFunc(svc typhon.Service) Step {
	if svc == nil {
		panic("typhontest: RespondFunc with a nil Service")
	}
	return Step{act: func(_ *Mock, _ context.Context, req typhon.Request, _ int) typhon.Response {
		return svc(req)
	}}
}

// Fail answers with err as the Response's Error, with its status
// ([typhon.ErrorStatus]). The caller gets err itself, cause and all; served
// or used as a stub, it crosses the wire as a remote caller would see it.
func Fail(err error) Step {
	return Step{act: func(_ *Mock, _ context.Context, req typhon.Request, _ int) typhon.Response {
		return typhon.ErrorResponse(req, err)
	}}
}

// Hang answers only when the request's context ends, with its error
// (timeout or canceled): a downstream that never answers, to test timeouts,
// hedging and cancellation. The wait also ends when the test ends.
func Hang() Step {
	return Step{wait: true, act: func(_ *Mock, ctx context.Context, req typhon.Request, _ int) typhon.Response {
		<-ctx.Done()
		if errors.Is(context.Cause(ctx), errTestEnded) && req.Context().Err() == nil {
			return typhon.ErrorResponse(req, typhon.WrapError(errTestEnded, typhon.CodeCanceled, errTestEnded.Error()))
		}
		return typhon.ErrorResponse(req, ctx.Err())
	}}
}

// Panic panics with v, to test recovery: typhon's server and
// Request.SendVia answer it 500 internal_service, and so does [Stubs].
func Panic(v any) Step {
	return Step{act: func(*Mock, context.Context, typhon.Request, int) typhon.Response {
		panic(v)
	}}
}

// NoMoreCalls ends a script: a call that reaches it fails the test
// (t.Errorf, naming the call) and is answered internal_service. As the last
// step, it answers every call past the end of the script.
func NoMoreCalls() Step {
	return Step{act: func(m *Mock, _ context.Context, req typhon.Request, n int) typhon.Response {
		m.errorf("typhontest: unexpected call %d to a Mock with %s: %s %s",
			n+1, plural(len(m.steps)-1, "step"), req.Method, req.URL)
		return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeInternalService, "typhontest: unexpected call to Mock"))
	}}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
