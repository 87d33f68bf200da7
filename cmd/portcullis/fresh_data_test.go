package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGatewayTrustsOwnLocalCA starts serve on an empty data folder with a gateway that trusts
// the local CA its own identity service creates: the configuration names the CA before it
// exists, and the first start must work.
func TestGatewayTrustsOwnLocalCA(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"portcullis.yaml": `data: ./data
identity:
  listen: 127.0.0.1:0
  tenants:
    - id: 3f5b1c2e-0000-4000-8000-000000000001
      domain: fresh.example
gateway:
  listen: 127.0.0.1:0
  trust: [data/tls/ca.pem]
  apis:
    - {name: echo, path: echo, backend: "http://127.0.0.1:9"}
admin:
  listen: 127.0.0.1:0
`,
	})
	startServe(t, filepath.Join(dir, "portcullis.yaml"))
	if _, err := os.Stat(filepath.Join(dir, "data", "tls", "ca.pem")); err != nil {
		t.Errorf("the local CA was not created: %v", err)
	}
}
