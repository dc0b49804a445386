package attack_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawResult is what came back on one raw HTTP/1.1 connection: the
// responses in order ("200 /path" when the Service answered, "400" when
// net/http or typhon did) and whether the server closed the connection.
type rawResult struct {
	responses []string
	closed    bool
}

func (r rawResult) statuses() string { return strings.Join(r.responses, ",") }

// rawExchange writes raw on a new connection while reading the responses
// until the server closes it or, if it keeps it open, for 3 s.
func rawExchange(t *testing.T, addr, raw string) rawResult {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(bound)))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(3*time.Second)))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		_, _ = io.WriteString(c, raw) // the server may close before it has read it all
	}()
	defer func() { c.Close(); <-wrote }()
	var res rawResult
	br := bufio.NewReader(c)
	for {
		rsp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, rsp.Body)
			rsp.Body.Close()
			r := fmt.Sprint(rsp.StatusCode)
			if p := rsp.Header.Get("X-Path"); p != "" {
				r += " " + p
			}
			res.responses = append(res.responses, r)
		}
		if err != nil {
			res.closed = !isTimeout(err)
			return res
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// The smuggled request: the Service counts arrivals on its path, which must
// stay at zero.
const (
	smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	endReq   = "GET /end HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	chunked0 = "0\r\n\r\n"
)

// post is a POST / with the given header lines and body.
func post(headers, body string) string {
	return "POST / HTTP/1.1\r\nHost: a\r\n" + headers + "\r\n" + body
}

func cl(body string) string { return fmt.Sprintf("Content-Length: %d\r\n", len(body)) }

type vector struct {
	name string
	raw  string // sent as is, followed by a GET /end with Connection: close
	want string // typhon's responses, in order
}

// smugglingCorpus is the HTTP/1.1 parsing corpus. A vector that the server
// rejects never reaches the Service; one it accepts is served once, with
// the framing everyone agrees on; none lets GET /smuggled through.
var smugglingCorpus = []vector{
	// Framing conflicts.
	{name: "cl-te", raw: post(cl(chunked0+smuggled)+"Transfer-Encoding: chunked\r\n", chunked0+smuggled), want: "200 /"},
	{name: "te-cl", raw: post("Transfer-Encoding: chunked\r\n"+cl(chunked0+smuggled), chunked0+smuggled), want: "200 /"},
	{name: "cl-te-capitalised", raw: post(cl(chunked0+smuggled)+"Transfer-Encoding: Chunked\r\n", chunked0+smuggled), want: "200 /"},
	{name: "cl-te-obs-fold", raw: post(cl(chunked0+smuggled)+"Transfer-Encoding:\r\n chunked\r\n", chunked0+smuggled), want: "200 /"},
	{name: "http10-cl-te", raw: "POST / HTTP/1.0\r\nHost: a\r\n" + cl(chunked0+smuggled) + "Transfer-Encoding: chunked\r\n\r\n" + chunked0 + smuggled, want: "200 /"},
	{name: "cl-differing-duplicates", raw: post("Content-Length: 3\r\nContent-Length: 40\r\n", "abc"+smuggled), want: "400"},
	{name: "cl-list", raw: post("Content-Length: 3, 40\r\n", "abc"+smuggled), want: "400"},
	{name: "cl-plus-sign", raw: post("Content-Length: +3\r\n", "abc"+smuggled), want: "400"},
	{name: "cl-negative", raw: post("Content-Length: -3\r\n", "abc"+smuggled), want: "400"},
	{name: "cl-hex", raw: post("Content-Length: 0x3\r\n", "abc"+smuggled), want: "400"},
	{name: "cl-inner-space", raw: post("Content-Length: 3 3\r\n", "abc"+smuggled), want: "400"},
	{name: "cl-identical-duplicates", raw: post("Content-Length: 3\r\nContent-Length: 3\r\n", "abc"), want: "200 /,200 /end"},
	// Transfer-Encoding obfuscation.
	{name: "te-xchunked", raw: post("Transfer-Encoding: xchunked\r\n", chunked0+smuggled), want: "501"},
	{name: "te-chunked-identity", raw: post("Transfer-Encoding: chunked, identity\r\n", chunked0+smuggled), want: "501"},
	{name: "te-identity-chunked", raw: post("Transfer-Encoding: identity, chunked\r\n", chunked0+smuggled), want: "501"},
	{name: "te-two-lines", raw: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", chunked0+smuggled), want: "501"},
	{name: "te-space-before-colon", raw: post("Transfer-Encoding : chunked\r\n"+cl(chunked0+smuggled), chunked0+smuggled), want: "400"},
	{name: "te-vertical-tab", raw: post("Transfer-Encoding: \vchunked\r\n", chunked0+smuggled), want: "400"},
	// Chunk framing.
	{name: "chunk-bare-lf", raw: post("Transfer-Encoding: chunked\r\n", "3\nabc\r\n0\r\n\r\n"), want: "400"},
	{name: "chunk-ext-bare-lf", raw: post("Transfer-Encoding: chunked\r\n", "3;ext\nabc\r\n0\r\n\r\n"), want: "400"},
	{name: "chunk-missing-crlf", raw: post("Transfer-Encoding: chunked\r\n", "3\r\nabcX\r\n0\r\n\r\n"), want: "400"},
	{name: "chunk-size-overflow", raw: post("Transfer-Encoding: chunked\r\n", "ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"), want: "400"},
	{name: "chunk-ext-flood", raw: post("Transfer-Encoding: chunked\r\n", strings.Repeat("1;"+strings.Repeat("e", 1024)+"\r\nx\r\n", 64)+chunked0), want: "400"},
	// Header syntax.
	{name: "header-nul", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n", want: "400"},
	{name: "header-cr", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n", want: "400"},
	{name: "header-space-before-colon", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", want: "400"},
	{name: "header-name-space", raw: "GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", want: "400"},
	{name: "host-missing", raw: "GET / HTTP/1.1\r\n\r\n", want: "400"},
	{name: "host-duplicate", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", want: "400"},
	{name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n", want: "200 /,200 /end"},
	{name: "obs-fold-hides-te", raw: post(cl("abc")+"X-Folded: a\r\n Transfer-Encoding: chunked\r\n", "abc"), want: "200 /,200 /end"},
	{name: "bare-lf-lines", raw: "GET / HTTP/1.1\nHost: a\n\n", want: "200 /,200 /end"},
	// Request targets and upgrades.
	{name: "absolute-form", raw: "GET http://other.example/abs HTTP/1.1\r\nHost: a\r\n\r\n", want: "200 /abs,200 /end"},
	{name: "h2c-upgrade-with-body", raw: "POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello", want: "200 /,200 /end"},
	// Controls: pipelining works, so a closed connection above means something.
	{name: "pipelined-control", raw: post(cl("abc"), "abc") + "GET /second HTTP/1.1\r\nHost: a\r\n\r\n", want: "200 /,200 /second,200 /end"},
	{name: "chunked-then-pipelined", raw: post("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n"+chunked0) + "GET /second HTTP/1.1\r\nHost: a\r\n\r\n", want: "200 /"},
}

// TestH1SmugglingCorpus sends each vector on a new connection to a default
// typhon server, and to a plain net/http server with a handler that, like
// the careless Service, ignores body read errors and answers 200: the
// measured std baseline the report compares with.
func TestH1SmugglingCorpus(t *testing.T) {
	s := newScenario(t, "h1/smuggling-corpus",
		"each vector on its own connection: rejected ones answered 400/431/501 without calling the Service; CL+TE answered once and the connection closed; GET /smuggled never reaches the Service; malformed chunked bodies 400, never 200")
	g := newTarget(t)
	srv, _ := serve(t, g.serve)
	addr := srv.Addr().String()
	std := newTarget(t)
	stdAddr := serveStd(t, std)
	var differ []string
	for _, v := range smugglingCorpus {
		before := g.total()
		res := rawExchange(t, addr, v.raw+endReq)
		got := res.statuses()
		stdGot := rawExchange(t, stdAddr, v.raw+endReq).statuses()
		t.Logf("%-26s typhon %-22s std %-28s calls=%d", v.name, got, stdGot, g.total()-before)
		assert.Equal(t, v.want, got, v.name)
		if got != stdGot {
			differ = append(differ, v.name)
		}
	}
	s.set("attacks", len(smugglingCorpus))
	s.set("smuggled", g.count("/smuggled"))
	s.set("std_smuggled", std.count("/smuggled"))
	s.set("differs_from_std", strings.Join(differ, ","))
	s.set("absolute_form_host", g.hostOf("/abs"))
	assert.Zero(t, g.count("/smuggled"), "a smuggled request reached the Service")
	assert.Equal(t, "other.example", g.hostOf("/abs"), "absolute-form: the Host the Service sees is the URL's")
	s.mustProbe(addr, "after the corpus")
}

// serveStd serves g's arrivals with net/http alone (HTTP/1.1 and h2c, no
// timeouts: the zero http.Server) until the end of the test.
func serveStd(t *testing.T, g *target) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Protocols: &p,
		ErrorLog:  log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.mu.Lock()
			g.arrivals[r.URL.Path]++
			g.mu.Unlock()
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Path", r.URL.Path)
			_, _ = io.WriteString(w, "ok")
		}),
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}
