package jose

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
)

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// compact assembles a token from a header JSON text, a payload and a signature.
func compact(header, payload string, sig []byte) string {
	return enc(header) + "." + enc(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// hs256 MACs header.payload with secret, as an attacker would.
func hs256(header, payload string, secret []byte) string {
	input := enc(header) + "." + enc(payload)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func rsaSign(t *testing.T, priv *rsa.PrivateKey, header, payload string) string {
	t.Helper()
	input := enc(header) + "." + enc(payload)
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestParseCompactRejects(t *testing.T) {
	good, err := SignHMAC("HS256", make32(), "k", nil, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	h, p, s := parts[0], parts[1], parts[2]
	// A header whose encoding ends in a character carrying unused bits, to flip them.
	oddHeader := enc(`{"alg":"HS256","kid":"k1"}`)
	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMalformed},
		{"two segments", h + "." + p, ErrMalformed},
		{"four segments", good + ".x", ErrMalformed},
		{"five segments (JWE shape)", good + ".x.y", ErrMalformed},
		{"extra empty segment", good + ".", ErrMalformed},
		{"leading dot", "." + good, ErrMalformed},
		{"empty header", "." + p + "." + s, ErrMalformed},
		{"padding in header", h + "=." + p + "." + s, ErrMalformed},
		{"padding in payload", h + "." + p + "=." + s, ErrMalformed},
		{"padding in signature", h + "." + p + "." + s + "=", ErrMalformed},
		{"plus in signature", h + "." + p + "." + strings.Replace(s, s[:1], "+", 1), ErrMalformed},
		{"slash in payload", h + "." + "/" + p[1:] + "." + s, ErrMalformed},
		{"non-zero trailing bits", oddHeader[:len(oddHeader)-1] + bumpLastChar(oddHeader) + "." + p + "." + s, ErrMalformed},
		{"impossible length", h + "." + p + strings.Repeat("A", (5-len(p)%4)%4) + "." + s, ErrMalformed},
		{"space", h + " ." + p + "." + s, ErrMalformed},
		{"leading space", " " + good, ErrMalformed},
		{"newline", h + ".\n" + p + "." + s, ErrMalformed},
		{"carriage return", h + "." + p + "\r." + s, ErrMalformed},
		{"tab", h + "." + p + ".\t" + s, ErrMalformed},
		{"NUL", h + "." + p + "." + s + "\x00", ErrMalformed},
		{"header not JSON", enc(`alg=HS256`) + "." + p + "." + s, ErrMalformed},
		{"header JSON array", enc(`["alg","HS256"]`) + "." + p + "." + s, ErrMalformed},
		{"header JSON string", enc(`"HS256"`) + "." + p + "." + s, ErrMalformed},
		{"header null", enc(`null`) + "." + p + "." + s, ErrMalformed},
		{"header trailing garbage", enc(`{"alg":"HS256"}x`) + "." + p + "." + s, ErrMalformed},
		{"header duplicate alg", enc(`{"alg":"HS256","alg":"none"}`) + "." + p + "." + s, ErrMalformed},
		{"header duplicate by escape", enc(`{"alg":"HS256","\u0061lg":"none"}`) + "." + p + "." + s, ErrMalformed},
		{"header invalid UTF-8", enc("{\"alg\":\"HS256\",\"kid\":\"\xff\"}") + "." + p + "." + s, ErrMalformed},
		{"header without alg", enc(`{"typ":"JWT"}`) + "." + p + "." + s, ErrMalformed},
		{"alg not a string", enc(`{"alg":["HS256"]}`) + "." + p + "." + s, ErrMalformed},
		{"alg null", enc(`{"alg":null}`) + "." + p + "." + s, ErrMalformed},
		{"kid not a string", enc(`{"alg":"HS256","kid":7}`) + "." + p + "." + s, ErrMalformed},
		{"alg none with a signature", enc(`{"alg":"none"}`) + "." + p + "." + s, ErrMalformed},
		{"b64 false", enc(`{"alg":"HS256","b64":false}`) + "." + p + "." + s, ErrUnencodedPayload},
		{"b64 false with crit", enc(`{"alg":"HS256","b64":false,"crit":["b64"]}`) + "." + p + "." + s, ErrUnencodedPayload},
		{"b64 true", enc(`{"alg":"HS256","b64":true,"crit":["b64"]}`) + "." + p + "." + s, ErrUnencodedPayload},
		{"b64 not a boolean", enc(`{"alg":"HS256","b64":"false"}`) + "." + p + "." + s, ErrMalformed},
		{"crit unknown", enc(`{"alg":"HS256","exp":1,"crit":["exp"]}`) + "." + p + "." + s, ErrCriticalHeader},
		{"crit names an absent parameter", enc(`{"alg":"HS256","crit":["foo"]}`) + "." + p + "." + s, ErrMalformed},
		{"crit empty", enc(`{"alg":"HS256","crit":[]}`) + "." + p + "." + s, ErrMalformed},
		{"crit not an array", enc(`{"alg":"HS256","crit":"exp","exp":1}`) + "." + p + "." + s, ErrMalformed},
		{"crit lists alg", enc(`{"alg":"HS256","crit":["alg"]}`) + "." + p + "." + s, ErrMalformed},
		{"crit twice", enc(`{"alg":"HS256","x":1,"crit":["x","x"]}`) + "." + p + "." + s, ErrMalformed},
		{"too large", h + "." + strings.Repeat("A", MaxTokenSize) + "." + s, ErrTokenTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := ParseCompact(tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseCompact = %v, want %v", err, tc.want)
			}
			if j != nil {
				t.Errorf("a JWS came back with the error")
			}
		})
	}
	if _, err := ParseCompact(good); err != nil {
		t.Fatalf("the unmodified token: %v", err)
	}
}

func make32() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// bumpLastChar returns the last character of an unpadded base64url string with its unused
// low bits set, so the string decodes (leniently) to the same bytes.
func bumpLastChar(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	v := strings.IndexByte(alphabet, s[len(s)-1])
	switch len(s) % 4 {
	case 2:
		v |= 0x0f
	case 3:
		v |= 0x03
	}
	return string(alphabet[v])
}

func TestHeaderFields(t *testing.T) {
	token := compact(`{"alg":"RS256","kid":"k1","typ":"at+jwt","cty":"JWT","x5t":"t1","x5t#S256":"t2","jku":"https://evil.example/keys","x5u":"https://evil.example/c","x5c":["AA"],"jwk":{"kty":"oct","k":"AA"},"zip":"DEF","custom":{"nested":[1,"}"]}}`, `{}`, []byte{1})
	j, err := ParseCompact(token)
	if err != nil {
		t.Fatal(err)
	}
	h := j.Header
	if h.Alg != "RS256" || h.Kid != "k1" || h.Typ != "at+jwt" || h.Cty != "JWT" || h.X5t != "t1" || h.X5tS256 != "t2" || h.Zip != "DEF" {
		t.Errorf("header = %+v", h)
	}
	if !h.HasJWK || !h.HasJKU || !h.HasX5U || !h.HasX5C {
		t.Errorf("embedded key references not reported: %+v", h)
	}
	if h.Crit != nil || h.B64 != nil {
		t.Errorf("crit/b64 = %v/%v", h.Crit, h.B64)
	}
	// Escaped names and values decode.
	j, err = ParseCompact(compact(`{"\u0061lg":"HS256","kid":"a\"b\u00e9"}`, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	if j.Header.Alg != "HS256" || j.Header.Kid != "a\"bé" {
		t.Errorf("escaped header = %+v", j.Header)
	}
}

func TestAlgNoneNeverVerifies(t *testing.T) {
	k := keysOnce()
	keys := map[string]*Key{
		"RSA":      {Public: &k.rsa2048.PublicKey},
		"EC":       {Public: &k.p256.PublicKey},
		"HMAC":     {Secret: make32()},
		"no key":   nil,
		"alg none": {Alg: "none", Secret: make32()},
	}
	for _, alg := range []string{"none", "None", "NONE", "nOnE", "NoNe"} {
		token := compact(`{"alg":"`+alg+`"}`, `{"sub":"x"}`, nil)
		j, err := ParseCompact(token)
		if err != nil {
			t.Fatalf("%s: ParseCompact: %v", alg, err)
		}
		for name, key := range keys {
			if err := j.Verify(key); !errors.Is(err, ErrUnsigned) {
				t.Errorf("alg %q with %s key: Verify = %v, want ErrUnsigned", alg, name, err)
			}
		}
		// Whatever the casing, a signature beside "none" is still refused.
		if alg != "none" {
			j, err := ParseCompact(compact(`{"alg":"`+alg+`"}`, `{}`, []byte("sig")))
			if err == nil {
				err = j.Verify(keys["HMAC"])
			}
			if err == nil {
				t.Errorf("alg %q with a signature accepted", alg)
			}
		}
	}
}

// TestHMACWithPublicKeyRefused is the RS256-to-HS256 confusion: the attacker MACs a token with
// the server's public key in every encoding it might be stored in.
func TestHMACWithPublicKeyRefused(t *testing.T) {
	k := keysOnce()
	pub := &k.rsa2048.PublicKey
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	ecPKIX, err := x509.MarshalPKIXPublicKey(&k.p256.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	jwk, _ := json.Marshal(map[string]string{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()), "e": "AQAB"})
	forms := map[string][]byte{
		"PEM PKIX":       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"PEM PKCS1":      pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}),
		"DER PKIX":       pkix,
		"DER PKCS1":      x509.MarshalPKCS1PublicKey(pub),
		"JWK":            jwk,
		"EC DER PKIX":    ecPKIX,
		"PEM with space": append([]byte("  \n"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})...),
	}
	header := `{"alg":"HS256","kid":"rsa-1"}`
	for name, secret := range forms {
		t.Run(name, func(t *testing.T) {
			j, err := ParseCompact(hs256(header, `{"sub":"admin"}`, secret))
			if err != nil {
				t.Fatal(err)
			}
			// The key as a JWKS or a certificate gives it: a public key.
			if err := j.Verify(&Key{ID: "rsa-1", Public: pub}); !errors.Is(err, ErrAlgorithmNotAllowed) {
				t.Errorf("Verify with the RSA key = %v, want ErrAlgorithmNotAllowed", err)
			}
			// An operator who pasted the public key as a "symmetric" key.
			if err := j.Verify(&Key{ID: "rsa-1", Secret: secret}); !errors.Is(err, ErrAlgorithmNotAllowed) {
				t.Errorf("Verify with the encoded public key as secret = %v, want ErrAlgorithmNotAllowed", err)
			}
			// Both set: still no.
			if err := j.Verify(&Key{Public: pub, Secret: secret}); !errors.Is(err, ErrAlgorithmNotAllowed) {
				t.Errorf("Verify with public+secret = %v, want ErrAlgorithmNotAllowed", err)
			}
			if _, err := SignHMAC("HS256", secret, "", nil, []byte("x")); !errors.Is(err, ErrAlgorithmNotAllowed) {
				t.Errorf("SignHMAC with a public key as secret = %v", err)
			}
		})
	}
	// And an asymmetric algorithm never takes a secret.
	token := rsaSign(t, k.rsa2048, `{"alg":"RS256"}`, `{}`)
	j, err := ParseCompact(token)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Verify(&Key{Secret: make32()}); !errors.Is(err, ErrAlgorithmNotAllowed) {
		t.Errorf("RS256 with a secret = %v", err)
	}
}

func TestECDSASignatureValues(t *testing.T) {
	k := keysOnce()
	key := &Key{Public: &k.p256.PublicKey}
	header, payload := `{"alg":"ES256"}`, `{"sub":"x"}`
	n := k.p256.Curve.Params().N
	fixed := func(v *big.Int) []byte { return v.FillBytes(make([]byte, 32)) }
	pair := func(r, s *big.Int) []byte { return append(fixed(r), fixed(s)...) }
	zero, one := big.NewInt(0), big.NewInt(1)
	nMinus1 := new(big.Int).Sub(n, one)
	// A genuine signature, to tamper with.
	good, err := Sign("ES256", k.p256, "", nil, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	gj, _ := ParseCompact(good)
	r := new(big.Int).SetBytes(gj.Signature[:32])
	s := new(big.Int).SetBytes(gj.Signature[32:])
	der, _ := ecdsaDER(r, s)
	for _, tc := range []struct {
		name string
		sig  []byte
	}{
		{"r=s=0 (psychic signature)", pair(zero, zero)},
		{"r=0", pair(zero, s)},
		{"s=0", pair(r, zero)},
		{"r=n", pair(n, s)},
		{"s=n", pair(r, n)},
		{"r=n-1,s=n-1", pair(nMinus1, nMinus1)},
		{"s+n (too long)", append(fixed(r), new(big.Int).Add(s, n).Bytes()...)},
		{"r>n fits 32 bytes", pair(new(big.Int).Add(r, n).Mod(new(big.Int).Add(r, n), new(big.Int).Lsh(one, 256)), s)},
		{"DER encoded", der},
		{"truncated", gj.Signature[:63]},
		{"padded", append(append([]byte{}, gj.Signature...), 0)},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := ParseCompact(compact(header, payload, tc.sig))
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Verify(key); !errors.Is(err, ErrSignatureInvalid) {
				t.Errorf("Verify = %v, want ErrSignatureInvalid", err)
			}
		})
	}
	if err := gj.Verify(key); err != nil {
		t.Fatalf("the genuine signature: %v", err)
	}
	for name, wrong := range map[string]*Key{
		"P-384 key for ES256": {Public: &k.p384.PublicKey},
		"P-521 key for ES256": {Public: &k.p521.PublicKey},
		"RSA key for ES256":   {Public: &k.rsa2048.PublicKey},
		"Ed25519 for ES256":   {Public: k.ed.Public()},
	} {
		if err := gj.Verify(wrong); !errors.Is(err, ErrAlgorithmNotAllowed) {
			t.Errorf("%s: Verify = %v, want ErrAlgorithmNotAllowed", name, err)
		}
	}
}

