package filters

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/typhon-go/typhon"
)

// A FaultOption configures [Fault].
type FaultOption interface{ applyFault(*faultConfig) }

type faultOptionFunc func(*faultConfig)

func (f faultOptionFunc) applyFault(c *faultConfig) { f(c) }

type faultConfig struct {
	errs   []faultError
	delays []faultDelay
	rand   func() float64 // nil: math/rand/v2's Float64
	match  func(typhon.Request) bool
}

type faultError struct {
	fraction float64
	err      error
}

type faultDelay struct {
	fraction float64
	d        time.Duration
}

// WithFaultError makes [Fault] answer the given fraction of calls (0 to 1)
// with err, without calling the Service. err's code is what the caller sees:
// typhon.NewError(typhon.CodeUnavailable, "injected fault") looks like an
// overloaded downstream. Given more than once, each error takes its own
// fraction of the calls; the fractions must add up to at most 1.
//
// It panics if fraction is not within [0, 1] or err is nil.
func WithFaultError(fraction float64, err error) FaultOption {
	checkFaultFraction("WithFaultError", fraction)
	if err == nil {
		panic("filters: WithFaultError with a nil error")
	}
	return faultOptionFunc(func(c *faultConfig) {
		c.errs = append(c.errs, faultError{fraction, err})
	})
}

// WithFaultDelay makes [Fault] delay the given fraction of calls (0 to 1) by
// d before calling the Service (or answering an injected error). The delay
// honours the request's context: when it ends first, the call is answered
// timeout or canceled, with the context's error as cause, as a client's
// call would be. Given more than once, each delay takes its own fraction of
// the calls; the fractions must add up to at most 1.
//
// It panics if fraction is not within [0, 1] or d is negative.
func WithFaultDelay(fraction float64, d time.Duration) FaultOption {
	checkFaultFraction("WithFaultDelay", fraction)
	if d < 0 {
		panic(fmt.Sprintf("filters: WithFaultDelay with a negative delay %v", d))
	}
	return faultOptionFunc(func(c *faultConfig) {
		c.delays = append(c.delays, faultDelay{fraction, d})
	})
}

// WithFaultRand makes [Fault] draw its random numbers from float, which
// returns numbers in [0, 1), such as a seeded *rand.Rand's Float64, for
// tests that want the same faults on every run. Fault serialises its calls
// to float, so it need not be safe for concurrent use. By default, and when
// float is nil, Fault uses math/rand/v2's Float64.
func WithFaultRand(float func() float64) FaultOption {
	return faultOptionFunc(func(c *faultConfig) { c.rand = float })
}

// WithFaultMatch limits [Fault] to the requests for which match returns
// true; the others go through untouched, and draw no random numbers. By
// default, and when match is nil, every request is subject to faults. Given
// more than once, the last one applies.
func WithFaultMatch(match func(typhon.Request) bool) FaultOption {
	return faultOptionFunc(func(c *faultConfig) { c.match = match })
}

func checkFaultFraction(name string, f float64) {
	if !(f >= 0 && f <= 1) { // false for NaN too
		panic(fmt.Sprintf("filters: %s fraction %v is not within [0, 1]", name, f))
	}
}

// Fault returns a Filter that injects faults into a fraction of calls, for
// chaos tests in staging and for testing how callers cope: delays
// ([WithFaultDelay]) and errors ([WithFaultError]), for all requests or
// those [WithFaultMatch] selects. With no options it injects nothing and
// costs nothing: it calls the Service and allocates nothing.
//
// For each matching request, Fault first picks the delay, then the error,
// each with one random number u in [0, 1): the first fault (in the order
// given) whose running sum of fractions exceeds u applies. No number is drawn
// where the outcome is certain (fractions of 0, or one fault with fraction
// 1), so a test using [WithFaultRand] knows which calls use which numbers.
// A delay comes before the call (or the error); an injected error replaces
// the call.
//
// Fault is safe for concurrent use. It panics, with a message starting
// "filters:", if the fractions of one kind add up to more than 1.
func Fault(opts ...FaultOption) typhon.Filter {
	var cfg faultConfig
	for _, o := range opts {
		if o != nil {
			o.applyFault(&cfg)
		}
	}
	if len(cfg.errs) == 0 && len(cfg.delays) == 0 {
		return faultFree
	}
	f := &faultInjector{match: cfg.match, rand: cfg.rand}
	for _, d := range cfg.delays {
		f.delays.fractions = append(f.delays.fractions, d.fraction)
		f.delayOf = append(f.delayOf, d.d)
	}
	for _, e := range cfg.errs {
		f.errs.fractions = append(f.errs.fractions, e.fraction)
		f.errOf = append(f.errOf, e.err)
	}
	f.delays.total = f.delays.sum("WithFaultDelay")
	f.errs.total = f.errs.sum("WithFaultError")
	return f.filter
}

// faultFree is Fault with no faults: a plain call.
func faultFree(req typhon.Request, svc typhon.Service) typhon.Response { return svc(req) }

type faultInjector struct {
	match   func(typhon.Request) bool
	delays  faultChoice
	delayOf []time.Duration
	errs    faultChoice
	errOf   []error

	mu   sync.Mutex // serialises calls to rand
	rand func() float64
}

// faultChoice picks one of several faults, each with its fraction of the calls.
type faultChoice struct {
	fractions []float64
	total     float64
}

func (c *faultChoice) sum(name string) float64 {
	var sum float64
	for _, x := range c.fractions {
		sum += x
	}
	if sum > 1+1e-9 {
		panic(fmt.Sprintf("filters: the %s fractions add up to %v, more than 1", name, sum))
	}
	return sum
}

func (f *faultInjector) filter(req typhon.Request, svc typhon.Service) typhon.Response {
	if f.match != nil && !f.match(req) {
		return svc(req)
	}
	if i := f.pick(&f.delays); i >= 0 && f.delayOf[i] > 0 {
		if err := faultSleep(req.Context(), f.delayOf[i]); err != nil {
			faultCloseBody(req)
			return typhon.ErrorResponse(req, err)
		}
	}
	if i := f.pick(&f.errs); i >= 0 {
		faultCloseBody(req)
		return typhon.ErrorResponse(req, f.errOf[i])
	}
	return svc(req)
}

// pick returns the index of the fault that applies, or -1 for none,
// drawing a number only when it must.
func (f *faultInjector) pick(c *faultChoice) int {
	switch {
	case c.total == 0:
		return -1
	case len(c.fractions) == 1 && c.total == 1:
		return 0
	}
	u := f.draw()
	var sum float64
	for i, x := range c.fractions {
		sum += x
		if u < sum {
			return i
		}
	}
	return -1
}

func (f *faultInjector) draw() float64 {
	if f.rand == nil {
		return rand.Float64()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rand()
}

// faultCloseBody closes the body of a request Fault answers without
// calling the Service, as a transport closes the body of a request it does
// not send.
func faultCloseBody(req typhon.Request) {
	if req.Request != nil && req.Body != nil && req.Body != http.NoBody {
		req.Body.Close()
	}
}

// faultSleep waits d, or until ctx ends: then it returns the timeout or canceled
// error a client would.
func faultSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return typhon.ContextError(ctx)
	}
}
