package main

// Load and change through the running gateway: reloads under load (half of them invalid),
// backends that restart or stall, SIGTERM with a request in flight, slow clients, size limits,
// and no goroutine or heap growth across a bounded run. Everything runs on loopback; loops are
// bounded by counts, and no assertion is about elapsed time.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const reloadTenant = "3f5b1c2e-0000-4000-8000-0000000000d1"

// versionedPolicy is the API's policy at version v: the article's validate-jwt, then two
// response headers, one naming the policy file's version and one the configuration file's
// (through a named value). broken makes it invalid in the way given.
func versionedPolicy(v int, broken string) string {
	inbound := fmt.Sprintf(`<validate-jwt header-name="Authorization" failed-validation-httpcode="401">
            <openid-config url="%s" />
            <required-claims><claim name="aud"><value>%s</value></claim></required-claims>
        </validate-jwt>`, discoveryURL(reloadTenant), reliabilityAudience)
	outbound := fmt.Sprintf(`<set-header name="x-policy-version" exists-action="override"><value>%d</value></set-header>
        <set-header name="x-config-version" exists-action="override"><value>{{config-version}}</value></set-header>`, v)
	switch broken {
	case "unknown element":
		outbound += "\n        <no-such-policy />"
	case "bad expression":
		outbound += "\n        <set-header name=\"x-broken\" exists-action=\"override\"><value>@(context.Request.Headers.GetValueOrDefault(\"a\",</value></set-header>"
	case "unclosed element":
		outbound += "\n        <set-header name=\"x-broken\">"
	}
	return fmt.Sprintf(`<policies>
    <inbound>
        <base />
        %s
    </inbound>
    <backend>
        <forward-request timeout="10" />
    </backend>
    <outbound>
        <base />
        %s
    </outbound>
    <on-error />
</policies>
`, inbound, outbound)
}

