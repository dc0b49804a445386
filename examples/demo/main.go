// Command demo runs three small typhon services on loopback ports and calls
// them: a gateway that fans out to a users service and an orders service, the
// orders service calling the users service in turn. Every server and client
// is traced, measured and logged (filters.RequestID, Trace, Metrics, Log),
// with the OpenTelemetry SDK collecting in memory. After each call the demo
// prints what it returned, among them an error raised two hops down that
// reaches the caller with its code, message and params intact, and the
// call's trace as a waterfall; at the end, a summary of the metrics. Then it
// exits.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/typhon-go/typhon"
)

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type order struct {
	ID    string `json:"id"`
	Item  string `json:"item"`
	Total int    `json:"total_pence"`
}

type profile struct {
	User   user    `json:"user"`
	Orders []order `json:"orders"`
}

// newClient is how the services call each other: HTTP/2 with prior
// knowledge, through the filters of the calling service.
func newClient(wrap func(typhon.Service) typhon.Service) typhon.Service {
	return wrap(typhon.NewClient(typhon.WithH2C()))
}

func usersService(notes *notes) typhon.Service {
	people := map[string]string{"1": "Ada Lovelace", "2": "Grace Hopper"}
	var r typhon.Router
	r.GET("/users/{id}", func(req typhon.Request) typhon.Response {
		id := req.PathValue("id")
		if id == "slow" {
			if deadline, ok := req.Context().Deadline(); ok {
				notes.add(fmt.Sprintf("users: %s arrived with %v of its caller's budget left",
					req.URL.Path, time.Until(deadline).Round(time.Millisecond)))
			}
			<-req.Context().Done() // answers only when the caller gives up
			return typhon.Response{Error: req.Context().Err()}
		}
		name, ok := people[id]
		if !ok {
			return typhon.Response{Error: typhon.NewError("not_found.user", "no user with this id").WithParams("user_id", id)}
		}
		return req.Response(user{ID: id, Name: name})
	})
	return r.Serve()
}

func ordersService(usersURL string, client typhon.Service) typhon.Service {
	var r typhon.Router
	r.GET("/users/{id}/orders", func(req typhon.Request) typhon.Response {
		id := req.PathValue("id")
		// Check the user exists: a second hop. Its error is passed on as it is.
		var u user
		if err := typhon.NewRequest(req.Context(), "GET", usersURL+"/users/"+id, nil).SendVia(client).Response().Decode(&u); err != nil {
			return typhon.Response{Error: err}
		}
		return req.Response([]order{{ID: "o-" + id + "-1", Item: "Analytical Engine manual", Total: 1299}})
	})
	return r.Serve()
}

