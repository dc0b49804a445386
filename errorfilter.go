package typhon

import "strconv"

// ErrorFilter makes the Response of a Service called in process look as it
// would after a trip over the wire, so that a unit test sees what a remote
// caller would: an Error that is not an *Error becomes the *Error a caller
// receives (its code, and the status text instead of its text); any *Error
// loses its cause; the status is the error's, the body is the problem+json
// the server would write, and Retry-After is set. A 4xx or 5xx Response
// without an Error gets the Error a client would decode from it. Applying
// ErrorFilter twice changes nothing more.
func ErrorFilter(req Request, svc Service) Response {
	rsp := normalize(svc(req), req)
	if rsp.Error == nil {
		if rsp.StatusCode >= 400 {
			rsp.Error = readErrorBody(req.Context(), rsp.Request, rsp.Response)
		}
		return rsp
	}
	e := asError(rsp.Error, false)
	status := codeToStatus(e.code())
	wire := &Error{Code: e.code(), Message: e.Message, Params: e.Params, retryAfter: e.retryAfter, remote: true}
	rsp.closeBody()
	for _, k := range []string{"Content-Length", "Content-Encoding", "Transfer-Encoding"} {
		rsp.Header.Del(k)
	}
	rsp.Header.Set("Content-Type", contentTypeProblem)
	if e.retryAfter > 0 && !e.remote && rsp.Header.Get("Retry-After") == "" {
		rsp.Header.Set("Retry-After", formatRetryAfter(e.retryAfter))
	}
	body := appendProblem(nil, e, status)
	rsp.StatusCode = status
	rsp.Status = strconv.Itoa(status) + " " + statusTitle(status)
	rsp.Body = newBytesBody(body)
	rsp.ContentLength = int64(len(body))
	rsp.Error = wire
	return rsp
}
