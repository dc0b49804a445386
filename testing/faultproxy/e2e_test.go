package faultproxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/faultproxy"
)

// These tests drive typhon's real server and client through the proxy, over
// HTTP/1.1 and h2c, on loopback.

type mode string

const (
	modeH1  mode = "h1"
	modeH2C mode = "h2c"
)

var modes = []mode{modeH1, modeH2C}

// serve serves svc on a loopback port, quietly, until the end of the test.
func serve(t *testing.T, svc typhon.Service) *typhon.Server {
	t.Helper()
	srv, err := typhon.Listen(svc, "",
		typhon.WithLogger(slog.New(slog.DiscardHandler)),
		typhon.WithHTTPServer(func(s *http.Server) { s.ErrorLog = log.New(io.Discard, "", 0) }))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), safety)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	return srv
}

// transport returns a client transport of its own for mode m, its idle
// connections closed at the end of the test.
func transport(t *testing.T, m mode) *http.Transport {
	tr := typhon.NewTransport()
	if m == modeH2C {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// letters is an endless stream of 'x', read as an io.Reader of unknown
// length.
type letters struct{}

func (letters) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// TestE2EResetIsAnError proves that a response cut short by a connection
// reset is an error for the caller, never a short success: whether the body
// has a Content-Length or is streamed, and whether it is read with
// io.ReadAll or Response.Decode.
func TestE2EResetIsAnError(t *testing.T) {
	t.Parallel()
	const (
		size  = 1 << 20
		limit = 256 << 10 // the proxy resets after this much of the answer
	)
	fixed := bytes.Repeat([]byte{'x'}, size)
	srv := serve(t, func(req typhon.Request) typhon.Response {
		if req.URL.Path == "/stream" {
			return req.Response(io.LimitReader(letters{}, size)) // no Content-Length
		}
		return req.Response(fixed) // Content-Length: 1048576
	})

	for _, m := range modes {
		for _, path := range []string{"/fixed", "/stream"} {
			for _, read := range []string{"ReadAll", "Decode"} {
				t.Run(string(m)+path+"/"+read, func(t *testing.T) {
					t.Parallel()
					p := faultproxy.NewT(t, srv.Addr().String())
					url := "http://" + p.Addr() + path

					// Without faults, the whole body arrives.
					control := typhon.NewClient(typhon.WithTransport(transport(t, m)))
					got, err := fetch(t.Context(), control, url, read)
					require.NoError(t, err)
					require.Len(t, got, size)

					p.SetFaults(faultproxy.Faults{Downstream: faultproxy.Flow{ResetAfter: limit}})
					client := typhon.NewClient(typhon.WithTransport(transport(t, m)))
					start := time.Now()
					got, err = fetch(t.Context(), client, url, read)
					elapsed := time.Since(start)

					require.Error(t, err, "a truncated body must not be a success (got %d bytes)", len(got))
					assert.Less(t, len(got), size)
					if read == "Decode" {
						assert.Equal(t, typhon.CodeBadGateway, typhon.ErrorCode(err))
					}
					assert.GreaterOrEqual(t, p.Stats().Resets, int64(1))
					t.Logf("%s %s %s: failed after %v (%d of %d bytes read): %v", m, path, read, elapsed.Round(time.Millisecond), len(got), size, err)
				})
			}
		}
	}
}

// fetch GETs url with client and reads the body with io.ReadAll or with
// Response.Decode.
func fetch(ctx context.Context, client typhon.Service, url, read string) ([]byte, error) {
	rsp := client(typhon.NewRequest(ctx, "GET", url, nil))
	if read == "Decode" {
		var b []byte
		err := rsp.Decode(&b)
		return b, err
	}
	if rsp.Error != nil {
		closeBody(rsp)
		return nil, rsp.Error
	}
	defer rsp.Body.Close()
	return io.ReadAll(rsp.Body)
}

// TestE2ELatencyBeyondDeadline proves that when the network is slower than
// the caller's deadline, the caller gets timeout at its deadline (not when
// the answer would have come), and the server's handler sees its request
// canceled rather than running on for nobody.
func TestE2ELatencyBeyondDeadline(t *testing.T) {
	t.Parallel()
	const (
		latency  = 600 * time.Millisecond
		deadline = 250 * time.Millisecond
		slack    = 1500 * time.Millisecond // generous: a loaded machine is slow
	)
	for _, m := range modes {
		for _, tc := range []struct {
			name   string
			faults faultproxy.Faults
		}{
			{"both-ways", faultproxy.Faults{
				Upstream:   faultproxy.Flow{Latency: latency},
				Downstream: faultproxy.Flow{Latency: latency},
			}},
			{"answer-only", faultproxy.Faults{Downstream: faultproxy.Flow{Latency: latency}}},
		} {
			t.Run(string(m)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				canceled := make(chan error, 1)
				srv := serve(t, func(req typhon.Request) typhon.Response {
					<-req.Context().Done()
					canceled <- req.Context().Err()
					return typhon.ErrorResponse(req, req.Context().Err())
				})
				p := faultproxy.NewT(t, srv.Addr().String())
				client := typhon.NewClient(typhon.WithTransport(transport(t, m)))
				p.SetFaults(tc.faults)

				start := time.Now() // before the deadline is set: elapsed >= deadline
				ctx, cancel := context.WithTimeout(t.Context(), deadline)
				defer cancel()
				rsp := client(typhon.NewRequest(ctx, "GET", "http://"+p.Addr()+"/slow", nil))
				elapsed := time.Since(start)
				closeBody(rsp)

				require.Error(t, rsp.Error)
				assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error), "%v", rsp.Error)
				assert.True(t, errors.Is(rsp.Error, context.DeadlineExceeded), "%v", rsp.Error)
				assert.GreaterOrEqual(t, elapsed, deadline)
				assert.Less(t, elapsed, deadline+slack, "timeout at the deadline, not with the late answer")

				select {
				case err := <-canceled:
					assert.Error(t, err)
					t.Logf("%s %s: client timeout after %v; server handler saw %q after %v",
						m, tc.name, elapsed.Round(time.Millisecond), err, time.Since(start).Round(time.Millisecond))
				case <-time.After(safety):
					t.Fatal("the server's handler never saw its request canceled")
				}
			})
		}
	}
}

