package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// selfSigned makes a certificate for 127.0.0.1 and returns its PEM files' contents.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "portcullis test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), pool
}

func TestServeHTTPS(t *testing.T) {
	backend := httptestJSON(t)
	certPEM, keyPEM, pool := selfSigned(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"gw.crt": string(certPEM), "gw.key": string(keyPEM),
		"portcullis.yaml": fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  tls-listen: 127.0.0.1:0
  tls: {cert: gw.crt, key: gw.key}
  apis:
    - {name: echo-api, path: echo, backend: "%s"}
admin:
  listen: 127.0.0.1:0
`, backend),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	https := waitFor(t, in.stdout, regexp.MustCompile(`gateway listening on (https://\S+)`), 1)[1]
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, base := range []struct{ url, proto string }{{in.gateway, "http"}, {https, "https"}} {
		resp, err := client.Get(base.url + "/echo/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got map[string]string
		if err := json.Unmarshal(b, &got); err != nil || got["proto"] != base.proto {
			t.Errorf("%s: backend saw %s", base.url, b)
		}
	}
}

// httptestJSON answers with the X-Forwarded-Proto it received.
func httptestJSON(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"proto": r.Header.Get("X-Forwarded-Proto")})
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}
