package gateway

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"portcullis/internal/config"
)

// fixedBackend is a fasthttp server on loopback answering a small fixed body.
func fixedBackend(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"ok":true,"message":"hello from the backend"}`)
	srv := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		rc.SetContentType("application/json")
		rc.SetBody(body)
	}}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// BenchmarkRequest sends the same GET over one kept-alive connection straight to the backend
// and through the gateway (no policy, forward only), both on loopback, so that the difference
// is the gateway's cost per request (router, context, forwarding, two more socket hops).
func BenchmarkRequest(b *testing.B) {
	backend := fixedBackend(b)
	plan := testPlan(b, config.API{Name: "echo-api", Path: "echo", Backend: "http://" + backend + "/base",
		Operations: ops("get", "GET", "/items/{id}")})
	s := NewServer(plan, Options{
		Timeouts: config.Timeouts{ReadDuration: config.DefaultReadTimeout, IdleDuration: config.DefaultIdleTimeout, WriteDuration: config.DefaultWriteTimeout},
		Limits:   config.Limits{MaxHeaderBytes: config.DefaultMaxHeaderBytes, MaxBodyBytes: config.DefaultMaxBodyBytes},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = s.srv.Shutdown() })

	cases := []struct{ name, addr, uri string }{
		{"direct", backend, "http://" + backend + "/base/items/42?x=1"},
		{"gateway", ln.Addr().String(), "http://" + ln.Addr().String() + "/echo/items/42?x=1"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			client := &fasthttp.HostClient{Addr: c.addr, MaxConns: 1}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(c.uri)
			req.Header.Set("Authorization", "Bearer not-checked-here")
			b.ReportAllocs()
			for b.Loop() {
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("%v %d", err, resp.StatusCode())
				}
			}
		})
	}
}
