package main

// The log scan: one `portcullis serve` with the identity service, the gateway and the
// management API runs every flow that handles a credential, and everything it wrote to
// standard output and standard error is searched for each credential it saw.

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"portcullis/internal/identity"
)

const (
	scanTenant  = "3f5b1c2e-0000-4000-8000-0000000005ca"
	scanBackend = "6c1f0d2a-0000-4000-8000-0000000005ca"
	scanClient  = "0b7e9d4c-0000-4000-8000-0000000005ca"
	scanPublic  = "0b7e9d4c-0000-4000-8000-0000000005cb"
	scanUser    = "alice@contoso.example"
)

// jwtShaped finds anything that looks like a compact JWS or JWE: base64url JSON header,
// then at least one more long segment.
var jwtShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`)

// credential is a fresh random value with a recognisable prefix.
func credential(prefix string) string { return prefix + randomText(32) }

// scanRun is the state of the flow: the service's addresses, the clients, and every
// credential that crossed the wire, each under the name the failure message will use.
type scanRun struct {
	identity, authority string
	gateway, admin      string
	adminToken          string
	client              *http.Client // trusts the local CA
	mu                  sync.Mutex
	secrets             map[string]string // value → what it is
}

func (s *scanRun) remember(t *testing.T, what, value string) {
	if value == "" {
		t.Fatalf("%s is empty", what)
	}
	s.mu.Lock()
	s.secrets[value] = what
	s.mu.Unlock()
}

// token posts a token request and returns the decoded answer with its status.
func (s *scanRun) token(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.client.PostForm(s.authority+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("token answer: %v", err)
	}
	return resp.StatusCode, out
}

// rememberTokens records every token in a token answer.
func (s *scanRun) rememberTokens(t *testing.T, flow string, out map[string]any) {
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if v, ok := out[k].(string); ok {
			s.remember(t, flow+" "+k, v)
		}
	}
}

// browser is a cookie-keeping client that trusts the local CA and follows redirects.
func (s *scanRun) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 15 * time.Second, Transport: s.client.Transport}
}

// fillForm loads a page, fills its form (hidden fields plus fields) and posts it.
func (s *scanRun) fillForm(t *testing.T, b *http.Client, pageURL string, fields url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := formAction.FindStringSubmatch(string(page))
	if action == nil {
		t.Fatalf("no form on %s (%d): %s", pageURL, resp.StatusCode, page)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	target, _ := url.Parse(pageURL)
	target, _ = target.Parse(html.UnescapeString(action[1]))
	resp, err = b.PostForm(target.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(out)
}

func (s *scanRun) gatewayCall(t *testing.T, token string) int {
	t.Helper()
	status, _, _ := httpGet(t, s.gateway+"/echo/x", "Authorization", "Bearer "+token)
	return status
}

func TestLogsHoldNoCredentials(t *testing.T) {
	clientSecret := credential("cs~")
	password := credential("pw-")
	adminToken := credential("adm-")
	t.Setenv("SCAN_CLIENT_SECRET", clientSecret)
	t.Setenv("SCAN_ALICE_PASSWORD", password)
	t.Setenv("SCAN_ADMIN_TOKEN", adminToken)

	backend := backendNamed(t, "echo")
	dir := t.TempDir()
	idAddr := freeAddr(t)
	idURL := "https://" + idAddr
	// The local CA is made before the start so that the gateway's trust list can name it; the
	// identity service finds and reuses it.
	if _, _, err := identity.LocalTLS(filepath.Join(dir, "data"), []string{idAddr}); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "data", "tls", "ca.pem")
	writeFiles(t, dir, map[string]string{
		"policies/global.xml":  forwardPolicy,
		"policies/article.xml": articlePolicy,
		"portcullis.yaml": fmt.Sprintf(`data: ./data
gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  named-values:
    tenant-id: %[1]s
    backend-app-client-id: %[2]s
  trust: [data/tls/ca.pem]
  authority-aliases:
    https://login.microsoftonline.com: %[3]s
  apis:
    - name: echo-api
      path: echo
      backend: %[4]s
      policy: policies/article.xml
