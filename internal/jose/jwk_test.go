package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func selfSigned(t testing.TB, priv crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "portcullis test signing"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func rsaJWK(pub *rsa.PublicKey, extra map[string]any) map[string]any {
	m := map[string]any{"kty": "RSA", "n": b64u(pub.N.Bytes()), "e": b64u(big.NewInt(int64(pub.E)).Bytes())}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func ecJWK(pub *ecdsa.PublicKey, crv string, extra map[string]any) map[string]any {
	size := (pub.Curve.Params().BitSize + 7) / 8
	m := map[string]any{"kty": "EC", "crv": crv, "x": b64u(pub.X.FillBytes(make([]byte, size))), "y": b64u(pub.Y.FillBytes(make([]byte, size)))}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func keySet(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseJWKSEntraShape parses a key set shaped like Entra's v2 discovery keys: x5c with
// matching n/e, x5t, kid and a per-key issuer; then verifies a token with the parsed key.
func TestParseJWKSEntraShape(t *testing.T) {
	k := keysOnce()
	cert := selfSigned(t, k.rsa2048)
	x5t := Thumbprint(cert)
	doc := keySet(t,
		rsaJWK(&k.rsa2048.PublicKey, map[string]any{"kid": x5t, "use": "sig", "x5t": x5t, "x5c": []string{base64.StdEncoding.EncodeToString(cert)}, "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}),
		ecJWK(&k.p256.PublicKey, "P-256", map[string]any{"kid": "ec-1", "alg": "ES256"}),
		map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64u(k.ed.Public().(ed25519.PublicKey)), "kid": "ed-1"},
		map[string]any{"kty": "oct", "k": b64u(make32()), "kid": "secret-1"},
		map[string]any{"kty": "OKP", "crv": "X25519", "x": b64u(make32()), "kid": "x-1"},
		map[string]any{"kty": "RSA", "n": "AQAB", "kid": "broken"},
		rsaJWK(&k.rsa2048.PublicKey, map[string]any{"kid": "enc-1", "use": "enc"}),
	)
	keys, skipped, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("got %d keys, want 3; skipped %v", len(keys), skipped)
	}
	if len(skipped) != 4 {
		t.Fatalf("skipped = %v, want 4 reasons", skipped)
	}
	for i, want := range []error{ErrAlgorithmNotAllowed, ErrUnsupportedAlgorithm, ErrInvalidKey, ErrAlgorithmNotAllowed} {
		if !errors.Is(skipped[i], want) {
			t.Errorf("skipped[%d] = %v, want %v", i, skipped[i], want)
		}
	}
	rk := keys[0]
	if rk.ID != x5t || rk.X5t != x5t || rk.Use != "sig" || rk.Issuer != "https://login.microsoftonline.com/{tenantid}/v2.0" {
		t.Errorf("RSA key = %+v", rk)
	}
	if sum := sha1.Sum(cert); rk.X5t != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("x5t is not the SHA-1 thumbprint")
	}
	if keys[1].Alg != "ES256" || keys[2].ID != "ed-1" {
		t.Errorf("keys = %+v", keys)
	}
	token, err := Sign("RS256", k.rsa2048, x5t, nil, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := ParseCompact(token)
	if err := j.Verify(&rk); err != nil {
		t.Errorf("verify with parsed key: %v", err)
	}
}

func TestParseJWKSRefusesKeys(t *testing.T) {
	k := keysOnce()
	cert := selfSigned(t, k.rsa2048)
	otherCert := selfSigned(t, k.rsa3072)
	offCurve := ecJWK(&k.p256.PublicKey, "P-256", nil)
	offCurve["y"] = b64u(make32())
	rocaN := "AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_HhFw16HGaTDUHqPrId7fe4r11CqRw09yBFuW79V8sYIwHdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9wREPXoDPgOoIWl6q_MPsp7n0zs3Z5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx7NaFka8Dx9U7YqXy2RFj1O9PjyaDGuRh7YXsX3iMUSP_wSyHQg_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vAbROBR4Ubg6Bxg9IQVZ-QYyE"
	for _, tc := range []struct {
		name string
		jwk  map[string]any
		want error
	}{
		{"1024-bit RSA", rsaJWK(&k.rsa1024.PublicKey, nil), ErrKeyTooSmall},
		{"RSA exponent 1", map[string]any{"kty": "RSA", "n": b64u(k.rsa2048.N.Bytes()), "e": "AQ"}, ErrInvalidKey},
		{"RSA even exponent", map[string]any{"kty": "RSA", "n": b64u(k.rsa2048.N.Bytes()), "e": "AQAA"}, ErrInvalidKey},
		{"RSA n in standard base64", map[string]any{"kty": "RSA", "n": base64.StdEncoding.EncodeToString(k.rsa2048.N.Bytes()), "e": "AQAB"}, ErrInvalidKey},
		{"RSA with ROCA fingerprint", map[string]any{"kty": "RSA", "n": rocaN, "e": "AQAB"}, ErrInvalidKey},
		{"x5c of another key", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(otherCert)}}), ErrInvalidKey},
		{"x5t not the certificate's", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"x5t": Thumbprint(otherCert), "x5c": []string{base64.StdEncoding.EncodeToString(cert)}}), ErrInvalidKey},
		{"x5c not base64", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"x5c": []string{"%%%"}}), ErrInvalidKey},
		{"alg of another family", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"alg": "ES256"}), ErrAlgorithmNotAllowed},
		{"alg for encryption", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"alg": "RSA-OAEP"}), ErrAlgorithmNotAllowed},
		{"alg unknown", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"alg": "SHA256"}), ErrAlgorithmNotAllowed},
		{"key_ops without verify", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"key_ops": []string{"signing"}}), ErrAlgorithmNotAllowed},
		{"use unknown", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"use": "both"}), ErrInvalidKey},
		{"private material", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"d": b64u(k.rsa2048.D.Bytes())}), ErrInvalidKey},
		{"EC point off the curve", offCurve, ErrInvalidKey},
		{"EC alg for another curve", ecJWK(&k.p256.PublicKey, "P-256", map[string]any{"alg": "ES384"}), ErrAlgorithmNotAllowed},
		{"EC curve named wrongly", ecJWK(&k.p256.PublicKey, "P-384", nil), ErrInvalidKey},
		{"EC secp256k1", ecJWK(&k.p256.PublicKey, "secp256k1", nil), ErrUnsupportedAlgorithm},
		{"EC short coordinate", map[string]any{"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"}, ErrInvalidKey},
		{"Ed25519 short", map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "AQ"}, ErrInvalidKey},
		{"oct", map[string]any{"kty": "oct", "k": b64u(make32())}, ErrAlgorithmNotAllowed},
		{"no kty", map[string]any{"n": "AQAB"}, ErrInvalidKey},
		{"kty not a string", map[string]any{"kty": 1}, ErrInvalidKey},
		{"kid not a string", rsaJWK(&k.rsa2048.PublicKey, map[string]any{"kid": 5}), ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, skipped, err := ParseJWKS(keySet(t, tc.jwk))
			if err != nil {
				t.Fatalf("document refused: %v", err)
			}
			if len(keys) != 0 || len(skipped) != 1 {
				t.Fatalf("keys %d skipped %v, want the key skipped", len(keys), skipped)
			}
			if !errors.Is(skipped[0], tc.want) {
				t.Errorf("reason %v, want %v", skipped[0], tc.want)
			}
		})
	}
}

