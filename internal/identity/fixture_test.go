package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"portcullis/internal/directory"
	"portcullis/internal/jose"
	"portcullis/internal/store/sqlite"
)

// Identifiers of the test tenant (the article's apps).
const (
	tenantID     = "3f5b1c2e-0000-4000-8000-000000000001"
	tenantDomain = "contoso.example"

	backendAppID = "6c1f0d2a-0000-4000-8000-0000000000b1" // v2 API
	backendSPID  = "6c1f0d2a-0000-4000-8000-0000000005b1"
	backendURI   = "api://6c1f0d2a-0000-4000-8000-0000000000b1"
	filesRead    = "Files.Read"
	filesReadID  = "7a000000-0000-4000-8000-000000000001"
	filesWrite   = "Files.Write" // disabled
	filesWriteID = "7a000000-0000-4000-8000-000000000002"
	readAllRole  = "Files.Read.All"
	readAllID    = "7a000000-0000-4000-8000-000000000003"

	legacyAppID = "6c1f0d2a-0000-4000-8000-0000000000a1" // v1 API
	legacySPID  = "6c1f0d2a-0000-4000-8000-0000000005a1"
	legacyURI   = "https://legacy.contoso.example"

	clientAppID = "0b7e9d4c-0000-4000-8000-0000000000c1" // confidential client
	clientSPID  = "0b7e9d4c-0000-4000-8000-0000000005c1"
	clientRedir = "https://app.contoso.example/callback"

	publicAppID = "0b7e9d4c-0000-4000-8000-0000000000d1" // public client
	publicSPID  = "0b7e9d4c-0000-4000-8000-0000000005d1"
	publicRedir = "http://localhost/callback"
	spaRedir    = "https://spa.contoso.example/"
	spaOrigin   = "https://spa.contoso.example"

	userID       = "9a000000-0000-4000-8000-0000000000e1"
	userName     = "alice@contoso.example"
	userPassword = "correct horse battery staple"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a running identity service over real SQLite and real TLS (the local CA).
type fixture struct {
	t        testing.TB
	store    *sqlite.Store
	server   *Server
	ts       *httptest.Server
	url      string
	client   *http.Client // trusts the local CA, does not follow redirects
	caPath   string
	clock    *testClock
	secret   string
	certKey  *rsa.PrivateKey
	cert     *x509.Certificate
	dataDir  string
	fixedTTL time.Duration
}

type fixtureOption func(*Options)

func newFixture(t testing.TB, opts ...fixtureOption) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, store: st, clock: &testClock{t: time.Now()}, dataDir: dir}
	f.secret = "s3cr3t~" + base64.RawURLEncoding.EncodeToString(randomBytes(t, 32))
	f.certKey, f.cert = sharedClientCert(t)
	f.seed()
	f.seedSigningKeys()

	ts := httptest.NewUnstartedServer(nil)
	f.url = "https://" + ts.Listener.Addr().String()
	tlsCfg, caPath, err := LocalTLS(dir, []string{f.url})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Store: st, PublicURL: f.url, Now: f.clock.Now, DevicePollInterval: time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.TLS = tlsCfg
	ts.StartTLS()
	t.Cleanup(ts.Close)
	f.server, f.ts, f.caPath = srv, ts, caPath
	f.client = f.httpClient()
	f.client.CheckRedirect = noRedirects
	return f
}

