package typhontest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/typhon-go/typhon/testing/typhontest"
)

func TestRunRunsEachProtocol(t *testing.T) {
	var ran []string
	typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
		ran = append(ran, t.Name())
	})
	assert.Equal(t, []string{"TestRunRunsEachProtocol/http1", "TestRunRunsEachProtocol/h2c", "TestRunRunsEachProtocol/h2"}, ran)

	ran = nil
	typhontest.Run(t, func(t *testing.T, p typhontest.Protocol) {
		ran = append(ran, p.String())
	}, typhontest.H2C)
	assert.Equal(t, []string{"h2c"}, ran)
}

func TestProtocol(t *testing.T) {
	t.Parallel()
	assert.Equal(t, typhontest.HTTP1, typhontest.Protocol(0), "the zero Protocol is HTTP1")
	for p, want := range map[typhontest.Protocol][2]string{
		typhontest.HTTP1: {"http1", "HTTP/1.1"},
		typhontest.H2C:   {"h2c", "HTTP/2.0"},
		typhontest.H2:    {"h2", "HTTP/2.0"},
	} {
		assert.Equal(t, want[0], p.String())
		assert.Equal(t, want[1], p.Proto())
	}
	assert.Equal(t, "Protocol(3)", typhontest.Protocol(3).String())
}
