package filters_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleHealth() {
	h := filters.NewHealth()
	h.RegisterLiveness("workers", func(context.Context) (map[string]string, error) {
		return map[string]string{"running": "8"}, nil
	})
	h.RegisterReadiness("db", func(ctx context.Context) (map[string]string, error) {
		return map[string]string{"host": "db:5432"}, errors.New("connection refused")
	})
	app := typhon.Service(func(req typhon.Request) typhon.Response { return req.Response("app") })
	svc := app.Filter(h.Filter()) // answers /healthz and /readyz, passes the rest on

	// Served with typhon.Listen(svc, addr, typhon.WithLameDuck(d)), then
	// h.WatchServer(srv): readiness fails as soon as srv.Stop begins.
	probe := func(path string) {
		rsp := svc(typhon.NewRequest(context.Background(), "GET", "http://svc"+path, nil))
		b, _ := io.ReadAll(rsp.Body)
		fmt.Println(path, rsp.StatusCode, string(b))
	}
	probe("/healthz")
	probe("/readyz")
	h.Drain()
	probe("/readyz")
	// Output:
	// /healthz 200 {"status":"ok","checks":{"workers":{"status":"ok","details":{"running":"8"}}}}
	// /readyz 503 {"status":"unavailable","checks":{"db":{"status":"unavailable","error":"connection refused","details":{"host":"db:5432"}}}}
	// /readyz 503 {"status":"unavailable","draining":true,"checks":{}}
}