// TestE2EBlackholeDetectedByPings proves that an h2c connection that stops
// answering (a blackhole: no reset, no close) is detected by the client's
// ping health checks: a call with no deadline fails within the ping
// timeouts instead of hanging. Without pings, only the caller's deadline
// ends it.
func TestE2EBlackholeDetectedByPings(t *testing.T) {
	t.Parallel()
	const (
		sendPing    = 200 * time.Millisecond // ping a connection silent this long
		pingTimeout = 200 * time.Millisecond // close it if the ping is not answered in this
		bound       = 5 * time.Second        // well below the caller's 30 s
	)
	srv := serve(t, func(req typhon.Request) typhon.Response { return req.Response("pong") })

	t.Run("pings", func(t *testing.T) {
		t.Parallel()
		p := faultproxy.NewT(t, srv.Addr().String())
		tr := transport(t, modeH2C)
		tr.HTTP2.SendPingTimeout = sendPing
		tr.HTTP2.PingTimeout = pingTimeout
		client := typhon.NewClient(typhon.WithTransport(tr))
		url := "http://" + p.Addr() + "/ping"

		var got string
		rsp := client(typhon.NewRequest(t.Context(), "GET", url, nil))
		require.NoError(t, rsp.Decode(&got))
		require.Equal(t, "HTTP/2.0", rsp.Proto)

		p.SetFaults(faultproxy.Faults{Blackhole: true})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		result := make(chan typhon.Response, 1)
		start := time.Now()
		go func() { result <- client(typhon.NewRequest(ctx, "GET", url, nil)) }()
		select {
		case rsp := <-result:
			elapsed := time.Since(start)
			closeBody(rsp)
			require.Error(t, rsp.Error, "a blackholed connection cannot answer")
			assert.NoError(t, ctx.Err(), "detected by pings, not by the caller's deadline")
			assert.Less(t, elapsed, bound)
			t.Logf("h2c blackhole detected after %v (ping after %v idle, %v to answer): %v",
				elapsed.Round(time.Millisecond), sendPing, pingTimeout, rsp.Error)
			// For testing/attack/report.sh; goroutines are checked by TestMain.
			t.Logf("RESULT scenario=lifecycle/dead-h2c-peer attacks=1 lost=0 leaked=checked_by_TestMain detected_after=%v ping_after=%v ping_timeout=%v bar=%q",
				elapsed.Round(time.Millisecond), sendPing, pingTimeout,
				"blackholed h2c peer, client pinging after 200 ms idle with a 200 ms timeout: the call fails well before its 30 s deadline (bound 5 s)")
		case <-time.After(2 * safety):
			cancel()
			<-result
			t.Fatal("the call hung on a blackholed connection")
		}
	})

	t.Run("no-pings", func(t *testing.T) {
		t.Parallel()
		const deadline = 800 * time.Millisecond
		p := faultproxy.NewT(t, srv.Addr().String())
		tr := transport(t, modeH2C)
		tr.HTTP2.SendPingTimeout = 0 // no health checks
		client := typhon.NewClient(typhon.WithTransport(tr))
		url := "http://" + p.Addr() + "/ping"

		rsp := client(typhon.NewRequest(t.Context(), "GET", url, nil))
		require.NoError(t, rsp.Decode(new(string)))

		p.SetFaults(faultproxy.Faults{Blackhole: true})
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		rsp = client(typhon.NewRequest(ctx, "GET", url, nil))
		elapsed := time.Since(start)
		closeBody(rsp)
		assert.Equal(t, typhon.CodeTimeout, typhon.ErrorCode(rsp.Error), "%v", rsp.Error)
		assert.GreaterOrEqual(t, elapsed, deadline, "nothing but the deadline ends it")
		t.Logf("h2c blackhole without pings: ended by the deadline after %v: %v", elapsed.Round(time.Millisecond), rsp.Error)
	})
}

// closeBody closes rsp's body, if it has one.
func closeBody(rsp typhon.Response) {
	if rsp.Response != nil && rsp.Body != nil {
		rsp.Body.Close()
	}
}
