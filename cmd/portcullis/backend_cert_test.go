package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuthenticationCertificate checks that forward-request presents the certificate that
// authentication-certificate names to an HTTPS backend that requires one, and that the same
// API without the policy is refused by that backend.
func TestAuthenticationCertificate(t *testing.T) {
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "hello %s", r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	backend.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	backend.StartTLS()
	t.Cleanup(backend.Close)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "gateway-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	clientPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	backendCA := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: backend.Certificate().Raw}))

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"certs/client.pem":     clientPEM,
		"certs/backend-ca.pem": backendCA,
		"policies/mtls.xml": `<policies>
    <inbound><base /><authentication-certificate certificate-id="client" /></inbound>
    <backend><base /></backend>
    <outbound><base /></outbound>
    <on-error><base /></on-error>
</policies>
`,
		"portcullis.yaml": fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  trust: [certs/backend-ca.pem]
  certificates:
    client: certs/client.pem
  apis:
    - name: mtls
      path: mtls
      backend: %[1]s
      policy: policies/mtls.xml
    - name: plain
      path: plain
      backend: %[1]s
admin:
  listen: 127.0.0.1:0
`, backend.URL),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	status, _, body := httpGet(t, in.gateway+"/mtls/x")
	if status != 200 || !strings.Contains(string(body), "hello gateway-client") {
		t.Errorf("with authentication-certificate: %d %s", status, body)
	}
	status, _, body = httpGet(t, in.gateway+"/plain/x")
	if status != 403 {
		t.Errorf("without it the backend should refuse: %d %s", status, body)
	}
}
