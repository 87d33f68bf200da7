package main

// Token attacks against the running gateway: `portcullis serve` through Main on a loopback
// port, the article's validate-jwt, an identity provider made in the test (discovery and a
// JWKS with RSA and EC keys), and a backend that counts what reaches it. Each attack must be
// answered 401 by the policy, never reach the backend and never cause a 5xx; the unit-level
// twin of this list is internal/jwt/attack_test.go.

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"portcullis/internal/jose"
)

const (
	attackTenant   = "3f5b1c2e-0000-4000-8000-00000000a771"
	attackAudience = "6c1f0d2a-0000-4000-8000-00000000a771"
)

// attackIdP is an OpenID provider whose JWKS publishes, besides the keys that sign good
// tokens, keys an honest provider would not: a 1024-bit RSA key, a P-384 key and a P-256 key
// whose point is not on the curve. The validator must not let any of them help an attacker.
type attackIdP struct {
	srv      *httptest.Server
	rsa      *rsa.PrivateKey   // kid "rsa"
	ec       *ecdsa.PrivateKey // kid "ec", P-256, alg ES256
	small    *rsa.PrivateKey   // kid "small", 1024 bits
	p384     *ecdsa.PrivateKey // kid "p384"
	requests atomic.Int64
}

func genRSA(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func genEC(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "use": "sig", "kid": kid, "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid, crv string, k *ecdsa.PublicKey) map[string]any {
	size := (k.Curve.Params().BitSize + 7) / 8
	return map[string]any{"kty": "EC", "use": "sig", "kid": kid, "crv": crv,
		"x": b64(k.X.FillBytes(make([]byte, size))), "y": b64(k.Y.FillBytes(make([]byte, size)))}
}

func newAttackIdP(t *testing.T) *attackIdP {
	idp := &attackIdP{rsa: genRSA(t, 2048), ec: genEC(t, elliptic.P256()), small: genRSA(t, 1024), p384: genEC(t, elliptic.P384())}
	ecKey := ecJWK("ec", "P-256", &idp.ec.PublicKey)
	ecKey["alg"] = "ES256"
	offCurve := ecJWK("offcurve", "P-256", &idp.ec.PublicKey)
	offCurve["y"] = b64(new(big.Int).Add(idp.ec.Y, big.NewInt(1)).FillBytes(make([]byte, 32)))
	jwks := map[string]any{"keys": []map[string]any{
		rsaJWK("rsa", &idp.rsa.PublicKey), ecKey, rsaJWK("small", &idp.small.PublicKey),
		ecJWK("p384", "P-384", &idp.p384.PublicKey), offCurve,
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                idp.issuer(),
			"jwks_uri":                              idp.srv.URL + "/" + attackTenant + "/discovery/v2.0/keys",
			"authorization_endpoint":                idp.srv.URL + "/" + attackTenant + "/oauth2/v2.0/authorize",
			"token_endpoint":                        idp.srv.URL + "/" + attackTenant + "/oauth2/v2.0/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"pairwise"},
		})
	})
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jwks)
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

func (idp *attackIdP) issuer() string { return idp.srv.URL + "/" + attackTenant + "/v2.0" }

