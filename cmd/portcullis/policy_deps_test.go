package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPolicyStateAcrossReloads runs the policies that need serve's services: set-backend-service
// resolves backend-id from gateway.backends (the API's own backend is unreachable), trace
// writes to the log, rate-limit-by-key answers 429 once its budget is spent and a reload that
// recompiles the policy keeps the count (a reload must not hand out a fresh quota), and
// log-to-eventhub writes to the configured file.
func TestPolicyStateAcrossReloads(t *testing.T) {
	backend := backendNamed(t, "limited")
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	policy := func(marker string) string {
		return fmt.Sprintf(`<policies>
    <inbound>
        <base />
        <rate-limit-by-key calls="3" renewal-period="300" counter-key="@(context.Request.IpAddress)" />
        <log-to-eventhub logger-id="audit">@("%s " + context.Request.Method)</log-to-eventhub>
        <trace source="limited-api" severity="information"><message>@("traced " + context.Request.Method)</message></trace>
        <set-backend-service backend-id="named" />
    </inbound>
    <backend><base /></backend>
    <outbound><base /></outbound>
    <on-error><base /></on-error>
</policies>
`, marker)
	}
	writeFiles(t, dir, map[string]string{
		"policies/limited.xml": policy("first"),
		"portcullis.yaml": fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  loggers:
    audit: {file: %s}
  backends:
    named: {url: %s}
  apis:
    - name: limited
      path: limited
      backend: http://127.0.0.1:9
      policy: policies/limited.xml
admin:
  listen: 127.0.0.1:0
`, events, backend.URL),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	for i := 1; i <= 2; i++ {
		if status, _, body := httpGet(t, in.gateway+"/limited/x"); status != 200 {
			t.Fatalf("call %d: %d %s", i, status, body)
		}
	}
	// Recompile the policy: the counter must carry on.
	writeFiles(t, dir, map[string]string{"policies/limited.xml": policy("second")})
	waitFor(t, in.stdout, regexp.MustCompile(`configuration reloaded`), 1)
	if status, _, body := httpGet(t, in.gateway+"/limited/x"); status != 200 {
		t.Fatalf("call 3 (after the reload): %d %s", status, body)
	}
	status, header, body := httpGet(t, in.gateway+"/limited/x")
	if status != 429 || !strings.Contains(string(body), "Rate limit is exceeded") || header.Get("Retry-After") == "" {
		t.Fatalf("call 4: want 429 with Retry-After, got %d %v %s", status, header, body)
	}

	if !strings.Contains(in.stderr.String(), "traced GET") {
		t.Errorf("the trace message is not in the log:\n%s", in.stderr.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(events)
		if strings.Contains(string(data), "first GET") && strings.Contains(string(data), "second GET") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events file holds %q, want lines from both policy versions", data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
