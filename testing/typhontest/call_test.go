package typhontest_test

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/testing/typhontest"
)

// The Service behind a recorder reads the body the caller sent, and can
// replay it (a retry does).
func TestCallRecordsAndReplaysTheBody(t *testing.T) {
	t.Parallel()
	mock := typhontest.NewMock(t, typhontest.RespondFunc(func(req typhon.Request) typhon.Response {
		first, _ := io.ReadAll(req.Body)
		again, err := req.GetBody()
		if err != nil {
			return typhon.Response{Error: err}
		}
		second, _ := io.ReadAll(again)
		return req.Response(string(first) + "|" + string(second) + "|" + req.Header.Get("Content-Length"))
	}))
	req := typhontest.NewRequest(t, "POST", "/", []byte("payload"))
	assert.Equal(t, "payload|payload|", typhontest.Decode[string](t, mock.Serve()(req)))
	calls := mock.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, []byte("payload"), calls[0].Body)
	assert.NoError(t, calls[0].ReadErr)
}

// A body that fails is recorded up to the failure, and fails the same way
// for the Service.
func TestCallRecordsABodyThatFails(t *testing.T) {
	t.Parallel()
	mock := typhontest.NewMock(t, typhontest.RespondFunc(func(req typhon.Request) typhon.Response {
		b, err := io.ReadAll(req.Body)
		return req.Response(string(b) + " then " + err.Error())
	}))
	req := typhontest.NewRequest(t, "POST", "/", &failingReader{data: "part"})
	assert.Equal(t, "part then connection reset", typhontest.Decode[string](t, mock.Serve()(req)))
	c := mock.Calls()[0]
	assert.Equal(t, "part", string(c.Body))
	assert.EqualError(t, c.ReadErr, "connection reset")
}

func TestCallString(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "GET", typhontest.Call{Method: "GET"}.String())
	var v map[string]int
	require.NoError(t, typhontest.Call{Body: []byte(`{"a":1}`)}.Decode(&v))
	assert.Equal(t, map[string]int{"a": 1}, v)
}