// claims returns a good payload with edits applied, as raw JSON so that a case can say
// exactly what an attacker sends: "name:raw" sets a member (raw JSON value), "-name" removes
// it, "+name:raw" appends another member of that name.
func (idp *attackIdP) claims(edits ...string) string {
	now := time.Now().Unix()
	type member struct{ name, raw string }
	members := []member{
		{"aud", fmt.Sprintf("%q", attackAudience)}, {"iss", fmt.Sprintf("%q", idp.issuer())},
		{"tid", fmt.Sprintf("%q", attackTenant)}, {"sub", `"client-app-sp"`}, {"ver", `"2.0"`},
		{"iat", fmt.Sprint(now - 60)}, {"nbf", fmt.Sprint(now - 60)}, {"exp", fmt.Sprint(now + 3600)},
	}
	for _, e := range edits {
		switch {
		case strings.HasPrefix(e, "-"):
			for i, m := range members {
				if m.name == e[1:] {
					members = append(members[:i], members[i+1:]...)
					break
				}
			}
		case strings.HasPrefix(e, "+"):
			name, raw, _ := strings.Cut(e[1:], ":")
			members = append(members, member{name, raw})
		default:
			name, raw, _ := strings.Cut(e, ":")
			found := false
			for i := range members {
				if members[i].name == name {
					members[i].raw, found = raw, true
				}
			}
			if !found {
				members = append(members, member{name, raw})
			}
		}
	}
	parts := make([]string, len(members))
	for i, m := range members {
		parts[i] = fmt.Sprintf("%q:%s", m.name, m.raw)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// signWith signs header.payload (both raw JSON) with key: RS256 for RSA keys, raw r||s
// ECDSA with the hash the curve's size calls for, HMAC-SHA256 for a []byte, and no
// signature for nil.
func signWith(t *testing.T, header, payload string, key any) string {
	t.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	switch k := key.(type) {
	case nil:
		return input + "."
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		return input + "." + b64(m.Sum(nil))
	case *rsa.PrivateKey:
		sum := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + b64(sig)
	case *ecdsa.PrivateKey:
		var digest []byte
		if k.Curve == elliptic.P384() {
			s := sha512.Sum384([]byte(input))
			digest = s[:]
		} else {
			s := sha256.Sum256([]byte(input))
			digest = s[:]
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		return input + "." + b64(append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...))
	}
	t.Fatalf("no signer for %T", key)
	return ""
}

// attackerCertificate is a self-signed certificate for the attacker's key, as an x5c header
// would carry it.
func attackerCertificate(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "login.microsoftonline.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

const attackPolicyJWE = `<policies>
    <inbound>
        <base />
        <validate-jwt header-name="Authorization" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized. Access token is missing or invalid.">
            <openid-config url="https://login.microsoftonline.com/{{tenant-id}}/v2.0/.well-known/openid-configuration" />
            <decryption-keys>
                <key>{{decryption-key}}</key>
            </decryption-keys>
            <required-claims>
                <claim name="aud">
                    <value>{{backend-app-client-id}}</value>
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
</policies>
`

func TestGatewayRefusesTokenAttacks(t *testing.T) {
	idp := newAttackIdP(t)
	var reached atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = io.WriteString(w, `{"backend":"reached"}`)
	}))
	t.Cleanup(backend.Close)
	// An attacker's key server: jku and x5u point here; the gateway must never call it.
	attacker := genRSA(t, 2048)
	var attackerFetches atomic.Int64
	attackerSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerFetches.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{rsaJWK("rsa", &attacker.PublicKey)}})
	}))
	t.Cleanup(attackerSrv.Close)

	encKey := make([]byte, 32)
	_, _ = rand.Read(encKey)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/global.xml":  forwardPolicy,
		"policies/article.xml": articlePolicy,
		"policies/jwe.xml":     attackPolicyJWE,
		"portcullis.yaml": fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  named-values:
    tenant-id: %s
    backend-app-client-id: %s
    decryption-key: %s
  authority-aliases:
    https://login.microsoftonline.com: %s
  apis:
    - name: echo-api
      path: echo
      backend: %s
      policy: policies/article.xml
    - name: sealed-api
      path: sealed
      backend: %s
      policy: policies/jwe.xml
admin:
  listen: 127.0.0.1:0