func gatewayService(usersURL, ordersURL string, client typhon.Service) typhon.Service {
	var r typhon.Router
	r.GET("/profile/{id}", func(req typhon.Request) typhon.Response {
		id := req.PathValue("id")
		// Fan out: both calls are in flight at once.
		userF := typhon.NewRequest(req.Context(), "GET", usersURL+"/users/"+id, nil).SendVia(client)
		ordersF := typhon.NewRequest(req.Context(), "GET", ordersURL+"/users/"+id+"/orders", nil).SendVia(client)
		var p profile
		if err := ordersF.Response().Decode(&p.Orders); err != nil {
			userF.Response().Decode(nil) // release the other call
			return typhon.Response{Error: err}
		}
		if err := userF.Response().Decode(&p.User); err != nil {
			return typhon.Response{Error: err}
		}
		return req.Response(p)
	})
	return r.Serve()
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	tel := newTelemetry()
	var notes notes
	var servers []*typhon.Server
	defer func() {
		for _, s := range servers {
			stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = s.Stop(stopCtx)
			cancel()
		}
	}()
	hosts := map[string]string{} // host:port -> service name, for the waterfall
	start := func(name string, svc typhon.Service) (string, error) {
		s, err := typhon.Listen(svc, "")
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		servers = append(servers, s)
		hosts[s.Addr().String()] = name
		url := "http://" + s.Addr().String()
		fmt.Printf("%-8s listening on %s\n", name, url)
		return url, nil
	}
	users := tel.observe("users")
	usersURL, err := start("users", users(usersService(&notes)))
	if err != nil {
		return err
	}
	orders := tel.observe("orders")
	ordersURL, err := start("orders", orders(ordersService(usersURL, newClient(orders))))
	if err != nil {
		return err
	}
	gateway := tel.observe("gateway")
	gatewayURL, err := start("gateway", gateway(gatewayService(usersURL, ordersURL, newClient(gateway))))
	if err != nil {
		return err
	}
	// The demo itself is the first caller: its client is traced too, so
	// the client span of each call is the root of its trace.
	caller := tel.observe("caller")(typhon.DefaultClient)
	fmt.Println()

	calls := []struct {
		title   string
		path    string
		timeout time.Duration
		showLog bool
	}{
		{"a profile: gateway -> users + (orders -> users)", "/profile/1", 5 * time.Second, false},
		{"an unknown user: the users service's error crosses two hops", "/profile/99", 5 * time.Second, true},
		{"a route that does not exist", "/profiles/1", 5 * time.Second, false},
		{"a slow user with a 200ms budget: the deadline travels with each call", "/profile/slow", 200 * time.Millisecond, false},
	}
	for i, c := range calls {
		tel.spans.Reset()
		callCtx, cancel := context.WithTimeout(ctx, c.timeout)
		// The demo names its requests; filters.RequestID would give each
		// a random ID otherwise.
		requestID := fmt.Sprintf("demo-%d", i+1)
		callCtx = typhon.WithRequestID(callCtx, requestID)
		begin := time.Now()
		rsp := typhon.NewRequest(callCtx, "GET", gatewayURL+c.path, nil).SendVia(caller).Response()
		var body []byte
		err := rsp.Decode(&body)
		took := time.Since(begin).Round(100 * time.Microsecond)
		cancel()
		if !tel.open.waitIdle(2 * time.Second) {
			fmt.Println("   (some spans had not ended after 2s)")
		}
		// Servers echo the ID on error answers only.
		echoed := rsp.Header.Get(typhon.RequestIDHeader)
		switch {
		case echoed != "":
		case rsp.StatusCode < 400:
			echoed = "no, servers echo it on errors"
		default:
			echoed = "none: the caller's deadline passed before an answer came"
		}
		fmt.Printf("== %s\n   GET %s -> %d in %v, request ID %s (echoed: %s)\n", c.title, c.path, rsp.StatusCode, took, requestID, echoed)
		if err != nil {
			var e *typhon.Error
			if errors.As(err, &e) {
				fmt.Printf("   error: code=%q message=%q params=%v\n", e.Code, e.Message, e.Params)
			} else {
				fmt.Printf("   error: %v\n", err)
			}
		} else {
			fmt.Printf("   body:  %s\n", strings.TrimSpace(string(body)))
		}
		for _, n := range notes.take() {
			fmt.Printf("   (%s)\n", n)
		}
		fmt.Println()
		printWaterfall(os.Stdout, tel.spans.GetSpans(), hosts)
		if c.showLog {
			fmt.Println()
			printAccessLog(tel.logs.String(), requestID, hosts)
		}
		fmt.Println()
	}

	fmt.Println("== metrics: requests served by route, calls made by service called")
	return printMetrics(os.Stdout, tel, hosts)
}

// printAccessLog prints the access-log lines of one request ID, a few
// attributes of each: the same ID is on every hop.
func printAccessLog(logs, requestID string, hosts map[string]string) {
	fmt.Printf("   access log (filters.Log), the lines with request_id=%s:\n", requestID)
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l struct {
			Level    string  `json:"level"`
			Service  string  `json:"service"`
			Msg      string  `json:"msg"`
			Route    string  `json:"http.route"`
			Address  string  `json:"server.address"`
			Status   int     `json:"http.response.status_code"`
			Code     string  `json:"error.code"`
			Duration float64 `json:"duration"` // nanoseconds
			ID       string  `json:"request_id"`
			TraceID  string  `json:"trace_id"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.ID != requestID {
			continue
		}
		what := l.Route
		if what == "" {
			what = "→ " + cmp.Or(hosts[l.Address], l.Address)
		}
		fmt.Printf("   %-5s %-8s %-20s %-22s %3d %8s  %-15s trace_id=%.8s…\n", l.Level, l.Service, l.Msg, what,
			l.Status, millis(time.Duration(l.Duration)), l.Code, l.TraceID)
	}
}

// notes are lines a service wants printed with the call it served.
type notes struct {
	mu    sync.Mutex
	lines []string
}

func (n *notes) add(s string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lines = append(n.lines, s)
}

func (n *notes) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.lines
	n.lines = nil
	return l
}
