package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
)

// TestReturnResponseReachesClient checks that an answer a policy makes itself (return-response
// in inbound) is what the client receives: status, reason, headers and body, and that the
// backend is not called.
func TestReturnResponseReachesClient(t *testing.T) {
	calls := 0
	backend := backendNamed(t, "never")
	backend.Config.Handler = countCalls(&calls, backend.Config.Handler)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/refuse.xml": `<policies>
    <inbound>
        <base />
        <return-response>
            <set-status code="403" reason="Nope" />
            <set-header name="X-Test" exists-action="override"><value>1</value></set-header>
            <set-body>hello</set-body>
        </return-response>
    </inbound>
    <backend><base /></backend>
    <outbound><base /></outbound>
    <on-error><base /></on-error>
</policies>
`,
		"portcullis.yaml": fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  apis:
    - name: refuse
      path: refuse
      backend: %s
      policy: policies/refuse.xml
admin:
  listen: 127.0.0.1:0
`, backend.URL),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	status, header, body := httpGet(t, in.gateway+"/refuse/x")
	if status != 403 || header.Get("X-Test") != "1" || string(body) != "hello" {
		t.Errorf("got %d %v %q; want 403 with X-Test: 1 and body hello", status, header, body)
	}
	if calls != 0 {
		t.Errorf("the backend was called %d times", calls)
	}
}

// countCalls counts the requests next serves.
func countCalls(n *int, next http.Handler) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*n++
		mu.Unlock()
		next.ServeHTTP(w, r)
	})
}
