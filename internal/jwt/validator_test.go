package jwt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/keys"
)

func mustValidator(t testing.TB, cfg Config) *Validator {
	t.Helper()
	if cfg.Now == nil {
		now := testNow
		cfg.Now = fixedClock(&now)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func failureOf(t *testing.T, err error) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *Failure", err, err)
	}
	return f
}

func TestValidateReasons(t *testing.T) {
	k := testKeys()
	base := Config{
		Checks:      Checks{Audiences: []string{testAudience}, Issuers: []string{testIssuer}},
		SigningKeys: []jose.Key{pubKey("k1", k.rsa)},
	}
	with := func(edit func(*Config)) Config {
		c := base
		edit(&c)
		return c
	}
	cases := []struct {
		name    string
		cfg     Config
		token   func(t *testing.T) string
		reason  Reason // "" means valid
		message string // exact client message, when set
		detail  string // substring of the detail, when set
	}{
		{name: "valid", cfg: base, token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(nil)) }},
		{name: "empty", cfg: base, token: func(t *testing.T) string { return "" }, reason: TokenNotPresent, message: "JWT not present."},
		{name: "garbage", cfg: base, token: func(t *testing.T) string { return "not a token" }, reason: JwtInvalid},
		{name: "expired", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"exp": testNow.Add(-time.Second).Unix()}))
		}, reason: TokenExpired, detail: "expired at"},
		{name: "expired within clock skew", cfg: with(func(c *Config) { c.ClockSkew = time.Minute }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"exp": testNow.Add(-30 * time.Second).Unix()}))
		}},
		{name: "not yet valid", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"nbf": testNow.Add(time.Minute).Unix()}))
		}, reason: JwtInvalid, detail: "not valid before"},
		{name: "not yet valid within clock skew", cfg: with(func(c *Config) { c.ClockSkew = 2 * time.Minute }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"nbf": testNow.Add(time.Minute).Unix()}))
		}},
		{name: "no exp", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"exp": nil}))
		}, reason: JwtInvalid, detail: "require-expiration-time"},
		{name: "no exp allowed", cfg: with(func(c *Config) { c.AllowNoExpiration = true }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"exp": nil}))
		}},
		{name: "wrong audience", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"aud": "someone-else"}))
		}, reason: TokenAudienceNotAllowed, message: "JWT audience is not allowed. Access denied.", detail: `found ["someone-else"]`},
		{name: "audience in array", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"aud": []string{"x", testAudience}}))
		}},
		{name: "v1 token with Application ID URI audience", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"aud": "api://" + testAudience, "ver": "1.0"}))
		}, reason: TokenAudienceNotAllowed, detail: "v1.0 token: its aud is the Application ID URI"},
		{name: "v2 token against Application ID URI", cfg: with(func(c *Config) { c.Audiences = []string{"api://" + testAudience} }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(nil))
		}, reason: TokenAudienceNotAllowed, detail: "v2.0 token: its aud is the API's client ID"},
		{name: "no audiences configured", cfg: with(func(c *Config) { c.Audiences = nil }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"aud": "anything"}))
		}},
		{name: "wrong issuer", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"iss": "https://evil.example/"}))
		}, reason: TokenIssuerNotAllowed, message: "JWT issuer is not allowed. Access denied.", detail: `found "https://evil.example/"`},
		{name: "v1 issuer where v2 expected", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"iss": "https://sts.windows.net/" + testTenant + "/", "ver": "1.0"}))
		}, reason: TokenIssuerNotAllowed, detail: "Entra v1.0 token"},
		{name: "no issuers configured", cfg: with(func(c *Config) { c.Issuers = nil }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"iss": "https://any.example/"}))
		}},
		{name: "issuer template", cfg: with(func(c *Config) { c.Issuers = []string{"https://idp.example/{TenantId}/v2.0"} }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(nil))
		}},
		{name: "issuer template with another tenant's iss", cfg: with(func(c *Config) { c.Issuers = []string{"https://idp.example/{tenantid}/v2.0"} }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"iss": "https://idp.example/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"}))
		}, reason: TokenIssuerNotAllowed},
		{name: "issuer template with non-GUID tid", cfg: with(func(c *Config) { c.Issuers = []string{"https://idp.example/{tenantid}/v2.0"} }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"tid": "x/../y", "iss": "https://idp.example/x/../y/v2.0"}))
		}, reason: TokenIssuerNotAllowed},
		{name: "missing claims listed", cfg: with(func(c *Config) {
			c.RequiredClaims = []ClaimRequirement{{Name: "appid"}, {Name: "scp"}, {Name: "azp"}}
		}), token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(nil)) },
			reason: TokenClaimNotFound, message: "JWT token is missing the following claims: appid, azp. Access denied."},
		{name: "claim value not allowed", cfg: with(func(c *Config) {
			c.RequiredClaims = []ClaimRequirement{{Name: "sub", Values: []string{"admin"}}}
		}), token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(nil)) },
			reason: TokenClaimValueNotAllowed, message: "Claim sub value of user-1 is not allowed. Access denied."},
		{name: "aud claim with v1 token names the pitfall", cfg: with(func(c *Config) {
			c.Audiences = nil
			c.RequiredClaims = []ClaimRequirement{{Name: "aud", Values: []string{testAudience}}}
		}), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(map[string]any{"aud": "api://" + testAudience, "ver": "1.0"}))
		}, reason: TokenClaimValueNotAllowed, detail: "Application ID URI"},
		{name: "separator any", cfg: with(func(c *Config) {
			c.RequiredClaims = []ClaimRequirement{{Name: "scp", Values: []string{"Nope", "Files.Write"}, MatchAny: true, Separator: " "}}
		}), token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(nil)) }},
		{name: "separator all", cfg: with(func(c *Config) {
			c.RequiredClaims = []ClaimRequirement{{Name: "scp", Values: []string{"Files.Read", "Files.Write"}, Separator: " "}}
		}), token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(nil)) }},
		{name: "separator all with one missing", cfg: with(func(c *Config) {
			c.RequiredClaims = []ClaimRequirement{{Name: "scp", Values: []string{"Files.Read", "Files.Delete"}, Separator: " "}}
		}), token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(nil)) }, reason: TokenClaimValueNotAllowed},
		{name: "without separator the whole string must match", cfg: with(func(c *Config) {
			c.RequiredClaims = []ClaimRequirement{{Name: "scp", Values: []string{"Files.Read"}}}
		}), token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(nil)) }, reason: TokenClaimValueNotAllowed},
		{name: "array claim any", cfg: with(func(c *Config) {
			c.RequiredClaims = []ClaimRequirement{{Name: "roles", Values: []string{"Admin", "Writer"}, MatchAny: true}}
		}), token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(nil)) }},
		{name: "array claim all", cfg: with(func(c *Config) {
			c.RequiredClaims = []ClaimRequirement{{Name: "roles", Values: []string{"Admin", "Writer"}}}
		}), token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(nil)) }, reason: TokenClaimValueNotAllowed},
		{name: "claim names are case-sensitive", cfg: with(func(c *Config) {
			c.RequiredClaims = []ClaimRequirement{{Name: "appid"}}
		}), token: func(t *testing.T) string { return token(t, k.rsa, "k1", claims(map[string]any{"APPID": "x"})) }, reason: TokenClaimNotFound},
		{name: "tampered payload", cfg: base, token: func(t *testing.T) string {
			good := token(t, k.rsa, "k1", claims(nil))
			other := token(t, k.rsa, "k1", claims(map[string]any{"sub": "admin"}))
			p := strings.Split(good, ".")
			return p[0] + "." + strings.Split(other, ".")[1] + "." + p[2]
		}, reason: TokenSignatureInvalid},
		{name: "signed by another key with the same kid", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa2, "k1", claims(nil))
		}, reason: TokenSignatureInvalid},
		{name: "unknown kid falls back to every static key", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa, "rotated", claims(nil))
		}},
		{name: "unknown kid, no key verifies", cfg: base, token: func(t *testing.T) string {
			return token(t, k.rsa2, "rotated", claims(nil))
		}, reason: TokenSignatureInvalid, detail: "all were tried"},
		{name: "no keys at all", cfg: with(func(c *Config) { c.SigningKeys = nil }), token: func(t *testing.T) string {
			return token(t, k.rsa, "k1", claims(nil))
		}, reason: TokenSignatureKeyNotFound, detail: `kid "k1"`},
		{name: "ES256 with the EC key", cfg: with(func(c *Config) {
			c.SigningKeys = []jose.Key{{ID: "ec", Public: &k.ec.PublicKey}}
		}), token: func(t *testing.T) string {
			return signRaw(t, `{"alg":"ES256","kid":"ec"}`, string(mustJSON(t, claims(nil))), k.ec)
		}},
		{name: "HS256 with a configured secret", cfg: with(func(c *Config) {
			c.SigningKeys = []jose.Key{{Secret: []byte("0123456789abcdef0123456789abcdef")}}
		}), token: func(t *testing.T) string {
			s, err := jose.SignHMAC("HS256", []byte("0123456789abcdef0123456789abcdef"), "", nil, mustJSON(t, claims(nil)))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := mustValidator(t, tc.cfg)
			tok, err := v.Validate(tc.token(t))
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused a valid token: %v", err)
				}
				if tok.Subject == "" || tok.Issuer == "" {
					t.Fatalf("token fields not filled: %+v", tok)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want %s", tc.reason)
			}
			f := failureOf(t, err)
			if f.Reason != tc.reason {
				t.Fatalf("reason %s, want %s (detail: %s)", f.Reason, tc.reason, f.Detail)
			}
			if tc.message != "" && f.Message != tc.message {
				t.Errorf("message %q, want %q", f.Message, tc.message)
			}
			if tc.detail != "" && !strings.Contains(f.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", f.Detail, tc.detail)
			}
			if !strings.HasSuffix(f.Message, ".") {
				t.Errorf("message %q does not end with a full stop", f.Message)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	k := testKeys()
	good := token(t, k.rsa, "k1", claims(nil))
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"bare", good, true},
		{"bearer prefix", "Bearer " + good, true},
		{"bearer any case", "bEARER   " + good, true},
		{"expired tokens decode too", token(t, k.rsa, "k1", claims(map[string]any{"exp": 1})), true},
		{"empty", "", false},
		{"bearer only", "Bearer ", false},
		{"two segments", "eyJhbGciOiJSUzI1NiJ9.e30", false},
		{"not base64", "a.b.c!", false},
		{"payload not JSON", b64.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + b64.EncodeToString([]byte("hello")) + ".", false},
		{"duplicate claims", b64.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + b64.EncodeToString([]byte(`{"a":1,"a":2}`)) + ".", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Decode(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("ok=%v, err=%v", tc.ok, err)
			}
			if tc.ok && (tok.Subject != "user-1" || tok.Algorithm != "RS256" || tok.Claims["roles"][1] != "Writer") {
				t.Fatalf("decoded %+v", tok)
			}
		})
	}
}