`, attackTenant, attackAudience, base64.StdEncoding.EncodeToString(encKey), idp.srv.URL, backend.URL, backend.URL),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	waitReady(t, in.admin)

	pubDER, err := x509.MarshalPKIXPublicKey(&idp.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&idp.rsa.PublicKey)})
	pubJWK, _ := json.Marshal(rsaJWK("rsa", &idp.rsa.PublicKey))
	attackerJWK, _ := json.Marshal(rsaJWK("rsa", &attacker.PublicKey))
	attackerX5C := base64.StdEncoding.EncodeToString(attackerCertificate(t, attacker))

	good := idp.claims()
	rs := `{"alg":"RS256","typ":"JWT","kid":"rsa"}`
	valid := signWith(t, rs, good, idp.rsa)
	parts := strings.Split(valid, ".")
	other := strings.Split(signWith(t, rs, idp.claims(`sub:"someone-else"`), idp.rsa), ".")
	withClaims := func(edits ...string) string { return signWith(t, rs, idp.claims(edits...), idp.rsa) }
	es256 := func(r, s *big.Int) string {
		input := b64([]byte(`{"alg":"ES256","typ":"JWT","kid":"ec"}`)) + "." + b64([]byte(good))
		return input + "." + b64(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
	}
	n := elliptic.P256().Params().N
	seal := func(t *testing.T, inner string) string {
		s, err := jose.Encrypt([]byte(inner), "A256KW", "A256GCM", &jose.Key{Secret: encKey}, map[string]any{"cty": "JWT"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	reencode := func(tok string, enc *base64.Encoding) string {
		var out []string
		for _, p := range strings.Split(tok, ".") {
			raw, _ := base64.RawURLEncoding.DecodeString(p)
			out = append(out, enc.EncodeToString(raw))
		}
		return strings.Join(out, ".")
	}
	// Trailing bits: the last character of the signature changed so that only the bits
	// beyond the last byte differ (a lenient decoder reads the same bytes).
	trailing := func() string {
		sig := parts[2]
		last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
		alt := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1]
		return parts[0] + "." + parts[1] + "." + sig[:len(sig)-1] + string(alt)
	}()

	controls := []struct {
		name, path, token string
	}{
		{"RS256 from the provider", "/echo/x", valid},
		{"ES256 from the provider", "/echo/x", signWith(t, `{"alg":"ES256","typ":"JWT","kid":"ec"}`, good, idp.ec)},
		{"JWE holding the provider's JWT", "/sealed/x", seal(t, valid)},
	}
	for _, c := range controls {
		t.Run("control/"+c.name, func(t *testing.T) {
			before := reached.Load()
			status, _, body := httpGet(t, in.gateway+c.path, "Authorization", "Bearer "+c.token)
			if status != 200 || reached.Load() != before+1 {
				t.Fatalf("a good token was refused: %d %s", status, body)
			}
		})
	}

	cases := []struct {
		name  string
		path  string // default /echo/x
		token string
		// status: 401 unless set (431 for a token larger than the header limit).
		status int
	}{
		{name: "alg none", token: signWith(t, `{"alg":"none","typ":"JWT"}`, good, nil)},
		{name: "alg None", token: signWith(t, `{"alg":"None","typ":"JWT"}`, good, nil)},
		{name: "alg NONE", token: signWith(t, `{"alg":"NONE","typ":"JWT"}`, good, nil)},
		{name: "alg nOnE with the provider's kid", token: signWith(t, `{"alg":"nOnE","kid":"rsa"}`, good, nil)},
		{name: "alg none with a real signature appended", token: signWith(t, `{"alg":"none"}`, good, nil) + parts[2]},
		{name: "HS256 keyed with the public key PEM", token: signWith(t, `{"alg":"HS256","kid":"rsa"}`, good, pubPEM)},
		{name: "HS256 keyed with the PKCS#1 PEM", token: signWith(t, `{"alg":"HS256","kid":"rsa"}`, good, pkcs1PEM)},
		{name: "HS256 keyed with the public key DER", token: signWith(t, `{"alg":"HS256","kid":"rsa"}`, good, pubDER)},
		{name: "HS256 keyed with the public JWK", token: signWith(t, `{"alg":"HS256","kid":"rsa"}`, good, pubJWK)},
		{name: "HS256 keyed with the modulus", token: signWith(t, `{"alg":"HS256","kid":"rsa"}`, good, idp.rsa.N.Bytes())},
		{name: "embedded jwk of the attacker", token: signWith(t, `{"alg":"RS256","jwk":`+string(attackerJWK)+`}`, good, attacker)},
		{name: "embedded jwk with the provider's kid", token: signWith(t, `{"alg":"RS256","kid":"rsa","jwk":`+string(attackerJWK)+`}`, good, attacker)},
		{name: "jku at the attacker's server", token: signWith(t, `{"alg":"RS256","kid":"evil","jku":"`+attackerSrv.URL+`/keys"}`, good, attacker)},
		{name: "jku with the provider's kid", token: signWith(t, `{"alg":"RS256","kid":"rsa","jku":"`+attackerSrv.URL+`/keys"}`, good, attacker)},
		{name: "x5u at the attacker's server", token: signWith(t, `{"alg":"RS256","kid":"evil","x5u":"`+attackerSrv.URL+`/cert"}`, good, attacker)},
		{name: "x5c with the attacker's certificate", token: signWith(t, `{"alg":"RS256","x5c":["`+attackerX5C+`"]}`, good, attacker)},
		{name: "x5c with the provider's kid", token: signWith(t, `{"alg":"RS256","kid":"rsa","x5c":["`+attackerX5C+`"]}`, good, attacker)},
		{name: "kid path traversal", token: signWith(t, `{"alg":"RS256","kid":"../../../../etc/passwd"}`, good, attacker)},
		{name: "kid path traversal to /dev/null", token: signWith(t, `{"alg":"HS256","kid":"../../../../../../dev/null"}`, good, []byte{})},
		{name: "kid SQL injection", token: signWith(t, `{"alg":"RS256","kid":"' OR '1'='1' --"}`, good, attacker)},
		{name: "kid with NUL", token: signWith(t, `{"alg":"RS256","kid":"rsa\u0000"}`, good, attacker)},
		{name: "kid very long", token: signWith(t, `{"alg":"RS256","kid":"`+strings.Repeat("k", 10000)+`"}`, good, attacker)},
		{name: "empty signature", token: parts[0] + "." + parts[1] + "."},
		{name: "stripped signature", token: parts[0] + "." + parts[1]},
		{name: "signature of another token", token: parts[0] + "." + parts[1] + "." + other[2]},
		{name: "signed by the attacker with the provider's kid", token: signWith(t, rs, good, attacker)},
		{name: "ECDSA r=s=0", token: es256(big.NewInt(0), big.NewInt(0))},
		{name: "ECDSA r=n", token: es256(n, big.NewInt(1))},
		{name: "ECDSA s=n", token: es256(big.NewInt(1), n)},
		{name: "ECDSA r and s above n", token: es256(new(big.Int).Add(n, big.NewInt(5)), new(big.Int).Add(n, big.NewInt(7)))},
		{name: "ECDSA signature in DER", token: func() string {
			input := b64([]byte(`{"alg":"ES256","kid":"ec"}`)) + "." + b64([]byte(good))
			sum := sha256.Sum256([]byte(input))
			der, err := ecdsa.SignASN1(rand.Reader, idp.ec, sum[:])
			if err != nil {
				t.Fatal(err)
			}
			return input + "." + b64(der)
		}()},
		{name: "wrong curve: ES256 by a P-384 key", token: signWith(t, `{"alg":"ES256","kid":"p384"}`, good, idp.p384)},
		{name: "wrong curve: ES384 against the P-256 key", token: signWith(t, `{"alg":"ES384","kid":"ec"}`, good, genEC(t, elliptic.P384()))},
		{name: "invalid curve: key whose point is off the curve", token: signWith(t, `{"alg":"ES256","kid":"offcurve"}`, good, idp.ec)},
		{name: "RSA key under 2048 bits", token: signWith(t, `{"alg":"RS256","kid":"small"}`, good, idp.small)},
		{name: "crit with an unknown name", token: signWith(t, `{"alg":"RS256","kid":"rsa","crit":["urn:example:unknown"],"urn:example:unknown":1}`, good, idp.rsa)},
		{name: "crit naming a registered header", token: signWith(t, `{"alg":"RS256","kid":"rsa","crit":["exp"],"exp":1}`, good, idp.rsa)},
		{name: "b64 false", token: signWith(t, `{"alg":"RS256","kid":"rsa","b64":false,"crit":["b64"]}`, good, idp.rsa)},
		{name: "base64 padding", token: reencode(valid, base64.URLEncoding)},
		{name: "standard base64 alphabet", token: reencode(valid, base64.RawStdEncoding)},
		{name: "trailing bits in the signature", token: trailing},
		{name: "space inside", token: parts[0] + ". " + parts[1] + "." + parts[2]},
		{name: "tab inside", token: parts[0] + "." + parts[1] + "\t." + parts[2]},
		{name: "extra segment", token: valid + ".e30"},
		{name: "two extra segments", token: valid + ".." + parts[2]},
		{name: "duplicate aud, good value first", token: withClaims(`+aud:"someone-else"`)},
		{name: "duplicate aud, good value last", token: withClaims(`aud:"someone-else"`, `+aud:"`+attackAudience+`"`)},
		{name: "duplicate exp", token: withClaims(`+exp:1`)},
		{name: "AUD in capitals", token: withClaims(`-aud`, `+AUD:"`+attackAudience+`"`)},
		{name: "Aud in title case", token: withClaims(`-aud`, `+Aud:"`+attackAudience+`"`)},
		{name: "ISS in capitals", token: withClaims(`-iss`, `+ISS:"`+idp.issuer()+`"`)},
		{name: "exp as a string", token: withClaims(fmt.Sprintf(`exp:"%d"`, time.Now().Unix()+3600))},
		{name: "exp as a float", token: withClaims(fmt.Sprintf(`exp:%d.5`, time.Now().Unix()+3600))},
		{name: "exp with an exponent", token: withClaims(`exp:1e12`)},
		{name: "exp huge", token: withClaims(`exp:99999999999999999999999999`)},
		{name: "exp negative", token: withClaims(`exp:-1`)},
		{name: "exp null", token: withClaims(`exp:null`)},
		{name: "nbf as a string", token: withClaims(`nbf:"0"`)},
		{name: "nbf as a float", token: withClaims(`nbf:1.5`)},
		{name: "nbf huge", token: withClaims(`nbf:99999999999999999999999999`)},
		{name: "nbf negative", token: withClaims(`nbf:-99999999999`)},
		{name: "iat as a string", token: withClaims(`iat:"now"`)},
		{name: "iat as a float", token: withClaims(`iat:1.25`)},
		{name: "iat huge", token: withClaims(`iat:1e400`)},
		{name: "iat negative", token: withClaims(`iat:-5`)},
		{name: "aud as a number", token: withClaims(`aud:42`)},
		{name: "aud as an object", token: withClaims(`aud:{"value":"` + attackAudience + `"}`)},
		{name: "aud as an empty array", token: withClaims(`aud:[]`)},
		{name: "aud as an array of numbers", token: withClaims(`aud:[1]`)},
		{name: "payload not an object", token: signWith(t, rs, `["`+attackAudience+`"]`, idp.rsa)},
		{name: "payload with trailing data", token: signWith(t, rs, good+`{}`, idp.rsa)},
		{name: "JSON nested 10,000 deep", token: withClaims(`x:` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000))},
		// Within the request header limit (32 KiB), beyond the JOSE header's (4 KiB).
		{name: "header nested 3,000 deep", token: signWith(t, `{"alg":"RS256","kid":"rsa","x":`+strings.Repeat("[", 3000)+strings.Repeat("]", 3000)+`}`, good, idp.rsa)},
		{name: "token of 1 MiB", token: parts[0] + "." + strings.Repeat("A", 1<<20) + "." + parts[2], status: 431},
		{name: "JWE holding a JWT of another issuer", path: "/sealed/x", token: seal(t, withClaims(`iss:"https://evil.example/`+attackTenant+`/v2.0"`))},
		{name: "JWE holding a JWT of another issuer signed by its own key", path: "/sealed/x", token: seal(t, signWith(t, rs, idp.claims(`iss:"https://evil.example/`+attackTenant+`/v2.0"`), attacker))},
		{name: "JWE holding an unsigned JWT", path: "/sealed/x", token: seal(t, signWith(t, `{"alg":"none"}`, good, nil))},
		{name: "JWE on an API without decryption keys", token: seal(t, valid)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, want := tc.path, tc.status
			if path == "" {
				path = "/echo/x"
			}
			if want == 0 {
				want = 401
			}
			before := reached.Load()
			status, hdr, body, err := attackGet(in.gateway+path, "Bearer "+tc.token)
			if err != nil {
				t.Fatalf("the gateway did not answer: %v", err)
			}
			if status != want {
				t.Errorf("status %d, want %d; body %s", status, want, body)
			}
			if got := reached.Load(); got != before {
				t.Errorf("the backend was reached (%d requests)", got-before)
			}
			if want == 401 {
				if !strings.Contains(string(body), "Unauthorized. Access token is missing or invalid.") || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
					t.Errorf("not the policy's refusal: %s (WWW-Authenticate %q)", body, hdr.Get("WWW-Authenticate"))
				}
			}
			if len(tc.token) > 40 && strings.Contains(string(body)+hdr.Get("WWW-Authenticate"), tc.token[:40]) {
				t.Errorf("the answer repeats the token")
			}
		})
	}
	if n := attackerFetches.Load(); n != 0 {
		t.Errorf("the gateway fetched from the attacker's jku/x5u server %d times", n)
	}
	if !t.Failed() {
		// The gateway still works after the attacks.
		if status, _, body := httpGet(t, in.gateway+"/echo/x", "Authorization", "Bearer "+valid); status != 200 {
			t.Errorf("after the attacks a good token gets %d %s", status, body)
		}
	}
}

// attackGet sends one GET with the given Authorization header on a fresh connection. The
// request is written while the answer is read: the gateway answers an oversized header (431)
// and closes before the client has finished writing, and net/http's client would report the
// broken write instead of the answer.
func attackGet(url, auth string) (int, http.Header, []byte, error) {
	host := strings.TrimPrefix(url, "http://")
	path := "/"
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host, path = host[:i], host[i:]
	}
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return 0, nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		_, _ = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\nAuthorization: "+auth+"\r\nConnection: close\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// waitReady waits until the admin listener's /readyz says every key source has keys.
func waitReady(t *testing.T, admin string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, _, body := httpGet(t, admin+"/readyz")
		if status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %d %s", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGatewayErrorsLeakNothing: the gateway's 5xx answers (an expression that throws, a
// backend that is down or too slow) say what failed in APIM's words, and never hold a stack
// trace, a file path, the backend's address or a named value's secret. (The expressions run
// in rate-limit-by-key's counter-key, evaluated on every request.)
func TestGatewayErrorsLeakNothing(t *testing.T) {
	secret := "nv-" + randomText(24)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	down := closed.URL
	closed.Close()
	throwing := func(expr string) string {
		return `<policies><inbound><base /><rate-limit-by-key calls="100" renewal-period="60" counter-key='` + expr +
			`' /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>`
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/global.xml": forwardPolicy,
		"policies/parse.xml":  throwing(`@(int.Parse("{{secret-key}}").ToString())`),
		"policies/null.xml":   throwing(`@(((string)context.Variables.GetValueOrDefault("missing")).Length.ToString())`),
		"policies/thrown.xml": throwing(`@{ throw new Exception("{{secret-key}}"); }`),
		"portcullis.yaml": fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  named-values:
    secret-key: %s
  apis:
    - {name: parse-api, path: parse, backend: %[2]s, policy: policies/parse.xml}
    - {name: null-api, path: null, backend: %[2]s, policy: policies/null.xml}
    - {name: thrown-api, path: thrown, backend: %[2]s, policy: policies/thrown.xml}
    - {name: down-api, path: down, backend: %[2]s}
    - {name: slow-api, path: slow, backend: %[3]s}
