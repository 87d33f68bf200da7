package main

// End-to-end tests of the token commands against the real identity service
// (internal/identity over the embedded SQLite store and its local CA), driving its sign-in
// pages as a browser would.

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
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
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"portcullis/internal/directory"
	"portcullis/internal/identity"
	"portcullis/internal/jose"
	"portcullis/internal/store/sqlite"
)

const (
	e2eTenant     = "3f5b1c2e-0000-4000-8000-0000000000e2"
	e2eBackend    = "6c1f0d2a-0000-4000-8000-0000000000e2"
	e2eBackendSP  = "6c1f0d2a-0000-4000-8000-0000000005e2"
	e2eBackendURI = "api://" + e2eBackend
	e2eClient     = "0b7e9d4c-0000-4000-8000-0000000000e2"
	e2eClientSP   = "0b7e9d4c-0000-4000-8000-0000000005e2"
	e2ePublic     = "0b7e9d4c-0000-4000-8000-0000000000f2"
	e2ePublicSP   = "0b7e9d4c-0000-4000-8000-0000000005f2"
	e2eUserID     = "9a000000-0000-4000-8000-0000000000e2"
	e2eUser       = "alice@contoso.example"
	e2ePassword   = "correct horse battery staple"
	e2eRole       = "Files.Read.All"
	e2eRoleID     = "7a000000-0000-4000-8000-0000000000e3"
	e2eOther      = "6c1f0d2a-0000-4000-8000-0000000000e5"
	e2eOtherSP    = "6c1f0d2a-0000-4000-8000-0000000005e5"
)

type identityService struct {
	url, authority, caFile string
	secret                 string
	certFile, keyFile      string
	browser                *http.Client // trusts the local CA, keeps cookies, follows redirects
}

