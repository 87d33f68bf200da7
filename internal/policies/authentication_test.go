package policies

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"portcullis/internal/policy"
)

func TestAuthenticationBasic(t *testing.T) {
	tests := []struct {
		name, policy, want string
	}{
		{"documented example", `<authentication-basic username="user1" password="pass123" />`, "Basic dXNlcjE6cGFzczEyMw=="},
		{"expressions", `<authentication-basic username="@(context.Request.Headers.GetValueOrDefault(&quot;X-User&quot;,&quot;&quot;))" password="s3cr:et" />`, "Basic YWxpY2U6czNjcjpldA=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPipeline(t, Deps{}, inboundDoc(tt.policy))
			ctx := request(map[string]string{"Authorization": "Bearer client-token", "X-User": "alice"}, "")
			if got := runCtx(p, ctx, &statusBackend{}); got != 200 {
				t.Fatalf("status %d", got)
			}
			if got := ctx.Request.Header.Values("Authorization"); len(got) != 1 || got[0] != tt.want {
				t.Errorf("Authorization to the backend = %q, want only %q", got, tt.want)
			}
		})
	}
	if _, err := buildPipeline(t, Deps{}, inboundDoc(`<authentication-basic username="a:b" password="x" />`), nil); err == nil || !strings.Contains(err.Error(), "must not contain ':'") {
		t.Errorf("a username with ':' compiled: %v", err)
	}
	if _, err := buildPipeline(t, Deps{}, inboundDoc(`<authentication-basic username="a" />`), nil); err == nil || !strings.Contains(err.Error(), "needs a password attribute") {
		t.Errorf("a missing password compiled: %v", err)
	}
}

func TestAuthenticationCertificate(t *testing.T) {
	withKey := selfSigned(t, "client-cert", testRSA()[1], true)
	noKey := selfSigned(t, "public-only", testRSA()[0], false)
	certs := map[string]*policy.Certificate{"client-cert": withKey, "public-only": noKey}
	sum := sha1.Sum(withKey.Chain[0].Raw)
	thumb := strings.ToUpper(hex.EncodeToString(sum[:]))
	tests := []struct {
		name, policy string
		wantErr      string // load error
		wantStatus   int
	}{
		{name: "certificate-id", policy: `<authentication-certificate certificate-id="client-cert" />`, wantStatus: 200},
		{name: "thumbprint", policy: `<authentication-certificate thumbprint="` + thumb + `" />`, wantStatus: 200},
		{name: "unknown id", policy: `<authentication-certificate certificate-id="nope" />`, wantErr: `certificate-id "nope" names no certificate`},
		{name: "no private key", policy: `<authentication-certificate certificate-id="public-only" />`, wantErr: "has no private key"},
		{name: "unknown thumbprint", policy: `<authentication-certificate thumbprint="00FF" />`, wantErr: "matches no certificate"},
		{name: "two sources", policy: `<authentication-certificate certificate-id="client-cert" thumbprint="` + thumb + `" />`, wantErr: "exactly one of"},
		{name: "body must be an expression", policy: `<authentication-certificate body="AAAA" />`, wantErr: "must be a policy expression"},
		{name: "body that is not PKCS#12", policy: `<authentication-certificate body="@(Convert.FromBase64String(&quot;AAAA&quot;))" password="x" />`, wantStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := buildPipeline(t, Deps{}, inboundDoc(tt.policy), certs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var presented *policy.Certificate
			b := backendFunc(func(ctx *policy.Context, _ policy.ForwardOptions) error {
				presented = ctx.BackendCertificate
				ctx.Response.StatusCode = 200
				return nil
			})
			ctx := request(nil, "")
			if got := runCtx(p, ctx, b); got != tt.wantStatus {
				t.Fatalf("status %d, want %d (%+v)", got, tt.wantStatus, ctx.LastError)
			}
			if tt.wantStatus == 200 && presented != withKey {
				t.Errorf("the backend call presents %v, want the client certificate", presented)
			}
		})
	}
}

