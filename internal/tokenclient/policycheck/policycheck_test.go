package policycheck_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/tokenclient/policycheck"
)

const (
	tenant   = "3f5b1c2e-0000-4000-8000-000000000001"
	backend  = "6c1f0d2a-0000-4000-8000-0000000000b1"
	otherAPI = "6c1f0d2a-0000-4000-8000-0000000000b2"
	client   = "0b7e9d4c-0000-4000-8000-0000000000c1"
)

// idp serves a v2 discovery document and key set for one RSA key, as Entra does.
type idp struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	issuer string
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /"+tenant+"/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer, "jwks_uri": p.srv.URL + "/" + tenant + "/discovery/v2.0/keys"})
	})
	mux.HandleFunc("GET /"+tenant+"/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL + "/" + tenant + "/v2.0"
	return p
}

func (p *idp) discovery() string {
	return p.srv.URL + "/" + tenant + "/v2.0/.well-known/openid-configuration"
}

func sign(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	tok, err := jose.Sign("RS256", key, kid, map[string]any{"typ": "JWT"}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func writePolicy(t *testing.T, xml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.xml")
	if err := os.WriteFile(p, []byte(xml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// articlePolicy is the article's validate-jwt, with named values as in examples/policies.
const articlePolicy = `<policies>
    <inbound>
        <base />
        <validate-jwt header-name="Authorization" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized. Access token is missing or invalid.">
            <openid-config url="{{openid-config}}" />
            <required-claims>
                <claim name="aud">
                    <value>{{backend-app-client-id}}</value>
                </claim>
            </required-claims>
        </validate-jwt>
    </inbound>
</policies>`

const fullPolicy = `<policies><inbound>
  <validate-jwt header-name="Authorization" require-scheme="Bearer" clock-skew="60">
    <openid-config url="{{openid-config}}" />
    <audiences><audience>{{backend-app-client-id}}</audience><audience>api://{{backend-app-client-id}}</audience></audiences>
    <issuers><issuer>{{issuer}}</issuer></issuers>
    <required-claims>
      <claim name="roles" match="any"><value>Files.Read.All</value><value>Files.Write.All</value></claim>
      <claim name="azp"><value>@(context.Variables.GetValueOrDefault<string>("client"))</value></claim>
    </required-claims>
  </validate-jwt>
</inbound></policies>`

type wantCheck struct {
	name   string
	status policycheck.Status
	why    string // substring
}

func TestEvaluate(t *testing.T) {
	p := newIDP(t)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now().Truncate(time.Second)
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": backend, "iss": p.issuer, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"azp": client, "roles": []string{"Files.Read.All"}, "tid": tenant, "ver": "2.0"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	named := map[string]string{"openid-config": p.discovery(), "backend-app-client-id": backend, "issuer": p.issuer}
	tests := []struct {
		name        string
		policy      string
		token       string
		wantChecks  []wantCheck
		wantPass    bool
		wantMessage string
		wantPartial bool
	}{
		{name: "article policy, good token", policy: articlePolicy, token: sign(t, p.key, "k1", claims(nil)), wantPass: true,
			wantChecks: []wantCheck{{"token present", policycheck.Pass, "header Authorization"}, {"signature", policycheck.Pass, `RS256 signature verifies with key "k1"`},
				{"lifetime", policycheck.Pass, "(in 1h)"}, {"issuer", policycheck.Pass, p.issuer}, {"audience", policycheck.NotConfigured, ""}, {"claim aud", policycheck.Pass, backend}}},
		{name: "article policy, token for another API", policy: articlePolicy, token: sign(t, p.key, "k1", claims(func(c map[string]any) { c["aud"] = otherAPI })),
			wantMessage: "Unauthorized. Access token is missing or invalid.",
			wantChecks:  []wantCheck{{"signature", policycheck.Pass, ""}, {"claim aud", policycheck.Fail, "TokenClaimValueNotAllowed: "}}},
		{name: "article policy, expired token", policy: articlePolicy, token: sign(t, p.key, "k1", claims(func(c map[string]any) {
			c["exp"], c["nbf"], c["iat"] = now.Add(-time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
		})), wantMessage: "Unauthorized. Access token is missing or invalid.",
			wantChecks: []wantCheck{{"lifetime", policycheck.Fail, "TokenExpired: "}, {"issuer", policycheck.Pass, ""}, {"claim aud", policycheck.Pass, ""}}},
		{name: "article policy, another issuer", policy: articlePolicy, token: sign(t, p.key, "k1", claims(func(c map[string]any) { c["iss"] = "https://sts.windows.net/" + tenant + "/" })),
			wantMessage: "Unauthorized. Access token is missing or invalid.",
			wantChecks:  []wantCheck{{"issuer", policycheck.Fail, "TokenIssuerNotAllowed: "}, {"claim aud", policycheck.Pass, ""}}},
		{name: "article policy, signed by a stranger", policy: articlePolicy, token: sign(t, otherKey, "k1", claims(nil)),
			wantMessage: "Unauthorized. Access token is missing or invalid.",
			wantChecks:  []wantCheck{{"signature", policycheck.Fail, "TokenSignatureInvalid"}, {"lifetime", policycheck.NotEvaluated, "signature check failed first"}, {"claim aud", policycheck.NotEvaluated, ""}}},
		{name: "article policy, unknown key", policy: articlePolicy, token: sign(t, otherKey, "k9", claims(nil)),
			wantMessage: "Unauthorized. Access token is missing or invalid.",
			wantChecks:  []wantCheck{{"signature", policycheck.Fail, "TokenSignatureKeyNotFound"}}},
		{name: "full policy, every constant check passes, the expression is skipped", policy: fullPolicy, token: sign(t, p.key, "k1", claims(nil)), wantPass: true, wantPartial: true,
			wantChecks: []wantCheck{{"token present", policycheck.Pass, "header Authorization, scheme Bearer"}, {"lifetime", policycheck.Pass, "clock skew 1m0s"},
				{"audience", policycheck.Pass, backend}, {"claim roles", policycheck.Pass, "Files.Read.All"}, {"claim azp", policycheck.NotEvaluated, "expression"}}},
		{name: "full policy, wrong audience and missing role", policy: fullPolicy, token: sign(t, p.key, "k1", claims(func(c map[string]any) { c["aud"] = otherAPI; delete(c, "roles") })),
			wantMessage: "JWT audience is not allowed. Access denied.", wantPartial: true,
			wantChecks: []wantCheck{{"audience", policycheck.Fail, "TokenAudienceNotAllowed: expected aud to be one of"}, {"claim roles", policycheck.Fail, "TokenClaimNotFound"}}},
		{name: "empty token", policy: articlePolicy, token: "", wantMessage: "Unauthorized. Access token is missing or invalid.",
			wantChecks: []wantCheck{{"token present", policycheck.Fail, "no token"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			results, err := policycheck.Evaluate(context.Background(), writePolicy(t, tc.policy), tc.token,
				policycheck.Options{NamedValues: named, KeyWait: 5 * time.Second, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 {
				t.Fatalf("%d results, want 1", len(results))
			}
			r := results[0]
			var out bytes.Buffer
			r.Render(&out)
			t.Log("\n" + out.String())
			for _, w := range tc.wantChecks {
				found := false
				for _, c := range r.Checks {
					if c.Name == w.name {
						found = true
						if c.Status != w.status || !strings.Contains(c.Why, w.why) {
							t.Errorf("check %s = %s %q, want %s containing %q", c.Name, c.Status, c.Why, w.status, w.why)
						}
					}
				}
				if !found {
					t.Errorf("no check %q in:\n%s", w.name, out.String())
				}
			}
			if r.Passed() != tc.wantPass || r.Message != tc.wantMessage || r.Partial != tc.wantPartial {
				t.Errorf("passed %v message %q partial %v; want %v %q %v\n%s", r.Passed(), r.Message, r.Partial, tc.wantPass, tc.wantMessage, tc.wantPartial, out.String())
			}
			if strings.Contains(out.String(), tc.token) && tc.token != "" {
				t.Error("the report repeats the token")
			}
		})
	}
}

func TestEvaluateHMACKeys(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	policy := `<policies><inbound><validate-jwt header-name="Authorization">
	  <issuer-signing-keys><key>` + base64.StdEncoding.EncodeToString(secret) + `</key></issuer-signing-keys>
	  <audiences><audience>api://x</audience></audiences>
	</validate-jwt></inbound></policies>`
	payload, _ := json.Marshal(map[string]any{"aud": "api://x", "exp": time.Now().Add(time.Hour).Unix()})
	tok, err := jose.SignHMAC("HS256", secret, "", nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	results, err := policycheck.Evaluate(context.Background(), writePolicy(t, policy), tok, policycheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; !r.Passed() || r.Checks[1].Status != policycheck.Pass || !strings.Contains(r.Checks[1].Why, "<issuer-signing-keys>") {
		t.Fatalf("HS256 token with the policy's key: %+v", r)
	}
}

func TestEvaluateUnreachableKeys(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/t/v2.0/.well-known/openid-configuration"
	dead.Close()
	policy := `<policies><inbound><validate-jwt header-name="Authorization"><openid-config url="` + url + `"/></validate-jwt></inbound></policies>`
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	var progress []string
	results, err := policycheck.Evaluate(context.Background(), writePolicy(t, policy), sign(t, key, "k1", map[string]any{"exp": time.Now().Add(time.Hour).Unix()}),
		policycheck.Options{KeyWait: 5 * time.Second, Progress: func(m string) { progress = append(progress, m) }})
	if len(progress) != 1 || !strings.Contains(progress[0], "Fetching signing keys from "+url) {
		t.Errorf("progress %q: want one line naming the openid-config", progress)
	}
	if err != nil {
		t.Fatal(err)
	}
	sig := results[0].Checks[1]
	if sig.Status != policycheck.Fail || !strings.Contains(sig.Why, "no keys from "+url) {
		t.Fatalf("signature check %+v: want a failure that names the unreachable openid-config", sig)
	}
}

func TestEvaluateRefusesBadPolicies(t *testing.T) {
	tests := []struct {
		name, policy string
		wantIs       error
		want         string
	}{
		{"no validate-jwt", `<policies><inbound><set-header name="x" exists-action="override"><value>y</value></set-header></inbound></policies>`, policycheck.ErrNoValidateJWT, "no <validate-jwt>"},
		{"undefined named value", `<policies><inbound><validate-jwt header-name="Authorization"><openid-config url="{{nope}}"/></validate-jwt></inbound></policies>`, nil, "policy.xml:1:"},
		{"bad clock skew", `<policies><inbound><validate-jwt header-name="Authorization" clock-skew="soon"/></inbound></policies>`, nil, "clock-skew"},
		{"plain http openid-config off loopback", `<policies><inbound><validate-jwt header-name="Authorization"><openid-config url="http://idp.example/x"/></validate-jwt></inbound></policies>`, nil, "openid-config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policycheck.Evaluate(context.Background(), writePolicy(t, tc.policy), "a.b.c", policycheck.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
