package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"portcullis/internal/config"
	"portcullis/internal/cputime"
	"portcullis/internal/policy"
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
	// The access log as serve writes it: buffered, flushed every 100 ms (here to nowhere).
	logOut := NewLogWriter(io.Discard, 100*time.Millisecond)
	b.Cleanup(func() { _ = logOut.Close() })
	listen := func(opt Options) string {
		opt.Timeouts = config.Timeouts{ReadDuration: config.DefaultReadTimeout, IdleDuration: config.DefaultIdleTimeout, WriteDuration: config.DefaultWriteTimeout}
		opt.Limits = config.Limits{MaxHeaderBytes: config.DefaultMaxHeaderBytes, MaxBodyBytes: config.DefaultMaxBodyBytes}
		s := NewServer(plan, opt)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = s.Serve(ln) }()
		b.Cleanup(func() { _ = s.srv.Shutdown() })
		return ln.Addr().String()
	}
	plain := listen(Options{})
	slogged := listen(Options{AccessLog: slog.New(slog.NewJSONHandler(logOut, nil)).With("log", "access")})
	logged := listen(Options{AccessLogTo: logOut})

	cases := []struct{ name, addr, uri string }{
		{"direct", backend, "http://" + backend + "/base/items/42?x=1"},
		{"gateway", plain, "http://" + plain + "/echo/items/42?x=1"},
		{"gateway-access-log-slog", slogged, "http://" + slogged + "/echo/items/42?x=1"},
		{"gateway-access-log", logged, "http://" + logged + "/echo/items/42?x=1"},
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
			cpu := cputime.Process()
			for b.Loop() {
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("%v %d", err, resp.StatusCode())
				}
			}
			cputime.ReportPerOp(b, cpu)
		})
	}
}

// BenchmarkAccessLine: one access-log line encoded by the gateway against the same record
// through a slog JSON handler (what AccessLog costs), both into a discarding writer.
func BenchmarkAccessLine(b *testing.B) {
	o := Observation{RequestID: "0a1b2c3d-0000-0000-0000-000000000001", Method: "GET", Path: "/echo/items/42",
		ClientIP: netip.MustParseAddr("10.0.0.7"), API: "echo-api", Operation: "get-item", StatusCode: 200, Duration: 1234567}
	b.Run("gateway", func(b *testing.B) {
		var line []byte
		b.ReportAllocs()
		for b.Loop() {
			line = appendAccessLine(line[:0], time.Now(), &o)
			_, _ = io.Discard.Write(line)
		}
	})
	b.Run("slog", func(b *testing.B) {
		l := slog.New(slog.NewJSONHandler(io.Discard, nil)).With("log", "access")
		b.ReportAllocs()
		for b.Loop() {
			l.LogAttrs(context.Background(), slog.LevelInfo, "request",
				slog.String("request_id", o.RequestID), slog.String("method", o.Method), slog.String("path", o.Path),
				slog.String("client_ip", o.ClientIP.String()), slog.String("api", o.API), slog.String("operation", o.Operation),
				slog.Int("status", o.StatusCode), slog.Float64("duration_ms", float64(o.Duration.Microseconds())/1000))
		}
	})
}

// BenchmarkForwardHeaders: the client's header fields copied to the backend request, for a
// browser-like GET with a bearer token (the filter runs once per field).
func BenchmarkForwardHeaders(b *testing.B) {
	var in policy.Header
	for _, f := range [][2]string{
		{"Host", "api.contoso.example"}, {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"}, {"Accept", "application/json"},
		{"Accept-Encoding", "gzip, deflate"}, {"Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"},
		{"Connection", "keep-alive"}, {"X-Forwarded-For", "203.0.113.9"}, {"Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	} {
		in.Add(f[0], f[1])
	}
	var req fasthttp.Request
	req.Header.DisableNormalizing()
	var xff []byte
	b.ReportAllocs()
	for b.Loop() {
		req.Header.Reset()
		xff = copyRequestHeaders(&req.Header, &in, xff[:0])
	}
}
