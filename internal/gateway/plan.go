package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"portcullis/internal/config"
	"portcullis/internal/policy"
)

// Pipeline runs one operation's compiled policies over a request. It returns nil or
// policy.ErrResponseSent when ctx.Response is the answer, or a *policy.Failure that nothing
// handled, which the gateway answers with APIM's default error body.
type Pipeline interface {
	Run(ctx *policy.Context) error
}

// PipelineFunc adapts a function to Pipeline.
type PipelineFunc func(ctx *policy.Context) error

// Run calls f.
func (f PipelineFunc) Run(ctx *policy.Context) error { return f(ctx) }

// Compiler compiles the pipeline of one operation: global ⊕ API ⊕ operation scopes. op is nil
// for an API without operations. It is given by the caller so that the gateway knows nothing of
// the policy language.
type Compiler func(g *config.Gateway, api *config.API, op *config.Operation) (Pipeline, error)

// Forward is the pipeline of a gateway without policies: forward the request as it came.
var Forward Pipeline = PipelineFunc(func(ctx *policy.Context) error {
	return ctx.Backend.Forward(ctx, policy.ForwardOptions{})
})

// Plan is one compiled configuration: router, pipelines and backend connections. It is built
// beside the running one and published with one atomic swap; requests keep the Plan they
// started with.
type Plan struct {
	router   *router
	backends map[string]*fasthttp.HostClient // "scheme://host:port" → pooled connections
	other    *fasthttp.Client                // hosts named only at run time (set-backend-service)
	// tlsConf is the outbound TLS configuration; withCert derives one client per
	// authentication-certificate certificate from it.
	tlsConf        *tls.Config
	withCert       sync.Map // *policy.Certificate → *fasthttp.Client
	backendTimeout time.Duration
	maxBody        int64
	apis, ops      int
}

// Build compiles cfg's gateway section. compile may be nil: every operation then forwards
// without policies. Every compile error is returned (joined), so that a check lists them all.
func Build(cfg *config.Config, compile Compiler) (*Plan, error) {
	g := cfg.Gateway
	if g == nil {
		return nil, errors.New("the configuration has no gateway section")
	}
	if compile == nil {
		compile = func(*config.Gateway, *config.API, *config.Operation) (Pipeline, error) { return Forward, nil }
	}
	tlsConf, err := ClientTLS(g.Trust)
	if err != nil {
		return nil, err
	}
	p := &Plan{
		tlsConf:        tlsConf,
		backends:       map[string]*fasthttp.HostClient{},
		backendTimeout: g.Timeouts.BackendDuration,
		maxBody:        g.Limits.MaxBodyBytes,
		other: &fasthttp.Client{
			TLSConfig:                     tlsConf,
			ReadBufferSize:                backendHeaderBytes,
			MaxIdleConnDuration:           backendIdle,
			StreamResponseBody:            true,
			DisablePathNormalizing:        true,
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			RetryIfErr:                    retryIdempotent,
		},
	}
	var errs []error
	apis := make([]*apiRoute, 0, len(g.APIs))
	for i := range g.APIs {
		a := &g.APIs[i]
		service, err := parseServiceURL(a.Backend)
		if err != nil {
			errs = append(errs, fmt.Errorf("API %q: %w", a.Name, err))
			continue
		}
		ar := &apiRoute{cfg: a, service: service, client: p.addBackend(service, tlsConf), info: policy.API{
			ID: a.Name, Name: a.Name, Path: "/" + a.Path, IsCurrentRevision: true, Revision: "1", ServiceURL: service,
		}}
		if len(a.Operations) == 0 {
			pl, err := compile(g, a, nil)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			ar.routes = append(ar.routes, &route{api: ar, method: "*", template: "/*", catchAll: true, pipeline: pl,
				info: policy.Operation{ID: a.Name, Name: a.Name, Method: "*", URLTemplate: "/*"}})
		}
		for j := range a.Operations {
			op := &a.Operations[j]
			rt := &route{api: ar, name: op.Name, method: op.Method, template: op.Template, segs: op.URLTemplate.Segments,
				info: policy.Operation{ID: op.Name, Name: op.Name, Method: op.Method, URLTemplate: op.Template}}
			for _, s := range rt.segs {
				if s.Kind != config.Literal {
					rt.params++
				}
			}
			if rt.params > maxParams {
				errs = append(errs, fmt.Errorf("API %q operation %q: template %s has more than %d parameters", a.Name, op.Name, op.Template, maxParams))
				continue
			}
			pl, err := compile(g, a, op)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			rt.pipeline = pl
			ar.routes = append(ar.routes, rt)
			p.ops++
		}
		apis = append(apis, ar)
	}
	if len(errs) > 0 {
		p.Close()
		return nil, errors.Join(errs...)
	}
	p.router = newRouter(apis)
	p.apis = len(apis)
	return p, nil
}

