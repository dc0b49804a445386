package typhon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/typhon-go/typhon"
)

// allCodes is every code of the table with its status, as DESIGN.md lists them.
var allCodes = []struct {
	code   string
	status int
}{
	{typhon.CodeBadRequest, 400},
	{typhon.CodeUnauthorized, 401},
	{typhon.CodeForbidden, 403},
	{typhon.CodeNotFound, 404},
	{typhon.CodeMethodNotAllowed, 405},
	{typhon.CodeConflict, 409},
	{typhon.CodePreconditionFailed, 412},
	{typhon.CodeRequestTooLarge, 413},
	{typhon.CodeUnsupportedMediaType, 415},
	{typhon.CodeRateLimited, 429},
	{typhon.CodeCanceled, 499},
	{typhon.CodeInternalService, 500},
	{typhon.CodeNotImplemented, 501},
	{typhon.CodeBadGateway, 502},
	{typhon.CodeUnavailable, 503},
	{typhon.CodeTimeout, 504},
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	var typedNil *typhon.Error
	notFound := typhon.NewError("not_found.user", "no such user")
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"error", notFound, "not_found.user"},
		{"wrapped once", fmt.Errorf("lookup: %w", notFound), "not_found.user"},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", notFound)), "not_found.user"},
		{"outermost wins", typhon.WrapError(notFound, typhon.CodeBadGateway, "downstream"), typhon.CodeBadGateway},
		{"outermost wins through fmt", fmt.Errorf("x: %w", typhon.WrapError(notFound, typhon.CodeConflict, "")), typhon.CodeConflict},
		{"joined", errors.Join(errors.New("plain"), notFound), "not_found.user"},
		{"empty code", typhon.NewError("", "no code"), typhon.CodeInternalService},
		{"typed nil", typedNil, typhon.CodeInternalService},
		{"typed nil wrapped", fmt.Errorf("w: %w", typedNil), typhon.CodeInternalService},
		{"typed nil as cause", typhon.WrapError(typedNil, typhon.CodeNotFound, ""), typhon.CodeNotFound},
		{"deadline", context.DeadlineExceeded, typhon.CodeTimeout},
		{"deadline wrapped", fmt.Errorf("call: %w", context.DeadlineExceeded), typhon.CodeTimeout},
		{"canceled", context.Canceled, typhon.CodeCanceled},
		{"canceled wrapped", fmt.Errorf("call: %w", context.Canceled), typhon.CodeCanceled},
		{"*Error beats context", typhon.WrapError(context.DeadlineExceeded, typhon.CodeUnavailable, ""), typhon.CodeUnavailable},
		{"max bytes", &http.MaxBytesError{Limit: 10}, typhon.CodeRequestTooLarge},
		{"max bytes wrapped", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), typhon.CodeRequestTooLarge},
		{"other", errors.New("boom"), typhon.CodeInternalService},
		{"EOF", io.ErrUnexpectedEOF, typhon.CodeInternalService},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.NotPanics(t, func() {
				assert.Equal(t, tc.want, typhon.ErrorCode(tc.err))
			})
		})
	}
}

func TestTypedNilError(t *testing.T) {
	t.Parallel()
	var e *typhon.Error
	var err error = e
	require.NotPanics(t, func() {
		assert.Equal(t, typhon.CodeInternalService, typhon.ErrorCode(err))
		assert.Equal(t, http.StatusInternalServerError, typhon.ErrorStatus(err))
		assert.True(t, typhon.IsCode(err, typhon.CodeInternalService))
		assert.Equal(t, typhon.CodeInternalService, e.Error())
		assert.NoError(t, e.Unwrap())
		_, ok := typhon.RetryAfter(err)
		assert.False(t, ok)
		c := e.WithParams("k", "v")
		require.NotNil(t, c)
		assert.Equal(t, "v", c.Params["k"])
		r := e.WithRetryAfter(time.Second)
		d, ok := typhon.RetryAfter(r)
		assert.True(t, ok)
		assert.Equal(t, time.Second, d)
	})
}

func TestIsCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		code string
		want bool
	}{
		{"exact", typhon.NewError("not_found", ""), "not_found", true},
		{"refinement", typhon.NewError("not_found.user", ""), "not_found", true},
		{"deep refinement", typhon.NewError("not_found.user.email", ""), "not_found.user", true},
		{"refinement exact", typhon.NewError("not_found.user", ""), "not_found.user", true},
		{"longer word", typhon.NewError("not_foundx", ""), "not_found", false},
		{"longer word dotted", typhon.NewError("not_foundx.user", ""), "not_found", false},
		{"more specific asked", typhon.NewError("not_found", ""), "not_found.user", false},
		{"sibling", typhon.NewError("not_found.user", ""), "not_found.team", false},
		{"prefix of segment", typhon.NewError("not_found", ""), "not", false},
		{"other", typhon.NewError("conflict", ""), "not_found", false},
		{"nil", nil, "not_found", false},
		{"nil empty code", nil, "", false},
		{"empty code asked", typhon.NewError("not_found", ""), "", false},
		{"wrapped", fmt.Errorf("x: %w", typhon.NewError("rate_limited.user", "")), "rate_limited", true},
		{"context", context.DeadlineExceeded, typhon.CodeTimeout, true},
		{"plain error", errors.New("x"), typhon.CodeInternalService, true},
		{"case sensitive", typhon.NewError("Not_Found", ""), "not_found", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, typhon.IsCode(tc.err, tc.code))
		})
	}
}

func TestErrorStatus(t *testing.T) {
	t.Parallel()
	for _, c := range allCodes {
		t.Run(c.code, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, c.status, typhon.ErrorStatus(typhon.NewError(c.code, "")))
			assert.Equal(t, c.status, typhon.ErrorStatus(typhon.NewError(c.code+".detail", "")), "dotted code takes its first segment's status")
			assert.Equal(t, c.status, typhon.ErrorStatus(fmt.Errorf("w: %w", typhon.NewError(c.code+".a.b", ""))))
		})
	}
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 200},
		{"unknown code", typhon.NewError("teapot", ""), 500},
		{"unknown dotted", typhon.NewError("teapot.not_found", ""), 500},
		{"empty code", typhon.NewError("", ""), 500},
		{"leading dot", typhon.NewError(".not_found", ""), 500},
		{"deadline", context.DeadlineExceeded, 504},
		{"canceled", context.Canceled, 499},
		{"max bytes", &http.MaxBytesError{}, 413},
		{"plain", errors.New("x"), 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, typhon.ErrorStatus(tc.err))
		})
	}
}

func TestCodeForStatus(t *testing.T) {
	t.Parallel()
	for _, c := range allCodes {
		t.Run(c.code, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, c.code, typhon.CodeForStatus(c.status))
			// Both ways: the table round-trips.
			assert.Equal(t, c.code, typhon.CodeForStatus(typhon.ErrorStatus(typhon.NewError(c.code, ""))))
		})
	}
	cases := []struct {
		status int
		want   string
	}{
		{0, ""},
		{-1, ""},
		{100, ""},
		{200, ""},
		{304, ""},
		{399, ""},
		{402, typhon.CodeBadRequest},
		{418, typhon.CodeBadRequest},
		{422, typhon.CodeBadRequest},
		{451, typhon.CodeBadRequest},
		{498, typhon.CodeBadRequest},
		{499, typhon.CodeCanceled},
		{505, typhon.CodeInternalService},
		{511, typhon.CodeInternalService},
		{599, typhon.CodeInternalService},
		{600, typhon.CodeInternalService},
		{999, typhon.CodeInternalService},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, typhon.CodeForStatus(tc.status))
		})
	}
	assert.Equal(t, 499, typhon.StatusClientClosedRequest)
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  *typhon.Error
		want string
	}{
		{"code and message", typhon.NewError("not_found", "no user"), "not_found: no user"},
		{"code only", typhon.NewError("not_found", ""), "not_found"},
		{"no code", typhon.NewError("", "oops"), "internal_service: oops"},
		{"wrapped", typhon.WrapError(errors.New("cause text"), "bad_gateway", "upstream"), "bad_gateway: upstream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.err.Error())
		})
	}
}