func ecdsaDER(r, s *big.Int) ([]byte, error) {
	type sig struct{ R, S *big.Int }
	return asn1Marshal(sig{r, s})
}

func TestKeyRestrictions(t *testing.T) {
	k := keysOnce()
	small := rsaSign(t, k.rsa1024, `{"alg":"RS256"}`, `{}`)
	j, err := ParseCompact(small)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Verify(&Key{Public: &k.rsa1024.PublicKey}); !errors.Is(err, ErrKeyTooSmall) {
		t.Errorf("1024-bit RSA key: %v, want ErrKeyTooSmall", err)
	}
	token, err := Sign("RS256", k.rsa2048, "", nil, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	j, err = ParseCompact(token)
	if err != nil {
		t.Fatal(err)
	}
	pub := &k.rsa2048.PublicKey
	for _, tc := range []struct {
		name string
		key  *Key
		want error
	}{
		{"matching", &Key{Public: pub, Alg: "RS256", Use: "sig", KeyOps: []string{"verify"}}, nil},
		{"key alg PS256", &Key{Public: pub, Alg: "PS256"}, ErrAlgorithmNotAllowed},
		{"key alg rs256 (case)", &Key{Public: pub, Alg: "rs256"}, ErrAlgorithmNotAllowed},
		{"use enc", &Key{Public: pub, Use: "enc"}, ErrAlgorithmNotAllowed},
		{"key_ops encrypt", &Key{Public: pub, KeyOps: []string{"encrypt"}}, ErrAlgorithmNotAllowed},
		{"key_ops empty", &Key{Public: pub, KeyOps: []string{}}, ErrAlgorithmNotAllowed},
		{"EC key", &Key{Public: &k.p256.PublicKey}, ErrAlgorithmNotAllowed},
		{"private key only", &Key{Private: k.rsa2048}, ErrAlgorithmNotAllowed},
		{"empty key", &Key{}, ErrAlgorithmNotAllowed},
		{"other RSA key", &Key{Public: &k.rsa3072.PublicKey}, ErrSignatureInvalid},
		{"nil key", nil, ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := j.Verify(tc.key)
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// Unknown algorithms, including near-misses, are refused by name.
	for _, alg := range []string{"rs256", "RS1", "HS1", "ES256K", "PS256 ", ""} {
		j := &JWS{Header: Header{Alg: alg}, Signature: []byte{1}, SigningInput: "a.b"}
		if err := j.Verify(&Key{Public: pub}); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("alg %q: %v, want ErrUnsupportedAlgorithm", alg, err)
		}
	}
}

func TestPSSSaltLengthEnforced(t *testing.T) {
	priv := keysOnce().rsa2048
	header, payload := `{"alg":"PS256"}`, `{}`
	input := enc(header) + "." + enc(payload)
	d := sha256.Sum256([]byte(input))
	for _, salt := range []int{0, 20, 64} {
		sig, err := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		j, err := ParseCompact(input + "." + base64.RawURLEncoding.EncodeToString(sig))
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Verify(&Key{Public: &priv.PublicKey}); !errors.Is(err, ErrSignatureInvalid) {
			t.Errorf("salt %d: %v, want ErrSignatureInvalid (RFC 7518 requires salt = hash length)", salt, err)
		}
	}
}

func asn1Marshal(v any) ([]byte, error) { return asn1.Marshal(v) }
