//go:build unix

package policies

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"portcullis/internal/config"
	"portcullis/internal/gateway"
	"portcullis/internal/policy"
)

// BenchmarkGatewayValidateJWT sends the same GET over one kept-alive connection through the
// gateway's listener without a policy and with the article's validate-jwt (the token reused,
// so a cache hit after the first request), to a fasthttp backend on loopback. cpu-ns/op is
// the process's CPU per request (client, gateway and backend together): the difference
// between the two cases is what validate-jwt costs a request.
func BenchmarkGatewayValidateJWT(b *testing.B) {
	p := newIdP(b)
	e := newEnv(b, p)
	step, err := e.compileStep(b, `<validate-jwt header-name="Authorization" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized. Access token is missing or invalid."><openid-config url="{{discovery}}"/><required-claims><claim name="aud"><value>{{client-id}}</value></claim></required-claims></validate-jwt>`)
	if err != nil {
		b.Fatal(err)
	}
	e.waitKeys(b)
	token := signRS256(b, p.key, p.kid, claimsAt(time.Now(), p.issuer(), nil))

	backendLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	backend := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		rc.SetContentType("application/json")
		rc.SetBodyString(`{"ok":true}`)
	}}
	go func() { _ = backend.Serve(backendLn) }()
	b.Cleanup(func() { _ = backend.Shutdown() })

	withJWT := gateway.PipelineFunc(func(ctx *policy.Context) error {
		if err := step.Run(ctx); err != nil {
			return err
		}
		return ctx.Backend.Forward(ctx, policy.ForwardOptions{})
	})
	cases := []struct {
		name     string
		pipeline gateway.Pipeline
	}{
		{"no-policy", gateway.Forward},
		{"validate-jwt", withJWT},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			addr := serveGateway(b, "http://"+backendLn.Addr().String(), c.pipeline)
			client := &fasthttp.HostClient{Addr: addr, MaxConns: 1}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + "/echo/items/42")
			req.Header.Set("Authorization", "Bearer "+token)
			b.ReportAllocs()
			cpu := benchCPU()
			for b.Loop() {
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
				}
			}
			if used := benchCPU() - cpu; used > 0 {
				b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// serveGateway starts a gateway listener with one API (path echo, no operations) whose every
// request runs pl, and returns its address.
func serveGateway(b *testing.B, backend string, pl gateway.Pipeline) string {
	cfg := &config.Config{Gateway: &config.Gateway{
		APIs:     []config.API{{Name: "echo", Path: "echo", Backend: backend}},
		Timeouts: &config.Timeouts{BackendDuration: config.DefaultBackendTimeout},
		Limits:   &config.Limits{MaxHeaderBytes: config.DefaultMaxHeaderBytes, MaxBodyBytes: config.DefaultMaxBodyBytes},
	}}
	plan, err := gateway.Build(cfg, func(*config.Gateway, *config.API, *config.Operation) (gateway.Pipeline, error) { return pl, nil })
	if err != nil {
		b.Fatal(err)
	}
	s := gateway.NewServer(plan, gateway.Options{
		Timeouts: config.Timeouts{ReadDuration: config.DefaultReadTimeout, IdleDuration: config.DefaultIdleTimeout, WriteDuration: config.DefaultWriteTimeout},
		Limits:   config.Limits{MaxHeaderBytes: config.DefaultMaxHeaderBytes, MaxBodyBytes: config.DefaultMaxBodyBytes},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = s.Shutdown(b.Context()) })
	return ln.Addr().String()
}

// benchCPU is the CPU time this process has used.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
