package policies

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"portcullis/internal/config"
	"portcullis/internal/directory"
	"portcullis/internal/identity"
	"portcullis/internal/jwt"
	"portcullis/internal/keys"
	"portcullis/internal/store/sqlite"
)

const (
	e2eLegacyAppID = "6c1f0d2a-0000-4000-8000-0000000000a1"
	e2eLegacyURI   = "https://legacy.contoso.example"
	e2eSecret      = "e2e-client-secret-with-enough-entropy-0123456789"
)

// startIdentity runs Portcullis's identity service in-process over TLS with the article's
// tenant: a v2.0 API (backend-app), a v1.0 API (legacy-api) and a client app allowed to call
// both with the client credentials grant.
func startIdentity(t *testing.T) *httptest.Server {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	seed := &config.Identity{Tenants: []config.Tenant{{
		ID: tenantID, Domain: "contoso.example",
		Applications: []config.Application{
			{Name: "backend-app", AppID: backendAppID, IdentifierURIs: []string{"api://" + backendAppID}, AccessTokenVersion: 2,
				AppRoles: []config.AppRole{{Value: "Files.Read.All", AllowedMemberTypes: []string{"Application"}}}},
			{Name: "legacy-api", AppID: e2eLegacyAppID, IdentifierURIs: []string{e2eLegacyURI},
				AppRoles: []config.AppRole{{Value: "Legacy.Read", AllowedMemberTypes: []string{"Application"}}}},
			{Name: "client-app", AppID: clientAppID, Secrets: []config.Secret{{Value: e2eSecret}},
				APIPermissions: []config.APIPermission{
					{API: "backend-app", Roles: []string{"Files.Read.All"}, AdminConsent: true},
					{API: "legacy-api", Roles: []string{"Legacy.Read"}, AdminConsent: true},
				}},
		},
	}}}
	if err := directory.Seed(context.Background(), store, seed, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	svc, err := identity.New(identity.Options{Store: store, PublicURL: "https://" + srv.Listener.Addr().String(), TokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = svc.Handler()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// The gateway obtains its own token from the identity service (authentication-managed-identity)
// and validate-azure-ad-token accepts it: client credentials, discovery, keys, v1.0 and v2.0
// issuers, all through authority aliases from a policy written for Entra.
func TestManagedIdentityTokenAcceptedByValidateAzureADToken(t *testing.T) {
	idsrv := startIdentity(t)
	aliases := map[string]string{DefaultAzureADAuthority: idsrv.URL}
	kc, err := keys.NewCache(keys.Options{Client: idsrv.Client(), Aliases: aliases})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	deps := Deps{
		ValidateJWT: ValidateJWTDeps{Keys: kc},
		ManagedIdentity: ManagedIdentityDeps{Tokens: &ManagedIdentityTokens{
			System:  &ManagedIdentity{TokenURL: TokenURL(DefaultAzureADAuthority, tenantID), ClientID: clientAppID, ClientSecret: e2eSecret},
			Aliases: aliases,
			Client:  idsrv.Client(),
		}},
	}
	tests := []struct {
		name, resource, check string
		status                int
		ver                   string // the token version the identity service issued
	}{
		{
			name: "v2.0 token for the backend application", resource: "api://" + backendAppID, status: 200, ver: "2.0",
			check: `<backend-application-ids><application-id>` + backendAppID + `</application-id></backend-application-ids>
				<required-claims><claim name="roles"><value>Files.Read.All</value></claim></required-claims>`,
		},
		{
			name: "v1.0 token for the legacy API", resource: e2eLegacyURI, status: 200, ver: "1.0",
			check: `<audiences><audience>` + e2eLegacyURI + `</audience></audiences>`,
		},
		{
			name: "token for another API", resource: e2eLegacyURI, status: 401,
			check: `<backend-application-ids><application-id>` + backendAppID + `</application-id></backend-application-ids>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPipeline(t, deps, inboundDoc(`
				<authentication-managed-identity resource="`+tt.resource+`" output-token-variable-name="gw-token" />
				<validate-azure-ad-token tenant-id="`+tenantID+`" token-value="@((string)context.Variables[&quot;gw-token&quot;])" output-token-variable-name="jwt">
					<client-application-ids><application-id>`+clientAppID+`</application-id></client-application-ids>
					`+tt.check+`
				</validate-azure-ad-token>`))
			wait, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := kc.WaitReady(wait); err != nil {
				t.Fatalf("keys: %v %+v", err, kc.Status())
			}
			ctx := request(nil, "")
			if got := runCtx(p, ctx, &statusBackend{}); got != tt.status {
				t.Fatalf("status %d, want %d: %+v", got, tt.status, ctx.LastError)
			}
			if tt.status == 401 && ctx.LastError.Reason != "TokenAudienceNotAllowed" {
				t.Errorf("reason %q, want TokenAudienceNotAllowed", ctx.LastError.Reason)
			}
			if tt.status == 200 {
				tok, ok := ctx.Variables["jwt"].(*jwt.Token)
				if !ok || firstClaim(tok, "ver") != tt.ver {
					t.Errorf("validated token %#v, want a v%s token", ctx.Variables["jwt"], tt.ver)
				}
			}
		})
	}
}