identity:
  listen: %[5]s
  public-url: %[3]s
  token-lifetime: 1h
  tenants:
    - id: %[1]s
      domain: contoso.example
      applications:
        - name: backend-app
          app-id: %[2]s
          identifier-uris: [api://%[2]s]
          access-token-version: 2
          scopes:
            - value: Files.Read
              admin-consent-display-name: Read files
          app-roles:
            - value: Files.Read.All
              allowed-member-types: [Application, User]
        - name: client-app
          app-id: %[6]s
          secrets:
            - value: ${SCAN_CLIENT_SECRET}
          api-permissions:
            - api: backend-app
              roles: [Files.Read.All]
              admin-consent: true
        - name: public-app
          app-id: %[7]s
          public-client: true
          redirect-uris: [http://localhost]
          api-permissions:
            - api: backend-app
              scopes: [Files.Read]
              admin-consent: true
      users:
        - username: %[8]s
          display-name: Alice
          password: ${SCAN_ALICE_PASSWORD}
admin:
  listen: 127.0.0.1:0
  token: ${SCAN_ADMIN_TOKEN}
`, scanTenant, scanBackend, idURL, backend.URL, idAddr, scanClient, scanPublic, scanUser),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	waitReady(t, in.admin)

	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	s := &scanRun{identity: idURL, authority: idURL + "/" + scanTenant, gateway: in.gateway, admin: in.admin,
		adminToken: adminToken, secrets: map[string]string{},
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	s.remember(t, "client secret", clientSecret)
	s.remember(t, "user password", password)
	s.remember(t, "admin token", adminToken)
	scope := "api://" + scanBackend

	t.Run("client credentials", func(t *testing.T) {
		status, out := s.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {scanClient},
			"client_secret": {clientSecret}, "scope": {scope + "/.default"}})
		if status != 200 {
			t.Fatalf("%d %v", status, out)
		}
		s.rememberTokens(t, "client credentials", out)
		if got := s.gatewayCall(t, out["access_token"].(string)); got != 200 {
			t.Errorf("gateway with a valid token: %d", got)
		}
		tok := out["access_token"].(string)
		forged := tok[:strings.LastIndexByte(tok, '.')+1] + "AAAA" + tok[strings.LastIndexByte(tok, '.')+5:]
		s.remember(t, "forged access token", forged)
		if got := s.gatewayCall(t, forged); got != 401 {
			t.Errorf("gateway with a forged token: %d", got)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		wrong := credential("cs~")
		s.remember(t, "wrong client secret", wrong)
		status, out := s.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {scanClient},
			"client_secret": {wrong}, "scope": {scope + "/.default"}})
		if status != 401 || !strings.HasPrefix(fmt.Sprint(out["error_description"]), "AADSTS7000215") {
			t.Fatalf("%d %v", status, out)
		}
	})

	// A redirect target for the sign-in: it records the authorization code.
	var callback struct {
		sync.Mutex
		query url.Values
	}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		callback.Lock()
		callback.query = r.URL.Query()
		callback.Unlock()
		_, _ = io.WriteString(w, "signed in")
	}))
	t.Cleanup(cb.Close)
	redirect := "http://localhost:" + cb.URL[strings.LastIndexByte(cb.URL, ':')+1:]
	verifier := credential("v")
	sum := sha256.Sum256([]byte(verifier))
	authorize := s.authority + "/oauth2/v2.0/authorize?" + url.Values{
		"client_id": {scanPublic}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"openid profile offline_access " + scope + "/Files.Read"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	var refresh, code string

	t.Run("wrong password", func(t *testing.T) {
		wrong := credential("pw-")
		s.remember(t, "wrong password", wrong)
		_, page := s.fillForm(t, s.browser(), authorize, url.Values{"login": {scanUser}, "passwd": {wrong}})
		if !strings.Contains(page, "AADSTS50126") && !strings.Contains(strings.ToLower(page), "password") {
			t.Fatalf("the sign-in page after a wrong password: %s", page)
		}
		if strings.Contains(page, wrong) {
			t.Errorf("the page repeats the wrong password")
		}
	})
	t.Run("sign-in through the form, code and PKCE", func(t *testing.T) {
		resp, page := s.fillForm(t, s.browser(), authorize, url.Values{"login": {scanUser}, "passwd": {password}})
		callback.Lock()
		q := callback.query
		callback.Unlock()
		if resp.StatusCode != 200 || q.Get("code") == "" || q.Get("state") != "st-1" {
			t.Fatalf("no code at the callback (%d): %v %s", resp.StatusCode, q, page)
		}
		code = q.Get("code")
		s.remember(t, "authorization code", code)
		s.remember(t, "PKCE verifier", verifier)
		status, out := s.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {scanPublic}, "code": {code},
			"redirect_uri": {redirect}, "code_verifier": {verifier}})
		if status != 200 {
			t.Fatalf("%d %v", status, out)
		}
		s.rememberTokens(t, "sign-in", out)
		refresh, _ = out["refresh_token"].(string)
		if got := s.gatewayCall(t, out["access_token"].(string)); got != 200 {
			t.Errorf("gateway with the user's token: %d", got)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		if refresh == "" {
			t.Skip("no refresh token from the sign-in")
		}
		status, out := s.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {scanPublic}, "refresh_token": {refresh},
			"scope": {"openid offline_access " + scope + "/Files.Read"}})
		if status != 200 {
			t.Fatalf("%d %v", status, out)
		}
		s.rememberTokens(t, "refresh", out)
		// The old refresh token again: reuse, which revokes the family (and is logged).
		if status, out := s.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {scanPublic}, "refresh_token": {refresh}}); status != 400 {
			t.Errorf("a reused refresh token: %d %v", status, out)
		}
		// The code a second time: refused (and logged as a replay).
		if status, out := s.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {scanPublic}, "code": {code},
			"redirect_uri": {redirect}, "code_verifier": {verifier}}); status != 400 {
			t.Errorf("a replayed code: %d %v", status, out)
		}
	})
	t.Run("device code", func(t *testing.T) {
		resp, err := s.client.PostForm(s.authority+"/oauth2/v2.0/devicecode", url.Values{"client_id": {scanPublic},
			"scope": {"openid offline_access " + scope + "/Files.Read"}})
		if err != nil {
			t.Fatal(err)
		}
		var dc map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&dc)
		resp.Body.Close()
		userCode, _ := dc["user_code"].(string)
		deviceCode, _ := dc["device_code"].(string)
		if userCode == "" || deviceCode == "" {
			t.Fatalf("device code answer %d: %v", resp.StatusCode, dc)
		}
		s.remember(t, "device code", deviceCode)
		_, page := s.fillForm(t, s.browser(), s.identity+"/devicelogin", url.Values{"otc": {userCode}, "login": {scanUser}, "passwd": {password}})
		if !strings.Contains(page, "signed in") {
			t.Fatalf("device sign-in page: %s", page)
		}
		status, out := s.token(t, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {scanPublic}, "device_code": {deviceCode}})
		if status != 200 {
			t.Fatalf("%d %v", status, out)
		}
		s.rememberTokens(t, "device code", out)
	})
	t.Run("management API creates a secret", func(t *testing.T) {
		call := func(method, path, token, body string) (int, map[string]any) {
			req, _ := http.NewRequest(method, s.admin+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Portcullis-Tenant", scanTenant)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&out)
			return resp.StatusCode, out
		}
		wrongAdmin := credential("adm-")
		s.remember(t, "wrong admin token", wrongAdmin)
		if status, _ := call("GET", "/v1.0/applications", wrongAdmin, ""); status != 401 {
			t.Errorf("management API with a wrong token: %d", status)
		}
		status, app := call("POST", "/v1.0/applications", adminToken, `{"displayName":"scan-app"}`)
		if status != 201 {
			t.Fatalf("create application: %d %v", status, app)
		}
		status, cred := call("POST", fmt.Sprintf("/v1.0/applications/%s/addPassword", app["id"]), adminToken, `{"passwordCredential":{"displayName":"ci"}}`)
		secret, _ := cred["secretText"].(string)
		if status != 200 || secret == "" {
			t.Fatalf("addPassword: %d %v", status, cred)
		}
		s.remember(t, "generated client secret", secret)
		status, out := s.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {fmt.Sprint(app["appId"])},
			"client_secret": {secret}, "scope": {scope + "/.default"}})
		if status != 200 && status != 400 {
			t.Fatalf("the new secret: %d %v", status, out)
		}
		s.rememberTokens(t, "new secret", out)
	})

	// The access log is written every 100 ms; stopping the service flushes everything.
	if code := in.stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}
	logs := in.stdout.String() + in.stderr.String()
	if !strings.Contains(logs, `"log":"access"`) || !strings.Contains(logs, "identity listening") {
		t.Fatalf("the run logged too little to be scanned:\n%s", logs)
	}
	if len(s.secrets) < 15 {
		t.Errorf("only %d credentials seen: a flow did not run", len(s.secrets))
	}
	for value, what := range s.secrets {
		if strings.Contains(logs, value) {
			t.Errorf("the logs hold the %s", what)
			continue
		}
		// A part of a token is a leak too: its signature, or a long piece of a secret.
		if parts := strings.Split(value, "."); len(parts) >= 3 {
			for _, p := range parts[1:] {
				if len(p) >= 16 && strings.Contains(logs, p) {
					t.Errorf("the logs hold a segment of the %s", what)
				}
			}
		} else if len(value) >= 24 && (strings.Contains(logs, value[:16]) || strings.Contains(logs, value[len(value)-16:])) {
			t.Errorf("the logs hold a part of the %s", what)
		}
	}
	if m := jwtShaped.FindAllString(logs, -1); len(m) > 0 {
		t.Errorf("the logs hold %d JWT-shaped strings, e.g. %.40s…", len(m), m[0])
	}
}
