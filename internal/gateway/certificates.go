package gateway

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"portcullis/internal/policy"
)

// LoadCertificates reads gateway.certificates: PEM files holding a certificate chain and,
// optionally, its private key (PKCS#8, PKCS#1 or SEC 1).
func LoadCertificates(files map[string]string) (map[string]*policy.Certificate, error) {
	out := make(map[string]*policy.Certificate, len(files))
	for _, id := range slices.Sorted(maps.Keys(files)) {
		c, err := loadCertificate(id, files[id])
		if err != nil {
			return nil, err
		}
		out[id] = c
	}
	return out, nil
}

func loadCertificate(id, path string) (*policy.Certificate, error) {
	data, err := readPEMFile(path)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", id, err)
	}
	c := &policy.Certificate{ID: id}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate %q (%s): %w", id, path, err)
			}
			c.Chain = append(c.Chain, cert)
		case "PRIVATE KEY":
			if c.Key, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
				return nil, fmt.Errorf("certificate %q (%s): private key: %w", id, path, err)
			}
		case "RSA PRIVATE KEY":
			if c.Key, err = x509.ParsePKCS1PrivateKey(b.Bytes); err != nil {
				return nil, fmt.Errorf("certificate %q (%s): private key: %w", id, path, err)
			}
		case "EC PRIVATE KEY":
			if c.Key, err = x509.ParseECPrivateKey(b.Bytes); err != nil {
				return nil, fmt.Errorf("certificate %q (%s): private key: %w", id, path, err)
			}
		}
	}
	if len(c.Chain) == 0 {
		return nil, fmt.Errorf("certificate %q: %s holds no PEM CERTIFICATE block", id, path)
	}
	return c, nil
}

// maxPEMFileBytes bounds a certificate or CA file the configuration names: a PEM chain or a
// CA bundle is well under it, and a path to something endless must not exhaust memory.
const maxPEMFileBytes = 4 << 20

func readPEMFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPEMFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxPEMFileBytes)
	}
	return data, nil
}
