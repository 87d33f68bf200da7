package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
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

// waitFor waits until the buffer matches re n times and returns the last match's groups.
func waitFor(t *testing.T, buf *syncBuffer, re *regexp.Regexp, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if all := re.FindAllStringSubmatch(buf.String(), -1); len(all) >= n {
			return all[n-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; output so far:\n%s", re, buf.String())
	return nil
}

// instance is a `portcullis serve` running in this process.
type instance struct {
	gateway, admin string // base URLs
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	exit           chan int
}

var (
	gatewayLine = regexp.MustCompile(`gateway listening on (http://\S+)`)
	adminLine   = regexp.MustCompile(`admin listening on (http://\S+)`)
)

func startServe(t *testing.T, config string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, exit: make(chan int, 1)}
	go func() { in.exit <- MainContext(ctx, []string{"serve", "--config", config}, in.stdout, in.stderr) }()
	in.gateway = waitFor(t, in.stdout, gatewayLine, 1)[1]
	in.admin = waitFor(t, in.stdout, adminLine, 1)[1]
	t.Cleanup(func() {
		if code := in.stop(); code != 0 {
			t.Errorf("serve exited with %d; stderr:\n%s", code, in.stderr.String())
		}
	})
	return in
}

func (in *instance) stop() int {
	in.cancel()
	select {
	case code := <-in.exit:
		in.exit <- code
		return code
	case <-time.After(30 * time.Second):
		return -1
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const forwardPolicy = `<policies>
    <inbound />
    <backend>
        <forward-request timeout="1" />
    </backend>
    <outbound />
    <on-error />
</policies>
`

// backendNamed answers every request with a JSON description that names the backend.
func backendNamed(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"backend": name, "path": r.URL.Path, "query": r.URL.RawQuery,
			"xff": r.Header.Get("X-Forwarded-For"), "authorization": r.Header.Get("Authorization"),
		})
	}))
	t.Cleanup(s.Close)
	return s
}

func httpGet(t *testing.T, url string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func rawRequest(t *testing.T, baseURL, raw string) (int, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(baseURL, "http://"), 5*time.Second)
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
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestServeForwardsAndAnswersErrors(t *testing.T) {
	backend := backendNamed(t, "one")
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + closed.Addr().String()
	closed.Close()

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/global.xml": forwardPolicy,
		"portcullis.yaml": fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  apis:
    - name: echo-api
      path: echo
      backend: %s/base
    - name: items-api
      path: items/v1
      backend: %s
      operations:
        - {name: get-item, method: GET, template: "/items/{id}"}
    - name: slow-api
      path: slow
      backend: %s
    - name: down-api
      path: down
      backend: %s
admin:
  listen: 127.0.0.1:0
`, backend.URL, backend.URL, slow.URL, down),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))

	t.Run("forwarded", func(t *testing.T) {
		status, _, body := httpGet(t, in.gateway+"/echo/a/b?x=1")
		var got map[string]string
		if err := json.Unmarshal(body, &got); err != nil || status != 200 {
			t.Fatalf("status %d body %s", status, body)
		}
		if got["path"] != "/base/a/b" || got["query"] != "x=1" || got["xff"] != "127.0.0.1" {
			t.Errorf("backend saw %v", got)
		}
	})
	t.Run("operation matched", func(t *testing.T) {
		if status, _, body := httpGet(t, in.gateway+"/items/v1/items/42"); status != 200 || !strings.Contains(string(body), `"path":"/items/42"`) {
			t.Errorf("status %d body %s", status, body)
		}
	})
	errorCases := []struct {
		name, path string
		status     int
		golden     string
	}{
		{"no API", "/nowhere", 404, "not-found"},
		{"no operation", "/items/v1/other", 404, "not-found"},
		{"backend down", "/down/x", 502, "backend-down"},
		{"backend too slow", "/slow/x", 504, "backend-timeout"},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := httpGet(t, in.gateway+tt.path)
			if status != tt.status || hdr.Get("Content-Type") != "application/json" {
				t.Errorf("status %d, Content-Type %q", status, hdr.Get("Content-Type"))
			}
			checkGolden(t, tt.golden, body)
		})
	}
	t.Run("smuggling refused", func(t *testing.T) {
		status, body := rawRequest(t, in.gateway, "POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
		if status != 400 {
			t.Errorf("status %d", status)
		}
		checkGolden(t, "smuggling", body)
	})
	t.Run("admin", func(t *testing.T) {
		if status, _, body := httpGet(t, in.admin+"/healthz"); status != 200 {
			t.Errorf("healthz %d %s", status, body)
		}
		if status, _, body := httpGet(t, in.admin+"/readyz"); status != 200 {
			t.Errorf("readyz %d %s", status, body)
		}
		_, _, metrics := httpGet(t, in.admin+"/metrics")
		for _, want := range []string{
			`portcullis_gateway_requests_total{api="echo-api",operation="",status="200"} 1`,
			`portcullis_gateway_requests_total{api="down-api",operation="",status="502"} 1`,
			`portcullis_gateway_policy_failures_total{reason="BackendConnectionFailure",source="forward-request"} 1`,
		} {
			if !strings.Contains(string(metrics), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if status, _, _ := httpGet(t, in.admin+"/v1.0/applications"); status != 404 {
			t.Errorf("management API without a token: %d, want 404", status)
		}
	})
	t.Run("access log", func(t *testing.T) {
		waitFor(t, in.stderr, regexp.MustCompile(`"log":"access".*"path":"/echo/a/b"`), 1)
		log := in.stderr.String()
		if !strings.Contains(log, `"log":"access"`) || !strings.Contains(log, `"path":"/echo/a/b"`) || strings.Contains(log, "x=1") {
			t.Errorf("access log (must hold the path, never the query):\n%s", log)
		}
	})
}

func configFor(backend string) string {
	return fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  apis:
    - name: echo-api
      path: echo
      backend: %s
admin:
  listen: 127.0.0.1:0
`, backend)
}

