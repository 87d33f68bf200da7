package jwt

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"portcullis/internal/jose"
	"portcullis/internal/keys"
)

func hs256(header, payload string, secret []byte) string {
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}

// TestAttacks runs issue 6's list of token attacks against a validator configured the way
// production is: a static RSA key and an openid-config source with RSA and EC keys. Every
// one must be refused with a Failure (never a panic, never acceptance).
func TestAttacks(t *testing.T) {
	k := testKeys()
	good := string(mustJSON(t, claims(nil)))
	src := &fakeSource{}
	src.set.Store(&keys.Set{URL: "https://idp.example/.well-known/openid-configuration", Issuer: testIssuer, Generation: 1, FetchedAt: testNow,
		Keys: []jose.Key{pubKey("idp", k.rsa), {ID: "ec", Public: &k.ec.PublicKey}}})
	cfg := Config{
		Checks:      Checks{Audiences: []string{testAudience}, RequiredClaims: []ClaimRequirement{{Name: "aud", Values: []string{testAudience}}}},
		SigningKeys: []jose.Key{pubKey("static", k.rsa)},
		KeySources:  []KeySource{src},
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	jwk := fmt.Sprintf(`{"kty":"RSA","n":"%s","e":"AQAB"}`, b64.EncodeToString(k.rsa.N.Bytes()))
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	attackerJWK := fmt.Sprintf(`{"kty":"RSA","n":"%s","e":"AQAB"}`, b64.EncodeToString(attacker.N.Bytes()))
	valid := signRaw(t, `{"alg":"RS256","kid":"idp"}`, good, k.rsa)
	parts := strings.Split(valid, ".")
	other := strings.Split(signRaw(t, `{"alg":"RS256","kid":"idp"}`, string(mustJSON(t, claims(map[string]any{"sub": "x"}))), k.rsa), ".")
	ecSig := func(r, s *big.Int) string {
		in := b64.EncodeToString([]byte(`{"alg":"ES256","kid":"ec"}`)) + "." + b64.EncodeToString([]byte(good))
		return in + "." + b64.EncodeToString(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
	}
	n256 := k.ec.Curve.Params().N
	payloadWith := func(p string) string { return signRaw(t, `{"alg":"RS256","kid":"idp"}`, p, k.rsa) }

	cases := []struct {
		name   string
		token  string
		reason Reason // "" = any refusal
	}{
		{"alg none", signRaw(t, `{"alg":"none"}`, good, nil), TokenSignatureInvalid},
		{"alg None", signRaw(t, `{"alg":"None"}`, good, nil), ""},
		{"alg NONE", signRaw(t, `{"alg":"NONE"}`, good, nil), ""},
		{"alg nOnE with kid", signRaw(t, `{"alg":"nOnE","kid":"idp"}`, good, nil), ""},
		{"alg none with a signature", signRaw(t, `{"alg":"none"}`, good, nil) + parts[2], ""},
		{"HS256 with the public key PEM as secret", hs256(`{"alg":"HS256","kid":"idp"}`, good, pubPEM), TokenSignatureInvalid},
		{"HS256 with the PKCS1 PEM as secret", hs256(`{"alg":"HS256"}`, good, pkcs1PEM), ""},
		{"HS256 with the public key DER as secret", hs256(`{"alg":"HS256","kid":"static"}`, good, pubDER), TokenSignatureInvalid},
		{"HS256 with the JWK as secret", hs256(`{"alg":"HS256","kid":"idp"}`, good, []byte(jwk)), TokenSignatureInvalid},
		{"embedded jwk", signRaw(t, `{"alg":"RS256","jwk":`+attackerJWK+`}`, good, attacker), ""},
		{"embedded jwk with a known kid", signRaw(t, `{"alg":"RS256","kid":"idp","jwk":`+attackerJWK+`}`, good, attacker), TokenSignatureInvalid},
		{"jku", signRaw(t, `{"alg":"RS256","kid":"evil","jku":"https://evil.example/keys"}`, good, attacker), ""},
		{"x5u", signRaw(t, `{"alg":"RS256","kid":"evil","x5u":"https://evil.example/cert"}`, good, attacker), ""},
		{"x5c", signRaw(t, `{"alg":"RS256","x5c":["MIIB"]}`, good, attacker), ""},
		{"kid path traversal", signRaw(t, `{"alg":"RS256","kid":"../../../../etc/passwd"}`, good, attacker), ""},
		{"kid SQL", signRaw(t, `{"alg":"RS256","kid":"' OR 1=1 --"}`, good, attacker), ""},
		{"kid NUL", signRaw(t, `{"alg":"RS256","kid":"idp\u0000"}`, good, attacker), ""},
		{"kid very long", signRaw(t, `{"alg":"RS256","kid":"`+strings.Repeat("k", 10000)+`"}`, good, attacker), JwtInvalid},
		{"empty signature", parts[0] + "." + parts[1] + ".", TokenSignatureInvalid},
		{"stripped signature", parts[0] + "." + parts[1], JwtInvalid},
		{"signature of another token", parts[0] + "." + parts[1] + "." + other[2], TokenSignatureInvalid},
		{"ECDSA r=s=0", ecSig(big.NewInt(0), big.NewInt(0)), TokenSignatureInvalid},
		{"ECDSA r=n", ecSig(n256, big.NewInt(1)), TokenSignatureInvalid},
		{"ECDSA s=n", ecSig(big.NewInt(1), n256), TokenSignatureInvalid},
		{"crit unknown", signRaw(t, `{"alg":"RS256","kid":"idp","crit":["exp"],"exp":1}`, good, k.rsa), JwtInvalid},
		{"b64 false", signRaw(t, `{"alg":"RS256","kid":"idp","b64":false,"crit":["b64"]}`, good, k.rsa), JwtInvalid},
		{"padding", valid + "==", JwtInvalid},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/", JwtInvalid},
		{"whitespace", parts[0] + ". " + parts[1] + "." + parts[2], JwtInvalid},
		{"newline", parts[0] + "\n." + parts[1] + "." + parts[2], JwtInvalid},
		{"extra segment", valid + ".x", JwtInvalid},
		{"duplicate claim", payloadWith(`{"aud":"x","aud":"` + testAudience + `","exp":9999999999}`), JwtInvalid},
		{"claim name differing in case", payloadWith(`{"iss":"` + testIssuer + `","AUD":"` + testAudience + `","exp":9999999999}`), TokenAudienceNotAllowed},
		{"exp as string", payloadWith(`{"aud":"` + testAudience + `","exp":"9999999999"}`), JwtInvalid},
		{"exp as float", payloadWith(`{"aud":"` + testAudience + `","exp":9999999999.5}`), JwtInvalid},
		{"exp exponent", payloadWith(`{"aud":"` + testAudience + `","exp":1e12}`), JwtInvalid},
		{"exp huge", payloadWith(`{"aud":"` + testAudience + `","exp":99999999999999999999999}`), JwtInvalid},
		{"exp negative", payloadWith(`{"aud":"` + testAudience + `","exp":-1}`), JwtInvalid},
		{"nbf as string", payloadWith(`{"aud":"` + testAudience + `","exp":9999999999,"nbf":"0"}`), JwtInvalid},
		{"iat negative", payloadWith(`{"aud":"` + testAudience + `","exp":9999999999,"iat":-5}`), JwtInvalid},
		{"aud number", payloadWith(`{"aud":42,"exp":9999999999}`), JwtInvalid},
		{"aud object", payloadWith(`{"aud":{"x":"` + testAudience + `"},"exp":9999999999}`), JwtInvalid},
		{"aud empty array", payloadWith(`{"aud":[],"exp":9999999999}`), JwtInvalid},
		{"aud array of numbers", payloadWith(`{"aud":[1],"exp":9999999999}`), JwtInvalid},
		{"payload not an object", payloadWith(`["` + testAudience + `"]`), JwtInvalid},
		{"payload with trailing data", payloadWith(`{"aud":"` + testAudience + `","exp":9999999999} {}`), JwtInvalid},
		{"nested 10000 deep", payloadWith(`{"aud":"` + testAudience + `","exp":9999999999,"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`), JwtInvalid},
		{"1 MiB token", parts[0] + "." + strings.Repeat("A", 1<<20) + "." + parts[2], JwtInvalid},
		{"header too large", b64.EncodeToString([]byte(`{"alg":"RS256","x":"`+strings.Repeat("a", 8000)+`"}`)) + "." + parts[1] + "." + parts[2], JwtInvalid},
		{"invalid UTF-8 payload", payloadWith("{\"aud\":\"\xff\",\"exp\":9999999999}"), JwtInvalid},
		{"signed by an attacker key with a known kid", signRaw(t, `{"alg":"RS256","kid":"idp"}`, good, attacker), TokenSignatureInvalid},
		{"signed by an attacker key, unknown kid", signRaw(t, `{"alg":"RS256","kid":"zzz"}`, good, attacker), TokenSignatureInvalid},
		{"PS256 label on an RS256 signature", signRaw(t, `{"alg":"PS256","kid":"idp"}`, good, k.rsa), TokenSignatureInvalid},
		{"ES256 label with the RSA key's kid", signRaw(t, `{"alg":"ES256","kid":"idp"}`, good, k.ec), TokenSignatureInvalid},
		{"unsupported alg", signRaw(t, `{"alg":"RS1","kid":"idp"}`, good, k.rsa), JwtInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := testNow
			c := cfg
			c.Now = fixedClock(&now)
			c.Cache = NewCache(16)
			v := mustValidator(t, c)
			for round := 0; round < 2; round++ { // the second round would hit a wrongly filled cache
				tok, err := v.Validate(tc.token)
				if err == nil {
					t.Fatalf("accepted: %+v", tok.Claims)
				}
				f := failureOf(t, err)
				if tc.reason != "" && f.Reason != tc.reason {
					t.Fatalf("reason %s, want %s (detail: %s)", f.Reason, tc.reason, f.Detail)
				}
				if strings.Contains(f.Detail, tc.token) && len(tc.token) > 20 {
					t.Fatalf("the detail repeats the token")
				}
			}
		})
	}
	// The control: the valid token passes with this configuration.
	now := testNow
	c := cfg
	c.Now = fixedClock(&now)
	if _, err := mustValidator(t, c).Validate(valid); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
}

func TestSmallRSAKeysRefused(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	v := mustValidator(t, Config{SigningKeys: []jose.Key{pubKey("small", small)}})
	_, err = v.Validate(signRaw(t, `{"alg":"RS256","kid":"small"}`, string(mustJSON(t, claims(nil))), small))
	if f := failureOf(t, err); f.Reason != TokenSignatureInvalid || !strings.Contains(f.Detail, "small") {
		t.Fatalf("got %s: %s", f.Reason, f.Detail)
	}
}

func TestUnsignedOnlyWhenAllowed(t *testing.T) {
	raw := signRaw(t, `{"alg":"none"}`, string(mustJSON(t, claims(nil))), nil)
	for _, allow := range []bool{false, true} {
		v := mustValidator(t, Config{Checks: Checks{InsecureAllowUnsigned: allow}, SigningKeys: []jose.Key{pubKey("k", testKeys().rsa)}})
		_, err := v.Validate(raw)
		if allow != (err == nil) {
			t.Errorf("allow=%v: err=%v", allow, err)
		}
	}
}

// TestEncryptedTokens: a JWE is decrypted with the configured keys and the JWT inside is
// validated completely, issuer included.
func TestEncryptedTokens(t *testing.T) {
	k := testKeys()
	dec := jose.Key{Private: k.rsa2}
	encKey := jose.Key{Public: &k.rsa2.PublicKey}
	aes := jose.Key{Secret: []byte("0123456789abcdef0123456789abcdef")}
	cfg := Config{
		Checks:         Checks{Issuers: []string{testIssuer}, Audiences: []string{testAudience}},
		SigningKeys:    []jose.Key{pubKey("k1", k.rsa)},
		DecryptionKeys: []jose.Key{dec, aes},
	}
	encrypt := func(t *testing.T, plain, alg, enc string, key *jose.Key) string {
		s, err := jose.Encrypt([]byte(plain), alg, enc, key, map[string]any{"cty": "JWT"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	inner := token(t, k.rsa, "k1", claims(nil))
	cases := []struct {
		name   string
		cfg    func(*Config)
		token  func(t *testing.T) string
		reason Reason
	}{
		{"RSA-OAEP nested JWT", nil, func(t *testing.T) string { return encrypt(t, inner, "RSA-OAEP", "A256GCM", &encKey) }, ""},
		{"RSA-OAEP-256 nested JWT", nil, func(t *testing.T) string { return encrypt(t, inner, "RSA-OAEP-256", "A128CBC-HS256", &encKey) }, ""},
		{"A256KW nested JWT", nil, func(t *testing.T) string { return encrypt(t, inner, "A256KW", "A256GCM", &aes) }, ""},
		{"dir nested JWT", nil, func(t *testing.T) string { return encrypt(t, inner, "dir", "A128CBC-HS256", &aes) }, ""},
		{"nested JWT from another issuer", nil, func(t *testing.T) string {
			return encrypt(t, token(t, k.rsa, "k1", claims(map[string]any{"iss": "https://evil.example/"})), "RSA-OAEP", "A256GCM", &encKey)
		}, TokenIssuerNotAllowed},
		{"nested JWT signed by an unknown key", nil, func(t *testing.T) string {
			return encrypt(t, token(t, k.rsa2, "k1", claims(nil)), "RSA-OAEP", "A256GCM", &encKey)
		}, TokenSignatureInvalid},
		{"nested JWT expired", nil, func(t *testing.T) string {
			return encrypt(t, token(t, k.rsa, "k1", claims(map[string]any{"exp": 1})), "RSA-OAEP", "A256GCM", &encKey)
		}, TokenExpired},
		{"encrypted bare claims are unsigned", nil, func(t *testing.T) string {
			return encrypt(t, string(mustJSON(t, claims(nil))), "RSA-OAEP", "A256GCM", &encKey)
		}, TokenSignatureInvalid},
		{"encrypted for another key", nil, func(t *testing.T) string {
			other := jose.Key{Public: &k.rsa.PublicKey}
			return encrypt(t, inner, "RSA-OAEP", "A256GCM", &other)
		}, JwtInvalid},
		{"no decryption keys", func(c *Config) { c.DecryptionKeys = nil }, func(t *testing.T) string { return encrypt(t, inner, "RSA-OAEP", "A256GCM", &encKey) }, JwtInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			tok, err := mustValidator(t, c).Validate(tc.token(t))
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tok.Subject != "user-1" {
					t.Fatalf("claims not from the nested token: %+v", tok)
				}
				return
			}
			if f := failureOf(t, err); f.Reason != tc.reason {
				t.Fatalf("reason %s, want %s (%s)", f.Reason, tc.reason, f.Detail)
			}
		})
	}
}
