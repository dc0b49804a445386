package filters_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// traceHop is one service of the two-hop test: what it traces and
// measures with.
type traceHop struct {
	spans   *traceRecorder
	metrics *metricsReader
}

func traceNewHop(t *testing.T) traceHop {
	return traceHop{spans: traceNewRecorder(t), metrics: metricsNewReader(t)}
}

// filter traces and measures one side of the wire, as a service would.
func (h traceHop) filter(svc typhon.Service) typhon.Service {
	return svc.
		Filter(filters.Metrics(filters.WithMeterProvider(h.metrics))).
		Filter(filters.Trace(filters.WithTracerProvider(h.spans)))
}

// A calls B, which calls C, over the network: one trace, each hop's server
// span the child of its caller's client span, spans named by route, and the
// error of C two hops down on every span it crossed.
func TestTraceTwoHops(t *testing.T) {
	typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
		a, b, c := traceNewHop(t), traceNewHop(t), traceNewHop(t)

		var users typhon.Router
		users.GET("/users/{id}", func(req typhon.Request) typhon.Response {
			if req.PathValue("id") == "down" {
				return typhon.ErrorResponse(req, typhon.NewError(typhon.CodeUnavailable, "database down"))
			}
			return req.Response(map[string]string{"id": req.PathValue("id")})
		})
		srvC := p.Listen(t, c.filter(users.Serve()))

		toC := b.filter(srvC.Client)
		var profiles typhon.Router
		profiles.GET("/profiles/{id}", func(req typhon.Request) typhon.Response {
			var user map[string]string
			rsp := toC(typhon.NewRequest(req.Context(), "GET", srvC.URL+"/users/"+req.PathValue("id"), nil))
			if err := rsp.Decode(&user); err != nil {
				return typhon.ErrorResponse(req, err)
			}
			return req.Response(user)
		})
		srvB := p.Listen(t, b.filter(profiles.Serve()))
		toB := a.filter(srvB.Client)

		var user map[string]string
		rsp := toB(typhon.NewRequest(t.Context(), "GET", srvB.URL+"/profiles/42", nil))
		require.NoError(t, rsp.Decode(&user))
		assert.Equal(t, "42", user["id"])
		rsp = toB(typhon.NewRequest(t.Context(), "GET", srvB.URL+"/profiles/down", nil))
		require.True(t, typhon.IsCode(rsp.Decode(&user), typhon.CodeUnavailable), "%v", rsp.Error)

		version := map[typhontest.Protocol]string{typhontest.HTTP1: "1.1", typhontest.H2C: "2"}[p]
		aSpans, bSpans, cSpans := a.spans.wait(t, 2), b.spans.wait(t, 4), c.spans.wait(t, 2)
		for i, path := range []string{"/profiles/42", "/profiles/down"} {
			failed := i == 1
			aClient := traceByPath(t, aSpans, trace.SpanKindClient, path)
			traceID := aClient.SpanContext.TraceID()
			bServer := traceOne(t, bSpans, trace.SpanKindServer, traceID)
			bClient := traceOne(t, bSpans, trace.SpanKindClient, traceID)
			cServer := traceOne(t, cSpans, trace.SpanKindServer, traceID)

			assert.False(t, aClient.Parent.IsValid(), "A's call is a root")
			assert.Equal(t, aClient.SpanContext.SpanID(), bServer.Parent.SpanID(), "%s: B's server span is A's call's child", path)
			assert.True(t, bServer.Parent.IsRemote())
			assert.Equal(t, bServer.SpanContext.SpanID(), bClient.Parent.SpanID(), "%s: B calls C inside its server span", path)
			assert.Equal(t, bClient.SpanContext.SpanID(), cServer.Parent.SpanID(), "%s: C's server span is B's call's child", path)

			assert.Equal(t, "GET", aClient.Name)
			assert.Equal(t, "GET /profiles/{id}", bServer.Name)
			assert.Equal(t, "GET", bClient.Name)
			assert.Equal(t, "GET /users/{id}", cServer.Name)

			wantStatus, wantCode, wantErrorType := int64(200), codes.Unset, ""
			if failed {
				wantStatus, wantCode, wantErrorType = 503, codes.Error, "unavailable"
			}
			for _, s := range []tracetest.SpanStub{aClient, bServer, bClient, cServer} {
				at := traceAttrs(s)
				assert.Equal(t, wantStatus, at["http.response.status_code"].AsInt64(), "%s %v", s.Name, s.SpanKind)
				assert.Equal(t, wantErrorType, at["error.type"].AsString(), "%s %v", s.Name, s.SpanKind)
				assert.Equal(t, wantCode, s.Status.Code, "%s %v", s.Name, s.SpanKind)
				assert.Equal(t, version, at["network.protocol.version"].AsString(), "%s %v", s.Name, s.SpanKind)
			}
			assert.Equal(t, "/profiles/{id}", traceAttrs(bServer)["http.route"].AsString())
			assert.Equal(t, "/users/{id}", traceAttrs(cServer)["http.route"].AsString())
			assert.Equal(t, srvC.URL+"/users/"+path[len("/profiles/"):], traceAttrs(bClient)["url.full"].AsString())
		}

		// The instruments, with the same bounded attributes on each hop.
		hostC, portC := traceHostPort(t, srvC.URL)
		server := "http.request.method=GET http.response.status_code=200 http.route=/users/{id} network.protocol.version=" + version + " url.scheme=http"
		serverErr := "error.type=unavailable http.request.method=GET http.response.status_code=503 http.route=/users/{id} network.protocol.version=" + version + " url.scheme=http"
		assert.Equal(t, map[string]int64{server: 1, serverErr: 1},
			metricsFind(c.metrics.collect(t), "http.server.request.duration"))
		client := "http.request.method=GET http.response.status_code=200 network.protocol.version=" + version + " server.address=" + hostC + " server.port=" + portC + " url.scheme=http"
		clientErr := "error.type=unavailable http.request.method=GET http.response.status_code=503 network.protocol.version=" + version + " server.address=" + hostC + " server.port=" + portC + " url.scheme=http"
		bPoints := b.metrics.collect(t)
		assert.Equal(t, map[string]int64{client: 1, clientErr: 1}, metricsFind(bPoints, "http.client.request.duration"))
		assert.Len(t, metricsFind(bPoints, "http.server.request.duration"), 2)
		for _, v := range metricsFind(bPoints, "http.server.active_requests") {
			assert.Zero(t, v)
		}
		assert.Len(t, metricsFind(a.metrics.collect(t), "http.client.request.duration"), 2)
	}, typhontest.HTTP1, typhontest.H2C)
}

// traceByPath returns the one span of kind whose url.full ends with path.
func traceByPath(t *testing.T, spans tracetest.SpanStubs, kind trace.SpanKind, path string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		u := traceAttrs(s)["url.full"].AsString()
		if s.SpanKind == kind && len(u) >= len(path) && u[len(u)-len(path):] == path {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "%v spans for %s among %v", kind, path, traceNames(spans))
	return found[0]
}

// traceOne returns the one span of kind in the trace id.
func traceOne(t *testing.T, spans tracetest.SpanStubs, kind trace.SpanKind, id trace.TraceID) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == kind && s.SpanContext.TraceID() == id {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "%v spans in trace %s among %v", kind, id, traceNames(spans))
	return found[0]
}

func traceHostPort(t *testing.T, rawURL string) (string, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(rawURL[len("http://"):])
	require.NoError(t, err)
	_, err = strconv.Atoi(port)
	require.NoError(t, err)
	return host, port
}