func startIdentity(t *testing.T) *identityService {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	certFile, keyFile, cert := writeClientCert(t)
	s := &identityService{certFile: certFile, keyFile: keyFile}
	b := make([]byte, 32)
	rand.Read(b)
	s.secret = "e2e~" + base64.RawURLEncoding.EncodeToString(b)
	seedIdentity(t, st, s.secret, cert)

	ts := httptest.NewUnstartedServer(nil)
	s.url = "https://" + ts.Listener.Addr().String()
	tlsCfg, caPath, err := identity.LocalTLS(dir, []string{s.url})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := identity.New(identity.Options{Store: st, PublicURL: s.url, DevicePollInterval: time.Second, TokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.TLS = tlsCfg
	ts.StartTLS()
	t.Cleanup(ts.Close)
	s.caFile, s.authority = caPath, s.url+"/"+e2eTenant

	pemBytes, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	jar, _ := cookiejar.New(nil)
	s.browser = &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return s
}

func seedIdentity(t *testing.T, st *sqlite.Store, secret string, cert *x509.Certificate) {
	ctx := context.Background()
	now := time.Now()
	sum := sha256.Sum256([]byte(secret))
	thumb := sha1.Sum(cert.Raw)
	salt := []byte("0123456789abcdef")
	pw := argon2.IDKey([]byte(e2ePassword), salt, 1, 8*1024, 1, 32)
	pwHash := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", 8*1024, 1, 1, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(pw))
	err := st.Update(ctx, func(tx directory.Writer) error {
		for _, err := range []error{
			tx.PutTenant(ctx, &directory.Tenant{ID: e2eTenant, DisplayName: "Contoso", Domains: []string{"contoso.example"}, CreatedAt: now}),
			tx.PutApplication(ctx, &directory.Application{
				ID: "a0000000-0000-4000-8000-0000000000e2", TenantID: e2eTenant, AppID: e2eBackend, DisplayName: "backend-app",
				SignInAudience: "AzureADMyOrg", IdentifierURIs: []string{e2eBackendURI}, AccessTokenVersion: 2,
				Scopes:   []directory.Scope{{ID: "7a000000-0000-4000-8000-0000000000e1", Value: "Files.Read", Type: "Admin", AdminConsentDisplayName: "Read files", Enabled: true}},
				AppRoles: []directory.AppRole{{ID: e2eRoleID, Value: e2eRole, DisplayName: "Read all files", AllowedMemberTypes: []string{"Application", "User"}, Enabled: true}},
			}),
			tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{ID: e2eBackendSP, TenantID: e2eTenant, AppID: e2eBackend, DisplayName: "backend-app", AccountEnabled: true}),
			tx.PutApplication(ctx, &directory.Application{
				ID: "a0000000-0000-4000-8000-0000000000e3", TenantID: e2eTenant, AppID: e2eClient, DisplayName: "client-app",
				Passwords:    []directory.PasswordCredential{{KeyID: "c0000000-0000-4000-8000-0000000000e1", Hash: "sha256:" + base64.StdEncoding.EncodeToString(sum[:]), Hint: secret[:3], Start: now.Add(-time.Hour), End: now.AddDate(1, 0, 0)}},
				Certificates: []directory.KeyCredential{{KeyID: "c0000000-0000-4000-8000-0000000000e2", DER: cert.Raw, Thumbprint: base64.StdEncoding.EncodeToString(thumb[:]), Start: cert.NotBefore, End: cert.NotAfter}},
			}),
			tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{ID: e2eClientSP, TenantID: e2eTenant, AppID: e2eClient, DisplayName: "client-app", AccountEnabled: true}),
			tx.PutApplication(ctx, &directory.Application{
				ID: "a0000000-0000-4000-8000-0000000000e4", TenantID: e2eTenant, AppID: e2ePublic, DisplayName: "public-app",
				PublicClient: true, PublicRedirectURIs: []string{"http://localhost"},
			}),
			tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{ID: e2ePublicSP, TenantID: e2eTenant, AppID: e2ePublic, DisplayName: "public-app", AccountEnabled: true}),
			tx.PutPermissionGrant(ctx, &directory.PermissionGrant{ID: "f0000000-0000-4000-8000-0000000000e1", TenantID: e2eTenant, ClientID: e2eClientSP, ConsentType: "AllPrincipals", ResourceID: e2eBackendSP, Scope: "Files.Read"}),
			tx.PutPermissionGrant(ctx, &directory.PermissionGrant{ID: "f0000000-0000-4000-8000-0000000000e2", TenantID: e2eTenant, ClientID: e2ePublicSP, ConsentType: "AllPrincipals", ResourceID: e2eBackendSP, Scope: "Files.Read"}),
			tx.PutAppRoleAssignment(ctx, &directory.AppRoleAssignment{ID: "d0000000-0000-4000-8000-0000000000e1", TenantID: e2eTenant, PrincipalID: e2eClientSP, PrincipalType: "ServicePrincipal", ResourceID: e2eBackendSP, AppRoleID: e2eRoleID, CreatedAt: now}),
			tx.PutApplication(ctx, &directory.Application{
				ID: "a0000000-0000-4000-8000-0000000000e5", TenantID: e2eTenant, AppID: e2eOther, DisplayName: "other-api",
				IdentifierURIs: []string{"api://" + e2eOther}, AccessTokenVersion: 2,
				AppRoles: []directory.AppRole{{ID: "7a000000-0000-4000-8000-0000000000e5", Value: "Other.Read", AllowedMemberTypes: []string{"Application"}, Enabled: true}},
			}),
			tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{ID: e2eOtherSP, TenantID: e2eTenant, AppID: e2eOther, DisplayName: "other-api", AccountEnabled: true}),
			tx.PutAppRoleAssignment(ctx, &directory.AppRoleAssignment{ID: "d0000000-0000-4000-8000-0000000000e5", TenantID: e2eTenant, PrincipalID: e2eClientSP, PrincipalType: "ServicePrincipal", ResourceID: e2eOtherSP, AppRoleID: "7a000000-0000-4000-8000-0000000000e5", CreatedAt: now}),
			tx.PutUser(ctx, &directory.User{ID: e2eUserID, TenantID: e2eTenant, UserPrincipalName: e2eUser, DisplayName: "Alice", PasswordHash: pwHash, AccountEnabled: true, CreatedAt: now}),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// verifiedClaims checks the token's signature with the service's published keys.
func (s *identityService) verifiedClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	j, err := jose.ParseCompact(strings.TrimSpace(token))
	if err != nil {
		t.Fatalf("token does not parse: %v", err)
	}
	resp, err := s.browser.Get(s.authority + "/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	keys, _, err := jose.ParseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if keys[i].ID == j.Header.Kid && j.Verify(&keys[i]) == nil {
			var m map[string]any
			if err := json.Unmarshal(j.Payload, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("token (kid %q) does not verify with the service's keys", j.Header.Kid)
	return nil
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)

// submitForm fills the page's form (hidden fields plus fields) and posts it, following
// redirects (to the loopback callback for a sign-in).
func (s *identityService) submitForm(t *testing.T, pageURL string, fields url.Values) string {
	t.Helper()
	resp, err := s.browser.Get(pageURL)
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
	resp, err = s.browser.PostForm(target.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(out)
}

func TestTokenAgainstIdentityService(t *testing.T) {
	s := startIdentity(t)
	base := []string{"token", "get", "--authority", s.authority, "--ca-file", s.caFile, "--client-id", e2eClient}
	scope := e2eBackendURI + "/.default"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantAcr  string
		wantErr  string
	}{
		{name: "secret", args: append(base, "--client-secret", s.secret, "--scope", scope), wantAcr: "1"},
		{name: "secret with HTTP Basic", args: append(base, "--client-secret", s.secret, "--basic", "--scope", scope), wantAcr: "1"},
		{name: "certificate", args: append(base, "--certificate", s.certFile, "--key", s.keyFile, "--scope", scope), wantAcr: "2"},
		{name: "v1 endpoint with resource", args: append(base, "--client-secret", s.secret, "--resource", e2eBackendURI), wantAcr: "1"},
		{name: "wrong secret", args: append(base, "--client-secret", "wrong", "--scope", scope), wantCode: 1,
			wantErr: "portcullis: AADSTS7000215: Invalid client secret provided. Fix: check the client secret"},
		{name: "scope without .default", args: append(base, "--client-secret", s.secret, "--scope", e2eBackendURI+"/Files.Read"), wantCode: 1,
			wantErr: "AADSTS1002012"},
		{name: "unknown API", args: append(base, "--client-secret", s.secret, "--scope", "api://nothing/.default"), wantCode: 1,
			wantErr: "AADSTS500011"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearTokenEnv(t)
			code, out, errOut := runMain(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.wantCode, errOut)
			}
			if strings.Contains(errOut, s.secret) {
				t.Errorf("stderr reveals the secret")
			}
			if tc.wantErr != "" {
				if !strings.Contains(errOut, tc.wantErr) || strings.Contains(errOut, "Trace ID") {
					t.Errorf("stderr %q\nwant one sentence containing %q", errOut, tc.wantErr)
				}
				return
			}
			c := s.verifiedClaims(t, out)
			roles, _ := c["roles"].([]any)
			if c["aud"] != e2eBackend || c["azp"] != e2eClient || c["azpacr"] != tc.wantAcr || len(roles) != 1 || roles[0] != e2eRole {
				t.Errorf("claims %v: want aud %s, azp %s, azpacr %s, roles [%s]", c, e2eBackend, e2eClient, tc.wantAcr, e2eRole)
			}
		})
	}
}

func TestTokenDeviceAgainstIdentityService(t *testing.T) {
	clearTokenEnv(t)
	s := startIdentity(t)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"token", "device", "--authority", s.authority, "--ca-file", s.caFile, "--client-id", e2ePublic,
			"--scope", e2eBackendURI + "/Files.Read", "--timeout", "30s"}, &out, &errOut)
	}()
	code := regexp.MustCompile(`enter the code (\S+) `)
	var userCode string
	for deadline := time.Now().Add(10 * time.Second); userCode == ""; time.Sleep(20 * time.Millisecond) {
		if m := code.FindStringSubmatch(errOut.String()); m != nil {
			userCode = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no user code printed; stderr: %s", errOut.String())
		}
	}
	if !strings.Contains(errOut.String(), s.url+"/devicelogin") {
		t.Errorf("verification URI not printed: %s", errOut.String())
	}
	page := s.submitForm(t, s.url+"/devicelogin", url.Values{"otc": {userCode}, "login": {e2eUser}, "passwd": {e2ePassword}})
	if !strings.Contains(page, "signed in") {
		t.Fatalf("device sign-in page: %s", page)
	}
	if c := <-done; c != 0 {
		t.Fatalf("exit %d: %s", c, errOut.String())
	}
	claims := s.verifiedClaims(t, out.String())
	if claims["scp"] != "Files.Read" || claims["oid"] != e2eUserID || claims["aud"] != e2eBackend {
		t.Errorf("claims %v: want a delegated Files.Read token for %s", claims, e2eUserID)
	}
}