func TestErrorWithParams(t *testing.T) {
	t.Parallel()
	t.Run("copy", func(t *testing.T) {
		t.Parallel()
		orig := typhon.NewError("bad_request.missing_param", "missing")
		withP := orig.WithParams("param", "name")
		require.NotSame(t, orig, withP)
		assert.Nil(t, orig.Params, "original is not mutated")
		assert.Equal(t, map[string]string{"param": "name"}, withP.Params)
		assert.Equal(t, orig.Code, withP.Code)
		assert.Equal(t, orig.Message, withP.Message)

		more := withP.WithParams("param", "other", "k", "v")
		assert.Equal(t, map[string]string{"param": "name"}, withP.Params, "first copy is not mutated")
		assert.Equal(t, map[string]string{"param": "other", "k": "v"}, more.Params)

		more.Params["k"] = "changed"
		assert.Equal(t, map[string]string{"param": "name"}, withP.Params, "copies do not share a map")
	})
	t.Run("odd key", func(t *testing.T) {
		t.Parallel()
		e := typhon.NewError("x", "").WithParams("a", "1", "b")
		assert.Equal(t, map[string]string{"a": "1", "b": ""}, e.Params)
	})
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		orig := typhon.NewError("x", "")
		e := orig.WithParams()
		require.NotSame(t, orig, e)
		assert.Empty(t, e.Params)
	})
	t.Run("keeps cause and retry", func(t *testing.T) {
		t.Parallel()
		cause := errors.New("cause")
		e := typhon.WrapError(cause, "unavailable", "").WithRetryAfter(time.Second).WithParams("k", "v")
		assert.ErrorIs(t, e, cause)
		d, ok := typhon.RetryAfter(e)
		assert.True(t, ok)
		assert.Equal(t, time.Second, d)
	})
}

func TestErrorRetryAfter(t *testing.T) {
	t.Parallel()
	base := typhon.NewError(typhon.CodeUnavailable, "busy")
	with := base.WithRetryAfter(3 * time.Second)
	cases := []struct {
		name   string
		err    error
		want   time.Duration
		wantOK bool
	}{
		{"nil", nil, 0, false},
		{"plain", errors.New("x"), 0, false},
		{"none set", base, 0, false},
		{"set", with, 3 * time.Second, true},
		{"wrapped", fmt.Errorf("w: %w", with), 3 * time.Second, true},
		{"outermost *Error decides", typhon.WrapError(with, typhon.CodeBadGateway, ""), 0, false},
		{"zero", base.WithRetryAfter(0), 0, false},
		{"negative", base.WithRetryAfter(-time.Second), 0, false},
		{"sub-second", base.WithRetryAfter(time.Millisecond), time.Millisecond, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, ok := typhon.RetryAfter(tc.err)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, d)
		})
	}
	_, ok := typhon.RetryAfter(base)
	assert.False(t, ok, "WithRetryAfter does not mutate the original")
	assert.NotSame(t, base, with)
}

func TestWrapError(t *testing.T) {
	t.Parallel()
	cause := &http.MaxBytesError{Limit: 5}
	wrapped := fmt.Errorf("read: %w", cause)
	e := typhon.WrapError(wrapped, typhon.CodeBadRequest, "bad body")

	assert.Equal(t, typhon.CodeBadRequest, e.Code)
	assert.Equal(t, "bad body", e.Message)
	assert.Equal(t, wrapped, e.Unwrap())
	assert.Equal(t, wrapped, errors.Unwrap(e))
	assert.ErrorIs(t, e, cause)
	var mbe *http.MaxBytesError
	require.ErrorAs(t, e, &mbe)
	assert.Equal(t, int64(5), mbe.Limit)
	assert.Equal(t, typhon.CodeBadRequest, typhon.ErrorCode(e), "the *Error's code wins over its cause's")

	ctxErr := typhon.WrapError(context.DeadlineExceeded, typhon.CodeTimeout, "")
	assert.ErrorIs(t, ctxErr, context.DeadlineExceeded)
	assert.NoError(t, typhon.NewError("x", "").Unwrap(), "NewError has no cause")
	assert.Nil(t, typhon.WrapError(nil, "x", "").Unwrap())
}

// TestErrorHasNoIs: *Error has no Is method, so two errors with the same code
// are not errors.Is each other; codes are compared with IsCode.
func TestErrorHasNoIs(t *testing.T) {
	t.Parallel()
	a := typhon.NewError(typhon.CodeNotFound, "a")
	b := typhon.NewError(typhon.CodeNotFound, "a")
	assert.NotErrorIs(t, a, b)
	assert.ErrorIs(t, a, a)
	assert.True(t, typhon.IsCode(a, typhon.ErrorCode(b)))
}

func TestNotProcessedError(t *testing.T) {
	t.Parallel()
	err := typhon.NotProcessedError(context.Canceled, typhon.CodeUnavailable, "circuit open").WithRetryAfter(time.Second)
	assert.True(t, typhon.NotProcessed(err))
	assert.True(t, typhon.NotProcessed(fmt.Errorf("wrapped: %w", err)))
	assert.True(t, typhon.IsCode(err, typhon.CodeUnavailable))
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, typhon.NotProcessed(typhon.NewError(typhon.CodeUnavailable, "busy")))
	assert.False(t, typhon.NotProcessed(nil))
}
