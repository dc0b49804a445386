package bench_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/bench/servers"
	"github.com/typhon-go/typhon/filters"
)

// memConns is how many connections (and requests in flight) the memory
// benchmark opens.
const memConns = 256

// BenchmarkMemory measures the server's live heap and goroutine stacks per
// open idle connection (after one request on it) and per request in flight
// (a handler waiting, one per connection), from runtime.ReadMemStats after
// GC. The clients are raw sockets in the same process, without a goroutine:
// impl=tcp is a listener that accepts and holds connections, the floor
// (both ends' sockets) that every other row includes. Run it with
// -benchtime=1x: ns/op is the time to set up and measure.
func BenchmarkMemory(b *testing.B) {
	for _, proto := range []string{"h1", "h2c"} {
		for _, impl := range []string{"tcp", "nethttp", "typhon-bare", "typhon-stack"} {
			b.Run("proto="+proto+"/impl="+impl, func(b *testing.B) {
				for b.Loop() {
					benchMemory(b, proto, impl)
				}
			})
		}
	}
}

// memServer serves GET /users/{id} and GET /wait, which blocks until
// release is closed; inFlight counts the handlers waiting.
type memServer struct {
	addr     string
	inFlight atomic.Int64
	release  chan struct{}
	stop     func()
}

func startMemServer(b *testing.B, impl string) *memServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &memServer{addr: l.Addr().String(), release: make(chan struct{})}
	switch impl {
	case "tcp":
		var conns []net.Conn
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := l.Accept()
				if err != nil {
					for _, c := range conns {
						c.Close()
					}
					return
				}
				conns = append(conns, c)
			}
		}()
		s.stop = func() { l.Close(); <-done }
	case "nethttp":
		mux := http.NewServeMux()
		mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(smallJSON)
		})
		mux.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
			s.inFlight.Add(1)
			<-s.release
		})
		srv := servers.NewHTTPServer(mux)
		go func() { _ = srv.Serve(l) }()
		s.stop = func() { srv.Close() }
	default:
		var r typhon.Router
		r.GET("/users/{id}", func(req typhon.Request) typhon.Response { return req.Response(smallJSON) })
		r.GET("/wait", func(req typhon.Request) typhon.Response {
			s.inFlight.Add(1)
			<-s.release
			return req.Response(nil)
		})
		svc := r.Serve()
		if impl == "typhon-stack" {
			svc = filters.ServerStack(svc)
		}
		srv, err := typhon.Serve(svc, l)
		if err != nil {
			b.Fatal(err)
		}
		s.stop = func() {
			_ = srv.Stop(canceledContext())
		}
	}
	return s
}

type memStats struct{ heap, stack uint64 }

func readMem() memStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memStats{heap: m.HeapAlloc, stack: m.StackInuse}
}

func perUnit(after, before uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}

func benchMemory(b *testing.B, proto, impl string) {
	s := startMemServer(b, impl)
	defer s.stop()
	time.Sleep(10 * time.Millisecond) // the server's goroutines settle
	base := readMem()
	conns := make([]net.Conn, 0, memConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range memConns {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if impl == "tcp" {
			continue
		}
		var err2 error
		if proto == "h1" {
			err2 = h1Get(c, "/users/42")
		} else {
			err2 = h2cGet(c, "/users/42")
		}
		if err2 != nil {
			b.Fatal(err2)
		}
	}
	idle := readMem()
	b.ReportMetric(perUnit(idle.heap, base.heap, memConns), "heapB/conn")
	b.ReportMetric(perUnit(idle.stack, base.stack, memConns), "stackB/conn")
	if impl == "tcp" {
		b.ReportMetric(0, "heapB/req")
		b.ReportMetric(0, "stackB/req")
		return
	}
	for _, c := range conns {
		var err error
		if proto == "h1" {
			_, err = io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: bench\r\n\r\n")
		} else {
			err = h2cWrite(c, 3, "/wait")
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.inFlight.Load() < memConns {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d requests in flight", s.inFlight.Load(), memConns)
		}
		time.Sleep(time.Millisecond)
	}
	busy := readMem()
	b.ReportMetric(perUnit(busy.heap, idle.heap, memConns), "heapB/req")
	b.ReportMetric(perUnit(busy.stack, idle.stack, memConns), "stackB/req")
	close(s.release)
}

// h1Get makes one HTTP/1.1 request on c and reads the whole answer, leaving
// nothing buffered behind.
func h1Get(c net.Conn, path string) error {
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		return err
	}
	rsp, err := http.ReadResponse(bufio.NewReaderSize(c, 16), nil) // tiny: reads no further than the answer
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, rsp.Body)
	rsp.Body.Close()
	if err == nil && rsp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", rsp.StatusCode)
	}
	return err
}

// h2cWrite sends the request HEADERS of a GET on stream id.
func h2cWrite(c net.Conn, id uint32, path string) error {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "bench"}, {":path", path}} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			return err
		}
	}
	return http2.NewFramer(c, nil).WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true,
	})
}

// h2cGet opens an h2c connection with prior knowledge on c and makes one
// request on stream 1, reading frames until its answer ends.
func h2cGet(c net.Conn, path string) error {
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return err
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		return err
	}
	if err := h2cWrite(c, 1, path); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					return err
				}
			}
		case *http2.DataFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				return nil
			}
		case *http2.HeadersFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				return nil
			}
		case *http2.GoAwayFrame:
			return fmt.Errorf("GOAWAY: %v", f.ErrCode)
		case *http2.RSTStreamFrame:
			return fmt.Errorf("RST_STREAM: %v", f.ErrCode)
		}
	}
}
