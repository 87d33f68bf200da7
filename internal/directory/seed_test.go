package directory_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"portcullis/internal/config"
	"portcullis/internal/directory"
	"portcullis/internal/store/sqlite"
)

const (
	seedTenant  = "3f5b1c2e-0000-4000-8000-000000000001"
	backendID   = "6c1f0d2a-0000-4000-8000-0000000000b1"
	clientID    = "0b7e9d4c-0000-4000-8000-0000000000c1"
	seedSecret  = "s3cr~et-value-for-the-client-app-0123456789"
	alicePasswd = "alice's password 42"
)

func openStore(t *testing.T) directory.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// writeCert writes a self-signed certificate (PEM, with its private key beside it, as people
// keep them) and returns its DER.
func writeCert(t *testing.T, path string, key any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "client-app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	var pub any
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return der
}

var rsaKey = func() func(t *testing.T) *rsa.PrivateKey {
	var k *rsa.PrivateKey
	return func(t *testing.T) *rsa.PrivateKey {
		if k == nil {
			var err error
			if k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				t.Fatal(err)
			}
		}
		return k
	}
}()

func yes() *bool { v := true; return &v }

// articleSeed is CONTRACT.md's example tenant.
func articleSeed() *config.Identity {
	return &config.Identity{Tenants: []config.Tenant{{
		ID: seedTenant, Domain: "contoso.example",
		Applications: []config.Application{
			{
				Name: "backend-app", AppID: backendID, IdentifierURIs: []string{"api://" + backendID}, AccessTokenVersion: 2,
				Scopes: []config.Scope{{Value: "Files.Read", AdminConsentDisplayName: "Read files",
					AdminConsentDescription: "Lets the app read files", Enabled: yes()}},
				AppRoles: []config.AppRole{{Value: "Files.Read.All", AllowedMemberTypes: []string{"Application", "User"}}},
			},
			{
				Name: "client-app", AppID: clientID,
				Secrets:      []config.Secret{{Value: seedSecret}},
				Certificates: []string{"certs/client-app.pem"},
				RedirectURIs: []string{"http://localhost:5000/callback"},
				APIPermissions: []config.APIPermission{{API: "backend-app", Scopes: []string{"Files.Read"},
					Roles: []string{"Files.Read.All"}, AdminConsent: true}},
			},
			{Name: "generated-app", PublicClient: true, RedirectURIs: []string{"http://localhost"}},
		},
		Users: []config.User{{Username: "alice@contoso.example", DisplayName: "Alice", Password: alicePasswd,
			Roles: map[string][]string{"backend-app": {"Files.Read.All"}}}},
	}}}
}

