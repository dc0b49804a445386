package filters

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
)

// errRetryBodyReplaced answers reads of an attempt's request body once a
// later attempt has taken the body over.
var errRetryBodyReplaced = errors.New("filters: request body taken over by a retry")

// errRetryBodyLost answers a read that needs bytes the replay buffer dropped
// when the body outgrew it.
var errRetryBodyLost = errors.New("filters: request body too large to replay")

// retryReplay lets [Retry] send a streamed request body (one without
// GetBody) more than once. Each attempt reads the body through a
// retryReplayReader, which takes what earlier attempts read from the buffer
// and the rest from the stream, recording it while the total fits in limit.
// A body that outgrows the limit is passed on unrecorded and can no longer
// be replayed. Only what is read is recorded: a body that no attempt read
// (a refused connection, say) is replayable whatever its size.
//
// Transports may read and close an attempt's body after the attempt has
// returned, so each reader belongs to a generation, and a reader whose
// generation has passed fails its reads. The stream is closed once, when the
// filter is done with it: then, or when the last attempt's body is closed.
type retryReplay struct {
	src   io.ReadCloser
	limit int64

	readMu sync.Mutex // serialises reads of src; taken before mu, never inside it

	mu        sync.Mutex
	buf       []byte // the bytes src gave, unless they outgrew limit
	read      int64  // how many bytes src gave
	overflow  bool   // read > limit: buf is dropped
	srcErr    error  // what ended src: io.EOF, or a failure
	gen       int    // the generation of the current reader
	curOpen   bool   // the current reader reads src and is not closed
	done      bool   // no more attempts will be made
	srcClosed bool
}

// retryStreamed reports whether req has a body that Clone cannot replay.
func retryStreamed(req *http.Request) bool {
	return req.Body != nil && req.Body != http.NoBody && req.GetBody == nil
}

func newRetryReplay(src io.ReadCloser, limit int, contentLength int64) *retryReplay {
	r := &retryReplay{src: src, limit: int64(limit)}
	if contentLength > 0 && contentLength <= r.limit {
		r.buf = make([]byte, 0, contentLength)
	}
	return r
}

// replayable reports whether another attempt can send the whole body.
func (r *retryReplay) replayable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.done && !r.overflow && (r.srcErr == nil || r.srcErr == io.EOF)
}

// next returns the body for a new attempt, and ok false when there is none
// to give. Once the stream has been read to its end, the body is the buffer
// itself, with a GetBody and a length; until then length is -1 and the body
// a reader that goes on from the buffer into the stream.
func (r *retryReplay) next() (body io.ReadCloser, getBody func() (io.ReadCloser, error), length int64, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done || r.overflow || (r.srcErr != nil && r.srcErr != io.EOF) {
		return nil, nil, 0, false
	}
	r.gen++
	if r.srcErr == io.EOF {
		r.curOpen = false
		buf := r.buf
		getBody = func() (io.ReadCloser, error) {
			if len(buf) == 0 {
				return http.NoBody, nil
			}
			return io.NopCloser(bytes.NewReader(buf)), nil
		}
		body, _ = getBody()
		return body, getBody, int64(len(buf)), true
	}
	r.curOpen = true
	return &retryReplayReader{r: r, gen: r.gen}, nil, -1, true
}

// finish tells r that no more attempts will be made. The stream is closed
// now if the current attempt no longer needs it, else when that attempt
// closes its body.
func (r *retryReplay) finish() {
	r.mu.Lock()
	r.done = true
	closeNow := !r.srcClosed && (!r.curOpen || r.srcErr != nil)
	if closeNow {
		r.srcClosed = true
	}
	r.mu.Unlock()
	if closeNow {
		r.src.Close()
	}
}

// retryReplayReader is one attempt's view of a streamed body.
type retryReplayReader struct {
	r      *retryReplay
	gen    int
	off    int64 // bytes this reader has returned
	closed bool  // guarded by r.mu
}

// fromBuffer serves p from what src has already given. handled is false
// when the reader must read src itself. r.mu is held.
func (rr *retryReplayReader) fromBuffer(p []byte) (n int, handled bool, err error) {
	r := rr.r
	switch {
	case rr.closed:
		return 0, true, http.ErrBodyReadAfterClose
	case rr.gen != r.gen:
		return 0, true, errRetryBodyReplaced
	case rr.off < r.read:
		if r.overflow {
			return 0, true, errRetryBodyLost
		}
		n = copy(p, r.buf[rr.off:])
		rr.off += int64(n)
		return n, true, nil
	case r.srcErr != nil:
		return 0, true, r.srcErr
	case len(p) == 0:
		return 0, true, nil
	}
	return 0, false, nil
}

func (rr *retryReplayReader) Read(p []byte) (int, error) {
	r := rr.r
	r.mu.Lock()
	n, handled, err := rr.fromBuffer(p)
	r.mu.Unlock()
	if handled {
		return n, err
	}
	r.readMu.Lock()
	defer r.readMu.Unlock()
	r.mu.Lock()
	n, handled, err = rr.fromBuffer(p) // another reader may have read on meanwhile
	r.mu.Unlock()
	if handled {
		return n, err
	}
	n, err = r.src.Read(p)
	r.mu.Lock()
	r.read += int64(n)
	if !r.overflow {
		if r.read <= r.limit {
			r.buf = append(r.buf, p[:n]...)
		} else {
			r.overflow, r.buf = true, nil
		}
	}
	if err != nil {
		r.srcErr = err
	}
	rr.off += int64(n)
	r.mu.Unlock()
	return n, err
}

// Close closes the reader; it closes the stream only when it belongs to the
// last attempt and the filter is done.
func (rr *retryReplayReader) Close() error {
	r := rr.r
	r.mu.Lock()
	if rr.closed {
		r.mu.Unlock()
		return nil
	}
	rr.closed = true
	closeSrc := false
	if rr.gen == r.gen {
		r.curOpen = false
		closeSrc = r.done && !r.srcClosed
		if closeSrc {
			r.srcClosed = true
		}
	}
	r.mu.Unlock()
	if closeSrc {
		return r.src.Close()
	}
	return nil
}
