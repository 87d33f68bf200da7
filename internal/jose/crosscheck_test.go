package jose

// Cross-checks against two independent JOSE implementations (test-only dependencies): what
// this package signs or encrypts they accept, and what they produce this package accepts.

import (
	"crypto"
	"errors"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jws"
)

func jwxSignatureAlgorithm(t *testing.T, alg string) jwa.SignatureAlgorithm {
	t.Helper()
	a, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		t.Fatalf("jwx does not know %s", alg)
	}
	return a
}

func TestCrossCheckJWSWithJWX(t *testing.T) {
	payload := []byte(`{"iss":"https://issuer.example/","sub":"cross-check"}`)
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"} {
		t.Run(alg, func(t *testing.T) {
			jalg := jwxSignatureAlgorithm(t, alg)
			var signKey, verifyKey any
			var ours string
			var err error
			var key *Key
			if alg[:2] == "HS" {
				secret := randomBytes(t, 64)
				signKey, verifyKey, key = secret, secret, &Key{Secret: secret}
				ours, err = SignHMAC(alg, secret, "x", map[string]any{"typ": "JWT"}, payload)
			} else {
				signer := signerFor(t, alg)
				signKey, verifyKey, key = signer, signer.Public(), &Key{Public: signer.Public()}
				ours, err = Sign(alg, signer, "x", map[string]any{"typ": "JWT"}, payload)
			}
			if err != nil {
				t.Fatal(err)
			}
			// Ours → jwx.
			got, err := jws.Verify([]byte(ours), jws.WithKey(jalg, verifyKey))
			if err != nil {
				t.Fatalf("jwx refuses our token: %v", err)
			}
			if string(got) != string(payload) {
				t.Errorf("jwx payload = %q", got)
			}
			// jwx → ours.
			if s, ok := signKey.(crypto.Signer); ok {
				signKey = s
			}
			theirs, err := jws.Sign(payload, jws.WithKey(jalg, signKey))
			if err != nil {
				t.Fatal(err)
			}
			j, err := ParseCompact(string(theirs))
			if err != nil {
				t.Fatalf("ParseCompact of jwx token: %v", err)
			}
			if err := j.Verify(key); err != nil {
				t.Fatalf("jwx token refused: %v", err)
			}
		})
	}
}

func TestCrossCheckJWEWithGoJOSE(t *testing.T) {
	rsaKey := keysOnce().rsa2048
	plaintext := []byte("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	for _, keyAlg := range []string{"RSA-OAEP", "RSA-OAEP-256", "A128KW", "A256KW", "dir"} {
		for _, enc := range []string{"A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM"} {
			t.Run(keyAlg+"/"+enc, func(t *testing.T) {
				var key Key
				var encKey, decKey any
				switch keyAlg {
				case "RSA-OAEP", "RSA-OAEP-256":
					key = Key{Public: &rsaKey.PublicKey, Private: rsaKey}
					encKey, decKey = &rsaKey.PublicKey, rsaKey
				case "A128KW", "A256KW":
					key = Key{Secret: randomBytes(t, kwKeyLen[keyAlg])}
					encKey, decKey = key.Secret, key.Secret
				case "dir":
					key = Key{Secret: randomBytes(t, contentEncryptions[enc].keyLen)}
					encKey, decKey = key.Secret, key.Secret
				}
				// go-jose → ours.
				opts := (&gojose.EncrypterOptions{}).WithContentType("JWT")
				encrypter, err := gojose.NewEncrypter(gojose.ContentEncryption(enc), gojose.Recipient{Algorithm: gojose.KeyAlgorithm(keyAlg), Key: encKey}, opts)
				if err != nil {
					t.Fatal(err)
				}
				obj, err := encrypter.Encrypt(plaintext)
				if err != nil {
					t.Fatal(err)
				}
				theirs, err := obj.CompactSerialize()
				if err != nil {
					t.Fatal(err)
				}
				got, err := Decrypt(theirs, []Key{key})
				if err != nil || string(got) != string(plaintext) {
					t.Fatalf("Decrypt of go-jose token = %q, %v", got, err)
				}
				// Ours → go-jose.
				ours, err := Encrypt(plaintext, keyAlg, enc, &key, map[string]any{"cty": "JWT"})
				if err != nil {
					t.Fatal(err)
				}
				parsed, err := gojose.ParseEncrypted(ours, []gojose.KeyAlgorithm{gojose.KeyAlgorithm(keyAlg)}, []gojose.ContentEncryption{gojose.ContentEncryption(enc)})
				if err != nil {
					t.Fatalf("go-jose refuses our token: %v", err)
				}
				got, err = parsed.Decrypt(decKey)
				if err != nil || string(got) != string(plaintext) {
					t.Fatalf("go-jose Decrypt = %q, %v", got, err)
				}
			})
		}
	}
}

// TestDecryptRefusesAlgorithms builds JWEs with algorithms validate-jwt does not accept (with
// jwx, which implements them all) and checks each is refused before any key is tried.
func TestDecryptRefusesAlgorithms(t *testing.T) {
	k := keysOnce()
	secret16 := randomBytes(t, 16)
	for _, tc := range []struct {
		name string
		opts []jwe.EncryptOption
		key  Key
	}{
		{"RSA1_5", []jwe.EncryptOption{jwe.WithKey(jwa.RSA1_5(), &k.rsa2048.PublicKey)}, Key{Private: k.rsa2048}},
		{"PBES2-HS256+A128KW", []jwe.EncryptOption{jwe.WithKey(jwa.PBES2_HS256_A128KW(), []byte("correct horse battery staple"))}, Key{Secret: []byte("correct horse battery staple")}},
		{"ECDH-ES", []jwe.EncryptOption{jwe.WithKey(jwa.ECDH_ES(), &k.p256.PublicKey)}, Key{Private: k.p256}},
		{"A192KW", []jwe.EncryptOption{jwe.WithKey(jwa.A192KW(), randomBytes(t, 24))}, Key{Secret: randomBytes(t, 24)}},
		{"A128GCMKW", []jwe.EncryptOption{jwe.WithKey(jwa.A128GCMKW(), secret16)}, Key{Secret: secret16}},
		{"enc A192GCM", []jwe.EncryptOption{jwe.WithKey(jwa.A128KW(), secret16), jwe.WithContentEncryption(jwa.A192GCM())}, Key{Secret: secret16}},
		{"enc A192CBC-HS384", []jwe.EncryptOption{jwe.WithKey(jwa.A128KW(), secret16), jwe.WithContentEncryption(jwa.A192CBC_HS384())}, Key{Secret: secret16}},
		{"zip DEF", []jwe.EncryptOption{jwe.WithKey(jwa.A128KW(), secret16), jwe.WithCompress(jwa.Deflate())}, Key{Secret: secret16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, err := jwe.Encrypt([]byte("secret payload"), append(tc.opts, jwe.WithCompact())...)
			if err != nil {
				t.Fatal(err)
			}
			if !IsEncrypted(string(token)) {
				t.Fatal("not a compact JWE")
			}
			if _, err := Decrypt(string(token), []Key{tc.key}); !errors.Is(err, ErrUnsupportedAlgorithm) {
				t.Errorf("Decrypt = %v, want ErrUnsupportedAlgorithm", err)
			}
			if _, err := Encrypt([]byte("x"), tc.name, "A128GCM", &tc.key, nil); err == nil && tc.name[:3] != "enc" && tc.name[:3] != "zip" {
				t.Errorf("Encrypt with %s accepted", tc.name)
			}
		})
	}
}
