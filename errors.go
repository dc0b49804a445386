package typhon

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Error codes. A code may be refined with dotted suffixes
// ("not_found.user"); [IsCode] and [ErrorStatus] look at the first segment.
const (
	CodeBadRequest           = "bad_request"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodePreconditionFailed   = "precondition_failed"
	CodeRequestTooLarge      = "request_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeRateLimited          = "rate_limited"
	CodeCanceled             = "canceled"
	CodeInternalService      = "internal_service"
	CodeNotImplemented       = "not_implemented"
	CodeBadGateway           = "bad_gateway"
	CodeUnavailable          = "unavailable"
	CodeTimeout              = "timeout"
)

// StatusClientClosedRequest is the status typhon uses for [CodeCanceled]: the
// caller went away before the answer was ready (nginx's 499).
const StatusClientClosedRequest = 499

// codeStatus is the one table between codes and statuses, used both ways.
var codeStatus = map[string]int{
	CodeBadRequest:           http.StatusBadRequest,
	CodeUnauthorized:         http.StatusUnauthorized,
	CodeForbidden:            http.StatusForbidden,
	CodeNotFound:             http.StatusNotFound,
	CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	CodeConflict:             http.StatusConflict,
	CodePreconditionFailed:   http.StatusPreconditionFailed,
	CodeRequestTooLarge:      http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	CodeRateLimited:          http.StatusTooManyRequests,
	CodeCanceled:             StatusClientClosedRequest,
	CodeInternalService:      http.StatusInternalServerError,
	CodeNotImplemented:       http.StatusNotImplemented,
	CodeBadGateway:           http.StatusBadGateway,
	CodeUnavailable:          http.StatusServiceUnavailable,
	CodeTimeout:              http.StatusGatewayTimeout,
}

var statusCode = func() map[int]string {
	m := make(map[int]string, len(codeStatus))
	for c, s := range codeStatus {
		m[s] = c
	}
	return m
}()

// Error is typhon's one error type: a dotted Code that callers branch on, a
// Message for people, and Params for machines. It crosses the wire intact:
// a Service that answers Response{Error: err} with an *Error makes the
// caller's client return an *Error with the same Code, Message and Params.
//
// An *Error is immutable once it has been returned: [Error.WithParams] and
// [Error.WithRetryAfter] return copies. The cause set by [WrapError] stays in
// this process: it is for logs and errors.Is/As, and never goes on the wire.
type Error struct {
	// Code is the dotted error code, such as "not_found.user". An empty Code
	// means internal_service.
	Code string
	// Message says what went wrong, for people. It is sent to callers.
	Message string
	// Params carries machine-readable details. It is sent to callers.
	Params map[string]string

	cause      error
	retryAfter time.Duration
	remote     bool // decoded from a response: its Retry-After is not re-emitted
	unsent     bool // the request provably never reached the server's Service
}

// NewError returns an *Error with the given code and message.
func NewError(code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// WrapError returns an *Error with the given code and message whose cause is
// cause, so errors.Is and errors.As see through it. Use it to re-code an error
// at a service boundary.
func WrapError(cause error, code, message string) *Error {
	return &Error{Code: code, Message: message, cause: cause}
}

// Error implements error: "code: message", or the code alone.
func (e *Error) Error() string {
	if e == nil {
		return CodeInternalService
	}
	code := e.code()
	if e.Message == "" {
		return code
	}
	return code + ": " + e.Message
}

func (e *Error) code() string {
	if e == nil || e.Code == "" {
		return CodeInternalService
	}
	return e.Code
}

// Unwrap returns the cause given to [WrapError], if any.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.cause
}

// WithParams returns a copy of e with the key-value pairs kv added to its
// Params. An odd trailing key gets an empty value.
func (e *Error) WithParams(kv ...string) *Error {
	c := e.clone()
	params := make(map[string]string, len(c.Params)+len(kv)/2)
	for k, v := range c.Params {
		params[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		v := ""
		if i+1 < len(kv) {
			v = kv[i+1]
		}
		params[kv[i]] = v
	}
	c.Params = params
	return c
}

// WithRetryAfter returns a copy of e that tells callers to wait d before
// trying again. The server bridge sends it as a Retry-After header (whole
// seconds, rounded up).
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := e.clone()
	c.retryAfter = d
	c.remote = false
	return c
}

func (e *Error) clone() *Error {
	if e == nil {
		return &Error{Code: CodeInternalService}
	}
	c := *e
	return &c
}

// ErrorCode returns the code of err: "" for nil; the Code of the outermost
// *Error found by errors.As; else timeout for context.DeadlineExceeded,
// canceled for context.Canceled, request_too_large for *http.MaxBytesError,
// and internal_service for anything else.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(*Error); ok { // fast path: no reflection
		return e.code()
	}
	var e *Error
	if errors.As(err, &e) {
		return e.code()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return CodeRequestTooLarge
	}
	return CodeInternalService
}

// IsCode reports whether err's code is code or a refinement of it:
// IsCode(err, "not_found") holds for "not_found.user". It is false for nil.
func IsCode(err error, code string) bool {
	c := ErrorCode(err)
	if c == "" || code == "" {
		return false
	}
	return c == code || (len(c) > len(code) && c[len(code)] == '.' && strings.HasPrefix(c, code))
}

// ErrorStatus returns the HTTP status for err from typhon's code table: 200
// for nil, the status of the code's first segment, and 500 for codes the
// table does not know.
func ErrorStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return codeToStatus(ErrorCode(err))
}

func codeToStatus(code string) int {
	if i := strings.IndexByte(code, '.'); i >= 0 {
		code = code[:i]
	}
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeForStatus returns the code for an HTTP status, the table reversed: ""
// below 400, and for statuses the table lacks, bad_request (4xx) or
// internal_service (5xx and above).
func CodeForStatus(status int) string {
	if status < 400 {
		return ""
	}
	if c, ok := statusCode[status]; ok {
		return c
	}
	if status < 500 {
		return CodeBadRequest
	}
	return CodeInternalService
}

// RetryAfter returns how long the outermost *Error in err asks its caller to
// wait before trying again, set with [Error.WithRetryAfter] or received in a
// Retry-After header.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) || e == nil || e.retryAfter <= 0 {
		return 0, false
	}
	return e.retryAfter, true
}

// asError returns err as the *Error that would reach a caller over the wire:
// the outermost *Error's code, message and params, or for other errors their
// code and, unless expose is set, a message that hides their text.
func asError(err error, expose bool) *Error {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e
	}
	code := ErrorCode(err)
	msg := statusTitle(codeToStatus(code))
	if expose && err != nil {
		msg = err.Error()
	}
	return &Error{Code: code, Message: msg, cause: err}
}

// NotProcessedError returns an *Error, as [WrapError] does (cause may be
// nil), for a request that was rejected before it was sent (an open circuit
// breaker, a local throttle): [NotProcessed] holds for it, so a retry filter
// knows that sending the request again cannot do anything twice.
func NotProcessedError(cause error, code, message string) *Error {
	return &Error{Code: code, Message: message, cause: cause, unsent: true}
}

// NotProcessed reports whether err proves that the request it answers was
// not processed, so that sending it again cannot do anything twice: the
// connection was refused or could not be made, or the server shed the request
// unread (unavailable with a Retry-After), or it was rejected locally with a
// [NotProcessedError]. Retry filters use it to retry requests that are not
// idempotent.
func NotProcessed(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e == nil {
		return false
	}
	if e.unsent {
		return true
	}
	return e.remote && e.retryAfter > 0 && IsCode(e, CodeUnavailable)
}
