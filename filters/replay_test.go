package filters

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replayStream is a streamed body that counts its closes.
type replayStream struct {
	io.Reader
	closes atomic.Int32
}

func (s *replayStream) Close() error { s.closes.Add(1); return nil }

func replayNext(t *testing.T, r *retryReplay) io.ReadCloser {
	t.Helper()
	body, _, _, ok := r.next()
	require.True(t, ok)
	return body
}

func TestRetryReplay(t *testing.T) {
	t.Parallel()
	const text = "0123456789abcdefghij"
	tests := []struct {
		name      string
		limit     int
		firstRead int // bytes the first attempt reads; -1: all
		wantReuse bool
	}{
		{"unread, no buffer", 0, 0, true},
		{"partly read, fits", 20, 5, true},
		{"read, fits exactly", 20, -1, true},
		{"partly read, fits though the body does not", 8, 8, true},
		{"read past the limit", 8, 9, false},
		{"read, too long", 19, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := &replayStream{Reader: strings.NewReader(text)}
			r := newRetryReplay(src, tt.limit, -1)
			first := replayNext(t, r)
			var got []byte
			var err error
			if tt.firstRead < 0 {
				got, err = io.ReadAll(first)
			} else {
				got = make([]byte, tt.firstRead)
				_, err = io.ReadFull(first, got)
			}
			require.NoError(t, err)
			assert.Equal(t, text[:len(got)], string(got))
			first.Close()
			assert.Zero(t, src.closes.Load(), "an attempt's Close leaves the stream for the next")

			require.Equal(t, tt.wantReuse, r.replayable())
			if !tt.wantReuse {
				_, _, _, ok := r.next()
				assert.False(t, ok)
				r.finish()
				assert.Equal(t, int32(1), src.closes.Load())
				return
			}
			second := replayNext(t, r)
			head := make([]byte, 3)
			_, err = io.ReadFull(second, head)
			require.NoError(t, err)

			_, err = first.Read(make([]byte, 1))
			assert.Error(t, err, "the first attempt's reader is done with")

			r.finish()
			if tt.firstRead < 0 {
				assert.Equal(t, int32(1), src.closes.Load(), "read to its end: closed when the filter is done")
			} else {
				assert.Zero(t, src.closes.Load(), "the last attempt still reads the stream")
			}
			rest, err := io.ReadAll(second)
			require.NoError(t, err)
			assert.Equal(t, text, string(head)+string(rest), "the second attempt gets the whole body")
			second.Close()
			second.Close()
			assert.Equal(t, int32(1), src.closes.Load(), "closed once")
		})
	}
}

func TestRetryReplayComplete(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "some body"} {
		src := &replayStream{Reader: strings.NewReader(text)}
		r := newRetryReplay(src, 64, int64(len(text)))
		b, err := io.ReadAll(replayNext(t, r))
		require.NoError(t, err)
		require.Equal(t, text, string(b))

		body, getBody, length, ok := r.next()
		require.True(t, ok)
		require.NotNil(t, getBody, "a body held whole is replayable by GetBody, for the transport")
		assert.Equal(t, int64(len(text)), length)
		if text == "" {
			assert.Equal(t, http.NoBody, body)
		}
		b, err = io.ReadAll(body)
		require.NoError(t, err)
		assert.Equal(t, text, string(b))
		again, err := getBody()
		require.NoError(t, err)
		b, _ = io.ReadAll(again)
		assert.Equal(t, text, string(b))

		r.finish()
		assert.Equal(t, int32(1), src.closes.Load(), "the stream, read to its end, is closed when the filter is done")
	}
}

func TestRetryReplayFailedStream(t *testing.T) {
	t.Parallel()
	broken := errors.New("broken stream")
	src := &replayStream{Reader: io.MultiReader(strings.NewReader("abc"), replayErrReader{broken})}
	r := newRetryReplay(src, 64, -1)
	_, err := io.ReadAll(replayNext(t, r))
	require.ErrorIs(t, err, broken)
	assert.False(t, r.replayable(), "a stream that failed cannot be sent again")
	r.finish()
	assert.Equal(t, int32(1), src.closes.Load())
}

type replayErrReader struct{ err error }

func (r replayErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestRetryReplayClosedReader(t *testing.T) {
	t.Parallel()
	src := &replayStream{Reader: strings.NewReader("abc")}
	r := newRetryReplay(src, 64, -1)
	body := replayNext(t, r)
	require.NoError(t, body.Close())
	_, err := body.Read(make([]byte, 1))
	assert.ErrorIs(t, err, http.ErrBodyReadAfterClose)
	r.finish()
	assert.Equal(t, int32(1), src.closes.Load(), "no attempt has it open: closed at once")
}

// TestRetryReplayStaleReader: a transport may go on reading an attempt's
// body after the attempt has returned; whatever it takes from the stream
// stays available to the next attempt.
func TestRetryReplayStaleReader(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	entered := make(chan struct{})
	src := &replaySignal{ReadCloser: pr, entered: entered}
	r := newRetryReplay(src, 1<<10, -1)
	first := replayNext(t, r)

	var wg sync.WaitGroup
	wg.Go(func() { // the first attempt's transport, blocked on the stream
		buf := make([]byte, 3)
		n, err := first.Read(buf)
		assert.NoError(t, err)
		assert.Equal(t, "abc", string(buf[:n]))
		_, err = first.Read(buf)
		assert.ErrorIs(t, err, errRetryBodyReplaced)
	})
	<-entered
	second := replayNext(t, r)
	wg.Go(func() {
		_, _ = pw.Write([]byte("abc"))
		_, _ = pw.Write([]byte("def"))
		pw.Close()
	})
	b, err := io.ReadAll(second)
	require.NoError(t, err)
	assert.Equal(t, "abcdef", string(b))
	wg.Wait()
	r.finish()
	second.Close()
}

// replaySignal closes entered when its first Read starts.
type replaySignal struct {
	io.ReadCloser
	entered chan struct{}
	once    sync.Once
}

func (s *replaySignal) Read(p []byte) (int, error) {
	s.once.Do(func() { close(s.entered) })
	return s.ReadCloser.Read(p)
}