func TestTokenLoginAgainstIdentityService(t *testing.T) {
	clearTokenEnv(t)
	s := startIdentity(t)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"token", "login", "--no-browser", "--authority", s.authority, "--ca-file", s.caFile, "--client-id", e2ePublic,
			"--scope", e2eBackendURI + "/Files.Read", "--timeout", "30s", "-o", "json"}, &out, &errOut)
	}()
	var authorizeURL string
	for deadline := time.Now().Add(10 * time.Second); authorizeURL == ""; time.Sleep(20 * time.Millisecond) {
		if m := urlLine.FindStringSubmatch(errOut.String()); m != nil {
			authorizeURL = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sign-in address printed; stderr: %s", errOut.String())
		}
	}
	page := s.submitForm(t, authorizeURL, url.Values{"login": {e2eUser}, "passwd": {e2ePassword}})
	if !strings.Contains(page, "You are signed in") {
		t.Fatalf("after the sign-in form the browser shows: %s", page)
	}
	if c := <-done; c != 0 {
		t.Fatalf("exit %d: %s", c, errOut.String())
	}
	var resp struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if err := json.Unmarshal([]byte(out.String()), &resp); err != nil {
		t.Fatalf("-o json printed %q: %v", out.String(), err)
	}
	claims := s.verifiedClaims(t, resp.AccessToken)
	if claims["scp"] != "Files.Read" || claims["oid"] != e2eUserID || resp.RefreshToken == "" || resp.IDToken == "" {
		t.Errorf("claims %v, refresh %t, id token %t: want a delegated token with refresh and ID tokens", claims, resp.RefreshToken != "", resp.IDToken != "")
	}
}

