package typhon_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// forwarder returns service B: it calls C at cBase+path with the client
// and, when C fails, answers with what pass makes of C's error.
func forwarder(t *testing.T, client typhon.Service, cBase string, pass func(path string, err error) error) typhon.Service {
	return func(req typhon.Request) typhon.Response {
		mode, rest, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		out := typhon.NewRequest(req.Context(), "GET", cBase+"/"+rest, nil)
		out.Header.Set("X-Call", req.Header.Get("X-Call"))
		rsp := out.SendVia(client).Response()
		if rsp.Error == nil {
			return rsp
		}
		closeRspBody(rsp)
		var te *typhon.Error
		assert.ErrorAs(t, rsp.Error, &te, "B gets an *Error from C")
		return typhon.Response{Error: pass(mode, rsp.Error)}
	}
}

func TestHopsErrors(t *testing.T) {
	tests := []struct {
		name       string
		path       string // B's path: /{pass|wrap|retry}/{C's path}
		wantStatus int
		wantCode   string
		wantMsg    string
		wantParams map[string]string
		wantRetry  time.Duration
	}{{
		name: "passed through", path: "/pass/user",
		wantStatus: 404, wantCode: "not_found.user", wantMsg: "no user 42", wantParams: map[string]string{"id": "42"},
	}, {
		name: "re-coded by B", path: "/wrap/user",
		wantStatus: 400, wantCode: "bad_request.lookup", wantMsg: "lookup failed",
	}, {
		name: "downstream Retry-After not re-emitted", path: "/pass/busy",
		wantStatus: 503, wantCode: "unavailable.db", wantMsg: "db busy",
	}, {
		name: "Retry-After set again by B", path: "/retry/busy",
		wantStatus: 503, wantCode: "unavailable.db", wantMsg: "db busy", wantRetry: 3 * time.Second,
	}, {
		name: "plain error from C", path: "/pass/plain",
		wantStatus: 500, wantCode: typhon.CodeInternalService, wantMsg: "Internal Server Error",
	}}
	run(t, func(t *testing.T, e *env) {
		cBase := e.serve(func(req typhon.Request) typhon.Response {
			switch req.URL.Path {
			case "/user":
				return typhon.Response{Error: typhon.NewError("not_found.user", "no user 42").WithParams("id", "42")}
			case "/busy":
				return typhon.Response{Error: typhon.NewError("unavailable.db", "db busy").WithRetryAfter(7 * time.Second)}
			default: // an error that is not an *Error: its text stays in C
				return typhon.Response{Error: errors.New("db password rejected")}
			}
		})
		bBase := e.serve(forwarder(t, e.client, cBase, func(mode string, err error) error {
			switch mode {
			case "wrap":
				return typhon.WrapError(err, "bad_request.lookup", "lookup failed")
			case "retry":
				d, ok := typhon.RetryAfter(err)
				assert.True(t, ok, "B sees C's Retry-After")
				assert.Equal(t, 7*time.Second, d)
				var te *typhon.Error
				if !assert.ErrorAs(t, err, &te) {
					return err
				}
				return te.WithRetryAfter(3 * time.Second)
			default:
				return err
			}
		}))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rsp := e.client(typhon.NewRequest(t.Context(), "GET", bBase+tt.path, nil))
				defer closeRspBody(rsp)
				var te *typhon.Error
				require.ErrorAs(t, rsp.Error, &te)
				assert.Equal(t, tt.wantStatus, rsp.StatusCode)
				assert.Equal(t, tt.wantCode, te.Code)
				assert.Equal(t, tt.wantMsg, te.Message)
				assert.Equal(t, tt.wantParams, te.Params)
				assert.Nil(t, te.Unwrap(), "no cause crosses the wire")
				d, ok := typhon.RetryAfter(rsp.Error)
				assert.Equal(t, tt.wantRetry != 0, ok, "Retry-After %v", d)
				assert.Equal(t, tt.wantRetry, d)
				if tt.wantRetry == 0 {
					assert.Empty(t, rsp.Header.Get("Retry-After"))
				}
			})
		}
	})
}

