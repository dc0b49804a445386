package filters

import (
	"errors"
	"net/url"
	"testing"

	"github.com/typhon-go/typhon"
)

func TestOTelHostPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hostport, scheme string
		host             string
		port             int
	}{
		{"users.internal:8080", "http", "users.internal", 8080},
		{"users.internal", "http", "users.internal", 80},
		{"users.internal", "https", "users.internal", 443},
		{"users.internal", "", "users.internal", 0},
		{"[::1]:9000", "http", "::1", 9000},
		{"[::1]", "https", "::1", 443},
		{"127.0.0.1:99999", "http", "127.0.0.1", 80},
		{"host:x1", "http", "host", 80},
		{"", "http", "", 80},
	}
	for _, tt := range tests {
		host, port := otelHostPort(tt.hostport, tt.scheme)
		if host != tt.host || port != tt.port {
			t.Errorf("otelHostPort(%q, %q) = %q, %d; want %q, %d", tt.hostport, tt.scheme, host, port, tt.host, tt.port)
		}
	}
}

func TestOTelFullURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://users.internal/users/1?page=2", "http://users.internal/users/1?page=2"},
		{"https://bob@users.internal/", "https://REDACTED:REDACTED@users.internal/"},
		{"https://s3.example/o?AWSAccessKeyId=AK&Signature=s&x=1&sig=2", "https://s3.example/o?AWSAccessKeyId=REDACTED&Signature=REDACTED&x=1&sig=REDACTED"},
		{"https://g.example/o?X-Goog-Signature=abc", "https://g.example/o?X-Goog-Signature=REDACTED"},
		{"https://g.example/o?mysig=abc", "https://g.example/o?mysig=abc"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := otelFullURL(u); got != tt.want {
			t.Errorf("otelFullURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOTelErrorClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		want   string
	}{
		{nil, 200, ""},
		{nil, 404, "404"},
		{typhon.NewError("not_found.user", ""), 404, "not_found"},
		{typhon.NewError("canceled", ""), 499, "canceled"},
		{typhon.NewError("made_up", ""), 500, "_OTHER"},
		{typhon.NewError("made_up.not_found", ""), 500, "_OTHER"},
		{errors.New("plain"), 500, "internal_service"},
	}
	for _, tt := range tests {
		if got := otelErrorClass(tt.err, tt.status); got != tt.want {
			t.Errorf("otelErrorClass(%v, %d) = %q, want %q", tt.err, tt.status, got, tt.want)
		}
	}
}
