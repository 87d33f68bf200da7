package policies

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/jwt"
	"portcullis/internal/keys"
	"portcullis/internal/policy"
)

// env is what one test's validate-jwt compiles against.
type env struct {
	deps  ValidateJWTDeps
	certs map[string]*policy.Certificate
	named map[string]string
	log   *bytes.Buffer
}

func newEnv(t testing.TB, p *idp) *env {
	t.Helper()
	kc, err := keys.NewCache(keys.Options{FetchTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	var log bytes.Buffer
	e := &env{
		deps: ValidateJWTDeps{Keys: kc, Tokens: jwt.NewCache(0), Logger: slog.New(slog.NewTextHandler(&log, nil))},
		certs: map[string]*policy.Certificate{
			"signing-cert": selfSigned(t, "signing-cert", testRSA()[1], false),
			"decrypt-cert": selfSigned(t, "decrypt-cert", testRSA()[1], true),
		},
		named: map[string]string{"tenant": tenantID, "client-id": clientID},
		log:   &log,
	}
	if p != nil {
		e.named["idp"] = p.srv.URL
		e.named["discovery"] = p.discoveryURL()
	}
	return e
}

func (e *env) loader() *policy.Loader {
	return &policy.Loader{Registry: Registry(Deps{ValidateJWT: e.deps}), Certificates: e.certs, NamedValues: e.named}
}

// compileStep loads inner as the inbound section of an API policy and compiles its
// <validate-jwt> element.
func (e *env) compileStep(t testing.TB, inner string) (policy.Step, error) {
	t.Helper()
	l := e.loader()
	doc, err := l.Load("api.xml", []byte(wrapInbound(inner)))
	if err != nil {
		return nil, err
	}
	in, _ := doc.Section("inbound")
	for _, el := range in.Children {
		if el.Name == "validate-jwt" {
			c := &policy.Compiler{Registry: l.Registry, Certificates: e.certs, Scope: "api", Section: "inbound"}
			return e.deps.compile(el, c)
		}
	}
	t.Fatal("no <validate-jwt> in the test policy")
	return nil, nil
}

func (e *env) waitKeys(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !e.deps.Keys.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("openid-config keys never arrived: %+v", e.deps.Keys.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestValidateJWTRequests(t *testing.T) {
	p := newIdP(t)
	k := testRSA()
	now := time.Now()
	secret := []byte("an HMAC key of thirty-two bytes!")
	good := signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), nil))
	oidc := `<openid-config url="{{discovery}}"/>`
	cases := []struct {
		name    string
		policy  string
		headers map[string]string
		query   string
		deps    func(*ValidateJWTDeps)
		// want
		reason  string // "" = passes
		status  int
		message string
		header  string // WWW-Authenticate; "-" = absent
		check   func(t *testing.T, ctx *policy.Context)
	}{
		{name: "bearer token in Authorization", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}},
		{name: "scheme matched case-insensitively", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "bEaReR " + good}},
		{name: "Authorization without a scheme", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": good}},
		{name: "header name matched case-insensitively", policy: `<validate-jwt header-name="authorization">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"AUTHORIZATION": "Bearer " + good}},
		{name: "no token", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			reason: "TokenNotPresent", status: 401, message: "JWT not present.", header: "Bearer"},
		{name: "empty bearer", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer "}, reason: "TokenNotPresent", status: 401},
		{name: "require-scheme met", policy: `<validate-jwt header-name="Authorization" require-scheme="Bearer">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}},
		{name: "require-scheme not met", policy: `<validate-jwt header-name="Authorization" require-scheme="Bearer">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": good}, reason: "TokenNotPresent", status: 401},
		{name: "require-scheme other scheme", policy: `<validate-jwt header-name="Authorization" require-scheme="Bearer">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, reason: "TokenNotPresent", status: 401},
		{name: "custom header keeps its Bearer prefix", policy: `<validate-jwt header-name="X-Token">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"X-Token": "Bearer " + good}, reason: "JwtInvalid", status: 401},
		{name: "custom header ignores require-scheme", policy: `<validate-jwt header-name="X-Token" require-scheme="Bearer">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"X-Token": good}},
		{name: "query parameter", policy: `<validate-jwt query-parameter-name="access_token">` + oidc + `</validate-jwt>`,
			query: "access_token=" + good},
		{name: "query parameter missing", policy: `<validate-jwt query-parameter-name="access_token">` + oidc + `</validate-jwt>`,
			query: "other=1", reason: "TokenNotPresent", status: 401},
		{name: "failed-validation-httpcode", policy: `<validate-jwt header-name="Authorization" failed-validation-httpcode="403">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer x.y.z"}, reason: "JwtInvalid", status: 403, header: "-"},
		{name: "failed-validation-error-message", policy: `<validate-jwt header-name="Authorization" failed-validation-error-message="Unauthorized. Access token is missing or invalid.">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), map[string]any{"exp": now.Add(-time.Hour).Unix()}))},
			reason:  "TokenExpired", status: 401, message: "Unauthorized. Access token is missing or invalid.",
			header: `Bearer error="invalid_token", error_description="JWT has expired. Access denied."`},
		{name: "WWW-Authenticate off", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			deps: func(d *ValidateJWTDeps) { d.NoWWWAuthenticate = true }, reason: "TokenNotPresent", status: 401, header: "-"},
		{name: "require-expiration-time default", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), map[string]any{"exp": nil}))},
			reason:  "JwtInvalid", status: 401},
		{name: "require-expiration-time false", policy: `<validate-jwt header-name="Authorization" require-expiration-time="false">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), map[string]any{"exp": nil}))}},
		{name: "require-signed-tokens default", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + unsigned(t, claimsAt(now, p.issuer(), nil))}, reason: "TokenSignatureInvalid", status: 401},
		{name: "require-signed-tokens false", policy: `<validate-jwt header-name="Authorization" require-signed-tokens="false">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + unsigned(t, claimsAt(now, p.issuer(), nil))}},
		{name: "clock-skew default", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), map[string]any{"exp": now.Add(-time.Minute).Unix()}))},
			reason:  "TokenExpired", status: 401},
		{name: "clock-skew tolerates", policy: `<validate-jwt header-name="Authorization" clock-skew="300">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), map[string]any{"exp": now.Add(-time.Minute).Unix()}))}},
		{name: "output-token-variable-name", policy: `<validate-jwt header-name="Authorization" output-token-variable-name="jwt">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good},
			check: func(t *testing.T, ctx *policy.Context) {
				tok, ok := ctx.Variables["jwt"].(*jwt.Token)
				if !ok || tok.Subject != "user-1" || tok.Claims["roles"][0] != "Files.Read.All" {
					t.Fatalf("variable: %#v", ctx.Variables["jwt"])
				}
			}},
		{name: "issuer from discovery enforced", policy: `<validate-jwt header-name="Authorization">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, "https://sts.windows.net/"+tenantID+"/", nil))},
			reason:  "TokenIssuerNotAllowed", status: 401},
		{name: "issuers element adds issuers", policy: `<validate-jwt header-name="Authorization">` + oidc + `<issuers><issuer>https://sts.windows.net/{{tenant}}/</issuer></issuers></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, p.key, p.kid, claimsAt(now, "https://sts.windows.net/"+tenantID+"/", nil))}},
		{name: "audiences match", policy: `<validate-jwt header-name="Authorization">` + oidc + `<audiences><audience>api://{{client-id}}</audience><audience>{{client-id}}</audience></audiences></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}},
		{name: "audiences mismatch", policy: `<validate-jwt header-name="Authorization">` + oidc + `<audiences><audience>api://{{client-id}}</audience></audiences></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}, reason: "TokenAudienceNotAllowed", status: 401},
		{name: "required claim missing", policy: `<validate-jwt header-name="Authorization">` + oidc + `<required-claims><claim name="azp"/><claim name="appid"/></required-claims></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}, reason: "TokenClaimNotFound", status: 401,
			message: "JWT token is missing the following claims: azp, appid. Access denied."},
		{name: "required claim value", policy: `<validate-jwt header-name="Authorization">` + oidc + `<required-claims><claim name="roles" match="any"><value>Admin</value><value>Files.Read.All</value></claim><claim name="scp" separator=" "><value>Files.Read</value></claim></required-claims></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}},
		{name: "required claim wrong value", policy: `<validate-jwt header-name="Authorization">` + oidc + `<required-claims><claim name="scp" match="all" separator=" "><value>Files.Read</value><value>Files.Write</value></claim></required-claims></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}, reason: "TokenClaimValueNotAllowed", status: 401,
			message: "Claim scp value of Files.Read is not allowed. Access denied."},
		{name: "HMAC key", policy: `<validate-jwt header-name="Authorization"><issuer-signing-keys><key>` + b64std(secret) + `</key></issuer-signing-keys></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signHS256(t, secret, "", claimsAt(now, "x", nil))}},
		{name: "HMAC key, wrong secret", policy: `<validate-jwt header-name="Authorization"><issuer-signing-keys><key>` + b64std(secret) + `</key></issuer-signing-keys></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signHS256(t, []byte("another HMAC key of 32 bytes!!!!"), "", claimsAt(now, "x", nil))},
			reason:  "TokenSignatureInvalid", status: 401},
		{name: "n and e", policy: `<validate-jwt header-name="Authorization"><issuer-signing-keys><key n="` + b64url(k[1].N.Bytes()) + `" e="AQAB"/></issuer-signing-keys></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, k[1], "any", claimsAt(now, "x", nil))}},
		{name: "certificate-id", policy: `<validate-jwt header-name="Authorization"><issuer-signing-keys><key certificate-id="signing-cert"/></issuer-signing-keys></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, k[1], "", claimsAt(now, "x", nil))}},
		{name: "id picks the key, the rest is the fallback", policy: `<validate-jwt header-name="Authorization"><issuer-signing-keys><key id="hmac">` + b64std(secret) + `</key><key id="rsa" certificate-id="signing-cert"/></issuer-signing-keys></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + signRS256(t, k[1], "rotated-away", claimsAt(now, "x", nil))}},
		{name: "openid-config key with a static key beside it", policy: `<validate-jwt header-name="Authorization">` + oidc + `<issuer-signing-keys><key certificate-id="signing-cert"/></issuer-signing-keys></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}},
		{name: "encrypted token", policy: `<validate-jwt header-name="Authorization">` + oidc + `<decryption-keys><key certificate-id="decrypt-cert"/></decryption-keys></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + encryptFor(t, good, &k[1].PublicKey)}},
		{name: "elements in any order", policy: `<validate-jwt header-name="Authorization"><required-claims><claim name="sub"/></required-claims><audiences><audience>{{client-id}}</audience></audiences>` + oidc + `</validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, p)
			if tc.deps != nil {
				tc.deps(&e.deps)
			}
			step, err := e.compileStep(t, tc.policy)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			e.waitKeys(t)
			ctx := request(tc.headers, tc.query)
			err = step.Run(ctx)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tc.check != nil {
					tc.check(t, ctx)
				}
				return
			}
			var f *policy.Failure
			if !errors.As(err, &f) {
				t.Fatalf("want a *policy.Failure, got %v", err)
			}
			if f.Source != "validate-jwt" || f.Reason != tc.reason || f.StatusCode != tc.status {
				t.Fatalf("got %s/%s/%d, want validate-jwt/%s/%d (%s)", f.Source, f.Reason, f.StatusCode, tc.reason, tc.status, f.Detail)
			}
			if tc.message != "" && f.Message != tc.message {
				t.Errorf("message %q, want %q", f.Message, tc.message)
			}
			var www string
			for _, h := range f.Header {
				if h.Name == "WWW-Authenticate" {
					www = h.Value
				}
			}
			switch {
			case tc.header == "-" && www != "":
				t.Errorf("WWW-Authenticate %q, want none", www)
			case tc.header != "" && tc.header != "-" && www != tc.header:
				t.Errorf("WWW-Authenticate %q, want %q", www, tc.header)
			case tc.header == "" && tc.status == 401 && !strings.HasPrefix(www, "Bearer"):
				t.Errorf("WWW-Authenticate %q on a 401", www)
			}
			if !strings.Contains(e.log.String(), "reason="+tc.reason) {
				t.Errorf("the refusal was not logged: %q", e.log.String())
			}
			for _, h := range tc.headers {
				if len(h) > 40 && strings.Contains(e.log.String()+f.Detail, strings.TrimPrefix(h, "Bearer ")) {
					t.Error("the token reached the log or the detail")
				}
			}
		})
	}
}

func encryptFor(t testing.TB, inner string, pub any) string {
	t.Helper()
	s, err := jose.Encrypt([]byte(inner), "RSA-OAEP-256", "A256GCM", &jose.Key{Public: pub}, map[string]any{"cty": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64url(b []byte) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(b64std(b)), "=")
}

func TestValidateJWTLoadErrors(t *testing.T) {
	cases := []struct {
		name, policy, want string
		line               int
	}{
		{"no token source", `<validate-jwt failed-validation-httpcode="401"/>`, "exactly one of header-name", 4},
		{"two token sources", `<validate-jwt header-name="Authorization" query-parameter-name="t"/>`, "exactly one of", 4},
		{"unknown attribute", `<validate-jwt header-name="Authorization" requre-scheme="Bearer"/>`, `no attribute "requre-scheme"`, 4},
		{"unknown child", "<validate-jwt header-name=\"Authorization\">\n<audience>x</audience>\n</validate-jwt>", "no child element <audience>", 5},
		{"bad httpcode", `<validate-jwt header-name="Authorization" failed-validation-httpcode="4O1"/>`, "HTTP status code", 4},
		{"bad boolean", `<validate-jwt header-name="Authorization" require-expiration-time="yes"/>`, "true or false", 4},
		{"bad clock-skew", `<validate-jwt header-name="Authorization" clock-skew="-5"/>`, "clock-skew", 4},
		{"empty header-name", `<validate-jwt header-name=""/>`, "must not be empty", 4},
		{"openid-config over plain http", `<validate-jwt header-name="Authorization"><openid-config url="http://login.example/.well-known/openid-configuration"/></validate-jwt>`, "https", 4},
		{"openid-config without url", `<validate-jwt header-name="Authorization"><openid-config/></validate-jwt>`, "needs a url", 4},
		{"n without e", `<validate-jwt header-name="Authorization"><issuer-signing-keys><key n="AQAB"/></issuer-signing-keys></validate-jwt>`, "both n and e", 4},
		{"key not base64", `<validate-jwt header-name="Authorization"><issuer-signing-keys><key>not*base64</key></issuer-signing-keys></validate-jwt>`, "base64", 4},
		{"HMAC key too short", `<validate-jwt header-name="Authorization"><issuer-signing-keys><key>c2hvcnQ=</key></issuer-signing-keys></validate-jwt>`, "at least 32", 4},
		{"unknown certificate", `<validate-jwt header-name="Authorization"><issuer-signing-keys><key certificate-id="nope"/></issuer-signing-keys></validate-jwt>`, `"nope"`, 4},
		{"decryption certificate without private key", `<validate-jwt header-name="Authorization"><decryption-keys><key certificate-id="signing-cert"/></decryption-keys></validate-jwt>`, "no private key", 4},
		{"key with two kinds", `<validate-jwt header-name="Authorization"><issuer-signing-keys><key certificate-id="signing-cert">c2hvcnQ=</key></issuer-signing-keys></validate-jwt>`, "exactly one of", 4},
		{"empty audiences", `<validate-jwt header-name="Authorization"><audiences/></validate-jwt>`, "at least one <audience>", 4},
		{"empty audience", `<validate-jwt header-name="Authorization"><audiences><audience> </audience></audiences></validate-jwt>`, "must not be empty", 4},
		{"duplicate audiences", `<validate-jwt header-name="Authorization"><audiences><audience>a</audience></audiences><audiences><audience>b</audience></audiences></validate-jwt>`, "more than one <audiences>", 4},
		{"bad match", `<validate-jwt header-name="Authorization"><required-claims><claim name="a" match="some"/></required-claims></validate-jwt>`, `"all" or "any"`, 4},
		{"claim without name", `<validate-jwt header-name="Authorization"><required-claims><claim/></required-claims></validate-jwt>`, "needs a name", 4},
		{"claim value as text", `<validate-jwt header-name="Authorization"><required-claims><claim name="a">x</claim></required-claims></validate-jwt>`, "<value>", 4},
		{"output variable expression", `<validate-jwt header-name="Authorization" output-token-variable-name="@(&quot;x&quot;)"/>`, "does not accept policy expressions", 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			_, err := e.compileStep(t, tc.policy)
			if err == nil {
				t.Fatal("compiled")
			}
			var pe *policy.Error
			if !errors.As(err, &pe) {
				t.Fatalf("%v is not a positioned load error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
			if pe.Pos.File != "api.xml" || pe.Pos.Line != tc.line || pe.Pos.Col == 0 {
				t.Fatalf("position %v, want api.xml line %d", pe.Pos, tc.line)
			}
		})
	}
}

// TestValidateJWTHeaderSafety: a claim value chosen by the caller is repeated in the message,
// but never as a line break or a quote in WWW-Authenticate.
func TestValidateJWTHeaderSafety(t *testing.T) {
	p := newIdP(t)
	e := newEnv(t, p)
	step, err := e.compileStep(t, `<validate-jwt header-name="Authorization"><openid-config url="{{discovery}}"/><required-claims><claim name="scp"><value>Files.Read</value></claim></required-claims></validate-jwt>`)
	if err != nil {
		t.Fatal(err)
	}
	e.waitKeys(t)
	evil := "x\"\r\nSet-Cookie: a=b\\ \u2028é"
	ctx := request(map[string]string{"Authorization": "Bearer " + signRS256(t, p.key, p.kid, claimsAt(time.Now(), p.issuer(), map[string]any{"scp": evil}))}, "")
	var f *policy.Failure
	if err := step.Run(ctx); !errors.As(err, &f) || f.Reason != "TokenClaimValueNotAllowed" {
		t.Fatalf("got %v", err)
	}
	www := f.Header[0].Value
	inner := strings.TrimSuffix(strings.TrimPrefix(www, `Bearer error="invalid_token", error_description="`), `"`)
	for _, c := range []byte(inner) {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Fatalf("WWW-Authenticate carries byte 0x%02x: %q", c, www)
		}
	}
	if strings.ContainsAny(f.Message+f.Detail, "\r\n\u2028") {
		t.Fatalf("message or detail carries a line break: %q / %q", f.Message, f.Detail)
	}
}