// versionedConfig is the configuration at version v: a named value and a backend path that
// both carry v. broken makes it invalid in the way given.
func versionedConfig(v int, idp, backend, broken string) string {
	backendURL := fmt.Sprintf("%s/v%d", backend, v)
	named := fmt.Sprintf("config-version: \"%d\"", v)
	switch broken {
	case "yaml syntax":
		named += "\n    : [unbalanced"
	case "bad backend":
		backendURL = fmt.Sprintf("ftp://backend.invalid/v%d", v)
	case "unknown key":
		named += "\n  no-such-setting: 1"
	}
	return fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  authority-aliases:
    https://login.microsoftonline.com: %s
  named-values:
    %s
  apis:
    - name: versioned
      path: api
      backend: %s
      policy: policies/api.xml
admin:
  listen: 127.0.0.1:0
`, idp, named, backendURL)
}

// writeFixed writes content padded with a comment to exactly size bytes with a fixed
// modification time, so that serve's file poll never sees a change and SIGHUP alone reloads.
func writeFixed(t *testing.T, path, content string, size int, comment func(n int) string) {
	t.Helper()
	pad := size - len(content)
	if pad < len(comment(0)) {
		t.Fatalf("%s: %d bytes do not fit in %d", path, len(content), size)
	}
	content += comment(pad - len(comment(0)))
	// Written beside and renamed over: the poll never sees a half-written file or a
	// passing modification time.
	tmp := path + ".next"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(tmp, fixed, fixed); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func yamlPad(n int) string { return "#" + strings.Repeat("x", n) + "\n" }
func xmlPad(n int) string  { return "<!--" + strings.Repeat("x", n) + "-->\n" }

// versionBackend answers with the path it was called on in X-Backend-Path.
// It counts the connections open to it.
func versionBackend(t *testing.T, open *atomic.Int64) *httptest.Server {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend-Path", r.URL.Path)
		_, _ = io.WriteString(w, "ok")
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// loadResult is what one load worker saw.
type loadResult struct {
	requests int
	problems []string
}

// TestReloadsUnderLoad: 100 reloads by SIGHUP while four clients send requests with valid
// tokens, every second reload invalid (a YAML error, an unknown key, a bad backend URL, an
// unknown policy element, a broken expression, an unclosed element). No request fails; every
// response carries one configuration version in all three places (policy file, configuration
// file, backend path); no client ever sees a version go back or an invalid version; a request
// sent after each reload sees exactly the version that reload left serving. Across the run,
// goroutines and the heap after GC come back to where they were after a warm-up.
func TestReloadsUnderLoad(t *testing.T) {
	idp := newFaultIdP(t)
	key := idpKey{kid: "key-1", key: genRSA(t, 2048)}
	idp.addTenant(reloadTenant, key)
	token := idp.token(t, reloadTenant, key, reliabilityAudience)
	var backendConns atomic.Int64
	backend := versionBackend(t, &backendConns)
	dir := t.TempDir()
	cfgPath, policyPath := filepath.Join(dir, "portcullis.yaml"), filepath.Join(dir, "policies", "api.xml")
	if err := os.MkdirAll(filepath.Dir(policyPath), 0o755); err != nil {
		t.Fatal(err)
	}
	const cfgSize, policySize = 2048, 4096
	writeFixed(t, policyPath, versionedPolicy(0, ""), policySize, xmlPad)
	writeFixed(t, cfgPath, versionedConfig(0, idp.srv.URL, backend.URL, ""), cfgSize, yamlPad)
	in := startServe(t, cfgPath)
	waitReady(t, in.admin)
	api := in.gateway + "/api/x"

	// check reads the version a response carries, or says why it is not coherent.
	check := func(resp *http.Response) (int, error) {
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		pv, cv, bp := resp.Header.Get("X-Policy-Version"), resp.Header.Get("X-Config-Version"), resp.Header.Get("X-Backend-Path")
		if pv == "" || pv != cv || bp != "/v"+pv+"/x" {
			return 0, fmt.Errorf("half-applied configuration: policy version %q, configuration version %q, backend path %q", pv, cv, bp)
		}
		var v int
		_, err := fmt.Sscan(pv, &v)
		return v, err
	}
	var served sync.Map // versions that a reload made serve
	served.Store(0, true)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]loadResult, 4)
	for w := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker 0 opens a new connection for every request; the others keep theirs.
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableKeepAlives: w == 0}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			res := &results[w]
			last := 0
			for n := 0; n < 200000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", api, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					res.problems = append(res.problems, err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				res.requests++
				v, err := check(resp)
				switch _, ok := served.Load(v); {
				case err != nil:
					res.problems = append(res.problems, err.Error())
				case v < last:
					res.problems = append(res.problems, fmt.Sprintf("version %d after version %d", v, last))
				case !ok:
					res.problems = append(res.problems, fmt.Sprintf("version %d, which no reload made serve", v))
				}
				if len(res.problems) > 5 {
					return
				}
				last = max(last, v)
			}
		}()
	}

	broken := []struct{ config, policy string }{
		{"yaml syntax", ""}, {"", "unknown element"}, {"unknown key", ""},
		{"", "bad expression"}, {"bad backend", ""}, {"", "unclosed element"},
	}
	outcome := regexp.MustCompile(`(?m)^(configuration reloaded|reload failed: the running configuration stays)$`)
	base := hupReady(t, in, outcome)
	current, reloads, failures := 0, 0, 0
	var baseGoroutines int
	var baseHeap uint64
	var baseConns int64
	for i := 1; i <= 100; i++ {
		var b struct{ config, policy string }
		if i%2 == 0 {
			b = broken[(i/2)%len(broken)]
		} else {
			// A version counts as served once its reload is done; workers may see it from then.
			served.Store(i, true)
		}
		writeFixed(t, policyPath, versionedPolicy(i, b.policy), policySize, xmlPad)
		writeFixed(t, cfgPath, versionedConfig(i, idp.srv.URL, backend.URL, b.config), cfgSize, yamlPad)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, in.stdout, outcome, base+i)[1]
		if want := i%2 == 1; (got == "configuration reloaded") != want {
			errs := regexp.MustCompile(`.*reload failed.*`).FindAllString(in.stderr.String(), -1)
			t.Fatalf("reload %d (%+v): %q; the last failure logged: %v", i, b, got, errs[max(0, len(errs)-2):])
		}
		if i%2 == 1 {
			current, reloads = i, reloads+1
		} else {
			failures++
		}
		req, _ := http.NewRequest("GET", api, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v, err := check(resp); err != nil || v != current {
			t.Fatalf("after reload %d: version %d (%v), want %d", i, v, err, current)
		}
		if i == 10 {
			// The warm-up is over: connections, pools and caches exist.
			baseGoroutines, baseHeap = settle()
			baseConns = backendConns.Load()
		}
	}
	close(stop)
	wg.Wait()
	total := 0
	for w, r := range results {
		total += r.requests
		if len(r.problems) > 0 {
			t.Errorf("client %d after %d requests: %s", w, r.requests, strings.Join(r.problems, "; "))
		}
	}
	if total < 100 {
		t.Errorf("only %d requests were sent during 100 reloads", total)
	}
	if reloads != 50 || failures != 50 {
		t.Errorf("%d reloads and %d refused, want 50 and 50", reloads, failures)
	}
	http.DefaultClient.CloseIdleConnections()

	// Growth: connections that clients or the gateway leave idle close at their idle
	// timeouts, so wait for the counts to come back rather than take one sample; the margins
	// are generous.
	var goroutines int
	var heap uint64
	var conns int64
	grown := func() bool {
		return goroutines > baseGoroutines+10 || heap > baseHeap*2+16<<20 || conns > baseConns+8
	}
	for range 100 {
		goroutines, heap = settle()
		if conns = backendConns.Load(); !grown() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d requests; goroutines %d → %d, heap %d KiB → %d KiB, backend connections %d → %d",
		total, baseGoroutines, goroutines, baseHeap>>10, heap>>10, baseConns, conns)
	if goroutines > baseGoroutines+10 {
		var stacks strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Errorf("goroutines grew from %d to %d across 90 reloads and %d requests:\n%s", baseGoroutines, goroutines, total, stacks.String())
	}
	if heap > baseHeap*2+16<<20 {
		t.Errorf("heap after GC grew from %d to %d bytes", baseHeap, heap)
	}
	if conns > baseConns+8 {
		t.Errorf("connections open to the backend grew from %d to %d: replaced configurations keep theirs", baseConns, conns)
	}
}

// hupReady returns once serve reloads on SIGHUP, and how many reload outcomes its output
// holds by then. serve starts listening for SIGHUP after its listeners are up; a SIGHUP
// before that would end the test process, so the test listens too (which turns the default
// action off) and signals until serve answers with a reload of the unchanged files.
func hupReady(t *testing.T, in *instance, outcome *regexp.Regexp) int {
	t.Helper()
	mine := make(chan os.Signal, 1)
	signal.Notify(mine, syscall.SIGHUP)
	t.Cleanup(func() { signal.Stop(mine) })
	for range 20 {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			if n := len(outcome.FindAllString(in.stdout.String(), -1)); n > 0 {
				return n
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Fatal("serve never reloaded on SIGHUP")
	return 0
}

// settle collects garbage and reports the goroutine count and the live heap. Goroutines
// parked in fasthttp's pool cleaner are not counted: a pool's cleaner sleeps out the idle
// timeout (60s) once after its last connection has closed and then ends, a bounded wait that
// is not growth; the connections themselves are counted at the backend.
func settle() (int, uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	buf := make([]byte, 8<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	n := 0
	for _, g := range strings.Split(stacks, "\n\n") {
		if !strings.Contains(g, "fasthttp.(*HostClient).connsCleaner") {
			n++
		}
	}
	return n, m.HeapAlloc
}

// switchable is a backend that can be made slow (it waits until the gateway hangs up) and
// restarted on the same address.
type switchable struct {
	addr      string
	srv       *httptest.Server
	slow      atomic.Bool
	abandoned atomic.Int64 // slow requests the gateway gave up on
	served    atomic.Int64
}

func (b *switchable) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the address was just released: retry a bounded number of times
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.slow.Load() {
			select {
			case <-r.Context().Done():
				b.abandoned.Add(1)
				return
			case <-time.After(30 * time.Second):
			}
		}
		b.served.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	b.srv.Listener.Close()
	b.srv.Listener = ln
	b.srv.Start()
}

func (b *switchable) close() {
	b.srv.CloseClientConnections()
	b.srv.Close()
}

// TestBackendFaults: a backend that goes away answers 502 and, once restarted on the same
// address, serves again; a backend slower than forward-request's timeout answers 504 and the
// gateway hangs up on it, and once it is fast again requests pass.
func TestBackendFaults(t *testing.T) {
	b := &switchable{addr: "127.0.0.1:0"}
	b.start(t)
	t.Cleanup(b.close)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"policies/global.xml": forwardPolicy, "portcullis.yaml": configFor("http://" + b.addr)})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	api := in.gateway + "/echo/x"
	status := func() int { s, _, _ := httpGet(t, api); return s }

	if got := status(); got != 200 {
		t.Fatalf("before: %d", got)
	}
	t.Run("restart", func(t *testing.T) {
		b.close()
		for n := 0; n < 3; n++ {
			if got := status(); got != 502 {
				t.Errorf("backend down, request %d: %d, want 502", n, got)
			}
		}
		b.start(t)
		// The gateway's pooled connections to the old process are dead: at most one request
		// may find out, then requests pass.
		fails := 0
		for n := 0; n < 20; n++ {
			if status() != 200 {
				fails++
			}
		}
		if fails > 1 {
			t.Errorf("after the restart %d of 20 requests failed", fails)
		}
	})
	t.Run("slow", func(t *testing.T) {
		b.slow.Store(true)
		for n := 0; n < 2; n++ {
			if got := status(); got != 504 {
				t.Errorf("slow backend, request %d: %d, want 504", n, got)
			}
		}
		eventually(t, 10*time.Second, "the gateway to hang up on the slow backend", func() bool { return b.abandoned.Load() == 2 })
		b.slow.Store(false)
		for n := 0; n < 10; n++ {
			if got := status(); got != 200 {
				t.Errorf("fast again, request %d: %d, want 200", n, got)
			}
		}
	})
}

// TestShutdownDrains: on SIGTERM the gateway stops accepting connections, the request in
// flight completes with 200, and serve exits 0.
func TestShutdownDrains(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "finished")
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/global.xml": strings.Replace(forwardPolicy, `timeout="1"`, `timeout="60"`, 1),
		"portcullis.yaml":     strings.Replace(configFor(backend.URL), "admin:", "  timeouts:\n    shutdown: 60s\nadmin:", 1),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	type answer struct {
		status int
		body   string
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.Get(in.gateway + "/echo/slow")
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- answer{resp.StatusCode, string(b), err}
	}()
	<-arrived
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, in.stderr, regexp.MustCompile(`shutting down`), 1)
	host := strings.TrimPrefix(in.gateway, "http://")
	eventually(t, 10*time.Second, "the gateway to stop accepting connections", func() bool {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case code := <-in.exit:
		t.Fatalf("serve exited (%d) with a request in flight", code)
	default:
	}
	close(release)
	a := <-done
	if a.err != nil || a.status != 200 || a.body != "finished" {
		t.Errorf("in-flight request during shutdown: %d %q %v, want 200", a.status, a.body, a.err)
	}
	if code := in.stop(); code != 0 {
		t.Errorf("serve exited %d", code)
	}
	if !strings.Contains(in.stdout.String(), "portcullis stopped") {
		t.Errorf("stdout lacks the stop line:\n%s", in.stdout.String())
	}
}

// TestSlowClients: a client that trickles its header or its body is cut by the read timeout,
// a keep-alive connection left idle is closed by the idle timeout, and other clients are
// served meanwhile. The server closing the connection is what is observed.
func TestSlowClients(t *testing.T) {
	backend := backendNamed(t, "api")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/global.xml": forwardPolicy,
		"portcullis.yaml":     strings.Replace(configFor(backend.URL), "admin:", "  timeouts:\n    read: 1s\n    idle: 1s\nadmin:", 1),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	host := strings.TrimPrefix(in.gateway, "http://")

	// trickle sends start, then one piece every 100ms (at most 100: ten times the read
	// timeout), and reports how many pieces were sent before the server closed the connection.
	trickle := func(t *testing.T, start, piece string) (int, bool) {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		closed := make(chan struct{})
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(40 * time.Second))
			_, _ = io.Copy(io.Discard, conn) // whatever the server says, until it closes
			close(closed)
		}()
		if _, err := io.WriteString(conn, start); err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 100; n++ {
			select {
			case <-closed:
				return n, true
			case <-time.After(100 * time.Millisecond):
			}
			if n == 3 {
				// Another client is served while this one trickles.
				if got := backendOf(t, in.gateway+"/echo/other"); got != "api" {
					t.Errorf("another client: backend %q", got)
				}
			}
			if _, err := io.WriteString(conn, piece); err != nil {
				return n, true
			}
		}
		return 100, false
	}
	t.Run("header", func(t *testing.T) {
		t.Parallel()
		if n, cut := trickle(t, "GET /echo/x HTTP/1.1\r\nHost: a\r\n", "X-Slow: a\r\n"); !cut {
			t.Errorf("a client trickling its header was not cut after %d lines", n)
		}
	})
	t.Run("body", func(t *testing.T) {
		t.Parallel()
		if n, cut := trickle(t, "POST /echo/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n", "a"); !cut {
			t.Errorf("a client trickling its body was not cut after %d bytes", n)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		t.Parallel()
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /echo/x HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("first request: %d, close=%v", resp.StatusCode, resp.Close)
		}
		// Send nothing more: the server must close the connection (EOF), long before this
		// read's own deadline.
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = br.ReadByte()
		var ne net.Error
		if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) || errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("idle connection: read gave %v, want the server to close it", err)
		}
	})
}

// TestSizeLimits: a header over max-header-bytes answers 431 and a body over max-body-bytes
// answers 413 (declared or chunked), and the backend never receives such a request whole;
// requests within the limits pass.
func TestSizeLimits(t *testing.T) {
	// reached counts the requests the backend received whole. A chunked body's size is known
	// only at its end, and the gateway streams bodies: the backend may see such a request
	// start, but its body must never arrive complete.
	var reached atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			reached.Add(1)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/global.xml": forwardPolicy,
		"portcullis.yaml":     strings.Replace(configFor(backend.URL), "admin:", "  limits:\n    max-header-bytes: 4096\n    max-body-bytes: 1024\nadmin:", 1),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	host := strings.TrimPrefix(in.gateway, "http://")
	chunked := func(n int) string {
		return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", n, strings.Repeat("b", n))
	}
	cases := []struct {
		name    string
		request string
		status  int
		reached bool
	}{
		{"header within the limit", "GET /echo/x HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 2000) + "\r\nConnection: close\r\n\r\n", 200, true},
		{"header over the limit", "GET /echo/x HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 8000) + "\r\nConnection: close\r\n\r\n", 431, false},
		{"many headers over the limit", "GET /echo/x HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Many: aaaaaaaaaaaaaaaa\r\n", 400) + "Connection: close\r\n\r\n", 431, false},
		{"body within the limit", "POST /echo/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n" + strings.Repeat("b", 1024), 200, true},
		{"declared body over the limit", "POST /echo/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\nConnection: close\r\n\r\n" + strings.Repeat("b", 1025), 413, false},
		{"chunked body within the limit", "POST /echo/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked(1000), 200, true},
		{"chunked body over the limit", "POST /echo/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked(5000), 413, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := reached.Load()
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			// Written while the answer is read: the gateway may answer and close first.
			go func() { _, _ = io.WriteString(conn, tc.request) }()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if got := reached.Load() > before; got != tc.reached {
				t.Errorf("backend reached: %v, want %v", got, tc.reached)
			}
		})
	}
	// The limits are the gateway's: nothing stopped serving.
	if status, _, _ := httpGet(t, in.gateway+"/echo/after"); status != 200 {
		t.Errorf("after the limits: %d", status)
	}
}