// httpClient trusts only the local CA written by LocalTLS.
func (f *fixture) httpClient() *http.Client {
	pem, err := os.ReadFile(f.caPath)
	if err != nil {
		f.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		f.t.Fatal("local CA is not PEM")
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func newClientCert(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "client-app"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func passwordHash(password string) string {
	salt := []byte("0123456789abcdef")
	h := argon2.IDKey([]byte(password), salt, 1, 8*1024, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", 8*1024, 1, 1,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(h))
}

// seed writes the article's tenant: backend-app (v2) with a scope, a disabled scope and an
// app role; a v1 API; a confidential client with a secret and a certificate, admin consent
// and the app role; a public client with consent; a user with the app role.
func (f *fixture) seed() {
	ctx := context.Background()
	now := time.Now()
	thumb := sha1.Sum(f.cert.Raw)
	err := f.store.Update(ctx, func(tx directory.Writer) error {
		steps := []error{
			tx.PutTenant(ctx, &directory.Tenant{ID: tenantID, DisplayName: "Contoso", Domains: []string{tenantDomain}, CreatedAt: now}),
			tx.PutApplication(ctx, &directory.Application{
				ID: "a0000000-0000-4000-8000-0000000000b1", TenantID: tenantID, AppID: backendAppID, DisplayName: "backend-app",
				SignInAudience: "AzureADMyOrg", IdentifierURIs: []string{backendURI}, AccessTokenVersion: 2,
				Scopes: []directory.Scope{
					{ID: filesReadID, Value: filesRead, Type: "Admin", AdminConsentDisplayName: "Read files", Enabled: true},
					{ID: filesWriteID, Value: filesWrite, Type: "Admin", AdminConsentDisplayName: "Write files", Enabled: false},
				},
				AppRoles: []directory.AppRole{{ID: readAllID, Value: readAllRole, DisplayName: "Read all files", AllowedMemberTypes: []string{"Application", "User"}, Enabled: true}},
			}),
			tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{ID: backendSPID, TenantID: tenantID, AppID: backendAppID, DisplayName: "backend-app", AccountEnabled: true}),
			tx.PutApplication(ctx, &directory.Application{
				ID: "a0000000-0000-4000-8000-0000000000a1", TenantID: tenantID, AppID: legacyAppID, DisplayName: "legacy-api",
				IdentifierURIs: []string{legacyURI},
				Scopes: []directory.Scope{
					{ID: "7b000000-0000-4000-8000-000000000001", Value: "user_impersonation", Type: "User", UserConsentDisplayName: "Use the legacy API as you", Enabled: true},
					{ID: "7b000000-0000-4000-8000-000000000003", Value: "Legacy.Admin", Type: "Admin", Enabled: true},
				},
				AppRoles: []directory.AppRole{{ID: "7b000000-0000-4000-8000-000000000002", Value: "Legacy.Read", AllowedMemberTypes: []string{"Application"}, Enabled: true}},
			}),
			tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{ID: legacySPID, TenantID: tenantID, AppID: legacyAppID, DisplayName: "legacy-api", AccountEnabled: true}),
			tx.PutApplication(ctx, &directory.Application{
				ID: "a0000000-0000-4000-8000-0000000000c1", TenantID: tenantID, AppID: clientAppID, DisplayName: "client-app",
				Passwords:    []directory.PasswordCredential{{KeyID: "c0000000-0000-4000-8000-000000000001", Hash: directory.HashSecret(f.secret), Hint: f.secret[:3], Start: now.Add(-time.Hour), End: now.AddDate(2, 0, 0)}},
				Certificates: []directory.KeyCredential{{KeyID: "c0000000-0000-4000-8000-000000000002", DER: f.cert.Raw, Thumbprint: base64.StdEncoding.EncodeToString(thumb[:]), Start: f.cert.NotBefore, End: f.cert.NotAfter}},
				RedirectURIs: []string{clientRedir},
			}),
			tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{ID: clientSPID, TenantID: tenantID, AppID: clientAppID, DisplayName: "client-app", AccountEnabled: true}),
			tx.PutApplication(ctx, &directory.Application{
				ID: "a0000000-0000-4000-8000-0000000000d1", TenantID: tenantID, AppID: publicAppID, DisplayName: "public-app",
				PublicClient: true, PublicRedirectURIs: []string{publicRedir}, SPARedirectURIs: []string{spaRedir},
			}),
			tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{ID: publicSPID, TenantID: tenantID, AppID: publicAppID, DisplayName: "public-app", AccountEnabled: true}),
			tx.PutPermissionGrant(ctx, &directory.PermissionGrant{ID: "f0000000-0000-4000-8000-000000000001", TenantID: tenantID, ClientID: clientSPID, ConsentType: "AllPrincipals", ResourceID: backendSPID, Scope: filesRead}),
			tx.PutPermissionGrant(ctx, &directory.PermissionGrant{ID: "f0000000-0000-4000-8000-000000000002", TenantID: tenantID, ClientID: publicSPID, ConsentType: "AllPrincipals", ResourceID: backendSPID, Scope: filesRead}),
			tx.PutPermissionGrant(ctx, &directory.PermissionGrant{ID: "f0000000-0000-4000-8000-000000000003", TenantID: tenantID, ClientID: clientSPID, ConsentType: "AllPrincipals", ResourceID: legacySPID, Scope: "user_impersonation"}),
			tx.PutAppRoleAssignment(ctx, &directory.AppRoleAssignment{ID: "d0000000-0000-4000-8000-000000000001", TenantID: tenantID, PrincipalID: clientSPID, PrincipalType: "ServicePrincipal", ResourceID: backendSPID, AppRoleID: readAllID, CreatedAt: now}),
			tx.PutAppRoleAssignment(ctx, &directory.AppRoleAssignment{ID: "d0000000-0000-4000-8000-000000000002", TenantID: tenantID, PrincipalID: userID, PrincipalType: "User", ResourceID: backendSPID, AppRoleID: readAllID, CreatedAt: now}),
			tx.PutUser(ctx, &directory.User{ID: userID, TenantID: tenantID, UserPrincipalName: userName, DisplayName: "Alice", GivenName: "Alice", Surname: "Liddell", Mail: userName, PasswordHash: passwordHash(userPassword), AccountEnabled: true, CreatedAt: now}),
		}
		for _, err := range steps {
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatalf("seed: %v", err)
	}
}

// tokenURL is the v2 (or v1) token endpoint of the test tenant.
func (f *fixture) tokenURL(version int) string {
	if version == 1 {
		return f.url + "/" + tenantID + "/oauth2/token"
	}
	return f.url + "/" + tenantID + "/oauth2/v2.0/token"
}

// post sends a form and decodes the JSON answer.
func (f *fixture) post(endpoint string, form url.Values, header http.Header) (int, map[string]any, http.Header) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		f.t.Fatalf("POST %s: %d, body is not JSON: %s", endpoint, resp.StatusCode, body)
	}
	return resp.StatusCode, doc, resp.Header
}