func TestParseJWKSDocument(t *testing.T) {
	k := keysOnce()
	good := rsaJWK(&k.rsa2048.PublicKey, map[string]any{"kid": "a"})
	many := make([]map[string]any, MaxJWKSKeys+1)
	for i := range many {
		many[i] = map[string]any{"kty": "oct"}
	}
	for _, tc := range []struct {
		name string
		doc  []byte
	}{
		{"not JSON", []byte("<html>")},
		{"array", []byte(`[{"kty":"RSA"}]`)},
		{"no keys", []byte(`{"key":[]}`)},
		{"keys not an array", []byte(`{"keys":{}}`)},
		{"keys null", []byte(`{"keys":null}`)},
		{"duplicate keys member", []byte(`{"keys":[],"keys":[]}`)},
		{"truncated", keySet(t, good)[:40]},
		{"too large", append(append([]byte(`{"keys":[],"pad":"`), strings.Repeat("x", MaxJWKSSize)...), `"}`...)},
		{"too many keys", keySet(t, many...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseJWKS(tc.doc); !errors.Is(err, ErrInvalidKeySet) {
				t.Errorf("ParseJWKS = %v, want ErrInvalidKeySet", err)
			}
		})
	}
	// Duplicate kid: both entries refused, the other key kept.
	dup := keySet(t, good, rsaJWK(&k.rsa3072.PublicKey, map[string]any{"kid": "a"}), rsaJWK(&k.rsa3072.PublicKey, map[string]any{"kid": "b"}))
	keys, skipped, err := ParseJWKS(dup)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != "b" || len(skipped) != 2 {
		t.Errorf("duplicate kid: keys %+v skipped %v", keys, skipped)
	}
	// An empty set is a valid document.
	if keys, _, err := ParseJWKS([]byte(`{"keys":[]}`)); err != nil || len(keys) != 0 {
		t.Errorf("empty set: %v %v", keys, err)
	}
}

