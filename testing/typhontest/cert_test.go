package typhontest_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// TestTLSConfigs: a plain net/http server with the server configuration is
// reached over TLS h2 by a client with the client configuration, which
// trusts nothing else.
func TestTLSConfigs(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := typhontest.TLSConfigs()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	ts.TLS = serverTLS
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)

	tr := &http.Transport{TLSClientConfig: clientTLS, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL, nil)
	require.NoError(t, err)
	rsp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	defer rsp.Body.Close()
	body, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/2.0", string(body))

	// httptest's own certificate is not trusted.
	other := httptest.NewUnstartedServer(http.NotFoundHandler())
	other.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake
	other.StartTLS()
	t.Cleanup(other.Close)
	req, err = http.NewRequestWithContext(t.Context(), "GET", other.URL, nil)
	require.NoError(t, err)
	_, err = (&http.Transport{TLSClientConfig: clientTLS}).RoundTrip(req)
	assert.ErrorContains(t, err, "certificate")

	// Each call returns configurations of its own.
	server2, client2 := typhontest.TLSConfigs()
	assert.NotSame(t, serverTLS, server2)
	assert.NotSame(t, clientTLS, client2)
}

// TestProtocolTransport: each Protocol's Transport reaches a loopback
// server of that Protocol, and speaks it.
func TestProtocolTransport(t *testing.T) {
	t.Parallel()
	for _, p := range []typhontest.Protocol{typhontest.HTTP1, typhontest.H2C, typhontest.H2} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			srv := p.Listen(t, func(req typhon.Request) typhon.Response { return req.Response(req.Proto) })
			tr := p.Transport()
			t.Cleanup(tr.CloseIdleConnections) // before the server's Close: registered later, run first
			client := typhon.NewClient(typhon.WithTransport(tr))
			rsp := client(typhontest.NewRequest(t, "GET", srv.URL+"/", nil))
			typhontest.AssertJSON(t, rsp, p.Proto())
			assert.Equal(t, p.Proto(), rsp.Proto)
		})
	}
	assert.PanicsWithValue(t, "typhontest: Transport with unknown Protocol(7)", func() { typhontest.Protocol(7).Transport() })
}