func backendOf(t *testing.T, url string) string {
	t.Helper()
	status, _, body := httpGet(t, url)
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil || status != 200 {
		t.Fatalf("status %d body %s", status, body)
	}
	return got["backend"]
}

// The reload cases run one after the other on one server: a change of file swaps the
// configuration, a broken file keeps the running one, SIGHUP reloads a change the file's
// timestamps do not show.
func TestServeReload(t *testing.T) {
	one, two, three := backendNamed(t, "one"), backendNamed(t, "two"), backendNamed(t, "three")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "portcullis.yaml")
	writeFiles(t, dir, map[string]string{"policies/global.xml": forwardPolicy, "portcullis.yaml": configFor(one.URL)})
	in := startServe(t, cfgPath)
	reloaded := regexp.MustCompile(`configuration reloaded`)
	failed := regexp.MustCompile(`reload failed`)

	if got := backendOf(t, in.gateway+"/echo/x"); got != "one" {
		t.Fatalf("before reload: %s", got)
	}

	// A file change.
	writeFiles(t, dir, map[string]string{"portcullis.yaml": configFor(two.URL)})
	waitFor(t, in.stdout, reloaded, 1)
	if got := backendOf(t, in.gateway+"/echo/x"); got != "two" {
		t.Errorf("after reload: %s, want two", got)
	}

	// A broken policy file: the running configuration stays and the log names the place.
	writeFiles(t, dir, map[string]string{"policies/global.xml": "<policies>\n  <inbound>\n    <no-such-policy />\n  </inbound>\n</policies>\n"})
	waitFor(t, in.stdout, failed, 1)
	if got := backendOf(t, in.gateway+"/echo/x"); got != "two" {
		t.Errorf("after a failed reload: %s, want two", got)
	}
	if !regexp.MustCompile(`"error":"[^"]*policies/global.xml:3:5: [^"]*no-such-policy`).MatchString(in.stderr.String()) {
		t.Errorf("the failed reload's log lacks file:line:col:\n%s", in.stderr.String())
	}
	writeFiles(t, dir, map[string]string{"policies/global.xml": forwardPolicy})
	waitFor(t, in.stdout, reloaded, 2)

	// SIGHUP: the same size and modification time, so that only the signal can tell.
	st, _ := os.Stat(cfgPath)
	next := configFor(three.URL)
	if len(next) != int(st.Size()) {
		t.Skipf("backend URLs differ in length (%d, %d)", len(next), st.Size())
	}
	writeFiles(t, dir, map[string]string{"portcullis.yaml": next})
	if err := os.Chtimes(cfgPath, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * reloadPoll)
	if got := backendOf(t, in.gateway+"/echo/x"); got != "two" {
		t.Fatalf("reloaded without a signal: %s", got)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, in.stdout, reloaded, 3)
	if got := backendOf(t, in.gateway+"/echo/x"); got != "three" {
		t.Errorf("after SIGHUP: %s, want three", got)
	}
}

func TestServeRefusesInvalidConfiguration(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"portcullis.yaml": "gateway:\n  listen: 127.0.0.1:0\n  apis:\n    - name: a\n      path: a\n      backend: ftp://x\n"})
	var stdout, stderr syncBuffer
	code := Main([]string{"serve", "--config", filepath.Join(dir, "portcullis.yaml")}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), `portcullis.yaml:6:16: backend must be an absolute http:// or https:// URL, found "ftp://x"`) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

// Reloads under load: requests keep flowing while the configuration changes five times, and
// none fails.
func TestServeReloadUnderLoad(t *testing.T) {
	one, two := backendNamed(t, "one"), backendNamed(t, "two")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"policies/global.xml": forwardPolicy, "portcullis.yaml": configFor(one.URL)})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}

	stop := make(chan struct{})
	results := make(chan string, 4)
	for w := 0; w < 4; w++ {
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					results <- fmt.Sprintf("ok %d", n)
					return
				default:
				}
				resp, err := client.Get(in.gateway + "/echo/x")
				if err != nil {
					results <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					results <- fmt.Sprintf("%d %s", resp.StatusCode, body)
					return
				}
				n++
			}
		}()
	}
	reloaded := regexp.MustCompile(`configuration reloaded`)
	for i := 1; i <= 5; i++ {
		backend := one.URL
		if i%2 == 1 {
			backend = two.URL
		}
		// A different comment each time keeps the size changing even when the URLs' lengths
		// are equal.
		writeFiles(t, dir, map[string]string{"portcullis.yaml": configFor(backend) + strings.Repeat("#", i) + "\n"})
		waitFor(t, in.stdout, reloaded, i)
	}
	close(stop)
	total := 0
	for w := 0; w < 4; w++ {
		r := <-results
		var n int
		if _, err := fmt.Sscanf(r, "ok %d", &n); err != nil {
			t.Errorf("a request failed during reloads: %s", r)
		}
		total += n
	}
	if total == 0 {
		t.Error("no request was served")
	}
}