func TestParseTrustedJWKS(t *testing.T) {
	k := keysOnce()
	secret := map[string]any{"kty": "oct", "k": b64u(make32()), "kid": "s", "alg": "HS256"}
	rsaPriv := rsaJWK(&k.rsa2048.PublicKey, map[string]any{"kid": "r", "d": b64u(k.rsa2048.D.Bytes()), "p": b64u(k.rsa2048.Primes[0].Bytes()), "q": b64u(k.rsa2048.Primes[1].Bytes())})
	keys, skipped, err := ParseTrustedJWKS(keySet(t, secret))
	if err != nil || len(keys) != 1 || len(skipped) != 0 || len(keys[0].Secret) != 32 {
		t.Fatalf("secret set: %+v %v %v", keys, skipped, err)
	}
	keys, _, err = ParseTrustedJWKS(keySet(t, rsaPriv))
	if err != nil || len(keys) != 1 {
		t.Fatalf("private set: %v", err)
	}
	if priv, ok := keys[0].Private.(*rsa.PrivateKey); !ok || priv.D.Cmp(k.rsa2048.D) != 0 {
		t.Errorf("private key not parsed: %T", keys[0].Private)
	}
	if _, _, err := ParseTrustedJWKS(keySet(t, secret, rsaPriv)); !errors.Is(err, ErrInvalidKeySet) {
		t.Errorf("mixed set: %v, want ErrInvalidKeySet", err)
	}
	// A private key whose d does not belong to n is refused.
	bad := rsaJWK(&k.rsa2048.PublicKey, map[string]any{"d": b64u(k.rsa3072.D.Bytes()), "p": b64u(k.rsa2048.Primes[0].Bytes()), "q": b64u(k.rsa2048.Primes[1].Bytes())})
	if _, skipped, _ := ParseTrustedJWKS(keySet(t, bad)); len(skipped) != 1 || !errors.Is(skipped[0], ErrInvalidKey) {
		t.Errorf("mismatched private key: %v", skipped)
	}
}

func TestParseJWKPrivateKeysSign(t *testing.T) {
	k := keysOnce()
	for _, tc := range []struct {
		alg string
		jwk map[string]any
	}{
		{"ES256", ecJWK(&k.p256.PublicKey, "P-256", map[string]any{"d": b64u(k.p256.D.FillBytes(make([]byte, 32)))})},
		{"ES512", ecJWK(&k.p521.PublicKey, "P-521", map[string]any{"d": b64u(k.p521.D.FillBytes(make([]byte, 66)))})},
		{"EdDSA", map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64u(k.ed.Public().(ed25519.PublicKey)), "d": b64u(k.ed.Seed())}},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			raw, _ := json.Marshal(tc.jwk)
			key, err := ParseJWK(raw)
			if err != nil {
				t.Fatal(err)
			}
			signer, ok := key.Private.(crypto.Signer)
			if !ok {
				t.Fatalf("private key is %T", key.Private)
			}
			token, err := Sign(tc.alg, signer, "", nil, []byte("{}"))
			if err != nil {
				t.Fatal(err)
			}
			j, _ := ParseCompact(token)
			if err := j.Verify(&Key{Public: key.Public}); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	// An EC private scalar that does not match x/y.
	raw, _ := json.Marshal(ecJWK(&k.p256.PublicKey, "P-256", map[string]any{"d": b64u(make32())}))
	if _, err := ParseJWK(raw); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("mismatched EC private key: %v", err)
	}
}

