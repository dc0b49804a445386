package filters

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/typhon-go/typhon"
)

// A RecoverOption configures [Recover]: [WithLogger].
type RecoverOption interface{ applyRecover(*recoverConfig) }

type recoverConfig struct{ logger *slog.Logger }

func (o LoggerOption) applyRecover(c *recoverConfig) { c.logger = o.logger }

// Recover returns a Filter that turns a panic anywhere in the Service it
// wraps (the filters inside it included) into an internal_service error
// Response with the message "internal error". The panic's value and stack
// are logged at Error level to the logger of [WithLogger] (by default
// slog.Default()) and never sent to the caller. A panic with
// http.ErrAbortHandler, net/http's signal to abort a response, is let
// through.
//
// Recover takes options only for its logger, so it is a constructor, not a
// Filter value. Put it outermost, so that it covers every other filter. A
// typhon server already recovers panics (see typhon.WithoutRecovery):
// Recover is for a chain called in process, a client stack, or a server
// that answers panics with its own Filters around (Trace, Metrics) seeing
// the error. A panic while the caller reads the Response body happens after
// Recover has returned and is not covered.
//
// The Filter is safe for concurrent use and allocates nothing when nothing
// panics.
func Recover(opts ...RecoverOption) typhon.Filter {
	var c recoverConfig
	for _, o := range opts {
		o.applyRecover(&c)
	}
	logger := loggerOrDefault(c.logger)
	return func(req typhon.Request, svc typhon.Service) (rsp typhon.Response) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				rsp = recoverResponse(logger, req, p)
			}
		}()
		return svc(req)
	}
}

func recoverResponse(logger *slog.Logger, req typhon.Request, p any) typhon.Response {
	value, stack := p, debug.Stack()
	if gp, ok := p.(*goroutinePanic); ok {
		value, stack = gp.value, gp.stack
	}
	method, path := requestMethodPath(req)
	logger.Error("filters: recovered panic", "method", method, "path", path,
		"panic", fmt.Sprint(value), "stack", string(stack))
	err := typhon.WrapError(recoveredPanic{value}, typhon.CodeInternalService, "internal error")
	return typhon.ErrorResponse(req, err)
}

// recoveredPanic is the cause of the error Recover answers: the panic's
// value, for errors.Is/As in process. It never goes on the wire.
type recoveredPanic struct{ value any }

func (p recoveredPanic) Error() string { return "panic: " + fmt.Sprint(p.value) }

func (p recoveredPanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// goroutinePanic is a panic that happened on a goroutine a filter started
// for a Service (see [Timeout]), raised again on the caller's goroutine with
// the stack of where it happened, so that Recover, or the server, logs that.
type goroutinePanic struct {
	value any
	stack []byte
}

func (p *goroutinePanic) Error() string {
	return fmt.Sprint(p.value) + "\n\ngoroutine stack:\n" + string(p.stack)
}

func (p *goroutinePanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// requestMethodPath returns req's method and path for a log line, "" for
// what req lacks.
func requestMethodPath(req typhon.Request) (method, path string) {
	if req.Request == nil {
		return "", ""
	}
	if req.URL != nil {
		path = req.URL.Path
	}
	return req.Method, path
}