func TestClaimsAsAPIMExposesThem(t *testing.T) {
	k := testKeys()
	raw := token(t, k.rsa, "k1", claims(map[string]any{
		"n": 12.5, "b": true, "obj": map[string]any{"x": 1}, "mixed": []any{"a", 2, false}, "nul": nil,
	}))
	tok, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"n": {"12.5"}, "b": {"true"}, "obj": {`{"x":1}`}, "mixed": {"a", "2", "false"}, "aud": {testAudience}}
	for name, w := range want {
		if got := tok.Claims[name]; strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("claim %s = %q, want %q", name, got, w)
		}
	}
	if tok.ExpiresAt.Unix() != testNow.Add(time.Hour).Unix() || len(tok.Audiences) != 1 {
		t.Errorf("registered claims: exp %v aud %v", tok.ExpiresAt, tok.Audiences)
	}
}

// TestKeyIssuer: a key that Entra's JWKS publishes for one tenant (the Microsoft account
// tenant) signs only that tenant's tokens; a templated key signs any tenant's, v1 and v2.
func TestKeyIssuer(t *testing.T) {
	k := testKeys()
	const msa = "9188040d-6c67-4c5b-b112-36a304b66dad"
	src := &fakeSource{}
	src.set.Store(&keys.Set{Issuer: "https://idp.example/{tenantid}/v2.0", Generation: 1, FetchedAt: testNow, Keys: []jose.Key{
		{ID: "shared", Public: &k.rsa.PublicKey, Issuer: "https://idp.example/{tenantid}/v2.0"},
		{ID: "msa", Public: &k.rsa2.PublicKey, Issuer: "https://idp.example/" + msa + "/v2.0"},
	}})
	cases := []struct {
		name    string
		key     string
		issuers []string
		claims  map[string]any
		reason  Reason
	}{
		{"templated key, token of the tenant", "shared", nil, claims(nil), ""},
		{"MSA key, MSA token", "msa", nil, claims(map[string]any{"tid": msa, "iss": "https://idp.example/" + msa + "/v2.0"}), ""},
		{"MSA key, another tenant's token", "msa", nil, claims(nil), TokenIssuerNotAllowed},
		{"templated key, v1 token of the tenant", "shared", []string{"https://sts.windows.net/{tenantid}/"},
			claims(map[string]any{"iss": "https://sts.windows.net/" + testTenant + "/", "ver": "1.0"}), ""},
		{"MSA key, v1 token of another tenant", "msa", []string{"https://sts.windows.net/{tenantid}/"},
			claims(map[string]any{"iss": "https://sts.windows.net/" + testTenant + "/", "ver": "1.0"}), TokenIssuerNotAllowed},
		{"template with a tid that disagrees with iss", "shared", nil,
			claims(map[string]any{"tid": "11111111-1111-1111-1111-111111111111"}), TokenIssuerNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			signer := k.rsa
			if tc.key == "msa" {
				signer = k.rsa2
			}
			v := mustValidator(t, Config{Checks: Checks{Issuers: tc.issuers}, KeySources: []KeySource{src}})
			_, err := v.Validate(token(t, signer, tc.key, tc.claims))
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if f := failureOf(t, err); f.Reason != tc.reason {
				t.Fatalf("reason %s, want %s: %s", f.Reason, tc.reason, f.Detail)
			}
		})
	}
}