const (
	backendHeaderBytes = 32 << 10
	backendIdle        = 60 * time.Second
	backendMaxConns    = 1024
)

func (p *Plan) addBackend(u policy.URL, tlsConf *tls.Config) *fasthttp.HostClient {
	key := hostKey(u.Scheme, u.Host, u.Port)
	if c, ok := p.backends[key]; ok {
		return c
	}
	c := &fasthttp.HostClient{
		Addr:                          net.JoinHostPort(u.Host, strconv.Itoa(u.Port)),
		IsTLS:                         u.Scheme == "https",
		TLSConfig:                     tlsConf,
		MaxConns:                      backendMaxConns,
		MaxIdleConnDuration:           backendIdle,
		ReadBufferSize:                backendHeaderBytes,
		StreamResponseBody:            true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		RetryIfErr:                    retryIdempotent,
	}
	p.backends[key] = c
	return c
}

// retryIdempotent retries once on a fresh connection when a kept-alive one turned out closed,
// but never a request whose body was a stream (it cannot be sent twice) and never a timeout.
func retryIdempotent(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if attempts > 1 || req.IsBodyStream() || errors.Is(err, fasthttp.ErrTimeout) {
		return false, false
	}
	switch string(req.Header.Method()) {
	case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE":
		return false, true
	}
	return false, false
}

func hostKey(scheme, host string, port int) string {
	return scheme + "://" + host + ":" + strconv.Itoa(port)
}

// Close releases idle backend connections. Requests still running on the Plan finish normally.
//
// Requests still running on the plan hand their backend connections back to its pools when
// they end; a background loop closes those as they come back, so that the connections of a
// replaced plan do not stay open for backendIdle after each reload under load. The loop ends
// when no connection is left, or after backendIdle, when the pools' own cleaners take over.
func (p *Plan) Close() {
	if p.closeIdle() == 0 {
		return
	}
	go func() {
		t := time.NewTicker(closeDrainEvery)
		defer t.Stop()
		for range backendIdle / closeDrainEvery {
			<-t.C
			if p.closeIdle() == 0 {
				return
			}
		}
	}()
}

// closeDrainEvery is how often a closed plan looks for connections its last requests gave back.
const closeDrainEvery = 100 * time.Millisecond

// closeIdle closes the idle backend connections and returns how many remain (in use).
func (p *Plan) closeIdle() int {
	n := 0
	for _, c := range p.backends {
		c.CloseIdleConnections()
		n += c.ConnsCount()
	}
	p.other.CloseIdleConnections()
	n += p.other.ConnsCount()
	p.withCert.Range(func(_, c any) bool {
		c.(*fasthttp.Client).CloseIdleConnections()
		n += c.(*fasthttp.Client).ConnsCount()
		return true
	})
	return n
}

// Summary says what the plan serves, for the log.
func (p *Plan) Summary() (apis, operations int) { return p.apis, p.ops }

func parseServiceURL(raw string) (policy.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return policy.URL{}, fmt.Errorf("backend %q is not an absolute http(s) URL", raw)
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if ps := u.Port(); ps != "" {
		port, err = strconv.Atoi(ps)
		if err != nil {
			return policy.URL{}, fmt.Errorf("backend %q: bad port", raw)
		}
	}
	return policy.URL{Scheme: u.Scheme, Host: u.Hostname(), Port: port, Path: strings.TrimSuffix(u.Path, "/")}, nil
}

// ClientTLS is the TLS configuration of outbound calls (backends, openid-config): the system
// roots plus the configured CA files.
func ClientTLS(files []string) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		pem, err := readPEMFile(f)
		if err != nil {
			return nil, fmt.Errorf("trust: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("trust: %s holds no PEM certificate", f)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
