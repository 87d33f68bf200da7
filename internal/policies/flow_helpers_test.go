package policies

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
)

// netBackend is the gateway's forwarding, done with net/http: method, URL, header fields and
// body go to the real server, and its answer becomes ctx.Response.
type netBackend struct{}

func (netBackend) Forward(ctx *policy.Context, opt policy.ForwardOptions) error {
	body, err := ctx.Request.Body.Bytes()
	if err != nil {
		return err
	}
	req, err := http.NewRequest(ctx.Request.Method, ctx.Request.URL.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	for _, f := range ctx.Request.Header.Fields() {
		req.Header.Add(f.Name, f.Value)
	}
	client := &http.Client{Timeout: opt.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	r := &policy.Response{StatusCode: resp.StatusCode, StatusReason: http.StatusText(resp.StatusCode)}
	for name, vs := range resp.Header {
		for _, v := range vs {
			r.Header.Add(name, v)
		}
	}
	r.Body.Set(data)
	ctx.Response = r
	return nil
}

// received is what the backend server saw of one request.
type received struct {
	Method, Path, Query, Body string
	Header                    http.Header
}

// backendServer is a real HTTP backend that records each request and answers with respond
// (200 "backend" when nil).
type backendServer struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []received
	calls int
}

func newBackendServer(t *testing.T, respond http.HandlerFunc) *backendServer {
	t.Helper()
	b := &backendServer{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.calls++
		b.seen = append(b.seen, received{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: string(data), Header: r.Header.Clone()})
		b.mu.Unlock()
		if respond != nil {
			respond(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "backend")
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backendServer) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// last is the most recent request; the test fails when there was none.
func (b *backendServer) last(t *testing.T) received {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) == 0 {
		t.Fatal("the backend received no request")
	}
	return b.seen[len(b.seen)-1]
}

// call is one client request.
type call struct {
	method, path, query, body string
	header                    [][2]string
	ip                        string
	params                    map[string]string
}

// compileDoc loads and compiles doc at the API scope under the default global policy.
func compileDoc(t *testing.T, deps Deps, doc string) (*policy.Pipeline, error) {
	t.Helper()
	l := &policy.Loader{Registry: Registry(deps), Expressions: expr.Compile}
	d, err := l.Load("api.xml", []byte(doc))
	if err != nil {
		return nil, err
	}
	return l.Compile(nil, d, nil)
}

// runFlow runs c through doc with srv as the API's web service (its path /base) and returns
// the context once the pipeline has finished.
func runFlow(t *testing.T, deps Deps, doc string, srv *backendServer, c call) *policy.Context {
	t.Helper()
	p, err := compileDoc(t, deps, doc)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	ctx := newFlowContext(t, srv, c)
	_ = p.Run(ctx)
	return ctx
}

func newFlowContext(t *testing.T, srv *backendServer, c call) *policy.Context {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodGet
	}
	service := policy.URL{Scheme: "http", Host: "127.0.0.1", Path: "/base"}
	if srv != nil {
		u, err := url.Parse(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(u.Port())
		service = policy.URL{Scheme: "http", Host: u.Hostname(), Port: port, Path: "/base"}
	}
	q := policy.ParseQuery(c.query)
	reqURL := service
	reqURL.Path = service.Path + c.path
	reqURL.Query = q
	ctx := &policy.Context{
		Request: &policy.Request{Method: c.method, URL: reqURL,
			OriginalURL:       policy.URL{Scheme: "https", Host: "gw.example", Port: 443, Path: "/api" + c.path, Query: policy.ParseQuery(c.query)},
			MatchedParameters: c.params},
		Response:   &policy.Response{},
		Variables:  map[string]any{},
		RequestID:  "6a1f3c2e-0000-4000-8000-00000000000a",
		API:        &policy.API{ID: "orders", Name: "orders", Path: "/api", ServiceURL: service},
		Operation:  &policy.Operation{ID: "get-order", Name: "get-order", Method: "GET", URLTemplate: "/orders/{id}"},
		ServiceURL: service,
		Backend:    netBackend{},
	}
	for _, h := range c.header {
		ctx.Request.Header.Add(h[0], h[1])
	}
	if c.body != "" {
		ctx.Request.Body.Set([]byte(c.body))
	}
	ip := c.ip
	if ip == "" {
		ip = "203.0.113.7"
	}
	ctx.Request.IPAddress = netip.MustParseAddr(ip)
	return ctx
}

// flowDoc is a document with the given sections' contents; the backend forwards.
func flowDoc(inbound, outbound, onError string) string {
	return "<policies>\n<inbound>\n" + inbound + "\n</inbound>\n<backend><forward-request/></backend>\n<outbound>\n" +
		outbound + "\n</outbound>\n<on-error>\n" + onError + "\n</on-error>\n</policies>"
}

func responseBody(t *testing.T, ctx *policy.Context) string {
	t.Helper()
	data, err := ctx.Response.Body.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func responseHeader(ctx *policy.Context, name string) string {
	v, _ := ctx.Response.Header.Get(name)
	return v
}
