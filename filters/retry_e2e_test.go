package filters_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// retryE2EOpts keeps the backoff short: these tests run in real time.
var retryE2EOpts = []filters.RetryOption{filters.WithBackoff(time.Millisecond, 5*time.Millisecond)}

func TestRetryOverNetwork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		err      *typhon.Error // every arrival's answer
		want     int32
		wantCode string
	}{
		{"POST 500 arrives once", "POST", typhon.NewError(typhon.CodeInternalService, "boom"), 1, typhon.CodeInternalService},
		{"POST 502 arrives once", "POST", typhon.NewError(typhon.CodeBadGateway, "upstream"), 1, typhon.CodeBadGateway},
		{"POST 503 arrives once", "POST", typhon.NewError(typhon.CodeUnavailable, "busy"), 1, typhon.CodeUnavailable},
		{"POST shed with Retry-After retried", "POST", typhon.NewError(typhon.CodeUnavailable, "shed").WithRetryAfter(time.Millisecond), 3, typhon.CodeUnavailable},
		{"GET 503 retried to 3", "GET", typhon.NewError(typhon.CodeUnavailable, "busy"), 3, typhon.CodeUnavailable},
		{"GET 500 arrives once", "GET", typhon.NewError(typhon.CodeInternalService, "boom"), 1, typhon.CodeInternalService},
		{"GET 404 arrives once", "GET", typhon.NewError(typhon.CodeNotFound, "gone"), 1, typhon.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
				var arrivals atomic.Int32
				srv := p.Listen(t, func(req typhon.Request) typhon.Response {
					arrivals.Add(1)
					return typhon.Response{Error: tt.err}
				})
				// Retry-After crosses the wire in whole seconds: keep this
				// test fast by allowing no wait past the backoff but for
				// that one case.
				opts := append([]filters.RetryOption{filters.WithMaxRetryAfter(time.Second)}, retryE2EOpts...)
				client := srv.Client.Filter(filters.Retry(opts...))
				rsp := client(typhon.NewRequest(t.Context(), tt.method, srv.URL+"/thing", map[string]string{"a": "b"}))
				require.Error(t, rsp.Error)
				assert.Equal(t, tt.wantCode, typhon.ErrorCode(rsp.Error))
				assert.Equal(t, tt.want, arrivals.Load(), "server arrivals")
				rsp.Body.Close()
			})
		})
	}
}

func TestRetryOverNetworkSuccess(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		var arrivals atomic.Int32
		srv := p.Listen(t, func(req typhon.Request) typhon.Response {
			if arrivals.Add(1) < 3 {
				return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "busy")}
			}
			return req.Response("third time")
		})
		client := srv.Client.Filter(filters.Retry(retryE2EOpts...))
		rsp := client(typhon.NewRequest(t.Context(), "GET", srv.URL+"/thing", nil))
		var got string
		require.NoError(t, rsp.Decode(&got))
		assert.Equal(t, "third time", got)
		assert.Equal(t, int32(3), arrivals.Load())
	})
}

// TestRetryRefusedPort: a POST to a closed port is provably not processed,
// so it is retried; every attempt dials.
func TestRetryRefusedPort(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())

		var dials atomic.Int32
		tr := p.Transport()
		t.Cleanup(tr.CloseIdleConnections)
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
			dials.Add(1)
			return dial(ctx, network, address)
		}
		client := typhon.NewClient(typhon.WithTransport(tr)).Filter(filters.Retry(retryE2EOpts...))
		rsp := client(typhon.NewRequest(t.Context(), "POST", "http://"+addr+"/orders", map[string]int{"qty": 1}))
		require.True(t, typhon.NotProcessed(rsp.Error), "%v", rsp.Error)
		assert.Equal(t, int32(3), dials.Load())
	})
}

// TestRetryStreamedBodyOverNetwork: a streamed request body (no GetBody) is
// sent again, whole, after the server read it and answered 503.
func TestRetryStreamedBodyOverNetwork(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		body := strings.Repeat("streamed body ", 1000) // 14,000 bytes
		var mu sync.Mutex
		var got []string
		srv := p.Listen(t, func(req typhon.Request) typhon.Response {
			var b []byte
			if err := req.Decode(&b); err != nil {
				return typhon.Response{Error: err}
			}
			mu.Lock()
			got = append(got, string(b))
			n := len(got)
			mu.Unlock()
			if n == 1 {
				return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "busy")}
			}
			return req.Response(len(b))
		})
		src := &retryStream{r: io.MultiReader(strings.NewReader(body[:7000]), strings.NewReader(body[7000:]))}
		req := typhon.NewRequest(t.Context(), "PUT", srv.URL+"/blob", src)
		require.Nil(t, req.GetBody)
		rsp := srv.Client.Filter(filters.Retry(retryE2EOpts...))(req)
		var n int
		require.NoError(t, rsp.Decode(&n))
		assert.Equal(t, len(body), n)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, got, 2, "server arrivals")
		assert.Equal(t, body, got[0])
		assert.Equal(t, body, got[1])
		assert.Equal(t, int32(1), src.closes.Load(), "the stream is closed once")
	})
}

// TestHedgeOverNetwork: the backup answers; the stuck first request is
// cancelled on the server.
func TestHedgeOverNetwork(t *testing.T) {
	t.Parallel()
	overNetwork(t, func(t *testing.T, p typhontest.Protocol) {
		var arrivals atomic.Int32
		cancelled := make(chan struct{})
		srv := p.Listen(t, func(req typhon.Request) typhon.Response {
			if arrivals.Add(1) == 1 {
				select {
				case <-req.Context().Done():
					close(cancelled)
				case <-time.After(10 * time.Second):
				}
				return typhon.Response{Error: req.Context().Err()}
			}
			return req.Response("backup")
		})
		client := srv.Client.Filter(filters.Hedge(filters.WithHedgeDelay(20 * time.Millisecond)))
		rsp := client(typhon.NewRequest(t.Context(), "GET", srv.URL+"/q", nil))
		var got string
		require.NoError(t, rsp.Decode(&got))
		assert.Equal(t, "backup", got)
		assert.Equal(t, int32(2), arrivals.Load())
		select {
		case <-cancelled:
		case <-time.After(10 * time.Second):
			t.Fatal("the losing request was not cancelled on the server")
		}
	})
}
