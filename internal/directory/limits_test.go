package directory_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portcullis/internal/directory"
)

// TestSeedCertificateFileBound: a certificate file the seed names is read up to 1 MiB (text
// around the PEM blocks counts); one byte more is a seed error that names the file and the
// limit, and nothing is written.
func TestSeedCertificateFileBound(t *testing.T) {
	const limit = 1 << 20
	dir := t.TempDir()
	path := filepath.Join(dir, "certs", "client-app.pem")
	writeCert(t, path, rsaKey(t))
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		size    int
		wantErr string
	}{
		{"at the limit", limit, ""},
		{"one byte over", limit + 1, "certificate certs/client-app.pem: the file is larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			padding := strings.Repeat("#", tt.size-len(pemBytes)-1) + "\n"
			if err := os.WriteFile(path, append([]byte(padding), pemBytes...), 0o600); err != nil {
				t.Fatal(err)
			}
			s := openStore(t)
			err := directory.Seed(context.Background(), s, articleSeed(), dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("a file of %d bytes: %v", tt.size, err)
				}
				return
			}
			var se *directory.SeedError
			if !errors.As(err, &se) || se.Key != "identity.tenants[0].applications[1].certificates[0]" || !strings.Contains(se.Msg, tt.wantErr) {
				t.Fatalf("got %v, want a seed error containing %q", err, tt.wantErr)
			}
			if tenants, _ := s.Tenants(context.Background()); len(tenants) != 0 {
				t.Fatalf("a refused seed wrote %d tenants", len(tenants))
			}
		})
	}
}
