package identity

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"portcullis/internal/config"
	"portcullis/internal/directory"
	"portcullis/internal/store/sqlite"
)

// TestSeededArticleTenant seeds the article's tenant from configuration (the directory's
// Seed, as `serve` does) and takes tokens from it: the two halves agree on the data model.
func TestSeededArticleTenant(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const (
		backend = "6c1f0d2a-0000-4000-8000-0000000000b1"
		client  = "0b7e9d4c-0000-4000-8000-0000000000c1"
		public  = "0b7e9d4c-0000-4000-8000-0000000000d1"
		secret  = "seeded-secret-value-with-enough-entropy-0123456789"
	)
	yes := true
	id := &config.Identity{Tenants: []config.Tenant{{
		ID: tenantID, Domain: tenantDomain,
		Applications: []config.Application{
			{Name: "backend-app", AppID: backend, IdentifierURIs: []string{"api://" + backend}, AccessTokenVersion: 2,
				Scopes:   []config.Scope{{Value: "Files.Read", AdminConsentDisplayName: "Read files", Enabled: &yes}},
				AppRoles: []config.AppRole{{Value: "Files.Read.All", AllowedMemberTypes: []string{"Application", "User"}}}},
			{Name: "client-app", AppID: client, Secrets: []config.Secret{{Value: secret}}, RedirectURIs: []string{"http://localhost:5000/callback"},
				APIPermissions: []config.APIPermission{{API: "backend-app", Scopes: []string{"Files.Read"}, Roles: []string{"Files.Read.All"}, AdminConsent: true}}},
			{Name: "public-app", AppID: public, PublicClient: true, RedirectURIs: []string{"http://localhost"},
				APIPermissions: []config.APIPermission{{API: "backend-app", Scopes: []string{"Files.Read"}, AdminConsent: true}}},
		},
		Users: []config.User{{Username: userName, DisplayName: "Alice", Password: userPassword, Roles: map[string][]string{"backend-app": {"Files.Read.All"}}}},
	}}}
	if err := directory.Seed(context.Background(), st, id, dir); err != nil {
		t.Fatalf("seed: %v", err)
	}
	ts := httptest.NewUnstartedServer(nil)
	f := &fixture{t: t, store: st, clock: &testClock{t: time.Now()}, dataDir: dir, url: "https://" + ts.Listener.Addr().String()}
	tlsCfg, caPath, err := LocalTLS(dir, []string{f.url})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, PublicURL: f.url, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.EnsureKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler, ts.TLS = srv.Handler(), tlsCfg
	ts.StartTLS()
	defer ts.Close()
	f.server, f.ts, f.caPath = srv, ts, caPath
	f.client = f.httpClient()
	f.client.CheckRedirect = noRedirects

	status, doc, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {"api://" + backend + "/.default"}}, nil)
	if status != 200 {
		t.Fatalf("client credentials: %d %v", status, doc)
	}
	_, c := f.claimsOf(doc["access_token"].(string))
	if c["aud"] != backend || c["azp"] != client {
		t.Errorf("claims %v", c)
	}
	if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != "Files.Read.All" {
		t.Errorf("roles %v", c["roles"])
	}

	verifier, challenge := pkcePair()
	q := f.signInCode(url.Values{"client_id": {public}, "response_type": {"code"}, "redirect_uri": {"http://localhost:61000"},
		"scope": {"api://" + backend + "/Files.Read openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}})
	status, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"authorization_code"}, "client_id": {public}, "code": {q.Get("code")},
		"redirect_uri": {"http://localhost:61000"}, "code_verifier": {verifier}}, nil)
	if status != 200 {
		t.Fatalf("authorization code: %d %v", status, doc)
	}
	_, c = f.claimsOf(doc["access_token"].(string))
	if c["scp"] != "Files.Read" || c["name"] != "Alice" {
		t.Errorf("delegated claims %v", c)
	}
	if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != "Files.Read.All" {
		t.Errorf("user roles %v", c["roles"])
	}
}