func TestKeyFromPEMAndDER(t *testing.T) {
	k := keysOnce()
	cert := selfSigned(t, k.rsa2048)
	pkixRSA, _ := x509.MarshalPKIXPublicKey(&k.rsa2048.PublicKey)
	pkixEC, _ := x509.MarshalPKIXPublicKey(&k.p384.PublicKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(k.rsa2048)
	ecPriv, _ := x509.MarshalECPrivateKey(k.p256)
	pkixSmall, _ := x509.MarshalPKIXPublicKey(&k.rsa1024.PublicKey)
	for _, tc := range []struct {
		name        string
		block       *pem.Block
		wantPrivate bool
		want        error
	}{
		{"certificate", &pem.Block{Type: "CERTIFICATE", Bytes: cert}, false, nil},
		{"PKIX RSA", &pem.Block{Type: "PUBLIC KEY", Bytes: pkixRSA}, false, nil},
		{"PKIX EC", &pem.Block{Type: "PUBLIC KEY", Bytes: pkixEC}, false, nil},
		{"PKCS1 RSA public", &pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa2048.PublicKey)}, false, nil},
		{"PKCS8 private", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}, true, nil},
		{"PKCS1 private", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.rsa2048)}, true, nil},
		{"EC private", &pem.Block{Type: "EC PRIVATE KEY", Bytes: ecPriv}, true, nil},
		{"small RSA", &pem.Block{Type: "PUBLIC KEY", Bytes: pkixSmall}, false, ErrKeyTooSmall},
		{"unknown block", &pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: []byte{1}}, false, ErrInvalidKey},
		{"garbage DER", &pem.Block{Type: "PUBLIC KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}, false, ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := KeyFromPEM(pem.EncodeToMemory(tc.block))
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("KeyFromPEM = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key.Public == nil || (key.Private != nil) != tc.wantPrivate {
				t.Errorf("key = %+v", key)
			}
			der, err := KeyFromDER(tc.block.Bytes)
			if err != nil || fmt.Sprint(der.Public) != fmt.Sprint(key.Public) {
				t.Errorf("KeyFromDER = %v, %v", der, err)
			}
		})
	}
	key, err := KeyFromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	if key.X5t != Thumbprint(cert) || len(key.X5t) != 27 {
		t.Errorf("X5t = %q", key.X5t)
	}
	if len(ThumbprintS256(cert)) != 43 || ThumbprintS256(cert) == Thumbprint(cert) {
		t.Errorf("ThumbprintS256 = %q", ThumbprintS256(cert))
	}
	if _, err := KeyFromPEM([]byte("not pem")); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("not PEM: %v", err)
	}
}

func TestKeyFromRSAComponents(t *testing.T) {
	k := keysOnce()
	n, e := b64u(k.rsa2048.N.Bytes()), "AQAB"
	key, err := KeyFromRSAComponents(n, e)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := Sign("RS256", k.rsa2048, "", nil, []byte("{}"))
	j, _ := ParseCompact(token)
	if err := j.Verify(key); err != nil {
		t.Errorf("Verify: %v", err)
	}
	std, err := KeyFromRSAComponents(base64.StdEncoding.EncodeToString(k.rsa2048.N.Bytes()), "AQAB")
	if err != nil || !std.Public.(*rsa.PublicKey).Equal(key.Public) {
		t.Errorf("standard base64 modulus: %v", err)
	}
	for name, tc := range map[string][2]string{
		"small":     {b64u(k.rsa1024.N.Bytes()), e},
		"no e":      {n, ""},
		"bad n":     {"!!", e},
		"e too big": {n, b64u([]byte{1, 0, 0, 0, 1})},
	} {
		if _, err := KeyFromRSAComponents(tc[0], tc[1]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