func TestSeedArticleTenant(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	der := writeCert(t, filepath.Join(dir, "certs", "client-app.pem"), rsaKey(t))
	s := openStore(t)
	if err := directory.Seed(ctx, s, articleSeed(), dir); err != nil {
		t.Fatal(err)
	}

	tenant, err := s.Tenant(ctx, "Contoso.Example")
	if err != nil || tenant.ID != seedTenant {
		t.Fatalf("tenant by domain: %+v %v", tenant, err)
	}
	backend, err := s.ApplicationByIdentifierURI(ctx, seedTenant, "api://"+backendID)
	if err != nil {
		t.Fatal(err)
	}
	if backend.AppID != backendID || backend.DisplayName != "backend-app" || backend.AccessTokenVersion != 2 ||
		backend.SignInAudience != "AzureADMyOrg" {
		t.Fatalf("backend-app: %+v", backend)
	}
	wantScope := directory.Scope{ID: directory.StableID(backendID, "scope", "Files.Read"), Value: "Files.Read", Type: "Admin",
		AdminConsentDisplayName: "Read files", AdminConsentDescription: "Lets the app read files", Enabled: true}
	if !reflect.DeepEqual(backend.Scopes, []directory.Scope{wantScope}) {
		t.Fatalf("scopes: %+v", backend.Scopes)
	}
	role := backend.AppRoles[0]
	if len(backend.AppRoles) != 1 || role.Value != "Files.Read.All" || role.ID != directory.StableID(backendID, "role", "Files.Read.All") ||
		!role.Enabled || !reflect.DeepEqual(role.AllowedMemberTypes, []string{"Application", "User"}) {
		t.Fatalf("app roles: %+v", backend.AppRoles)
	}

	client, err := s.ApplicationByAppID(ctx, seedTenant, clientID)
	if err != nil {
		t.Fatal(err)
	}
	if len(client.Passwords) != 1 || !directory.VerifySecret(client.Passwords[0].Hash, seedSecret) || client.Passwords[0].Hint != "s3c" {
		t.Fatalf("client secret: %+v", client.Passwords)
	}
	thumb := sha1.Sum(der)
	if len(client.Certificates) != 1 || client.Certificates[0].Thumbprint != base64.StdEncoding.EncodeToString(thumb[:]) ||
		!reflect.DeepEqual(client.Certificates[0].DER, der) {
		t.Fatalf("client certificate: %+v", client.Certificates)
	}
	if !reflect.DeepEqual(client.RedirectURIs, []string{"http://localhost:5000/callback"}) || client.PublicClient || len(client.PublicRedirectURIs) != 0 {
		t.Fatalf("confidential client's redirect URIs: web %v public %v", client.RedirectURIs, client.PublicRedirectURIs)
	}
	wantRRA := []directory.RequiredResourceAccess{{ResourceAppID: backendID, Access: []directory.ResourceAccess{
		{ID: wantScope.ID, Type: "Scope"}, {ID: role.ID, Type: "Role"}}}}
	if !reflect.DeepEqual(client.RequiredResourceAccess, wantRRA) {
		t.Fatalf("requiredResourceAccess: %+v", client.RequiredResourceAccess)
	}

	gen, err := s.Applications(ctx, seedTenant)
	if err != nil || len(gen) != 3 {
		t.Fatalf("applications: %d %v", len(gen), err)
	}
	public := gen[2]
	if !directory.IsGUID(public.AppID) || !public.PublicClient || !reflect.DeepEqual(public.PublicRedirectURIs, []string{"http://localhost"}) {
		t.Fatalf("generated public client: %+v", public)
	}

	// A service principal for every application.
	sps := map[string]*directory.ServicePrincipal{}
	for _, app := range gen {
		sp, err := s.ServicePrincipalByAppID(ctx, seedTenant, app.AppID)
		if err != nil {
			t.Fatalf("service principal of %s: %v", app.DisplayName, err)
		}
		if !sp.AccountEnabled || sp.DisplayName != app.DisplayName {
			t.Fatalf("service principal: %+v", sp)
		}
		sps[app.DisplayName] = sp
	}
	grants, _ := s.PermissionGrants(ctx, seedTenant, sps["client-app"].ID, sps["backend-app"].ID)
	if len(grants) != 1 || grants[0].ConsentType != "AllPrincipals" || grants[0].Scope != "Files.Read" {
		t.Fatalf("admin consent grant: %+v", grants)
	}
	assigned, _ := s.AppRoleAssignments(ctx, seedTenant, sps["client-app"].ID, sps["backend-app"].ID)
	if len(assigned) != 1 || assigned[0].AppRoleID != role.ID || assigned[0].PrincipalType != "ServicePrincipal" {
		t.Fatalf("application permission assignment: %+v", assigned)
	}

	alice, err := s.UserByName(ctx, seedTenant, "ALICE@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := directory.VerifyPassword(alice.PasswordHash, alicePasswd); !ok || err != nil {
		t.Fatalf("alice's password does not verify: %v", err)
	}
	if alice.DisplayName != "Alice" || !alice.AccountEnabled {
		t.Fatalf("alice: %+v", alice)
	}
	userRoles, _ := s.AppRoleAssignments(ctx, seedTenant, alice.ID, sps["backend-app"].ID)
	if len(userRoles) != 1 || userRoles[0].AppRoleID != role.ID || userRoles[0].PrincipalType != "User" {
		t.Fatalf("alice's app roles: %+v", userRoles)
	}
}

// snapshot is everything a tenant holds.
type snapshot struct {
	Apps        []directory.Application
	SPs         []directory.ServicePrincipal
	Grants      []directory.PermissionGrant
	Assignments []directory.AppRoleAssignment
	Users       []directory.User
}

