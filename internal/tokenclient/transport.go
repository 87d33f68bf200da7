package tokenclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// ErrCAFile: a CA file that cannot be read or holds no certificate.
var ErrCAFile = errors.New("unusable CA file")

// DefaultTimeout bounds one HTTP exchange with the authority.
const DefaultTimeout = 30 * time.Second

// NewHTTPClient returns an HTTP client that trusts the system roots plus the PEM certificates
// in caFiles (Portcullis's local CA, a corporate CA), with timeout per exchange (0 means
// DefaultTimeout).
func NewHTTPClient(caFiles []string, timeout time.Duration) (*http.Client, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(caFiles) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, f := range caFiles {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrCAFile, err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrCAFile, f)
			}
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: refuseRedirect}, nil
}

// ErrRedirected: an endpoint answered with a redirect. Token requests carry credentials, so
// they are never re-sent to wherever a redirect points.
var ErrRedirected = errors.New("the endpoint redirected the request")

func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("%w to %s://%s%s; use that URL directly if it is right", ErrRedirected, req.URL.Scheme, req.URL.Host, req.URL.Path)
}
