package jose

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"
)

// entraLikeClaims is shaped like an Entra v2.0 access token's claims set (about 1.2 KB once
// signed with a 2048-bit key).
const entraLikeClaims = `{"aud":"6e74172b-be56-4843-9ff4-e66a39bb12e3","iss":"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0","iat":1764100000,"nbf":1764100000,"exp":1764103900,"aio":"AWQAm/8ZAAAAbUzd2jeoJ8Yp0RLmBrLR7N1Jbq6VIZ4eCNG4QzzGq3mHCk5TnbGmlpkF1V1tMMJm","azp":"2c6b6a6e-1f3d-4b5a-9f1e-8d7c6b5a4f3e","azpacr":"1","name":"Test User","oid":"8f1d2c3b-4a59-6877-8695-a4b3c2d1e0f9","preferred_username":"test.user@contoso.example","rh":"1.AXEAv4j5cvGGr0GRqy180BHbR6kAAAAAAAAAwAAAAAAAAABxAAA.","roles":["Orders.Read","Orders.Write"],"scp":"access_as_user","sub":"x1y2z3a4b5c6d7e8f9g0h1i2j3k4l5m6n7o8p9q0r1s","tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","uti":"AbCdEfGhIjKlMnOpQrStUv","ver":"2.0"}`

func benchToken(b *testing.B) (string, *rsa.PrivateKey) {
	b.Helper()
	key := keysOnce().rsa2048
	token, err := Sign("RS256", key, "nOo3ZDrODXEK1jKWhXslHR_KXEg", map[string]any{"typ": "JWT"}, []byte(entraLikeClaims))
	if err != nil {
		b.Fatal(err)
	}
	return token, key
}

// BenchmarkVerifyRS256 is the cold validation path's JOSE part: parse the compact token and
// verify its RS256 signature.
func BenchmarkVerifyRS256(b *testing.B) {
	token, priv := benchToken(b)
	key := &Key{ID: "nOo3ZDrODXEK1jKWhXslHR_KXEg", Public: &priv.PublicKey}
	b.ReportAllocs()
	for b.Loop() {
		j, err := ParseCompact(token)
		if err != nil {
			b.Fatal(err)
		}
		if err := j.Verify(key); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(token)), "token-bytes")
}

// BenchmarkBareRSAVerifyPKCS1v15 is the floor: hashing the same signing input and one
// rsa.VerifyPKCS1v15 with the same key.
func BenchmarkBareRSAVerifyPKCS1v15(b *testing.B) {
	token, priv := benchToken(b)
	i := strings.LastIndexByte(token, '.')
	msg := []byte(token[:i])
	sig, err := b64url.DecodeString(token[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256(msg)
		if err := rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, d[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignRS256 mints a token the way the identity service does.
func BenchmarkSignRS256(b *testing.B) {
	_, priv := benchToken(b)
	payload := []byte(entraLikeClaims)
	extra := map[string]any{"typ": "JWT", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign("RS256", priv, "nOo3ZDrODXEK1jKWhXslHR_KXEg", extra, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareRSASign is the floor for signing: one rsa.SignPKCS1v15 over a same-sized input.
func BenchmarkBareRSASign(b *testing.B) {
	token, priv := benchToken(b)
	msg := []byte(token[:strings.LastIndexByte(token, '.')])
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256(msg)
		if _, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}
