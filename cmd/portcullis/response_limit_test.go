package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBackendAnswerLimit: a policy that reads the backend's answer into memory (set-body from
// context.Response.Body, find-and-replace) reads at most gateway.limits max-body-bytes; a
// larger answer becomes a 502 in APIM's error shape. An answer no policy reads streams through
// whatever its size.
func TestBackendAnswerLimit(t *testing.T) {
	const limit = 50_000
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("size"))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		w.Write(bytes.Repeat([]byte("a"), n))
	}))
	t.Cleanup(backend.Close)
	outbound := func(policy string) string {
		return `<policies><inbound><base /></inbound><backend><base /></backend><outbound><base />` + policy +
			`</outbound><on-error><base /></on-error></policies>`
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/set-body.xml": outbound(`<set-body>@(context.Response.Body.As<string>())</set-body>`),
		"policies/replace.xml":  outbound(`<find-and-replace from="a" to="b" />`),
		"portcullis.yaml": fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  limits:
    max-body-bytes: %d
  apis:
    - name: set-body
      path: set-body
      backend: %[2]s
      policy: policies/set-body.xml
    - name: replace
      path: replace
      backend: %[2]s
      policy: policies/replace.xml
    - name: pass
      path: pass
      backend: %[2]s
admin:
  listen: 127.0.0.1:0
`, limit, backend.URL),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	tests := []struct {
		name, path string
		size       int
		status     int
		want       byte // every byte of a 200's body
	}{
		{"set-body at the limit", "/set-body/x?size=50000", limit, 200, 'a'},
		{"set-body one byte over, announced", "/set-body/x?size=50001", limit + 1, 502, 0},
		{"set-body far over, chunked", "/set-body/x?chunked=1&size=1000000", 1_000_000, 502, 0},
		{"find-and-replace at the limit", "/replace/x?size=50000", limit, 200, 'b'},
		{"find-and-replace over, announced and under 64 KiB", "/replace/x?size=50001", limit + 1, 502, 0},
		{"no policy reads it: streams through", "/pass/x?chunked=1&size=1000000", 1_000_000, 200, 'a'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := httpGet(t, in.gateway+tt.path)
			if status != tt.status {
				t.Fatalf("status %d, want %d (body %.200s)", status, tt.status, body)
			}
			if tt.status == 200 {
				if len(body) != tt.size || bytes.Count(body, []byte{tt.want}) != tt.size {
					t.Errorf("%d bytes back, want %d bytes of %q", len(body), tt.size, tt.want)
				}
				return
			}
			if ct := header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			want := `{"statusCode": 502, "message": "Bad gateway: the backend's answer is larger than the gateway accepts."}`
			if !strings.Contains(string(body), want) {
				t.Errorf("body %s, want %s", body, want)
			}
		})
	}
}