// TestTokenDecodeArticlePolicy checks tokens from the identity service against the article's
// policy (examples/policies/article.xml, unchanged: its openid-config names Entra, which the
// configuration's authority alias points at the identity service).
func TestTokenDecodeArticlePolicy(t *testing.T) {
	clearTokenEnv(t)
	s := startIdentity(t)
	article, err := filepath.Abs(filepath.Join("..", "..", "examples", "policies", "article.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(article); err != nil {
		t.Skipf("the article's policy is not in the repository: %v", err)
	}
	cfg := filepath.Join(t.TempDir(), "portcullis.yaml")
	yaml := fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  named-values:
    tenant-id: %s
    backend-app-client-id: %s
  trust: [%q]
  authority-aliases:
    https://login.microsoftonline.com: %s
  apis:
    - name: echo-api
      path: echo
      backend: http://127.0.0.1:9000
      policy: %q
`, e2eTenant, e2eBackend, s.caFile, s.url, article)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(scope string) string {
		code, out, errOut := runMain("token", "get", "--authority", s.authority, "--ca-file", s.caFile, "--client-id", e2eClient,
			"--client-secret", s.secret, "--scope", scope)
		if code != 0 {
			t.Fatalf("token get %s: exit %d: %s", scope, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	good := get(e2eBackendURI + "/.default")
	other := get("api://" + e2eOther + "/.default")
	later := time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{name: "token for backend-app passes", args: []string{good, "--api", "echo-api", "--config", cfg}, wantOut: []string{
			"PASS  signature", "PASS  lifetime", "PASS  issuer         iss \"" + s.url + "/" + e2eTenant + "/v2.0\" is accepted",
			"PASS  claim aud      aud is " + e2eBackend, "Result: the gateway lets the request through"}},
		{name: "token for another API fails the aud claim", args: []string{other, "--api", "echo-api", "--config", cfg}, wantCode: 1,
			wantOut: []string{"PASS  signature", "FAIL  claim aud      TokenClaimValueNotAllowed", e2eOther,
				`Result: the gateway answers 401 "Unauthorized. Access token is missing or invalid." (TokenClaimValueNotAllowed)`},
			wantErr: "portcullis: the gateway would refuse this token: 401 TokenClaimValueNotAllowed at " + article + ":6:9"},
		{name: "three hours later the token has expired", args: []string{good, "--api", "echo-api", "--config", cfg, "--at", later}, wantCode: 1,
			wantOut: []string{"Status: EXPIRED", "FAIL  lifetime       TokenExpired", "PASS  claim aud"}, wantErr: "401 TokenExpired"},
		{name: "--policy with the configuration's context", args: []string{good, "--policy", article, "--config", cfg}, wantOut: []string{
			"PASS  claim aud", "Result: the gateway lets the request through"}},
		{name: "--named-value overrides the configuration's", wantCode: 1,
			args:    []string{good, "--policy", article, "--config", cfg, "--named-value", "backend-app-client-id=" + e2eOther},
			wantOut: []string{"FAIL  claim aud      TokenClaimValueNotAllowed"}, wantErr: "401 TokenClaimValueNotAllowed"},
		{name: "unknown API", args: []string{good, "--api", "nope", "--config", cfg}, wantCode: 1, wantErr: `publishes no API named "nope" (it has: echo-api)`},
		{name: "--api without --config", args: []string{good, "--api", "echo-api"}, wantCode: 2, wantErr: "--api needs --config"},
		{name: "bad named value", args: []string{good, "--policy", article, "--named-value", "oops"}, wantCode: 2, wantErr: "use name=value"},
		{name: "undefined named value", args: []string{good, "--policy", article}, wantCode: 1, wantErr: article + ":"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMain(append([]string{"token", "decode"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			t.Log("\n" + out + errOut)
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if tc.wantErr != "" && !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q\nwant %q", errOut, tc.wantErr)
			}
		})
	}
}
