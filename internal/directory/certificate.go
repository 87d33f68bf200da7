package directory

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
)

// minRSABits is the smallest RSA key accepted for client assertions.
const minRSABits = 2048

// NewKeyCredential checks a DER certificate and describes it as a key credential: its SHA-1
// thumbprint (what x5t names), validity and subject. Only the public certificate is kept.
func NewKeyCredential(der []byte, displayName string) (KeyCredential, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return KeyCredential{}, invalid("not an X.509 certificate: %v", err)
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return KeyCredential{}, invalid("the certificate's RSA key has %d bits; at least %d are required", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
	default:
		return KeyCredential{}, invalid("the certificate's key is %T; use RSA (2048 bits or more) or ECDSA", cert.PublicKey)
	}
	thumb := sha1.Sum(cert.Raw)
	if displayName == "" {
		displayName = "CN=" + cert.Subject.CommonName
	}
	return KeyCredential{
		KeyID:       NewID(),
		DisplayName: displayName,
		DER:         cert.Raw,
		Thumbprint:  base64.StdEncoding.EncodeToString(thumb[:]),
		Start:       cert.NotBefore.UTC(),
		End:         cert.NotAfter.UTC(),
	}, nil
}

// CertificatesFromPEM returns the DER of every CERTIFICATE block in a PEM text; private keys
// and other blocks beside them are skipped (a file may hold both).
func CertificatesFromPEM(data []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, invalid("no PEM CERTIFICATE block found")
	}
	return out, nil
}

// HasCertificate reports whether the application already has a credential with this
// thumbprint.
func (a *Application) HasCertificate(thumbprint string) bool {
	for _, k := range a.Certificates {
		if k.Thumbprint == thumbprint {
			return true
		}
	}
	return false
}

// certificateError names the file in an error about it.
func certificateError(file string, err error) error {
	return fmt.Errorf("certificate %s: %w", file, err)
}