func (f *fixture) get(u string) (*http.Response, []byte) {
	f.t.Helper()
	resp, err := f.client.Get(u)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// claimsOf decodes a token and verifies its signature with the service's published keys.
func (f *fixture) claimsOf(token string) (jose.Header, map[string]any) {
	f.t.Helper()
	j, err := jose.ParseCompact(token)
	if err != nil {
		f.t.Fatalf("token does not parse: %v", err)
	}
	resp, body := f.get(f.url + "/" + tenantID + "/discovery/v2.0/keys")
	if resp.StatusCode != 200 {
		f.t.Fatalf("JWKS: %d", resp.StatusCode)
	}
	keys, _, err := jose.ParseJWKS(body)
	if err != nil {
		f.t.Fatal(err)
	}
	verified := false
	for i := range keys {
		if keys[i].ID == j.Header.Kid && j.Verify(&keys[i]) == nil {
			verified = true
		}
	}
	if !verified {
		f.t.Fatalf("token signed with kid %q does not verify with the published keys", j.Header.Kid)
	}
	var claims map[string]any
	if err := json.Unmarshal(j.Payload, &claims); err != nil {
		f.t.Fatal(err)
	}
	return j.Header, claims
}

func (f *fixture) clientCredentials(version int, extra url.Values) (int, map[string]any) {
	f.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {f.secret}}
	if version == 2 {
		form.Set("scope", backendURI+"/.default")
	} else {
		form.Set("resource", backendURI)
	}
	for k, v := range extra {
		form[k] = v
	}
	status, doc, _ := f.post(f.tokenURL(version), form, nil)
	return status, doc
}

func (f *fixture) postRaw(endpoint, body string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, doc
}

// exposeClientAPI makes client-app an API too (api://{appId}/access_as_user), consented for
// public-app: the middle tier of on-behalf-of.
func (f *fixture) exposeClientAPI(ctx context.Context) error {
	return f.store.Update(ctx, func(tx directory.Writer) error {
		app, err := tx.ApplicationByAppID(ctx, tenantID, clientAppID)
		if err != nil {
			return err
		}
		app.IdentifierURIs = []string{"api://" + clientAppID}
		app.AccessTokenVersion = 2
		app.Scopes = []directory.Scope{{ID: "7c000000-0000-4000-8000-000000000001", Value: "access_as_user", Type: "User", Enabled: true}}
		if err := tx.PutApplication(ctx, app); err != nil {
			return err
		}
		return tx.PutPermissionGrant(ctx, &directory.PermissionGrant{ID: "f0000000-0000-4000-8000-000000000009", TenantID: tenantID, ClientID: publicSPID, ConsentType: "AllPrincipals", ResourceID: clientSPID, Scope: "access_as_user"})
	})
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Keys made once per test binary: RSA generation dominates the tests' run time otherwise.
var (
	sharedOnce    sync.Once
	sharedCertKey *rsa.PrivateKey
	sharedCert    *x509.Certificate
	sharedSigning []*directory.SigningKey
)

func sharedKeys(t testing.TB) {
	sharedOnce.Do(func() {
		sharedCertKey, sharedCert = newClientCert(t)
		ring := newKeyRing(nil, time.Now, time.Minute, time.Hour, "127.0.0.1")
		for i := 0; i < 2; i++ {
			k, err := ring.generate(tenantID, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			sharedSigning = append(sharedSigning, k)
		}
	})
}

func sharedClientCert(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	sharedKeys(t)
	return sharedCertKey, sharedCert
}

// seedSigningKeys stores the shared current and next keys of the tenant.
func (f *fixture) seedSigningKeys() {
	sharedKeys(f.t)
	ctx := context.Background()
	err := f.store.Update(ctx, func(tx directory.Writer) error {
		for i, k := range sharedSigning {
			c := *k
			c.Status = keyCurrent
			if i == 1 {
				c.Status = keyNext
			}
			if err := tx.PutSigningKey(ctx, &c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}
