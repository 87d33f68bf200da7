package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portcullis/internal/config"
	"portcullis/internal/policy"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// seen is what the test backend saw of a request.
type seen struct {
	Method, Path, Query, Host string
	Header                    http.Header
	BodySHA                   string
	BodyLen                   int
}

// echoBackend answers with a JSON description of each request, counting them.
func echoBackend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Query().Get("echo-body") == "1" {
			// Read first: an HTTP/1 server that answers while still reading may cut the body.
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Backend", "echo")
			_, _ = w.Write(b)
			return
		}
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Backend", "yes")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Connection", "X-Internal")
		w.Header().Set("X-Internal", "must not leak")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header, fmt.Sprintf("%x", sum), len(body)})
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

type gatewayOpts struct {
	maxBody        int64
	maxHeader      int
	backendTimeout time.Duration
	observer       Observer
}

func startGateway(t *testing.T, plan *Plan, o gatewayOpts) (*Server, string) {
	t.Helper()
	if o.maxBody == 0 {
		o.maxBody = config.DefaultMaxBodyBytes
	}
	if o.maxHeader == 0 {
		o.maxHeader = config.DefaultMaxHeaderBytes
	}
	plan.maxBody = o.maxBody
	if o.backendTimeout != 0 {
		plan.backendTimeout = o.backendTimeout
	}
	s := NewServer(plan, Options{
		Timeouts: config.Timeouts{ReadDuration: 5 * time.Second, IdleDuration: 5 * time.Second, WriteDuration: 5 * time.Second},
		Limits:   config.Limits{MaxHeaderBytes: o.maxHeader, MaxBodyBytes: o.maxBody},
		Observer: o.observer,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, "http://" + ln.Addr().String()
}

func echoAPI(backend string) config.API {
	return config.API{Name: "echo-api", Path: "echo", Backend: backend + "/base"}
}

func TestForwarding(t *testing.T) {
	backend, _ := echoBackend(t)
	_, gw := startGateway(t, testPlan(t, echoAPI(backend.URL)), gatewayOpts{})

	req, _ := http.NewRequest("POST", gw+"/echo/items/7?x=1&y=a+b&z=%2F", strings.NewReader("hello"))
	req.Header.Set("Connection", "keep-alive, X-Drop")
	req.Header.Set("X-Drop", "hop-by-hop by Connection")
	req.Header.Set("Keep-Alive", "timeout=1")
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Custom", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got seen
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	gwHost := strings.TrimPrefix(gw, "http://")
	checks := []struct {
		name      string
		got, want any
	}{
		{"status passes through", resp.StatusCode, 201},
		{"backend header kept", resp.Header.Get("X-Backend"), "yes"},
		{"backend hop-by-hop dropped", resp.Header.Get("Keep-Alive"), ""},
		{"header named by backend Connection dropped", resp.Header.Get("X-Internal"), ""},
		{"method", got.Method, "POST"},
		{"path: service path + rest", got.Path, "/base/items/7"},
		{"query kept", got.Query, "x=1&y=a+b&z=%2F"},
		{"host is the backend's", got.Host, strings.TrimPrefix(backend.URL, "http://")},
		{"body", got.BodyLen, 5},
		{"custom header kept", got.Header.Get("X-Custom"), "kept"},
		{"client Connection-listed header dropped", got.Header.Get("X-Drop"), ""},
		{"Keep-Alive dropped", got.Header.Get("Keep-Alive"), ""},
		{"Proxy-Authorization dropped", got.Header.Get("Proxy-Authorization"), ""},
		{"X-Forwarded-For appended", got.Header.Get("X-Forwarded-For"), "203.0.113.9, 127.0.0.1"},
		{"X-Forwarded-Proto set by the gateway", got.Header.Get("X-Forwarded-Proto"), "http"},
		{"X-Forwarded-Host", got.Header.Get("X-Forwarded-Host"), gwHost},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLargeBodiesStream(t *testing.T) {
	backend, _ := echoBackend(t)
	_, gw := startGateway(t, testPlan(t, echoAPI(backend.URL)), gatewayOpts{})
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	tests := []struct {
		name   string
		length int64 // -1: chunked
	}{
		{"content-length", int64(len(body))},
		{"chunked", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("PUT", gw+"/echo/upload?echo-body=1", io.NopCloser(bytes.NewReader(body)))
			req.ContentLength = tt.length
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Errorf("status %d, %d bytes back, want 200 and the %d bytes sent", resp.StatusCode, len(got), len(body))
			}
		})
	}
}

func TestErrorAnswers(t *testing.T) {
	backend, calls := echoBackend(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()
	plan := testPlan(t,
		echoAPI(backend.URL),
		config.API{Name: "slow", Path: "slow", Backend: slow.URL},
		config.API{Name: "down", Path: "down", Backend: "http://" + deadAddr},
		config.API{Name: "ops", Path: "ops", Backend: backend.URL, Operations: ops("get", "GET", "/items/{id}")},
	)
	_, gw := startGateway(t, plan, gatewayOpts{maxBody: 1024, maxHeader: 4096, backendTimeout: 300 * time.Millisecond})
	addr := strings.TrimPrefix(gw, "http://")

	tests := []struct {
		name   string
		raw    string // the request as sent on the wire
		status int
		golden string
	}{
		{"no API", "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not-found"},
		{"no operation", "GET /ops/other HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not-found"},
		{"wrong method", "POST /ops/items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404, "not-found"},
		{"backend down", "GET /down/x HTTP/1.1\r\nHost: x\r\n\r\n", 502, "backend-down"},
		{"backend slow", "GET /slow/x HTTP/1.1\r\nHost: x\r\n\r\n", 504, "backend-timeout"},
		{"content-length and transfer-encoding", "POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "smuggling-cl-te"},
		{"transfer-encoding first", "POST /echo/x HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n", 400, "smuggling-cl-te"},
		{"differing content-lengths", "POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400, "smuggling-cl-cl"},
		{"header too large", "GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\n", 431, "header-too-large"},
		{"body too large, announced", "POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + strings.Repeat("a", 2000), 413, "body-too-large"},
		// A chunked body streams to the backend until it passes the limit, so the backend sees
		// a request that breaks off; the client gets 413 all the same.
		{"body too large, chunked", "POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + strings.Repeat("a", 2000) + "\r\n0\r\n\r\n", 413, "body-too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := calls.Load()
			status, header, body := rawRequest(t, addr, tt.raw)
			if status != tt.status {
				t.Fatalf("status %d, want %d (body %s)", status, tt.status, body)
			}
			if ct := header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			golden(t, tt.golden, body)
			if tt.status != 502 && tt.status != 504 && !strings.Contains(tt.name, "chunked") && calls.Load() != before {
				t.Errorf("the backend was called for a refused request")
			}
		})
	}
}

// rawRequest sends raw bytes and reads one response, so that malformed framing reaches the
// gateway exactly as written.
func rawRequest(t *testing.T, addr, raw string) (int, http.Header, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// A pipeline's failure becomes APIM's error body with the failure's headers.
func TestPipelineFailure(t *testing.T) {
	backend, calls := echoBackend(t)
	api := echoAPI(backend.URL)
	cfg := &config.Config{Gateway: &config.Gateway{APIs: []config.API{api},
		Timeouts: &config.Timeouts{BackendDuration: time.Second},
		Limits:   &config.Limits{MaxHeaderBytes: 8192, MaxBodyBytes: 1 << 20}}}
	refuse := PipelineFunc(func(ctx *policy.Context) error {
		if _, ok := ctx.Request.Header.Get("Authorization"); ok {
			return ctx.Backend.Forward(ctx, policy.ForwardOptions{})
		}
		return &policy.Failure{Source: "validate-jwt", Reason: "TokenNotPresent", StatusCode: 401,
			Message: "Unauthorized. Access token is missing or invalid.",
			Header:  []policy.Field{{Name: "WWW-Authenticate", Value: "Bearer"}}}
	})
	plan, err := Build(cfg, func(*config.Gateway, *config.API, *config.Operation) (Pipeline, error) { return refuse, nil })
	if err != nil {
		t.Fatal(err)
	}
	var obs recorder
	_, gw := startGateway(t, plan, gatewayOpts{observer: &obs})
	resp, err := http.Get(gw + "/echo/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	golden(t, "unauthorized", body)
	if calls.Load() != 0 {
		t.Error("the backend was called")
	}
	last := obs.last()
	if last.API != "echo-api" || last.StatusCode != 401 || last.FailureReason != "TokenNotPresent" || last.FailureSource != "validate-jwt" {
		t.Errorf("observation %+v", last)
	}
}

type recorder struct {
	mu  sync.Mutex
	obs []Observation
}

func (r *recorder) ObserveRequest(o *Observation) {
	r.mu.Lock()
	r.obs = append(r.obs, *o)
	r.mu.Unlock()
}

func (r *recorder) last() Observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.obs) == 0 {
		return Observation{}
	}
	return r.obs[len(r.obs)-1]
}

// A swap applies to new requests; a request already running finishes on its plan.
func TestSwap(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	answer := func(name string, wait bool) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if wait {
				started <- struct{}{}
				<-release
			}
			io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		return s
	}
	oldB, newB := answer("old", true), answer("new", false)
	srv, gw := startGateway(t, testPlan(t, echoAPI(oldB.URL)), gatewayOpts{})

	inflight := make(chan string)
	go func() {
		resp, err := http.Get(gw + "/echo/slow")
		if err != nil {
			inflight <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- string(b)
	}()
	<-started
	old := srv.Swap(testPlan(t, echoAPI(newB.URL)))
	old.Close()

	resp, err := http.Get(gw + "/echo/fast")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "new" {
		t.Errorf("after the swap: %q, want new", b)
	}
	close(release)
	if got := <-inflight; got != "old" {
		t.Errorf("in-flight request: %q, want old", got)
	}
}

// A panicking policy answers 500 and the gateway keeps serving.
func TestPanicIsContained(t *testing.T) {
	backend, _ := echoBackend(t)
	cfg := &config.Config{Gateway: &config.Gateway{APIs: []config.API{echoAPI(backend.URL)},
		Timeouts: &config.Timeouts{BackendDuration: time.Second},
		Limits:   &config.Limits{MaxHeaderBytes: 8192, MaxBodyBytes: 1 << 20}}}
	plan, err := Build(cfg, func(*config.Gateway, *config.API, *config.Operation) (Pipeline, error) {
		return PipelineFunc(func(ctx *policy.Context) error {
			if ctx.Request.URL.Path == "/base/boom" {
				panic("a policy bug")
			}
			return ctx.Backend.Forward(ctx, policy.ForwardOptions{})
		}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, gw := startGateway(t, plan, gatewayOpts{})
	for _, tt := range []struct {
		path   string
		status int
	}{{"/echo/boom", 500}, {"/echo/fine", 201}} {
		resp, err := http.Get(gw + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
	}
}

// A client that sends its header too slowly is answered 408 and cut off, so that slow clients
// cannot hold connections open.
func TestSlowClientIsCutOff(t *testing.T) {
	backend, _ := echoBackend(t)
	plan := testPlan(t, echoAPI(backend.URL))
	plan.maxBody = 1 << 20
	s := NewServer(plan, Options{
		Timeouts: config.Timeouts{ReadDuration: 300 * time.Millisecond, IdleDuration: 300 * time.Millisecond, WriteDuration: time.Second},
		Limits:   config.Limits{MaxHeaderBytes: 8192, MaxBodyBytes: 1 << 20},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	tests := []struct {
		name  string
		write string // sent at once; then the client goes quiet
	}{
		{"header never finished", "GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Slow: "},
		{"body never finished", "POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part"},
		// Past the listener's first 8 KiB the body streams to the backend, so the timeout
		// strikes while forwarding.
		{"streamed body never finished", "POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("a", 9000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			start := time.Now()
			io.WriteString(conn, tt.write)
			rest, err := io.ReadAll(conn) // until the gateway closes the connection
			if err != nil {
				t.Fatalf("the gateway did not close the connection: %v", err)
			}
			if time.Since(start) > 4*time.Second {
				t.Errorf("cut off only after %s", time.Since(start))
			}
			if !bytes.HasPrefix(rest, []byte("HTTP/1.1 408")) {
				t.Errorf("answer %q, want 408", rest)
			}
		})
	}
}

// Connections are kept alive on both sides: requests with and without a body reuse one client
// connection and one backend connection.
func TestKeepAlive(t *testing.T) {
	var newConns atomic.Int64
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	backend.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	backend.Start()
	t.Cleanup(backend.Close)
	_, gw := startGateway(t, testPlan(t, echoAPI(backend.URL)), gatewayOpts{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	reused := 0
	for i := 0; i < 20; i++ {
		var body io.Reader
		method := "GET"
		if i%2 == 1 {
			method, body = "POST", strings.NewReader(strings.Repeat("x", 20000))
		}
		req, _ := http.NewRequest(method, gw+"/echo/x", body)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if info.Reused {
					reused++
				}
			},
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", method, resp.StatusCode)
		}
	}
	if reused != 19 {
		t.Errorf("the client's connection was reused %d times of 19", reused)
	}
	if n := newConns.Load(); n != 1 {
		t.Errorf("the gateway opened %d backend connections, want 1", n)
	}
}
