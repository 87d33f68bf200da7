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

func TestDecryptKeySelection(t *testing.T) {
	k := keysOnce()
	secret := randomBytes(t, 32)
	token, err := Encrypt([]byte("inner"), "A256KW", "A256GCM", &Key{Secret: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keys []Key
		want error // nil: decrypts
	}{
		{"the key", []Key{{Secret: secret}}, nil},
		{"key alg matches", []Key{{Secret: secret, Alg: "A256KW", Use: "enc"}}, nil},
		{"refused keys are passed over", []Key{{Secret: secret, Alg: "A128KW"}, {Public: &k.rsa2048.PublicKey}, {Secret: secret}}, nil},
		{"no keys", nil, ErrDecryption},
		{"key alg differs", []Key{{Secret: secret, Alg: "dir"}}, ErrDecryption},
		{"key for signatures", []Key{{Secret: secret, Use: "sig"}}, ErrDecryption},
		{"wrong secret length", []Key{{Secret: secret[:16]}}, ErrDecryption},
		{"public key only", []Key{{Public: &k.rsa2048.PublicKey}}, ErrDecryption},
		{"wrong secret", []Key{{Secret: randomBytes(t, 32)}}, ErrDecryption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decrypt(token, tc.keys)
			if tc.want == nil {
				if err != nil || string(got) != "inner" {
					t.Fatalf("Decrypt = %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || got != nil {
				t.Errorf("Decrypt = %q, %v; want %v", got, err, tc.want)
			}
		})
	}
	// A small RSA decryption key is refused.
	small, err := Encrypt([]byte("x"), "RSA-OAEP", "A128GCM", &Key{Public: &k.rsa2048.PublicKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(small, []Key{{Private: k.rsa1024}}); !errors.Is(err, ErrKeyTooSmall) {
		t.Errorf("1024-bit decryption key: %v", err)
	}
	if _, err := Encrypt([]byte("x"), "RSA-OAEP", "A128GCM", &Key{Public: &k.rsa1024.PublicKey}, nil); !errors.Is(err, ErrKeyTooSmall) {
		t.Errorf("1024-bit encryption key: %v", err)
	}
}

func TestDecryptMalformed(t *testing.T) {
	secret := randomBytes(t, 16)
	token, err := Encrypt([]byte("x"), "A128KW", "A128GCM", &Key{Secret: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	rest := "." + strings.Join(parts[1:], ".")
	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"four segments", strings.Join(parts[:4], "."), ErrMalformed},
		{"six segments", token + ".x", ErrMalformed},
		{"padding", parts[0] + "=" + rest, ErrMalformed},
		{"whitespace", parts[0] + "\n" + rest, ErrMalformed},
		{"empty header", rest, ErrMalformed},
		{"header not JSON", enc("x") + rest, ErrMalformed},
		{"no enc", enc(`{"alg":"A128KW"}`) + rest, ErrUnsupportedAlgorithm},
		{"alg none", enc(`{"alg":"none","enc":"A128GCM"}`) + rest, ErrUnsupportedAlgorithm},
		{"crit unknown", enc(`{"alg":"A128KW","enc":"A128GCM","x":1,"crit":["x"]}`) + rest, ErrCriticalHeader},
		{"duplicate alg", enc(`{"alg":"A128KW","alg":"dir","enc":"A128GCM"}`) + rest, ErrMalformed},
		{"too large", token + strings.Repeat("A", MaxTokenSize), ErrTokenTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decrypt(tc.token, []Key{{Secret: secret}}); !errors.Is(err, tc.want) {
				t.Errorf("Decrypt = %v, want %v", err, tc.want)
			}
		})
	}
	// A header swapped for another that names the same algorithms breaks the authentication.
	swapped := enc(`{"alg":"A128KW","enc":"A128GCM","kid":"other"}`) + rest
	if _, err := Decrypt(swapped, []Key{{Secret: secret}}); !errors.Is(err, ErrDecryption) {
		t.Errorf("swapped header: %v", err)
	}
}

func TestEncryptRefuses(t *testing.T) {
	for _, tc := range []struct {
		name        string
		keyAlg, enc string
		key         *Key
		extra       map[string]any
	}{
		{"unknown key alg", "RSA1_5", "A128GCM", &Key{Public: &keysOnce().rsa2048.PublicKey}, nil},
		{"unknown enc", "A128KW", "A192GCM", &Key{Secret: make([]byte, 16)}, nil},
		{"nil key", "A128KW", "A128GCM", nil, nil},
		{"RSA without a key", "RSA-OAEP", "A128GCM", &Key{Secret: make([]byte, 16)}, nil},
		{"dir wrong length", "dir", "A256GCM", &Key{Secret: make([]byte, 16)}, nil},
		{"extra alg", "A128KW", "A128GCM", &Key{Secret: make([]byte, 16)}, map[string]any{"alg": "dir"}},
		{"extra zip", "A128KW", "A128GCM", &Key{Secret: make([]byte, 16)}, map[string]any{"zip": "DEF"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Encrypt([]byte("x"), tc.keyAlg, tc.enc, tc.key, tc.extra); err == nil {
				t.Errorf("Encrypt accepted: %s", got)
			}
		})
	}
}

// TestRFC7516AppendixA3 decrypts the JWE example of RFC 7516 Appendix A.3 (A128KW with
// A128CBC-HS256); the values are the RFC's.
func TestRFC7516AppendixA3(t *testing.T) {
	secret, err := b64url.DecodeString("GawgguFyGrWKav7AX4VKUg")
	if err != nil {
		t.Fatal(err)
	}
	const token = "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0." +
		"6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ." +
		"AxY8DCtDaGlsbGljb3RoZQ." +
		"KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY." +
		"U0m_YmjN04DJvceFICbCVQ"
	got, err := Decrypt(token, []Key{{Secret: secret}})
	if err != nil || string(got) != "Live long and prosper." {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	// The same token with the last tag byte changed must fail authentication.
	if _, err := Decrypt(token[:len(token)-2]+"VA", []Key{{Secret: secret}}); !errors.Is(err, ErrDecryption) {
		t.Errorf("tampered tag: %v", err)
	}
}
