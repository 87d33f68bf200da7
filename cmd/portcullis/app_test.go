package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"portcullis/internal/admin"
	"portcullis/internal/config"
	"portcullis/internal/directory"
	"portcullis/internal/graph"
	"portcullis/internal/store/sqlite"
)

const (
	appTestTenant = "3f5b1c2e-0000-4000-8000-0000000000a1"
	appTestToken  = "admin-token-for-the-app-tests"
)

// appInstance is a running management API (the real admin handler with its token check, the
// Graph handler, a SQLite store) for the app commands to talk to.
type appInstance struct {
	t     *testing.T
	store directory.Store
	url   string
}

func newAppInstance(t *testing.T, tenants ...config.Tenant) *appInstance {
	t.Helper()
	for _, k := range []string{"PORTCULLIS_ADMIN_URL", "PORTCULLIS_ADMIN_TOKEN", "PORTCULLIS_TENANT_ID"} {
		t.Setenv(k, "")
	}
	s, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if len(tenants) == 0 {
		tenants = []config.Tenant{{ID: appTestTenant, Domain: "contoso.example"}}
	}
	if err := directory.Seed(context.Background(), s, &config.Identity{Tenants: tenants}, ""); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.NewHandler(admin.Options{Token: appTestToken, Management: graph.New(s, graph.Options{})}))
	t.Cleanup(srv.Close)
	return &appInstance{t: t, store: s, url: srv.URL}
}

