package policies

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"portcullis/internal/jwt"
	"portcullis/internal/keys"
	"portcullis/internal/policy"
)

// articlePolicy is the seed article's policy, with the tenant and client ID filled in, as a
// user pastes it: the openid-config URL names Entra itself, and the gateway's
// authority-aliases send it to the identity provider of the test.
const articlePolicy = `<policies>
    <inbound>
        <base />
        <validate-jwt header-name="Authorization" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized. Access token is missing or invalid.">
            <openid-config url="https://login.microsoftonline.com/` + tenantID + `/v2.0/.well-known/openid-configuration" />
            <required-claims>
                <claim name="aud">
                    <value>` + clientID + `</value>
                </claim>
            </required-claims>
        </validate-jwt>
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>`

func TestArticlePolicy(t *testing.T) {
	p := newIdP(t)
	kc, err := keys.NewCache(keys.Options{Aliases: keys.Aliases{"https://login.microsoftonline.com": p.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	var log bytes.Buffer
	deps := ValidateJWTDeps{Keys: kc, Tokens: jwt.NewCache(0), Logger: slog.New(slog.NewTextHandler(&log, nil))}
	l := &policy.Loader{Registry: Registry(Deps{ValidateJWT: deps})}
	doc, err := l.Load("echo.xml", []byte(articlePolicy))
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := l.Compile(nil, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !kc.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("keys never arrived: %+v", kc.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	now := time.Now()
	const articleBody = `{"statusCode": 401, "message": "Unauthorized. Access token is missing or invalid."}`
	cases := []struct {
		name      string
		auth      string
		status    int
		body      string
		www       string
		reason    string
		lastError string // substring of context.LastError.Message
	}{
		{name: "no token", status: 401, body: articleBody, www: "Bearer", reason: "TokenNotPresent"},
		{name: "valid token", auth: "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), nil)), status: 200, body: "backend"},
		{name: "v1 token for the Application ID URI", auth: "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), map[string]any{"aud": "api://" + clientID, "ver": "1.0"})),
			status: 401, body: articleBody, www: `Bearer error="invalid_token", error_description="Claim aud value of api://` + clientID + ` is not allowed. Access denied."`,
			reason: "TokenClaimValueNotAllowed", lastError: "Application ID URI"},
		{name: "token for another API", auth: "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), map[string]any{"aud": "00000003-0000-0000-c000-000000000000"})),
			status: 401, body: articleBody, reason: "TokenClaimValueNotAllowed"},
		{name: "expired", auth: "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), map[string]any{"exp": now.Add(-time.Hour).Unix()})),
			status: 401, body: articleBody, reason: "TokenExpired", lastError: "expired at"},
		{name: "signed by a stranger", auth: "Bearer " + signRS256(t, testRSA()[1], p.kid, claimsAt(now, p.issuer(), nil)),
			status: 401, body: articleBody, reason: "TokenSignatureInvalid"},
		{name: "unknown kid", auth: "Bearer " + signRS256(t, testRSA()[1], "not-published", claimsAt(now, p.issuer(), nil)),
			status: 401, body: articleBody, reason: "TokenSignatureKeyNotFound"},
		{name: "issuer of another tenant", auth: "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, "https://login.microsoftonline.com/"+tenantID+"/v2.0", nil)),
			status: 401, body: articleBody, reason: "TokenIssuerNotAllowed", lastError: "expected iss"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := &recordingBackend{}
			headers := map[string]string{}
			if tc.auth != "" {
				headers["Authorization"] = tc.auth
			}
			ctx := request(headers, "")
			ctx.Backend = backend
			_ = pipe.Run(ctx)
			if ctx.Response == nil || ctx.Response.StatusCode != tc.status {
				t.Fatalf("response %+v, want status %d (last error %+v)", ctx.Response, tc.status, ctx.LastError)
			}
			body, _ := ctx.Response.Body.Bytes()
			if string(body) != tc.body {
				t.Errorf("body %s, want %s", body, tc.body)
			}
			if tc.status == 200 {
				if backend.calls != 1 {
					t.Fatalf("backend called %d times", backend.calls)
				}
				return
			}
			if backend.calls != 0 {
				t.Fatal("a refused request reached the backend")
			}
			www, _ := ctx.Response.Header.Get("WWW-Authenticate")
			if tc.www != "" && www != tc.www {
				t.Errorf("WWW-Authenticate %q, want %q", www, tc.www)
			}
			if !strings.HasPrefix(www, "Bearer") {
				t.Errorf("WWW-Authenticate %q", www)
			}
			le := ctx.LastError
			if le == nil || le.Source != "validate-jwt" || le.Reason != tc.reason || le.Section != "inbound" {
				t.Fatalf("LastError %+v, want reason %s", le, tc.reason)
			}
			if tc.lastError != "" && !strings.Contains(le.Message, tc.lastError) {
				t.Errorf("LastError.Message %q lacks %q", le.Message, tc.lastError)
			}
		})
	}
}