func take(t *testing.T, s directory.Store) snapshot {
	t.Helper()
	ctx := context.Background()
	var snap snapshot
	var err error
	if snap.Apps, err = s.Applications(ctx, seedTenant); err != nil {
		t.Fatal(err)
	}
	snap.SPs, _ = s.ServicePrincipals(ctx, seedTenant)
	snap.Grants, _ = s.PermissionGrants(ctx, seedTenant, "", "")
	snap.Assignments, _ = s.AppRoleAssignments(ctx, seedTenant, "", "")
	snap.Users, _ = s.Users(ctx, seedTenant)
	return snap
}

func TestSeedIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeCert(t, filepath.Join(dir, "certs", "client-app.pem"), rsaKey(t))
	s := openStore(t)
	if err := directory.Seed(ctx, s, articleSeed(), dir); err != nil {
		t.Fatal(err)
	}
	first := take(t, s)
	if err := directory.Seed(ctx, s, articleSeed(), dir); err != nil {
		t.Fatal(err)
	}
	second := take(t, s)
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("a second run changed the directory:\nfirst  %+v\nsecond %+v", first, second)
	}
}

func TestSeedTouchesNothingElse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeCert(t, filepath.Join(dir, "certs", "client-app.pem"), rsaKey(t))
	s := openStore(t)
	if err := directory.Seed(ctx, s, articleSeed(), dir); err != nil {
		t.Fatal(err)
	}
	// What the management API added after the first start.
	manual := &directory.Application{ID: directory.NewID(), TenantID: seedTenant, AppID: directory.NewID(), DisplayName: "manual"}
	extraScope := directory.Scope{ID: directory.NewID(), Value: "Files.Write", Type: "User", Enabled: true}
	err := s.Update(ctx, func(tx directory.Writer) error {
		if err := tx.PutApplication(ctx, manual); err != nil {
			return err
		}
		backend, err := tx.ApplicationByAppID(ctx, seedTenant, backendID)
		if err != nil {
			return err
		}
		backend.Scopes = append(backend.Scopes, extraScope)
		return tx.PutApplication(ctx, backend)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The file changes: a description, and a new scope.
	cfg := articleSeed()
	cfg.Tenants[0].Applications[0].Scopes[0].AdminConsentDescription = "Reads files"
	cfg.Tenants[0].Applications[0].Scopes = append(cfg.Tenants[0].Applications[0].Scopes, config.Scope{Value: "Files.Delete"})
	if err := directory.Seed(ctx, s, cfg, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Application(ctx, seedTenant, manual.ID); err != nil {
		t.Fatalf("the seed removed an application it does not name: %v", err)
	}
	backend, _ := s.ApplicationByAppID(ctx, seedTenant, backendID)
	var values []string
	for _, sc := range backend.Scopes {
		values = append(values, sc.Value)
	}
	if strings.Join(values, " ") != "Files.Read Files.Write Files.Delete" {
		t.Fatalf("scopes after re-seed: %v", values)
	}
	if backend.Scopes[0].AdminConsentDescription != "Reads files" || backend.Scopes[0].ID != directory.StableID(backendID, "scope", "Files.Read") {
		t.Fatalf("updated scope: %+v", backend.Scopes[0])
	}
	if backend.Scopes[1] != extraScope {
		t.Fatalf("scope added through the API changed: %+v", backend.Scopes[1])
	}
}

func TestSeedGeneratedAppIDIsStable(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	cfg := &config.Identity{Tenants: []config.Tenant{{ID: seedTenant, Applications: []config.Application{{Name: "api",
		Scopes: []config.Scope{{Value: "read"}}}}}}}
	var ids []string
	for range 2 {
		if err := directory.Seed(ctx, s, cfg, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		apps, _ := s.Applications(ctx, seedTenant)
		if len(apps) != 1 {
			t.Fatalf("%d applications after seeding one", len(apps))
		}
		ids = append(ids, apps[0].AppID+" "+apps[0].Scopes[0].ID)
	}
	if ids[0] != ids[1] {
		t.Fatalf("generated ids changed across runs: %v", ids)
	}
}

func TestSeedPasswordIsNotRehashed(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	cfg := &config.Identity{Tenants: []config.Tenant{{ID: seedTenant, Users: []config.User{{Username: "bob@contoso.example", Password: "one"}}}}}
	hashes := []string{}
	for _, pw := range []string{"one", "one", "two"} {
		cfg.Tenants[0].Users[0].Password = pw
		if err := directory.Seed(ctx, s, cfg, ""); err != nil {
			t.Fatal(err)
		}
		u, err := s.UserByName(ctx, seedTenant, "bob@contoso.example")
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, u.PasswordHash)
	}
	if hashes[0] != hashes[1] {
		t.Fatal("an unchanged password was re-hashed")
	}
	if hashes[1] == hashes[2] {
		t.Fatal("a changed password kept the old hash")
	}
	if ok, _ := directory.VerifyPassword(hashes[2], "two"); !ok {
		t.Fatal("the new password does not verify")
	}
}

func TestSeedErrors(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, filepath.Join(dir, "certs", "client-app.pem"), rsaKey(t))
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	writeCert(t, filepath.Join(dir, "certs", "small.pem"), small)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	writeCert(t, filepath.Join(dir, "certs", "ec.pem"), ec)
	if err := os.WriteFile(filepath.Join(dir, "certs", "key-only.pem"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const app0, app1 = "identity.tenants[0].applications[0]", "identity.tenants[0].applications[1]"
	tests := []struct {
		name    string
		edit    func(c *config.Identity)
		key     string
		message string
	}{
		{"unknown api", func(c *config.Identity) { c.Tenants[0].Applications[1].APIPermissions[0].API = "backend-ap" },
			app1 + ".api-permissions[0].api", `unknown api "backend-ap"`},
		{"unknown scope", func(c *config.Identity) {
			c.Tenants[0].Applications[1].APIPermissions[0].Scopes = []string{"Files.Reed"}
		},
			app1 + ".api-permissions[0].scopes[0]", `has no scope "Files.Reed" (it exposes: Files.Read)`},
		{"unknown role", func(c *config.Identity) { c.Tenants[0].Applications[1].APIPermissions[0].Roles = []string{"Nope"} },
			app1 + ".api-permissions[0].roles[0]", `has no app role "Nope"`},
		{"user-only role as application permission", func(c *config.Identity) {
			c.Tenants[0].Applications[0].AppRoles[0].AllowedMemberTypes = []string{"User"}
		}, app1 + ".api-permissions[0].roles[0]", "cannot be given to applications"},
		{"application-only role for a user", func(c *config.Identity) {
			c.Tenants[0].Applications[0].AppRoles[0].AllowedMemberTypes = []string{"Application"}
		}, "identity.tenants[0].users[0].roles.backend-app[0]", "cannot be given to users"},
		{"user role of an unknown application", func(c *config.Identity) {
			c.Tenants[0].Users[0].Roles = map[string][]string{"nowhere": {"x"}}
		}, "identity.tenants[0].users[0].roles.nowhere", `unknown application "nowhere"`},
		{"bad tenant GUID", func(c *config.Identity) { c.Tenants[0].ID = "contoso" }, "identity.tenants[0].id", "must be a GUID"},
		{"bad app-id", func(c *config.Identity) { c.Tenants[0].Applications[0].AppID = "6c1f0d2a" }, app0 + ".app-id", "must be a GUID"},
		{"bad member type", func(c *config.Identity) {
			c.Tenants[0].Applications[0].AppRoles[0].AllowedMemberTypes = []string{"Group"}
		},
			app0 + ".app-roles[0].allowed-member-types", `"Group" is not User or Application`},
		{"scope value with a space", func(c *config.Identity) { c.Tenants[0].Applications[0].Scopes[0].Value = "Files Read" },
			app0 + ".scopes[0].value", "has a space"},
		{"bad secret hash", func(c *config.Identity) {
			c.Tenants[0].Applications[1].Secrets = []config.Secret{{Hash: "sha256:short"}}
		},
			app1 + ".secrets[0].hash", "base64 of 32 bytes"},
		{"secret with value and hash", func(c *config.Identity) {
			c.Tenants[0].Applications[1].Secrets = []config.Secret{{Value: "x", Hash: directory.HashSecret("x")}}
		}, app1 + ".secrets[0]", "exactly one of value or hash"},
		{"bad password hash", func(c *config.Identity) {
			c.Tenants[0].Users[0].Password, c.Tenants[0].Users[0].PasswordHash = "", "$2a$10$bcrypt"
		}, "identity.tenants[0].users[0].password-hash", "argon2id"},
		{"bad username", func(c *config.Identity) { c.Tenants[0].Users[0].Username = "alice" },
			"identity.tenants[0].users[0].username", "name@domain"},
		{"missing certificate file", func(c *config.Identity) { c.Tenants[0].Applications[1].Certificates = []string{"certs/none.pem"} },
			app1 + ".certificates[0]", "certs/none.pem"},
		{"file without a certificate", func(c *config.Identity) { c.Tenants[0].Applications[1].Certificates = []string{"certs/key-only.pem"} },
			app1 + ".certificates[0]", "no PEM CERTIFICATE block"},
		{"1024-bit RSA certificate", func(c *config.Identity) { c.Tenants[0].Applications[1].Certificates = []string{"certs/small.pem"} },
			app1 + ".certificates[0]", "1024 bits"},
		{"identifier URI used twice", func(c *config.Identity) {
			c.Tenants[0].Applications[1].IdentifierURIs = []string{"api://" + backendID}
		}, app1 + ".identifier-uris", "already used by another application"},
		{"identifier URI with a bad scheme", func(c *config.Identity) {
			c.Tenants[0].Applications[0].IdentifierURIs = []string{"ftp://backend"}
		}, app0, "scheme must be api, https, urn or ms-appx"},
		{"http redirect URI off loopback", func(c *config.Identity) {
			c.Tenants[0].Applications[1].RedirectURIs = []string{"http://app.example/cb"}
		}, app1, "http is allowed only for localhost"},
		{"duplicate application name", func(c *config.Identity) { c.Tenants[0].Applications[2].Name = "backend-app" },
			"identity.tenants[0].applications[2].name", "already used"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := articleSeed()
			tc.edit(cfg)
			s := openStore(t)
			err := directory.Seed(context.Background(), s, cfg, dir)
			var se *directory.SeedError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SeedError", err)
			}
			if se.Key != tc.key || !strings.Contains(se.Msg, tc.message) {
				t.Fatalf("got %q, want key %s and a message containing %q", err, tc.key, tc.message)
			}
			if strings.Contains(err.Error(), seedSecret) || strings.Contains(err.Error(), alicePasswd) {
				t.Fatalf("the error shows a secret: %v", err)
			}
			// Nothing was written: the seed is one transaction.
			if tenants, _ := s.Tenants(context.Background()); len(tenants) != 0 {
				t.Fatalf("a failed seed left %d tenants behind", len(tenants))
			}
		})
	}
	t.Run("ECDSA certificate accepted", func(t *testing.T) {
		cfg := articleSeed()
		cfg.Tenants[0].Applications[1].Certificates = []string{"certs/ec.pem"}
		if err := directory.Seed(context.Background(), openStore(t), cfg, dir); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSeedAppIDCannotChange(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	cfg := &config.Identity{Tenants: []config.Tenant{{ID: seedTenant, Applications: []config.Application{{Name: "api"}}}}}
	if err := directory.Seed(ctx, s, cfg, ""); err != nil {
		t.Fatal(err)
	}
	before := take(t, s)
	cfg.Tenants[0].Applications[0].AppID = backendID
	err := directory.Seed(ctx, s, cfg, "")
	var se *directory.SeedError
	if !errors.As(err, &se) || se.Key != "identity.tenants[0].applications[0].app-id" || !strings.Contains(se.Msg, "cannot change") {
		t.Fatalf("got %v", err)
	}
	if after := take(t, s); !reflect.DeepEqual(before, after) {
		t.Fatal("a refused seed changed the directory")
	}
}
