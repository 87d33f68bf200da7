package policies

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"portcullis/internal/jwt"
	"portcullis/internal/keys"
	"portcullis/internal/policy"
)

const (
	backendAppID = "6c1f0d2a-0000-4000-8000-0000000000b1"
	otherTenant  = "77777777-0000-4000-8000-000000000007"
)

// entraIdP serves Entra's v2.0 and v1.0 discovery documents and keys for one tenant and for
// organizations/common, with the issuer shapes Portcullis's identity service uses.
type entraIdP struct {
	srv *httptest.Server
	kid string
}

func newEntraIdP(t *testing.T) *entraIdP {
	t.Helper()
	p := &entraIdP{kid: "ad-key-1"}
	key := testRSA()[0]
	jwks := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"keys":[{"kty":"RSA","use":"sig","kid":%q,"n":%q,"e":"AQAB"}]}`,
			p.kid, base64.RawURLEncoding.EncodeToString(key.N.Bytes()))
	}
	mux := http.NewServeMux()
	for _, tenant := range []string{tenantID, "organizations", "common"} {
		issuerTenant := tenant
		if tenant != tenantID {
			issuerTenant = "{tenantid}"
		}
		mux.HandleFunc("/"+tenant+"/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, p.srv.URL+"/"+issuerTenant+"/v2.0", p.srv.URL+"/"+tenant+"/discovery/v2.0/keys")
		})
		mux.HandleFunc("/"+tenant+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, p.srv.URL+"/"+issuerTenant+"/", p.srv.URL+"/"+tenant+"/discovery/keys")
		})
		mux.HandleFunc("/"+tenant+"/discovery/v2.0/keys", jwks)
		mux.HandleFunc("/"+tenant+"/discovery/keys", jwks)
	}
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// token signs an Entra access token of version ver ("1.0" or "2.0") for tenant tid.
func (p *entraIdP) token(t *testing.T, ver, tid string, edits map[string]any) string {
	now := time.Now()
	c := map[string]any{
		"tid": tid, "sub": "user-1", "ver": ver, "oid": "object-1",
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if ver == "1.0" {
		c["iss"], c["aud"], c["appid"] = p.srv.URL+"/"+tid+"/", "api://"+backendAppID, clientAppID
	} else {
		c["iss"], c["aud"], c["azp"] = p.srv.URL+"/"+tid+"/v2.0", backendAppID, clientAppID
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return signRS256(t, testRSA()[0], p.kid, c)
}

func TestValidateAzureADToken(t *testing.T) {
	idp := newEntraIdP(t)
	kc, err := keys.NewCache(keys.Options{Aliases: keys.Aliases{DefaultAzureADAuthority: idp.srv.URL, "https://login.microsoftonline.us": idp.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	deps := Deps{ValidateJWT: ValidateJWTDeps{Keys: kc, Tokens: jwt.NewCache(0)}}

	minimal := `<validate-azure-ad-token tenant-id="{{aad-tenant-id}}">
		<client-application-ids><application-id>{{aad-client-application-id}}</application-id></client-application-ids>
	</validate-azure-ad-token>`
	// APIM's second documented example, with the request host as the audience.
	audienceAndClaim := `<validate-azure-ad-token tenant-id="{{aad-tenant-id}}" output-token-variable-name="jwt">
		<client-application-ids><application-id>{{aad-client-application-id}}</application-id></client-application-ids>
		<audiences><audience>@(context.Request.OriginalUrl.Host)</audience></audiences>
		<required-claims><claim name="ctry" match="any"><value>US</value></claim></required-claims>
	</validate-azure-ad-token>`
	backend := `<validate-azure-ad-token tenant-id="{{aad-tenant-id}}">
		<backend-application-ids><application-id>` + backendAppID + `</application-id></backend-application-ids>
	</validate-azure-ad-token>`
	organizations := `<validate-azure-ad-token tenant-id="organizations">
		<client-application-ids><application-id>` + clientAppID + `</application-id></client-application-ids>
	</validate-azure-ad-token>`
	custom := `<validate-azure-ad-token tenant-id="https://` + tenantID + `" header-name="X-Token"
		failed-validation-httpcode="403" failed-validation-error-message="Access denied by Entra check">
		<client-application-ids><application-id>` + clientAppID + `</application-id></client-application-ids>
	</validate-azure-ad-token>`
	// A sovereign cloud's endpoint, without its https:// prefix, as the documentation allows.
	sovereign := `<validate-azure-ad-token tenant-id="{{aad-tenant-id}}" authentication-endpoint="login.microsoftonline.us">
		<client-application-ids><application-id>` + clientAppID + `</application-id></client-application-ids>
	</validate-azure-ad-token>`
	dynamic := `<validate-azure-ad-token tenant-id="@(context.Request.Headers.GetValueOrDefault(&quot;X-Tenant&quot;,&quot;&quot;))" />`

	pipelines := map[string]*policy.Pipeline{}
	for name, doc := range map[string]string{"minimal": minimal, "audience": audienceAndClaim, "backend": backend,
		"organizations": organizations, "custom": custom, "dynamic": dynamic, "sovereign": sovereign} {
		pipelines[name] = mustPipeline(t, deps, inboundDoc(doc))
	}
	wait, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kc.WaitReady(wait); err != nil {
		t.Fatalf("keys: %v (%+v)", err, kc.Status())
	}
	// The policy's discovery documents count for readiness, under their Entra names.
	var urls []string
	for _, s := range kc.Status() {
		urls = append(urls, s.URL)
	}
	for _, want := range append(DiscoveryURLs(DefaultAzureADAuthority, tenantID), DiscoveryURLs("https://login.microsoftonline.us", tenantID)...) {
		if !strings.Contains(strings.Join(urls, " "), want) {
			t.Errorf("key cache sources %q lack %s", urls, want)
		}
	}

	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	tests := []struct {
		name     string
		pipeline string
		headers  map[string]string
		host     string
		status   int
		reason   string
		message  string
		wwwAuth  string
	}{
		{name: "v2.0 token of the allowed client", pipeline: "minimal", headers: bearer(idp.token(t, "2.0", tenantID, nil)), status: 200},
		{name: "v1.0 token of the allowed client", pipeline: "minimal", headers: bearer(idp.token(t, "1.0", tenantID, nil)), status: 200},
		{name: "bearer scheme in any case", pipeline: "minimal", headers: map[string]string{"Authorization": "bearer " + idp.token(t, "2.0", tenantID, nil)}, status: 200},
		{name: "no token", pipeline: "minimal", status: 401, reason: "TokenNotPresent", message: "JWT not present.", wwwAuth: "Bearer"},
		{name: "another client (v2.0 azp)", pipeline: "minimal", headers: bearer(idp.token(t, "2.0", tenantID, map[string]any{"azp": "intruder-app"})),
			status: 401, reason: "TokenClaimValueNotAllowed", message: "Claim azp value of intruder-app is not allowed. Access denied.",
			wwwAuth: `Bearer error="invalid_token", error_description="Claim azp value of intruder-app is not allowed. Access denied."`},
		{name: "another client (v1.0 appid)", pipeline: "minimal", headers: bearer(idp.token(t, "1.0", tenantID, map[string]any{"appid": "intruder-app"})),
			status: 401, reason: "TokenClaimValueNotAllowed", message: "Claim appid value of intruder-app is not allowed. Access denied."},
		{name: "no calling application", pipeline: "minimal", headers: bearer(idp.token(t, "2.0", tenantID, map[string]any{"azp": nil})),
			status: 401, reason: "TokenClaimNotFound", message: "JWT token is missing the following claims: azp. Access denied."},
		{name: "expired", pipeline: "minimal", headers: bearer(idp.token(t, "2.0", tenantID, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})),
			status: 401, reason: "TokenExpired"},
		{name: "another tenant's issuer", pipeline: "minimal", headers: bearer(idp.token(t, "2.0", tenantID, map[string]any{"iss": idp.srv.URL + "/" + otherTenant + "/v2.0"})),
			status: 401, reason: "TokenIssuerNotAllowed"},
		{name: "Entra's real issuer is not the aliased one", pipeline: "minimal", headers: bearer(idp.token(t, "2.0", tenantID, map[string]any{"iss": "https://login.microsoftonline.com/" + tenantID + "/v2.0"})),
			status: 401, reason: "TokenIssuerNotAllowed"},
		{name: "unsigned", pipeline: "minimal", headers: bearer(unsigned(t, map[string]any{"iss": idp.srv.URL + "/" + tenantID + "/v2.0", "azp": clientAppID, "exp": time.Now().Add(time.Hour).Unix()})),
			status: 401},
		{name: "audience and claim: allowed", pipeline: "audience", host: "api.contoso.example",
			headers: bearer(idp.token(t, "2.0", tenantID, map[string]any{"aud": "api.contoso.example", "ctry": "US"})), status: 200},
		{name: "audience and claim: wrong audience", pipeline: "audience", host: "api.contoso.example",
			headers: bearer(idp.token(t, "2.0", tenantID, map[string]any{"ctry": "US"})), status: 401, reason: "TokenAudienceNotAllowed"},
		{name: "audience and claim: wrong country", pipeline: "audience", host: "api.contoso.example",
			headers: bearer(idp.token(t, "2.0", tenantID, map[string]any{"aud": "api.contoso.example", "ctry": "FR"})),
			status:  401, reason: "TokenClaimValueNotAllowed", message: "Claim ctry value of FR is not allowed. Access denied."},
		{name: "backend application (v2.0 aud = client ID)", pipeline: "backend", headers: bearer(idp.token(t, "2.0", tenantID, nil)), status: 200},
		{name: "backend application (v1.0 aud = api:// URI)", pipeline: "backend", headers: bearer(idp.token(t, "1.0", tenantID, nil)), status: 200},
		{name: "backend application: token for another API", pipeline: "backend", headers: bearer(idp.token(t, "2.0", tenantID, map[string]any{"aud": "other-api"})),
			status: 401, reason: "TokenAudienceNotAllowed"},
		{name: "organizations: a work account of any tenant", pipeline: "organizations",
			headers: bearer(idp.token(t, "2.0", otherTenant, nil)), status: 200},
		{name: "organizations: a personal account", pipeline: "organizations",
			headers: bearer(idp.token(t, "2.0", msaTenantID, nil)), status: 401, reason: "TokenIssuerNotAllowed"},
		{name: "custom header holds the bare token", pipeline: "custom", headers: map[string]string{"X-Token": idp.token(t, "2.0", tenantID, nil)}, status: 200},
		{name: "custom status and message", pipeline: "custom", headers: map[string]string{"X-Token": idp.token(t, "2.0", tenantID, map[string]any{"azp": "x"})},
			status: 403, reason: "TokenClaimValueNotAllowed", message: "Access denied by Entra check"},
		{name: "authentication-endpoint of a sovereign cloud", pipeline: "sovereign", headers: bearer(idp.token(t, "1.0", tenantID, nil)), status: 200},
		{name: "tenant from an expression", pipeline: "dynamic", headers: map[string]string{"X-Tenant": tenantID, "Authorization": "Bearer " + idp.token(t, "2.0", tenantID, nil)}, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := request(tt.headers, "")
			if tt.host != "" {
				ctx.Request.OriginalURL.Host = tt.host
			}
			b := &statusBackend{}
			if got := runCtx(pipelines[tt.pipeline], ctx, b); got != tt.status {
				t.Fatalf("status %d, want %d; LastError %+v", got, tt.status, ctx.LastError)
			}
			if tt.status == 200 {
				if b.count() != 1 {
					t.Error("an accepted token did not reach the backend")
				}
				return
			}
			if b.count() != 0 {
				t.Error("a refused token reached the backend")
			}
			le := ctx.LastError
			if le.Source != "validate-azure-ad-token" || (tt.reason != "" && le.Reason != tt.reason) {
				t.Errorf("LastError = %+v, want source validate-azure-ad-token, reason %s", le, tt.reason)
			}
			if code, msg := errorBody(t, ctx); code != tt.status || (tt.message != "" && msg != tt.message) {
				t.Errorf("body %d %q, want %d %q", code, msg, tt.status, tt.message)
			}
			if tt.wwwAuth != "" {
				if got, _ := ctx.Response.Header.Get("WWW-Authenticate"); got != tt.wwwAuth {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wwwAuth)
				}
			}
		})
	}

	// output-token-variable-name holds the validated token for later policies.
	ctx := request(bearer(idp.token(t, "2.0", tenantID, map[string]any{"aud": "api.contoso.example", "ctry": "US"})), "")
	ctx.Request.OriginalURL.Host = "api.contoso.example"
	runCtx(pipelines["audience"], ctx, &statusBackend{})
	if tok, ok := ctx.Variables["jwt"].(*jwt.Token); !ok || tok.Claims["ctry"][0] != "US" {
		t.Errorf("jwt variable = %#v", ctx.Variables["jwt"])
	}
}

func TestValidateAzureADTokenLoadErrors(t *testing.T) {
	kc, err := keys.NewCache(keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	deps := Deps{ValidateJWT: ValidateJWTDeps{Keys: kc}}
	tests := []struct{ name, policy, want string }{
		{"tenant-id required", `<validate-azure-ad-token />`, "needs a tenant-id attribute"},
		{"tenant-id shape", `<validate-azure-ad-token tenant-id="contoso tenant" />`, `expected a tenant ID (GUID), a domain`},
		{"two token sources", `<validate-azure-ad-token tenant-id="common" header-name="A" query-parameter-name="t" />`, "at most one of"},
		{"application id expression", `<validate-azure-ad-token tenant-id="common"><client-application-ids><application-id>@("x")</application-id></client-application-ids></validate-azure-ad-token>`, "does not accept policy expressions"},
		{"empty client list", `<validate-azure-ad-token tenant-id="common"><client-application-ids/></validate-azure-ad-token>`, "needs at least one <application-id>"},
		{"openid-config is validate-jwt's", `<validate-azure-ad-token tenant-id="common"><openid-config url="https://x"/></validate-azure-ad-token>`, "has no child element <openid-config>"},
		{"status code", `<validate-azure-ad-token tenant-id="common" failed-validation-httpcode="99" />`, "from 100 to 599"},
		{"output variable expression", `<validate-azure-ad-token tenant-id="common" output-token-variable-name="@(&quot;v&quot;)" />`, "does not accept policy expressions"},
		{"only in inbound", "", "is not allowed in the outbound section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := inboundDoc(tt.policy)
			if tt.policy == "" {
				doc = `<policies><inbound/><outbound><validate-azure-ad-token tenant-id="common"/></outbound></policies>`
			}
			_, err := buildPipeline(t, deps, doc, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := buildPipeline(t, Deps{}, inboundDoc(`<validate-azure-ad-token tenant-id="common"/>`), nil); err == nil || !strings.Contains(err.Error(), "key cache") {
		t.Errorf("without a key cache: %v", err)
	}
}