// tokenEndpoint is an identity provider's v2.0 token endpoint for client credentials.
type tokenEndpoint struct {
	srv     *httptest.Server
	mu      sync.Mutex
	calls   int
	fail    bool
	secrets map[string]string // client_id → secret
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	e := &tokenEndpoint{secrets: map[string]string{"gw-system": "system-secret", "gw-user": "user-secret"}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.calls++
		n, fail := e.calls, e.fail
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		id, secret := r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		if fail || r.PostFormValue("grant_type") != "client_credentials" || e.secrets[id] != secret {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"token_type": "Bearer", "expires_in": 3600,
			"access_token": fmt.Sprintf("%s|%s|%d", id, r.PostFormValue("scope"), n),
		})
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *tokenEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

func TestAuthenticationManagedIdentity(t *testing.T) {
	ep := newTokenEndpoint(t)
	clock := newFakeClock()
	tokens := &ManagedIdentityTokens{
		// Written for Entra; the authority alias sends it to the test's endpoint.
		System:       &ManagedIdentity{TokenURL: TokenURL(DefaultAzureADAuthority, "tenant"), ClientID: "gw-system", ClientSecret: "system-secret"},
		Aliases:      map[string]string{DefaultAzureADAuthority: ep.srv.URL},
		UserAssigned: []ManagedIdentity{{TokenURL: ep.srv.URL + "/tenant/oauth2/v2.0/token", ClientID: "gw-user", ClientSecret: "user-secret"}},
		Now:          clock.Now,
	}
	var buf bytes.Buffer
	deps := Deps{ManagedIdentity: ManagedIdentityDeps{Tokens: tokens}, EventHub: probeDeps(&buf)}
	run := func(policyXML string) *policy.Context {
		t.Helper()
		p := mustPipeline(t, deps, inboundDoc(policyXML))
		ctx := request(map[string]string{"Authorization": "Bearer from-client"}, "")
		runCtx(p, ctx, &statusBackend{})
		return ctx
	}
	auth := func(ctx *policy.Context) string { v, _ := ctx.Request.Header.Get("Authorization"); return v }

	ctx := run(`<authentication-managed-identity resource="https://storage.azure.com/" />`)
	if got := auth(ctx); got != "Bearer gw-system|https://storage.azure.com/.default|1" {
		t.Errorf("Authorization = %q", got)
	}
	ctx = run(`<authentication-managed-identity resource="https://storage.azure.com/" />`)
	if got := auth(ctx); !strings.HasSuffix(got, "|1") || ep.count() != 1 {
		t.Errorf("the token was not reused: %q after %d calls", got, ep.count())
	}
	clock.Advance(56 * time.Minute) // within 5 minutes of expiry: fetched anew
	ctx = run(`<authentication-managed-identity resource="https://storage.azure.com/" />`)
	if got := auth(ctx); !strings.HasSuffix(got, "|2") {
		t.Errorf("a token close to expiry was reused: %q", got)
	}

	// Documented: "use managed identity and set header manually".
	ctx = run(`<authentication-managed-identity resource="6c1f0d2a-0000-4000-8000-0000000000b1" client-id="gw-user"
		output-token-variable-name="msi-access-token" ignore-error="false" />` +
		probe(`@("Bearer " + (string)context.Variables["msi-access-token"])`))
	if got := lastProbe(t, &buf); got != "Bearer gw-user|6c1f0d2a-0000-4000-8000-0000000000b1/.default|3" {
		t.Errorf("msi-access-token = %q", got)
	}
	if got := auth(ctx); got != "Bearer from-client" {
		t.Errorf("with output-token-variable-name the header is the policy's to set; it became %q", got)
	}

	// A deployed lab (mcp-client-authorization) obtains a token in outbound for a send-request;
	// APIM accepts it there.
	out := mustPipeline(t, deps, `<policies><outbound><authentication-managed-identity resource="https://cosmos.azure.com"
		output-token-variable-name="cosmosAccessToken" />`+
		probe(`@((string)context.Variables["cosmosAccessToken"])`)+`</outbound></policies>`)
	runCtx(out, request(nil, ""), &statusBackend{})
	if got := lastProbe(t, &buf); got != "gw-system|https://cosmos.azure.com/.default|4" {
		t.Errorf("token obtained in outbound = %q", got)
	}

	ep.mu.Lock()
	ep.fail = true
	ep.mu.Unlock()
	ctx = run(`<authentication-managed-identity resource="https://vault.azure.net" />`)
	if ctx.Response.StatusCode != 500 || ctx.LastError.Reason != ReasonManagedIdentityTokenFailure {
		t.Fatalf("a refused token request: %d %+v", ctx.Response.StatusCode, ctx.LastError)
	}
	if msg := ctx.LastError.Message; !strings.Contains(msg, "invalid_client") || strings.Contains(msg, "secret\"") || strings.Contains(msg, "system-secret") || strings.Contains(msg, "\r") {
		t.Errorf("LastError.Message = %q: must say why, on one line, without the secret", msg)
	}
	ctx = run(`<authentication-managed-identity resource="https://vault.azure.net" ignore-error="true" />`)
	if ctx.Response.StatusCode != 200 || auth(ctx) != "Bearer from-client" {
		t.Errorf("ignore-error: status %d, Authorization %q", ctx.Response.StatusCode, auth(ctx))
	}
	// The cached storage token is still good although the endpoint fails.
	ctx = run(`<authentication-managed-identity resource="https://storage.azure.com/" />`)
	if got := auth(ctx); !strings.HasSuffix(got, "|2") {
		t.Errorf("cached token while the endpoint fails: %q", got)
	}

	if _, err := buildPipeline(t, deps, inboundDoc(`<authentication-managed-identity resource="r" client-id="someone-else" />`), nil); err == nil ||
		!strings.Contains(err.Error(), `client-id "someone-else" is not one of the gateway's user-assigned identities`) {
		t.Errorf("unknown client-id: %v", err)
	}
	// Without a configured identity the policy loads (a document can be checked anywhere)
	// and fails when it runs.
	p := mustPipeline(t, Deps{}, inboundDoc(`<authentication-managed-identity resource="r" />`))
	ctx = request(nil, "")
	if runCtx(p, ctx, &statusBackend{}); ctx.Response.StatusCode != 500 || !strings.Contains(ctx.LastError.Message, "no managed identity is configured") {
		t.Errorf("no identity: %d %+v", ctx.Response.StatusCode, ctx.LastError)
	}
}
