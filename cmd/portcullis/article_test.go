package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testIdP is an OpenID provider on loopback in Entra's URL shape: discovery and JWKS for one
// tenant, an RSA key made for the test, and tokens signed with it.
type testIdP struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	kid    string
	tenant string
}

func newTestIdP(t *testing.T, tenant string) *testIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &testIdP{key: key, kid: "test-key-1", tenant: tenant}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                idp.issuer(),
			"jwks_uri":                              idp.srv.URL + "/" + tenant + "/discovery/v2.0/keys",
			"authorization_endpoint":                idp.srv.URL + "/" + tenant + "/oauth2/v2.0/authorize",
			"token_endpoint":                        idp.srv.URL + "/" + tenant + "/oauth2/v2.0/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"pairwise"},
		})
	})
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		pub := key.PublicKey
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "use": "sig", "kid": idp.kid,
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

func (idp *testIdP) issuer() string { return idp.srv.URL + "/" + idp.tenant + "/v2.0" }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// token signs an RS256 access token with the given audience, valid from now for lifetime.
func (idp *testIdP) token(t *testing.T, aud string, lifetime time.Duration) string {
	now := time.Now()
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": idp.kid})
	claims, _ := json.Marshal(map[string]any{
		"aud": aud, "iss": idp.issuer(), "tid": idp.tenant, "sub": "client-app-sp", "azp": "client-app-id",
		"ver": "2.0", "roles": []string{"Files.Read.All"},
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(lifetime).Unix(),
	})
	signing := b64(header) + "." + b64(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, idp.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

// The article's policy, unchanged but for the tenant and client ID, runs against an identity
// provider made in the test: Entra's URL is aliased to it, as a user would alias it to
// Portcullis's identity service.
const articlePolicy = `<policies>
    <inbound>
        <base />
        <validate-jwt header-name="Authorization" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized. Access token is missing or invalid.">
            <openid-config url="https://login.microsoftonline.com/{{tenant-id}}/v2.0/.well-known/openid-configuration" />
            <required-claims>
                <claim name="aud">
                    <value>{{backend-app-client-id}}</value>
                </claim>
            </required-claims>
        </validate-jwt>
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>
`

func TestArticlePolicy(t *testing.T) {
	const (
		tenant      = "3f5b1c2e-0000-4000-8000-000000000001"
		backendApp  = "6c1f0d2a-0000-4000-8000-0000000000b1"
		otherAPIApp = "9d2e7a11-0000-4000-8000-0000000000d1"
	)
	idp := newTestIdP(t, tenant)
	backend := backendNamed(t, "echo")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/global.xml":  forwardPolicy,
		"policies/article.xml": articlePolicy,
		"portcullis.yaml": fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  named-values:
    tenant-id: %s
    backend-app-client-id: %s
  authority-aliases:
    https://login.microsoftonline.com: %s
  apis:
    - name: echo-api
      path: echo
      backend: %s
      policy: policies/article.xml
admin:
  listen: 127.0.0.1:0
`, tenant, backendApp, idp.srv.URL, backend.URL),
	})
	cfg := filepath.Join(dir, "portcullis.yaml")
	if code, _, stderr := runMain("check", "--config", cfg); code != 0 {
		if strings.Contains(stderr, "not built yet") {
			t.Skip("validate-jwt is not built yet: " + stderr)
		}
		t.Fatalf("check: exit %d\n%s", code, stderr)
	}
	in := startServe(t, cfg)
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _, body := httpGet(t, in.admin+"/readyz")
		if status == 200 {
			if !strings.Contains(string(body), `"ready":true`) {
				t.Errorf("readyz body %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %d %s", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	tests := []struct {
		name    string
		auth    string
		status  int
		golden  string // error body; "" for the backend's answer
		wwwAuth string // prefix of WWW-Authenticate
	}{
		{name: "no token", status: 401, golden: "article-unauthorized", wwwAuth: "Bearer"},
		{name: "valid token", auth: "Bearer " + idp.token(t, backendApp, time.Hour), status: 200},
		{name: "scheme in lower case", auth: "bearer " + idp.token(t, backendApp, time.Hour), status: 200},
		{name: "token for another API", auth: "Bearer " + idp.token(t, otherAPIApp, time.Hour), status: 401,
			golden: "article-unauthorized", wwwAuth: `Bearer error="invalid_token"`},
		{name: "expired token", auth: "Bearer " + idp.token(t, backendApp, -10*time.Minute), status: 401,
			golden: "article-unauthorized", wwwAuth: `Bearer error="invalid_token"`},
		{name: "garbage", auth: "Bearer not.a.token", status: 401, golden: "article-unauthorized", wwwAuth: `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.auth != "" {
				hdr = []string{"Authorization", tt.auth}
			}
			status, h, body := httpGet(t, in.gateway+"/echo/items/1", hdr...)
			if status != tt.status {
				t.Fatalf("status %d, want %d; body %s", status, tt.status, body)
			}
			if tt.golden == "" {
				var got map[string]string
				if err := json.Unmarshal(body, &got); err != nil || got["backend"] != "echo" || got["authorization"] != tt.auth {
					t.Errorf("backend answer %s", body)
				}
				return
			}
			checkGolden(t, tt.golden, body)
			if w := h.Get("WWW-Authenticate"); !strings.HasPrefix(w, tt.wwwAuth) || (tt.wwwAuth == "Bearer" && w != "Bearer") {
				t.Errorf("WWW-Authenticate %q, want %q…", w, tt.wwwAuth)
			}
			if h.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", h.Get("Content-Type"))
			}
		})
	}
	_, _, metrics := httpGet(t, in.admin+"/metrics")
	for _, want := range []string{
		`portcullis_gateway_policy_failures_total{reason="TokenNotPresent",source="validate-jwt"} 1`,
		`portcullis_gateway_policy_failures_total{reason="TokenExpired",source="validate-jwt"} 1`,
		`portcullis_jwks_fetches_total{`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
