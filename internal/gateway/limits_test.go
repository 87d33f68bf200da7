package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPEMFileBound: certificate files (gateway.certificates) and CA files (gateway.trust) are
// read up to maxPEMFileBytes, text around the PEM blocks included; one byte more is refused
// with an error that names the file and the limit.
func TestPEMFileBound(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	dir := t.TempDir()
	write := func(t *testing.T, size int) string {
		path := filepath.Join(dir, fmt.Sprintf("%d.pem", size))
		padding := strings.Repeat("#", size-len(certPEM)-1) + "\n"
		if err := os.WriteFile(path, append([]byte(padding), certPEM...), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	load := map[string]func(path string) error{
		"certificate": func(path string) error { _, err := LoadCertificates(map[string]string{"c": path}); return err },
		"trust":       func(path string) error { _, err := ClientTLS([]string{path}); return err },
	}
	for what, fn := range load {
		t.Run(what+" at the limit", func(t *testing.T) {
			if err := fn(write(t, maxPEMFileBytes)); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(what+" one byte over", func(t *testing.T) {
			path := write(t, maxPEMFileBytes+1)
			err := fn(path)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s is larger than %d bytes", path, maxPEMFileBytes)) {
				t.Fatalf("error %v", err)
			}
		})
	}
}
