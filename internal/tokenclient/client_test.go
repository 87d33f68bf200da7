package tokenclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portcullis/internal/tokenclient"
	"portcullis/internal/tokenclient/tokenclienttest"
)

// clientCert makes a self-signed RSA certificate like one uploaded to an app registration.
func clientCert(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client-app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b []byte
	for _, bl := range blocks {
		b = append(b, pem.EncodeToMemory(bl)...)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func httpClient(t *testing.T, a *tokenclienttest.Authority) *http.Client {
	t.Helper()
	hc, err := tokenclient.NewHTTPClient([]string{a.CAFile(t)}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

// claims decodes a JWT's payload without verifying it (the authority's fake tokens).
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestClientCredentials(t *testing.T) {
	const secret = "s3cr3t~value.with+odd&chars"
	cert, key := clientCert(t)
	tests := []struct {
		name       string
		version    int // of the API's tokens
		endpoint   int // protocol version of the endpoints
		credential tokenclient.Credential
		target     tokenclient.Target
		wantAud    string
		check      func(t *testing.T, r tokenclienttest.Request)
	}{
		{
			name: "secret in the body, v2", version: 2, endpoint: 2,
			credential: tokenclient.ClientSecret{Value: secret},
			target:     tokenclient.Target{Scopes: []string{tokenclienttest.APIURI + "/.default"}},
			wantAud:    tokenclienttest.APIAppID,
			check: func(t *testing.T, r tokenclienttest.Request) {
				if r.HasBasic || r.Form.Get("client_secret") != secret || r.Form.Get("client_id") != tokenclienttest.ClientID {
					t.Errorf("want client_secret_post, got basic=%v form=%v", r.HasBasic, r.Form)
				}
			},
		},
		{
			name: "secret with HTTP Basic", version: 2, endpoint: 2,
			credential: tokenclient.ClientSecret{Value: secret, Basic: true},
			target:     tokenclient.Target{Scopes: []string{tokenclienttest.APIURI + "/.default"}},
			wantAud:    tokenclienttest.APIAppID,
			check: func(t *testing.T, r tokenclienttest.Request) {
				if !r.HasBasic || r.BasicID != tokenclienttest.ClientID || r.Form.Has("client_secret") {
					t.Errorf("want client_secret_basic only, got basic=%v id=%q form has secret=%v", r.HasBasic, r.BasicID, r.Form.Has("client_secret"))
				}
			},
		},
		{
			name: "certificate assertion", version: 2, endpoint: 2,
			credential: tokenclient.Certificate{Cert: cert, Key: key},
			target:     tokenclient.Target{Scopes: []string{tokenclienttest.APIURI + "/.default"}},
			wantAud:    tokenclienttest.APIAppID,
			check: func(t *testing.T, r tokenclienttest.Request) {
				if r.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || r.Form.Has("client_secret") {
					t.Errorf("want a client assertion, got %v", r.Form)
				}
			},
		},
		{
			name: "v1 endpoint with resource, v1 token", version: 1, endpoint: 1,
			credential: tokenclient.ClientSecret{Value: secret},
			target:     tokenclient.Target{Resource: tokenclienttest.APIURI},
			wantAud:    tokenclienttest.APIURI,
			check: func(t *testing.T, r tokenclienttest.Request) {
				if r.Form.Get("resource") != tokenclienttest.APIURI || r.Form.Has("scope") {
					t.Errorf("want resource only, got %v", r.Form)
				}
			},
		},
		{
			name: "v1 endpoint given a .default scope sends its resource", version: 1, endpoint: 1,
			credential: tokenclient.Certificate{Cert: cert, Key: key},
			target:     tokenclient.Target{Scopes: []string{tokenclienttest.APIURI + "/.default"}},
			wantAud:    tokenclienttest.APIURI,
			check: func(t *testing.T, r tokenclienttest.Request) {
				if r.Form.Get("resource") != tokenclienttest.APIURI {
					t.Errorf("want resource %s, got %v", tokenclienttest.APIURI, r.Form)
				}
			},
		},
		{
			name: "v2 endpoint given a resource asks for its .default scope", version: 2, endpoint: 2,
			credential: tokenclient.ClientSecret{Value: secret},
			target:     tokenclient.Target{Resource: tokenclienttest.APIURI},
			wantAud:    tokenclienttest.APIAppID,
			check: func(t *testing.T, r tokenclienttest.Request) {
				if r.Form.Get("scope") != tokenclienttest.APIURI+"/.default" || r.Form.Has("resource") {
					t.Errorf("want scope %s/.default, got %v", tokenclienttest.APIURI, r.Form)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tokenclienttest.New(t, tokenclienttest.Config{Secret: secret, Certificate: cert, TokenVersion: tc.version})
			ep, err := tokenclient.FromAuthority(a.Authority(), "", tc.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			c := &tokenclient.Client{Endpoints: ep, ClientID: tokenclienttest.ClientID, Credential: tc.credential, HTTP: httpClient(t, a)}
			tok, err := c.ClientCredentials(context.Background(), tc.target)
			if err != nil {
				t.Fatalf("ClientCredentials: %v", err)
			}
			cl := claims(t, tok.AccessToken)
			if cl["aud"] != tc.wantAud {
				t.Errorf("aud = %v, want %v", cl["aud"], tc.wantAud)
			}
			if tok.ExpiresIn != time.Hour || time.Until(tok.ExpiresOn) < 59*time.Minute {
				t.Errorf("expires_in %v, expires_on %v: want an hour", tok.ExpiresIn, tok.ExpiresOn)
			}
			if tc.endpoint == 1 && tok.Resource != tokenclienttest.APIURI {
				t.Errorf("v1 resource = %q", tok.Resource)
			}
			reqs := a.Requests()
			if len(reqs) != 1 {
				t.Fatalf("authority saw %d requests, want 1", len(reqs))
			}
			tc.check(t, reqs[0])
		})
	}
}

func TestClientCredentialsErrors(t *testing.T) {
	const secret = "right-secret"
	cert, key := clientCert(t)
	otherCert, otherKey := clientCert(t)
	tests := []struct {
		name       string
		authority  func(a *tokenclienttest.Authority) string
		noCA       bool
		credential tokenclient.Credential
		clientID   string
		scope      string
		now        func() time.Time
		wantCode   string
		wantAADSTS int
		wantIs     error
		wantText   string
	}{
		{name: "wrong secret", credential: tokenclient.ClientSecret{Value: "wrong-secret"},
			wantCode: "invalid_client", wantAADSTS: 7000215, wantIs: tokenclient.ErrInvalidClient,
			wantText: "AADSTS7000215: Invalid client secret provided. Fix: check the client secret"},
		{name: "unregistered certificate", credential: tokenclient.Certificate{Cert: otherCert, Key: otherKey},
			wantCode: "invalid_client", wantAADSTS: 700027, wantText: "Fix: check --certificate and --key"},
		{name: "assertion from a clock an hour behind", credential: tokenclient.Certificate{Cert: cert, Key: key},
			now:      func() time.Time { return time.Now().Add(-time.Hour) },
			wantCode: "invalid_client", wantAADSTS: 700024, wantText: "Fix: check this machine's clock"},
		{name: "scope without .default", credential: tokenclient.ClientSecret{Value: secret}, scope: tokenclienttest.APIURI + "/Files.Read",
			wantCode: "invalid_scope", wantAADSTS: 1002012, wantText: "is not valid. Fix: client credentials need a scope ending in /.default"},
		{name: "unknown resource", credential: tokenclient.ClientSecret{Value: secret}, scope: "api://nobody/.default",
			wantCode: "invalid_resource", wantAADSTS: 500011, wantText: "AADSTS500011: The resource principal named api://nobody was not found in the tenant named"},
		{name: "unknown client", credential: tokenclient.ClientSecret{Value: secret}, clientID: "11111111-0000-4000-8000-000000000000",
			wantCode: "unauthorized_client", wantAADSTS: 700016, wantText: "Fix: check --client-id and --tenant"},
		{name: "unknown tenant", credential: tokenclient.ClientSecret{Value: secret},
			authority: func(a *tokenclienttest.Authority) string { return a.Server.URL + "/no-such-tenant" },
			wantCode:  "invalid_request", wantAADSTS: 90002, wantText: "AADSTS90002: Tenant 'no-such-tenant' not found. Fix: check --tenant"},
		{name: "server CA not trusted", credential: tokenclient.ClientSecret{Value: secret}, noCA: true,
			wantText: "Fix: trust the server's CA with --ca-file"},
		{name: "not an OAuth endpoint", credential: tokenclient.ClientSecret{Value: secret},
			authority: func(a *tokenclienttest.Authority) string {
				return a.Server.URL + "/" + tokenclienttest.TenantID + "/wrong"
			},
			wantIs: tokenclient.ErrBadResponse, wantText: "answered 404 Not Found with a body that is not an OAuth error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tokenclienttest.New(t, tokenclienttest.Config{Secret: secret, Certificate: cert})
			var ep tokenclient.Endpoints
			var err error
			if tc.authority != nil && strings.HasSuffix(tc.authority(a), "/wrong") {
				ep, err = tokenclient.FromTokenURL(tc.authority(a))
			} else {
				auth := a.Authority()
				if tc.authority != nil {
					auth = tc.authority(a)
				}
				ep, err = tokenclient.FromAuthority(auth, "", 2)
			}
			if err != nil {
				t.Fatal(err)
			}
			hc := httpClient(t, a)
			if tc.noCA {
				hc = &http.Client{Timeout: 5 * time.Second}
			}
			id := tokenclienttest.ClientID
			if tc.clientID != "" {
				id = tc.clientID
			}
			scope := tokenclienttest.APIURI + "/.default"
			if tc.scope != "" {
				scope = tc.scope
			}
			c := &tokenclient.Client{Endpoints: ep, ClientID: id, Credential: tc.credential, HTTP: hc, Now: tc.now}
			tok, err := c.ClientCredentials(context.Background(), tokenclient.Target{Scopes: []string{scope}})
			if err == nil {
				t.Fatalf("got a token (%d bytes), want an error", len(tok.AccessToken))
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.wantText)
			}
			if strings.Contains(err.Error(), "right-secret") || strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("error reveals a secret: %q", err)
			}
			if strings.Contains(err.Error(), "Trace ID") || strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error is not one line without trace details: %q", err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v) = false for %q", tc.wantIs, err)
			}
			var oe *tokenclient.Error
			if tc.wantCode != "" {
				if !errors.As(err, &oe) {
					t.Fatalf("error %T is not *tokenclient.Error", err)
				}
				if oe.Code != tc.wantCode || oe.AADSTS() != tc.wantAADSTS {
					t.Errorf("code %s AADSTS%d, want %s AADSTS%d", oe.Code, oe.AADSTS(), tc.wantCode, tc.wantAADSTS)
				}
			}
		})
	}
}

func TestClientCredentialsRefusedLocally(t *testing.T) {
	ep, err := tokenclient.FromAuthority("https://127.0.0.1:1/t", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		client tokenclient.Client
		target tokenclient.Target
		want   error
	}{
		{"no credential", tokenclient.Client{Endpoints: ep, ClientID: "c"}, tokenclient.Target{Scopes: []string{"api://x/.default"}}, tokenclient.ErrInvalidClient},
		{"no scope", tokenclient.Client{Endpoints: ep, ClientID: "c", Credential: tokenclient.ClientSecret{Value: "s"}}, tokenclient.Target{}, tokenclient.ErrTarget},
		{"scope and resource", tokenclient.Client{Endpoints: ep, ClientID: "c", Credential: tokenclient.ClientSecret{Value: "s"}}, tokenclient.Target{Scopes: []string{"a/.default"}, Resource: "a"}, tokenclient.ErrTarget},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.ClientCredentials(context.Background(), tc.target)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLoadCertificate(t *testing.T) {
	cert, key := clientCert(t)
	_, otherKey := clientCert(t)
	certBlock := &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}
	pkcs1 := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := &pem.Block{Type: "PRIVATE KEY", Bytes: p8}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	tests := []struct {
		name      string
		cert, key []*pem.Block
		sameFile  bool
		wantErr   string
	}{
		{name: "PKCS #1 key", cert: []*pem.Block{certBlock}, key: []*pem.Block{pkcs1}},
		{name: "PKCS #8 key", cert: []*pem.Block{certBlock}, key: []*pem.Block{pkcs8}},
		{name: "one file with both", cert: []*pem.Block{pkcs8, certBlock}, sameFile: true},
		{name: "key of another certificate", cert: []*pem.Block{certBlock}, key: []*pem.Block{{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(otherKey)}}, wantErr: "does not belong to the certificate"},
		{name: "EC key", cert: []*pem.Block{certBlock}, key: []*pem.Block{{Type: "PRIVATE KEY", Bytes: ecDER}}, wantErr: "needs an RSA key"},
		{name: "no certificate", cert: []*pem.Block{pkcs1}, key: []*pem.Block{pkcs1}, wantErr: "holds no PEM CERTIFICATE block"},
		{name: "no key", cert: []*pem.Block{certBlock}, key: []*pem.Block{certBlock}, wantErr: "holds no PEM private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cf := writePEM(t, "cert.pem", tc.cert...)
			kf := cf
			if !tc.sameFile {
				kf = writePEM(t, "key.pem", tc.key...)
			}
			c, err := tokenclient.LoadCertificate(cf, kf)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !c.Cert.Equal(cert) || !c.Key.Equal(key) {
					t.Fatal("loaded a different certificate or key")
				}
				return
			}
			if err == nil || !errors.Is(err, tokenclient.ErrCertificate) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want ErrCertificate containing %q", err, tc.wantErr)
			}
		})
	}
}