admin:
  listen: 127.0.0.1:0
`, secret, down, slow.URL),
	})
	cfg := filepath.Join(dir, "portcullis.yaml")
	if code, _, stderr := runMain("check", "--config", cfg); code != 0 {
		t.Fatalf("check: exit %d\n%s", code, stderr)
	}
	in := startServe(t, cfg)
	leaks := []string{secret, dir, ".go:", "goroutine", "panic", strings.TrimPrefix(down, "http://"), strings.TrimPrefix(slow.URL, "http://"), "/tmp/"}
	tests := []struct {
		name, path string
		status     int
	}{
		{"int.Parse of a named value", "/parse/x", 500},
		{"null reference", "/null/x", 500},
		{"thrown exception naming a secret", "/thrown/x", 500},
		{"backend down", "/down/x", 502},
		{"backend too slow", "/slow/x", 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := httpGet(t, in.gateway+tt.path)
			if status != tt.status {
				t.Errorf("status %d, want %d: %s", status, tt.status, body)
			}
			answer := string(body)
			for k, v := range hdr {
				answer += "\n" + k + ": " + strings.Join(v, ", ")
			}
			for _, l := range leaks {
				if strings.Contains(answer, l) {
					t.Errorf("the answer holds %q:\n%s", l, answer)
				}
			}
			var doc struct {
				StatusCode int    `json:"statusCode"`
				Message    string `json:"message"`
			}
			if err := json.Unmarshal(body, &doc); err != nil || doc.StatusCode != tt.status || doc.Message == "" {
				t.Errorf("not APIM's error body: %s", body)
			}
		})
	}
}

// TestLoadErrorsHideNamedValues: `portcullis check` and a refused start report a policy that
// misuses a named value without printing the value, which comes from the environment and may
// be a secret.
func TestLoadErrorsHideNamedValues(t *testing.T) {
	secret := "nv-" + randomText(24)
	t.Setenv("PORTCULLIS_TEST_NAMED_SECRET", secret)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"policies/api.xml": `<policies>
    <inbound>
        <base />
        <rate-limit-by-key calls="{{secret-key}}" renewal-period="60" counter-key="x" />
        <validate-jwt header-name="Authorization" failed-validation-httpcode="{{secret-key}}">
            <issuer-signing-keys><key>{{secret-key}}</key></issuer-signing-keys>
        </validate-jwt>
    </inbound>
</policies>
`,
		"portcullis.yaml": `gateway:
  listen: 127.0.0.1:0
  named-values:
    secret-key: ${PORTCULLIS_TEST_NAMED_SECRET}
  apis:
    - {name: a, path: a, backend: "http://127.0.0.1:1", policy: policies/api.xml}
`,
	})
	cfg := filepath.Join(dir, "portcullis.yaml")
	for _, cmd := range [][]string{{"check", "--config", cfg}, {"serve", "--config", cfg}} {
		t.Run(cmd[0], func(t *testing.T) {
			code, stdout, stderr := runMain(cmd...)
			if code != 1 || !strings.Contains(stderr, `found "{{secret-key}}"`) {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if strings.Contains(stdout+stderr, secret) || strings.Contains(stdout+stderr, secret[3:15]) {
				t.Errorf("the output holds the named value:\n%s%s", stdout, stderr)
			}
		})
	}
}
