package filters_test

import (
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

// retryStream is a streamed request body (an io.Reader, so no GetBody) that
// counts its closes.
type retryStream struct {
	r      io.Reader
	closes atomic.Int32
}

func (s *retryStream) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *retryStream) Close() error               { s.closes.Add(1); return nil }

func TestRetryStreamedBody(t *testing.T) {
	t.Parallel()
	small := strings.Repeat("0123456789", 100) // 1,000 bytes
	large := strings.Repeat("x", 100<<10)      // 100 KiB
	tests := []struct {
		name  string
		body  string
		opts  []filters.RetryOption
		reads []int // bytes each attempt reads before answering; -1: all
		fails int   // attempts that fail with unavailable
		want  int   // arrivals
		ok    bool  // the answer is a success
	}{
		{"replayed after being read whole", small, nil, []int{-1, -1}, 1, 2, true},
		{"replayed twice", small, nil, []int{-1, -1, -1}, 2, 3, true},
		{"replayed after being read in part", small, nil, []int{10, -1}, 1, 2, true},
		{"replayed unread with no buffer", small, []filters.RetryOption{filters.WithMaxBufferedBody(0)}, []int{0, -1}, 1, 2, true},
		{"too long to buffer: not retried", large, nil, []int{-1}, 1, 1, false},
		{"too long for a small buffer: not retried", small, []filters.RetryOption{filters.WithMaxBufferedBody(999)}, []int{-1}, 1, 1, false},
		{"fits a buffer of its size", small, []filters.RetryOption{filters.WithMaxBufferedBody(1000)}, []int{-1, -1}, 1, 2, true},
		{"too long, but read only in part", large, nil, []int{1 << 10, -1}, 1, 2, true},
		{"too long, read past the buffer on the second attempt", large, nil, []int{1 << 10, -1}, 2, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := &retryBackend{}
				b.answer = func(n int, req typhon.Request) typhon.Response {
					var got []byte
					switch want := tt.reads[n-1]; want {
					case -1:
						all, err := io.ReadAll(req.Body)
						require.NoError(t, err)
						got = all
					default:
						got = make([]byte, want)
						_, err := io.ReadFull(req.Body, got)
						require.NoError(t, err)
					}
					b.setBody(n, string(got))
					req.Body.Close()
					if n <= tt.fails {
						return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "busy")}
					}
					return req.Response("ok")
				}
				src := &retryStream{r: strings.NewReader(tt.body)}
				req := typhon.NewRequest(t.Context(), "PUT", "http://backend/blob", src)
				require.Nil(t, req.GetBody, "a streamed body")

				rsp := typhon.Service(b.serve).Filter(filters.Retry(tt.opts...))(req)
				require.Equal(t, tt.want, b.count(), "arrivals")
				assert.Equal(t, tt.ok, rsp.Error == nil, "%v", rsp.Error)
				for n := 1; n <= b.count(); n++ {
					want := tt.body
					if r := tt.reads[n-1]; r >= 0 {
						want = tt.body[:r]
					}
					assert.Equal(t, want, b.arrival(n).body, "arrival %d gets the body from its start", n)
				}
				if rsp.Body != nil {
					rsp.Body.Close()
				}
				assert.Equal(t, int32(1), src.closes.Load(), "the caller's stream is closed once")
			})
		})
	}
}

// TestRetryStreamedBodyWhole: once the stream has been read to its end, a
// retry sends it from memory, with its length and a GetBody, so a transport
// may replay it on its own (after a GOAWAY, say).
func TestRetryStreamedBodyWhole(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := &retryBackend{answer: func(n int, req typhon.Request) typhon.Response {
			var got []byte
			require.NoError(t, req.Decode(&got))
			if n == 1 {
				return typhon.Response{Error: typhon.NewError(typhon.CodeUnavailable, "busy")}
			}
			return req.Response("ok")
		}}
		src := &retryStream{r: strings.NewReader("whole body")}
		rsp := typhon.Service(b.serve).Filter(filters.Retry())(typhon.NewRequest(t.Context(), "PUT", "http://backend/blob", src))
		require.NoError(t, rsp.Error)
		second := b.arrival(2).req
		assert.NotNil(t, second.GetBody)
		assert.Equal(t, int64(len("whole body")), second.ContentLength)
		assert.Nil(t, b.arrival(1).req.GetBody)
	})
}