// TestHopsDeadline: A calls B, B calls C, and C hangs past A's deadline. A
// gets timeout and the end of the call travels to C.
func TestHopsDeadline(t *testing.T) {
	tests := []struct {
		name string
		// edge: B ignores the deadline A sends, so only A's own deadline
		// ends the call; otherwise B and C get A's deadline and may time out
		// on their own at the same moment, and A gets either timeout.
		edge bool
	}{{"propagated", false}, {"edge B", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, func(t *testing.T, e *env) {
				h := newHanger()
				cBase := e.serve(h.serve)
				bResult := make(chan error, 16)
				var bOpts []typhon.ServerOption
				if tt.edge {
					bOpts = append(bOpts, typhon.WithoutInboundDeadlines())
				}
				bBase := e.serve(forwarder(t, e.client, cBase, func(_ string, err error) error {
					bResult <- err
					return err
				}), bOpts...)
				var budget time.Duration
				deadlineWhileBlocked(t, h, func(ctx context.Context, id string) typhon.Response {
					deadline, _ := ctx.Deadline()
					budget = time.Until(deadline)
					req := typhon.NewRequest(ctx, "GET", bBase+"/pass/", nil)
					req.Header.Set("X-Call", id)
					return e.client(req)
				}, func(rsp typhon.Response) {
					assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error), "%v", rsp.Error)
					assert.Equal(t, http.StatusGatewayTimeout, rsp.StatusCode)
					if tt.edge {
						assert.ErrorIs(t, rsp.Error, context.DeadlineExceeded)
					}
				})
				// B's call to C was cut short, by A going away or by the deadline.
				err := within(t, bResult, "B's call to C to end")
				assert.True(t, typhon.IsCode(err, typhon.CodeCanceled) || typhon.IsCode(err, typhon.CodeTimeout), "B's call ended with %v", err)

				// C got A's deadline through B, unless B was an edge.
				for _, c := range h.arrivedCalls() {
					v := c.header.Get(typhon.TimeoutHeader)
					if tt.edge {
						assert.Empty(t, v)
						continue
					}
					ms, err := strconv.ParseInt(v, 10, 64)
					require.NoError(t, err, "C's %s: %q", typhon.TimeoutHeader, v)
					assert.Positive(t, ms)
					assert.LessOrEqual(t, ms, budget.Milliseconds()+1)
				}
			})
		})
	}
}

// TestHopsForwardInboundRequest: B hands the Request it received to its
// client with only the URL changed, and hands C's Response back as it is.
func TestHopsForwardInboundRequest(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		cSrv := e.server(func(req typhon.Request) typhon.Response {
			if req.URL.Path == "/fail" {
				return typhon.Response{Error: typhon.NewError("conflict.version", "stale").WithParams("v", "3")}
			}
			var in map[string]string
			if err := req.Decode(&in); err != nil {
				return typhon.Response{Error: err}
			}
			in["path"] = req.URL.Path
			in["deadline"] = req.Header.Get(typhon.TimeoutHeader)
			return req.Response(in)
		})
		cHost := cSrv.Addr().String()
		bBase := e.serve(func(req typhon.Request) typhon.Response {
			req.URL.Scheme = "http"
			if e.protocol == typhontest.H2 {
				req.URL.Scheme = "https"
			}
			req.URL.Host = cHost
			req.Host = ""
			return e.client(req)
		})

		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		rsp := e.client(typhon.NewRequest(ctx, "POST", bBase+"/echo", map[string]string{"name": "Ada"}))
		var got map[string]string
		require.NoError(t, rsp.Decode(&got))
		assert.Equal(t, "Ada", got["name"])
		assert.Equal(t, "/echo", got["path"])
		ms, err := strconv.Atoi(got["deadline"])
		require.NoError(t, err, "C gets the deadline B had, from A")
		assert.LessOrEqual(t, ms, 30000)
		assert.Greater(t, ms, 15000)

		rsp = e.client(typhon.NewRequest(ctx, "GET", bBase+"/fail", nil))
		defer closeRspBody(rsp)
		var te *typhon.Error
		require.ErrorAs(t, rsp.Error, &te)
		assert.Equal(t, "conflict.version", te.Code)
		assert.Equal(t, "stale", te.Message)
		assert.Equal(t, map[string]string{"v": "3"}, te.Params)
		assert.Equal(t, http.StatusConflict, rsp.StatusCode)
	})
}
