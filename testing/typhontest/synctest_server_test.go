package typhontest_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// An in-memory server runs inside a testing/synctest bubble, in its virtual
// time: latency and deadlines over a real connection take no real time.
func TestServerInSynctest(t *testing.T) {
	t.Parallel()
	for _, p := range []typhontest.Protocol{typhontest.HTTP1, typhontest.H2C, typhontest.H2} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				mock := typhontest.NewMock(t, typhontest.Respond("late").After(time.Minute), typhontest.Hang())
				srv := p.NewServer(t, mock.Serve())

				start := time.Now()
				rsp := typhontest.NewRequest(t, "GET", srv.URL+"/", nil).SendVia(srv.Client).Response()
				assert.Equal(t, "late", typhontest.Decode[string](t, rsp))
				assert.Equal(t, time.Minute, time.Since(start))

				// The caller's deadline crosses the wire: the server's
				// request context ends with it, and the hanging mock
				// answers.
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				defer cancel()
				start = time.Now()
				rsp = typhontest.NewRequest(t, "GET", srv.URL+"/", nil, typhontest.WithContext(ctx)).SendVia(srv.Client).Response()
				typhontest.AssertCode(t, rsp, typhon.CodeTimeout)
				assert.Equal(t, 3*time.Second, time.Since(start))
				synctest.Wait() // the server has seen the end of the call
				assert.Equal(t, 2, mock.Count())
			})
		})
	}
}
