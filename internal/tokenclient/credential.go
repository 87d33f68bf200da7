package tokenclient

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/google/uuid"

	"portcullis/internal/jose"
)

// ErrCertificate: a certificate or key file that cannot be used for a client assertion.
var ErrCertificate = errors.New("unusable client certificate")

// Credential authenticates a confidential client at the token endpoint. A public client has
// none (nil).
type Credential interface {
	authenticate(req *http.Request, form url.Values, clientID, tokenURL string, now time.Time) error
}

// ClientSecret authenticates with a shared secret, in the body (client_secret_post, what Entra
// clients do) or with HTTP Basic (client_secret_basic).
type ClientSecret struct {
	Value string
	Basic bool
}

func (s ClientSecret) authenticate(req *http.Request, form url.Values, clientID, _ string, _ time.Time) error {
	if s.Value == "" {
		return errors.New("the client secret is empty")
	}
	if s.Basic {
		// RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(s.Value))
		form.Del("client_id")
		return nil
	}
	form.Set("client_secret", s.Value)
	return nil
}

// AssertionLifetime is how long a client assertion is valid after it is made.
const AssertionLifetime = 10 * time.Minute

// Certificate authenticates with a client assertion (private_key_jwt) signed by the private key
// of a certificate registered on the application, as Entra's certificate credentials work.
type Certificate struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

func (c Certificate) authenticate(_ *http.Request, form url.Values, clientID, tokenURL string, now time.Time) error {
	a, err := c.Assertion(clientID, tokenURL, now)
	if err != nil {
		return err
	}
	form.Set("client_assertion_type", assertionType)
	form.Set("client_assertion", a)
	return nil
}

// Assertion makes the signed client assertion for audience (the token endpoint): RS256 with
// the certificate's SHA-1 (x5t) and SHA-256 (x5t#S256) thumbprints in the header, iss = sub =
// the client ID, a fresh jti, valid from now for AssertionLifetime.
func (c Certificate) Assertion(clientID, audience string, now time.Time) (string, error) {
	if c.Cert == nil || c.Key == nil {
		return "", fmt.Errorf("%w: certificate and key are both required", ErrCertificate)
	}
	claims, err := json.Marshal(map[string]any{
		"aud": audience,
		"iss": clientID,
		"sub": clientID,
		"jti": uuid.NewString(),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(AssertionLifetime).Unix(),
	})
	if err != nil {
		return "", err
	}
	header := map[string]any{
		"typ":      "JWT",
		"x5t":      jose.Thumbprint(c.Cert.Raw),
		"x5t#S256": jose.ThumbprintS256(c.Cert.Raw),
	}
	a, err := jose.Sign("RS256", c.Key, "", header, claims)
	if err != nil {
		return "", fmt.Errorf("%w: signing the client assertion: %w", ErrCertificate, err)
	}
	return a, nil
}

// LoadCertificate reads a PEM certificate and its RSA private key (PKCS #1 or PKCS #8).
// keyFile may be "" or the same file when one PEM file holds both. It checks that the key
// belongs to the certificate.
func LoadCertificate(certFile, keyFile string) (Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return Certificate{}, fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	keyPEM := certPEM
	if keyFile != "" && keyFile != certFile {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return Certificate{}, fmt.Errorf("%w: %w", ErrCertificate, err)
		}
	}
	var c Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			if c.Cert, err = x509.ParseCertificate(b.Bytes); err != nil {
				return Certificate{}, fmt.Errorf("%w: %s: %w", ErrCertificate, certFile, err)
			}
			break
		}
	}
	if c.Cert == nil {
		return Certificate{}, fmt.Errorf("%w: %s holds no PEM CERTIFICATE block", ErrCertificate, certFile)
	}
	if keyFile == "" {
		keyFile = certFile
	}
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			c.Key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "PRIVATE KEY":
			var k any
			if k, err = x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
				var ok bool
				if c.Key, ok = k.(*rsa.PrivateKey); !ok {
					return Certificate{}, fmt.Errorf("%w: %s holds a %T key; client assertions are signed with RS256, which needs an RSA key", ErrCertificate, keyFile, k)
				}
			}
		case "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return Certificate{}, fmt.Errorf("%w: %s holds an %s; an unencrypted RSA key is needed", ErrCertificate, keyFile, b.Type)
		default:
			continue
		}
		if err != nil {
			return Certificate{}, fmt.Errorf("%w: %s: %w", ErrCertificate, keyFile, err)
		}
		break
	}
	if c.Key == nil {
		return Certificate{}, fmt.Errorf("%w: %s holds no PEM private key", ErrCertificate, keyFile)
	}
	pub, ok := c.Cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&c.Key.PublicKey) {
		return Certificate{}, fmt.Errorf("%w: the key in %s does not belong to the certificate in %s", ErrCertificate, keyFile, certFile)
	}
	return c, nil
}
