package attack_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/typhon-go/typhon"
)

// TestPanics: a Service that panics on every 10th of 1,000 requests, over
// HTTP/1.1 and h2c. net/http alone drops the connection (HTTP/1.1: EOF) or
// resets the stream (h2c: RST_STREAM); typhon's default recovery answers 500
// internal_service on a connection that stays usable.
func TestPanics(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			s := newScenario(t, "panics/"+p.name,
				"1,000 requests, every 10th panics: 100 x 500 internal_service, 900 x 200, no transport error, connections kept (at most 2)")
			var n atomic.Int64
			srv, st := serve(t, func(req typhon.Request) typhon.Response {
				if n.Add(1)%10 == 0 {
					panic("boom")
				}
				return req.Response("ok")
			})
			client, tr := clientFor(t, p.h2c)
			base := "http://" + srv.Addr().String()
			const calls = 1000
			var ok, internal, other int
			for range calls {
				ctx, cancel := context.WithTimeout(context.Background(), bound)
				var got string
				err := client(typhon.NewRequest(ctx, "GET", base+"/", nil)).Decode(&got)
				cancel()
				switch {
				case err == nil && got == "ok":
					ok++
				case typhon.IsCode(err, typhon.CodeInternalService) && typhon.ErrorStatus(err) == http.StatusInternalServerError:
					internal++
				default:
					other++
					s.lost.Add(1)
					t.Errorf("neither 200 nor 500: %v", err)
				}
			}
			tr.CloseIdleConnections()
			s.set("attacks", calls/10)
			s.set("answered_500", internal)
			s.set("answered_200", ok)
			s.set("transport_errors", other)
			s.set("connections_opened", st.opened.Load())
			assert.Equal(t, calls/10, internal)
			assert.Equal(t, calls-calls/10, ok)
			assert.LessOrEqual(t, st.opened.Load(), int64(2), "connections: a panic must not cost the connection")
		})
	}
}
