package jose

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	rsaKey := keysOnce().rsa2048
	inner, err := Sign("RS256", rsaKey, "sig-1", map[string]any{"typ": "JWT"}, []byte(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, keyAlg := range []string{"RSA-OAEP", "RSA-OAEP-256", "A128KW", "A256KW", "dir"} {
		for _, enc := range []string{"A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM"} {
			t.Run(keyAlg+"/"+enc, func(t *testing.T) {
				var key Key
				switch keyAlg {
				case "RSA-OAEP", "RSA-OAEP-256":
					key = Key{ID: "enc-1", Public: &rsaKey.PublicKey, Private: rsaKey}
				case "A128KW":
					key = Key{ID: "enc-1", Secret: randomBytes(t, 16)}
				case "A256KW":
					key = Key{ID: "enc-1", Secret: randomBytes(t, 32)}
				case "dir":
					key = Key{ID: "enc-1", Secret: randomBytes(t, contentEncryptions[enc].keyLen)}
				}
				token, err := Encrypt([]byte(inner), keyAlg, enc, &key, map[string]any{"cty": "JWT"})
				if err != nil {
					t.Fatalf("Encrypt: %v", err)
				}
				if !IsEncrypted(token) || IsEncrypted(inner) {
					t.Fatalf("IsEncrypted wrong")
				}
				h, err := ParseEncryptedHeader(token)
				if err != nil {
					t.Fatalf("ParseEncryptedHeader: %v", err)
				}
				if h.Alg != keyAlg || h.Enc != enc || h.Cty != "JWT" || h.Kid != "enc-1" {
					t.Errorf("header = %+v", h)
				}
				// A wrong key first: each key is tried in turn.
				wrong := Key{Secret: randomBytes(t, len(key.Secret))}
				if key.Private != nil {
					wrong = Key{Private: keysOnce().rsa3072}
				}
				plain, err := Decrypt(token, []Key{wrong, key})
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if string(plain) != inner {
					t.Errorf("plaintext = %q", plain)
				}
				if _, err := Decrypt(token, []Key{wrong}); !errors.Is(err, ErrDecryption) {
					t.Errorf("wrong key only: %v", err)
				}
				// Flip one bit of the ciphertext: authentication must fail.
				parts := strings.Split(token, ".")
				c := []byte(parts[3])
				c[0] = flipChar(c[0])[0]
				parts[3] = string(c)
				if _, err := Decrypt(strings.Join(parts, "."), []Key{key}); err == nil {
					t.Errorf("tampered ciphertext decrypted")
				}
			})
		}
	}
}