// app runs `portcullis app ARGS --admin … --admin-token … --tenant …` through Main.
func (in *appInstance) app(args ...string) (code int, stdout, stderr string) {
	in.t.Helper()
	full := append([]string{"app"}, args...)
	full = append(full, "--admin", in.url, "--admin-token", appTestToken, "--tenant", appTestTenant)
	var out, errb bytes.Buffer
	code = Main(full, &out, &errb)
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and returns its standard output.
func (in *appInstance) ok(args ...string) string {
	in.t.Helper()
	code, out, errs := in.app(args...)
	if code != 0 {
		in.t.Fatalf("portcullis app %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// hasField reports whether out has a "label:   value" line (tab-aligned).
func hasField(out, label, value string) bool {
	return regexp.MustCompile(regexp.QuoteMeta(label) + `:\s+` + regexp.QuoteMeta(value)).MatchString(out)
}

var clientIDLine = regexp.MustCompile(`Application \(client\) ID:\s+([0-9a-f-]{36})`)

func writeAppCert(t *testing.T) (path string, der []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "client-app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "client-app.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, der
}

// TestAppArticleSteps performs the article's portal steps with the app commands and checks
// what the directory holds after each.
func TestAppArticleSteps(t *testing.T) {
	in := newAppInstance(t)
	ctx := context.Background()

	out := in.ok("create", "backend-app")
	m := clientIDLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create does not print the client ID:\n%s", out)
	}
	backendID := m[1]
	if !hasField(out, "Directory (tenant) ID", appTestTenant) {
		t.Fatalf("create does not print the tenant ID:\n%s", out)
	}
	if _, err := in.store.ServicePrincipalByAppID(ctx, appTestTenant, backendID); err != nil {
		t.Fatalf("create made no service principal: %v", err)
	}

	out = in.ok("set-uri", "backend-app")
	if !strings.Contains(out, "api://"+backendID) {
		t.Fatalf("set-uri output:\n%s", out)
	}
	in.ok("add-scope", "backend-app", "Files.Read", "--admin-consent-display-name", "Read files",
		"--admin-consent-description", "Lets the app read files")
	in.ok("add-role", "backend-app", "Files.Read.All", "--member-types", "Application,User")
	in.ok("set-token-version", backendID, "2")
	backend, err := in.store.ApplicationByIdentifierURI(ctx, appTestTenant, "api://"+backendID)
	if err != nil {
		t.Fatal(err)
	}
	scope, ok := backend.ScopeByValue("Files.Read")
	if !ok || !scope.Enabled || scope.AdminConsentDisplayName != "Read files" || scope.Type != "Admin" {
		t.Fatalf("scope: %+v", backend.Scopes)
	}
	role, ok := backend.AppRoleByValue("Files.Read.All")
	if !ok || strings.Join(role.AllowedMemberTypes, ",") != "Application,User" {
		t.Fatalf("role: %+v", backend.AppRoles)
	}
	if backend.AccessTokenVersion != 2 {
		t.Fatalf("token version %d", backend.AccessTokenVersion)
	}

	out = in.ok("create", "client-app")
	clientID := clientIDLine.FindStringSubmatch(out)[1]
	out = in.ok("add-secret", "client-app", "--name", "ci")
	secret := regexp.MustCompile(`Value:\s+(\S+)`).FindStringSubmatch(out)
	if secret == nil || !strings.Contains(out, "not shown again") {
		t.Fatalf("add-secret output:\n%s", out)
	}
	client, _ := in.store.ApplicationByAppID(ctx, appTestTenant, clientID)
	if len(client.Passwords) != 1 || !directory.VerifySecret(client.Passwords[0].Hash, secret[1]) || client.Passwords[0].DisplayName != "ci" {
		t.Fatal("the printed secret is not the stored one")
	}
	certPath, der := writeAppCert(t)
	out = in.ok("add-cert", clientID, certPath)
	thumb := sha1.Sum(der)
	if !strings.Contains(out, strings.ToUpper(fmt.Sprintf("%x", thumb[:]))) {
		t.Fatalf("add-cert does not print the thumbprint:\n%s", out)
	}

	out = in.ok("grant", "client-app", "--api", "api://"+backendID, "--scopes", "Files.Read", "--roles", "Files.Read.All", "--admin-consent")
	if !strings.Contains(out, "Files.Read (delegated), Files.Read.All (application)") || !strings.Contains(out, "api://"+backendID+"/.default") {
		t.Fatalf("grant output:\n%s", out)
	}
	clientSP, _ := in.store.ServicePrincipalByAppID(ctx, appTestTenant, clientID)
	backendSP, _ := in.store.ServicePrincipalByAppID(ctx, appTestTenant, backendID)
	grants, _ := in.store.PermissionGrants(ctx, appTestTenant, clientSP.ID, backendSP.ID)
	assigned, _ := in.store.AppRoleAssignments(ctx, appTestTenant, clientSP.ID, backendSP.ID)
	if len(grants) != 1 || grants[0].Scope != "Files.Read" || grants[0].ConsentType != "AllPrincipals" {
		t.Fatalf("admin consent grant: %+v", grants)
	}
	if len(assigned) != 1 || assigned[0].AppRoleID != role.ID {
		t.Fatalf("application permission: %+v", assigned)
	}
	// Granting again changes nothing.
	in.ok("grant", "client-app", "--api", "backend-app", "--scopes", "Files.Read", "--roles", "Files.Read.All", "--admin-consent")
	grants, _ = in.store.PermissionGrants(ctx, appTestTenant, "", "")
	assigned, _ = in.store.AppRoleAssignments(ctx, appTestTenant, "", "")
	client, _ = in.store.ApplicationByAppID(ctx, appTestTenant, clientID)
	if len(grants) != 1 || len(assigned) != 1 || len(client.RequiredResourceAccess) != 1 || len(client.RequiredResourceAccess[0].Access) != 2 {
		t.Fatalf("a repeated grant duplicated something: %d grants, %d assignments, %+v", len(grants), len(assigned), client.RequiredResourceAccess)
	}

	out = in.ok("list")
	for _, want := range []string{"backend-app", "client-app", backendID, clientID, "api://" + backendID} {
		if !strings.Contains(out, want) {
			t.Fatalf("list lacks %s:\n%s", want, out)
		}
	}
	out = in.ok("show", "client-app")
	if !hasField(out, "Application (client) ID", clientID) {
		t.Fatalf("show lacks the client ID:\n%s", out)
	}
	for _, want := range []string{"backend-app: Files.Read (delegated), Files.Read.All (application)",
		"Client secrets:", secret[1][:3] + "…", "Certificates:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret[1]) {
		t.Fatal("show prints the secret")
	}
	out = in.ok("show", "backend-app", "-o", "json")
	var app map[string]any
	if err := json.Unmarshal([]byte(out), &app); err != nil || app["appId"] != backendID {
		t.Fatalf("show -o json: %v\n%s", err, out)
	}

	// Authentication and credential clean-up.
	in.ok("add-redirect", "client-app", "https://app.example/callback")
	in.ok("add-redirect", "client-app", "http://localhost", "--platform", "public")
	in.ok("public-flows", "client-app", "on")
	client, _ = in.store.ApplicationByAppID(ctx, appTestTenant, clientID)
	if strings.Join(client.RedirectURIs, " ") != "https://app.example/callback" || strings.Join(client.PublicRedirectURIs, " ") != "http://localhost" || !client.PublicClient {
		t.Fatalf("redirect URIs and public flows: web %v public %v fallback %v", client.RedirectURIs, client.PublicRedirectURIs, client.PublicClient)
	}
	in.ok("remove-secret", "client-app", client.Passwords[0].KeyID)
	in.ok("remove-cert", "client-app", strings.ToUpper(fmt.Sprintf("%x", thumb[:])))
	client, _ = in.store.ApplicationByAppID(ctx, appTestTenant, clientID)
	if len(client.Passwords)+len(client.Certificates) != 0 {
		t.Fatalf("credentials left after removal: %+v %+v", client.Passwords, client.Certificates)
	}

	in.ok("delete", "client-app")
	if _, err := in.store.ApplicationByAppID(ctx, appTestTenant, clientID); err == nil {
		t.Fatal("delete left the application")
	}
	if left, _ := in.store.PermissionGrants(ctx, appTestTenant, "", ""); len(left) != 0 {
		t.Fatal("delete left the client's consent")
	}
	if out := in.ok("list"); strings.Contains(out, "client-app") {
		t.Fatalf("list after delete:\n%s", out)
	}
}

func TestAppJSONOutput(t *testing.T) {
	in := newAppInstance(t)
	out := in.ok("create", "api", "-o", "json")
	var created struct {
		AppID string `json:"appId"`
		ID    string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.AppID == "" {
		t.Fatalf("create -o json: %v\n%s", err, out)
	}
	out = in.ok("add-secret", "api", "-o", "json")
	var cred struct {
		SecretText string `json:"secretText"`
		KeyID      string `json:"keyId"`
	}
	if err := json.Unmarshal([]byte(out), &cred); err != nil || len(cred.SecretText) < 40 {
		t.Fatalf("add-secret -o json: %v\n%s", err, out)
	}
	out = in.ok("list", "--output", "json")
	var list struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Value) != 1 {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}
	out = in.ok("delete", created.ID, "-o", "json")
	if !strings.Contains(out, `"deleted": true`) {
		t.Fatalf("delete -o json:\n%s", out)
	}
}

func TestAppErrors(t *testing.T) {
	in := newAppInstance(t)
	in.ok("create", "backend-app")
	in.ok("add-role", "backend-app", "Admin", "--member-types", "User")
	in.ok("create", "client-app")
	certPath, _ := writeAppCert(t)
	keyOnly := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(keyOnly, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	_ = certPath

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown application", []string{"show", "nowhere"}, 1, "no application \"nowhere\""},
		{"duplicate name", []string{"create", "backend-app"}, 1, "already registered"},
		{"bad audience", []string{"create", "x", "--audience", "Everyone"}, 2, "--audience"},
		{"scope without consent texts", []string{"add-scope", "backend-app", "Files.Read"}, 2, "--admin-consent-display-name"},
		{"scope with a space", []string{"add-scope", "backend-app", "Files Read", "--admin-consent-display-name", "a", "--admin-consent-description", "b"}, 1, "space"},
		{"bad member types", []string{"add-role", "backend-app", "R", "--member-types", "Groups"}, 2, "--member-types"},
		{"token version 3", []string{"set-token-version", "backend-app", "3"}, 2, "1 (v1.0 tokens) or 2"},
		{"grant without api", []string{"grant", "client-app", "--scopes", "x"}, 2, "--api"},
		{"grant nothing", []string{"grant", "client-app", "--api", "backend-app"}, 2, "--scopes"},
		{"grant an unknown scope", []string{"grant", "client-app", "--api", "backend-app", "--scopes", "Files.Reed"}, 1, "add-scope backend-app Files.Reed"},
		{"grant a user-only role", []string{"grant", "client-app", "--api", "backend-app", "--roles", "Admin", "--admin-consent"}, 1, "users only"},
		{"certificate file without a certificate", []string{"add-cert", "client-app", keyOnly}, 1, "no PEM CERTIFICATE block"},
		{"missing certificate file", []string{"add-cert", "client-app", "/nonexistent/cert.pem"}, 1, "cannot read the certificate"},
		{"bad identifier URI", []string{"set-uri", "backend-app", "ftp://x"}, 1, "scheme"},
		{"no sub-command", []string{}, 2, "name a sub-command"},
		{"too many arguments", []string{"show", "a", "b"}, 2, "accepts 1 arg"},
		{"bad output", []string{"list", "-o", "yaml"}, 2, "--output"},
		{"bad platform", []string{"add-redirect", "client-app", "https://a.example/cb", "--platform", "ios"}, 2, "--platform"},
		{"http redirect off loopback", []string{"add-redirect", "client-app", "http://a.example/cb"}, 1, "localhost"},
		{"public flows maybe", []string{"public-flows", "client-app", "maybe"}, 2, "on or off"},
		{"unknown secret", []string{"remove-secret", "client-app", "00000000-0000-4000-8000-000000000000"}, 1, "No password credential"},
		{"unknown certificate", []string{"remove-cert", "client-app", "AB12"}, 1, "no certificate AB12"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := in.app(tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, want %d; stderr %q should contain %q", code, tc.code, errs, tc.want)
			}
			if code == 1 && !strings.Contains(errs, "Fix:") && !strings.Contains(errs, "answered") {
				t.Fatalf("the error gives no fix: %s", errs)
			}
		})
	}
	if apps, _ := in.store.Applications(context.Background(), appTestTenant); len(apps) != 2 {
		t.Fatalf("failed commands changed the directory: %d applications", len(apps))
	}
}

func TestAppConnectionErrors(t *testing.T) {
	in := newAppInstance(t)
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"app"}, args...), &out, &errb)
		return code, errb.String()
	}
	down := httptest.NewServer(nil)
	downURL := down.URL
	down.Close()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no admin URL", nil, []string{"list", "--admin-token", "x"}, 2, "PORTCULLIS_ADMIN_URL"},
		{"no token", nil, []string{"list", "--admin", in.url}, 2, "PORTCULLIS_ADMIN_TOKEN"},
		{"not a URL", nil, []string{"list", "--admin", "127.0.0.1:9090", "--admin-token", "x"}, 2, "not an http(s) URL"},
		{"wrong token", nil, []string{"list", "--admin", in.url, "--admin-token", "wrong"}, 1, "refused the admin token"},
		{"nothing listening", nil, []string{"list", "--admin", downURL, "--admin-token", "x"}, 1, "cannot reach the management API"},
		{"unknown tenant", nil, []string{"list", "--admin", in.url, "--admin-token", appTestToken, "--tenant", "nowhere.example"}, 1, "nowhere.example"},
		{"environment variables", map[string]string{"PORTCULLIS_ADMIN_URL": in.url, "PORTCULLIS_ADMIN_TOKEN": appTestToken, "PORTCULLIS_TENANT_ID": "contoso.example"},
			[]string{"list"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, errs := run(tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, want %d; stderr %q should contain %q", code, tc.code, errs, tc.want)
			}
			if strings.Contains(errs, appTestToken) || strings.Contains(errs, "wrong") && tc.name == "wrong token" {
				t.Fatalf("the error shows the token: %s", errs)
			}
		})
	}
}

func TestAppSeveralTenants(t *testing.T) {
	in := newAppInstance(t, config.Tenant{ID: appTestTenant, Domain: "contoso.example"},
		config.Tenant{ID: "3f5b1c2e-0000-4000-8000-0000000000a2", Domain: "fabrikam.example"})
	var out, errb bytes.Buffer
	code := Main([]string{"app", "list", "--admin", in.url, "--admin-token", appTestToken}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "--tenant") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// The tenant by domain works as well as by GUID.
	out.Reset()
	if code := Main([]string{"app", "create", "x", "--admin", in.url, "--admin-token", appTestToken, "--tenant", "fabrikam.example"}, &out, &errb); code != 0 {
		t.Fatalf("create in fabrikam: %s", errb.String())
	}
	if apps, _ := in.store.Applications(context.Background(), "3f5b1c2e-0000-4000-8000-0000000000a2"); len(apps) != 1 {
		t.Fatal("the application did not land in the tenant named by domain")
	}
}
