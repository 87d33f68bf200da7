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

// TestKeyRotationAtTheIdentityProvider: a token signed with a key the identity provider has
// just published passes on its first request (one refetch for the unknown kid); a key changed
// under a kid already known does not break tokens signed with the known good key, and the
// validated-token cache forgets tokens once the keys change.
func TestKeyRotationAtTheIdentityProvider(t *testing.T) {
	p := newIdP(t)
	oldKey := p.key
	newKey := testRSA()[1]
	kc, err := keys.NewCache(keys.Options{UnknownKidInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	e := newEnv(t, p)
	e.deps.Keys = kc
	step, err := e.compileStep(t, `<validate-jwt header-name="Authorization"><openid-config url="{{discovery}}"/></validate-jwt>`)
	if err != nil {
		t.Fatal(err)
	}
	e.waitKeys(t)
	now := time.Now()
	run := func(tok string) error {
		return step.Run(request(map[string]string{"Authorization": "Bearer " + tok}, ""))
	}
	oldTok := signRS256(t, oldKey, p.kid, claimsAt(now, p.issuer(), nil))
	if err := run(oldTok); err != nil {
		t.Fatal(err)
	}
	// Rotation: a new key under a new kid.
	p.publish("idp-key-2", &newKey.PublicKey)
	if err := run(signRS256(t, newKey, "idp-key-2", claimsAt(now, p.issuer(), nil))); err != nil {
		t.Fatalf("first request with the rotated key refused: %v", err)
	}
	// The identity provider now serves other key material under the old kid; a refetch
	// (triggered by any unknown kid) brings it in.
	p.publish(p.kid, &newKey.PublicKey)
	time.Sleep(5 * time.Millisecond)
	if err := run(signRS256(t, newKey, "unknown", claimsAt(now, p.issuer(), nil))); err == nil {
		t.Fatal("a token with an unknown kid passed")
	}
	if err := run(oldTok); err != nil {
		t.Fatalf("token signed with the known good key refused after the key changed under its kid: %v", err)
	}
	if err := run(signRS256(t, newKey, p.kid, claimsAt(now.Add(time.Second), p.issuer(), nil))); err != nil {
		t.Fatalf("token signed with the new key under the old kid refused: %v", err)
	}
}

// TestValidateJWTPolicyID: the id attribute reaches context.LastError.PolicyID, and an
// on-error section sees validate-jwt's reason.
func TestValidateJWTPolicyID(t *testing.T) {
	e := newEnv(t, nil)
	l := e.loader()
	doc, err := l.Load("api.xml", []byte(`<policies>
<inbound><base/><validate-jwt id="check-token" header-name="Authorization"><issuer-signing-keys><key>`+b64std([]byte("an HMAC key of thirty-two bytes!"))+`</key></issuer-signing-keys></validate-jwt></inbound>
<backend><base/></backend><outbound><base/></outbound><on-error><base/></on-error>
</policies>`))
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := l.Compile(nil, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := request(nil, "")
	ctx.Backend = &recordingBackend{}
	_ = pipe.Run(ctx)
	if le := ctx.LastError; le == nil || le.PolicyID != "check-token" || le.Reason != "TokenNotPresent" || le.Source != "validate-jwt" {
		t.Fatalf("LastError %+v", ctx.LastError)
	}
	if www, _ := ctx.Response.Header.Get("WWW-Authenticate"); www != "Bearer" {
		t.Fatalf("WWW-Authenticate %q", www)
	}
}
