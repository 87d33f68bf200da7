package identity

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestLocalTLS(t *testing.T) {
	dir := t.TempDir()
	cfg, caPath, err := LocalTLS(dir, []string{"https://id.contoso.example:9443"})
	if err != nil {
		t.Fatal(err)
	}
	if caPath != filepath.Join(dir, "tls", "ca.pem") {
		t.Errorf("CA path %s", caPath)
	}
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA is not PEM")
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "id.contoso.example"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "tls", "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key file mode: %v %v", fi, err)
	}

	tests := []struct {
		name      string
		hosts     []string
		sameLeaf  bool
		coversNew string
	}{
		{name: "later start with the same hosts reuses everything", hosts: []string{"id.contoso.example:9443"}, sameLeaf: true},
		{name: "a new public host re-issues the server certificate under the same CA", hosts: []string{"other.example"}, sameLeaf: false, coversNew: "other.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg2, caPath2, err := LocalTLS(dir, tc.hosts)
			if err != nil {
				t.Fatal(err)
			}
			ca2, _ := os.ReadFile(caPath2)
			if !bytes.Equal(ca2, caPEM) {
				t.Error("the CA changed")
			}
			same := bytes.Equal(cfg2.Certificates[0].Certificate[0], cfg.Certificates[0].Certificate[0])
			if same != tc.sameLeaf {
				t.Errorf("server certificate reused = %v, want %v", same, tc.sameLeaf)
			}
			if tc.coversNew != "" {
				leaf, _ := x509.ParseCertificate(cfg2.Certificates[0].Certificate[0])
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: tc.coversNew, Roots: pool}); err != nil {
					t.Errorf("re-issued certificate: %v", err)
				}
			}
		})
	}
}

func TestPublicURLFromListen(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"127.0.0.1:9443", "https://127.0.0.1:9443"},
		{"0.0.0.0:9443", "https://127.0.0.1:9443"},
		{":9443", "https://127.0.0.1:9443"},
		{"[::1]:9443", "https://[::1]:9443"},
	}
	for _, tc := range tests {
		t.Run(tc.listen, func(t *testing.T) {
			if got := PublicURLFromListen(tc.listen); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestServerTLSConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	// A pair made by LocalTLS serves as "configured" files.
	if _, _, err := LocalTLS(dir, nil); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "tls", "server.pem"), filepath.Join(dir, "tls", "server-key.pem")
	tests := []struct {
		name       string
		cert, key  string
		wantErr    bool
		wantCAPath bool
	}{
		{name: "configured pair", cert: cert, key: key},
		{name: "no configuration: local CA", wantCAPath: true},
		{name: "missing key file", cert: cert, key: filepath.Join(dir, "nope.pem"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, caPath, err := ServerTLS(tc.cert, tc.key, t.TempDir(), nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && (len(cfg.Certificates) != 1 || (caPath != "") != tc.wantCAPath) {
				t.Errorf("certificates %d, CA path %q", len(cfg.Certificates), caPath)
			}
		})
	}
}
