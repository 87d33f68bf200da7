package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
)

// testKeys are generated once per test binary: RSA generation dominates otherwise.
type testKeySet struct {
	rsa2048, rsa3072, rsa1024 *rsa.PrivateKey
	p256, p384, p521          *ecdsa.PrivateKey
	ed                        ed25519.PrivateKey
}

var keysOnce = sync.OnceValue(func() *testKeySet {
	must := func(k *rsa.PrivateKey, err error) *rsa.PrivateKey {
		if err != nil {
			panic(err)
		}
		return k
	}
	mustEC := func(k *ecdsa.PrivateKey, err error) *ecdsa.PrivateKey {
		if err != nil {
			panic(err)
		}
		return k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return &testKeySet{
		rsa2048: must(rsa.GenerateKey(rand.Reader, 2048)),
		rsa3072: must(rsa.GenerateKey(rand.Reader, 3072)),
		rsa1024: must(rsa.GenerateKey(rand.Reader, 1024)),
		p256:    mustEC(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		p384:    mustEC(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)),
		p521:    mustEC(ecdsa.GenerateKey(elliptic.P521(), rand.Reader)),
		ed:      ed,
	}
})

func signerFor(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	k := keysOnce()
	switch alg[:2] {
	case "RS", "PS":
		return k.rsa2048
	case "ES":
		return map[string]crypto.Signer{"ES256": k.p256, "ES384": k.p384, "ES512": k.p521}[alg]
	case "Ed":
		return k.ed
	}
	t.Fatalf("no signer for %s", alg)
	return nil
}

func TestSignVerifyRoundTrip(t *testing.T) {
	payload := []byte(`{"sub":"someone","aud":"api://backend"}`)
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			signer := signerFor(t, alg)
			token, err := Sign(alg, signer, "kid-1", map[string]any{"typ": "JWT", "x5t": "abc"}, payload)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			j, err := ParseCompact(token)
			if err != nil {
				t.Fatalf("ParseCompact: %v", err)
			}
			if j.Header.Alg != alg || j.Header.Kid != "kid-1" || j.Header.Typ != "JWT" || j.Header.X5t != "abc" {
				t.Errorf("header = %+v", j.Header)
			}
			if want := `{"alg":"` + alg + `","kid":"kid-1","typ":"JWT","x5t":"abc"}`; string(j.Header.Raw) != want {
				t.Errorf("header JSON = %s, want %s", j.Header.Raw, want)
			}
			if string(j.Payload) != string(payload) {
				t.Errorf("payload = %q", j.Payload)
			}
			key := &Key{Public: signer.Public()}
			if err := j.Verify(key); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			// Any change to the signed bytes must fail.
			tampered := j.SigningInput[:len(j.SigningInput)-2] + flipChar(j.SigningInput[len(j.SigningInput)-2]) + j.SigningInput[len(j.SigningInput)-1:] + token[len(j.SigningInput):]
			tj, err := ParseCompact(tampered)
			if err == nil {
				if err := tj.Verify(key); !errors.Is(err, ErrSignatureInvalid) {
					t.Errorf("tampered payload: Verify = %v, want ErrSignatureInvalid", err)
				}
			}
			// The key's alg restricts it (RFC 8725).
			other := "RS256"
			if alg == "RS256" {
				other = "PS256"
			}
			if err := j.Verify(&Key{Public: signer.Public(), Alg: other}); !errors.Is(err, ErrAlgorithmNotAllowed) {
				t.Errorf("Verify with key alg %s = %v, want ErrAlgorithmNotAllowed", other, err)
			}
			if err := j.Verify(&Key{Public: signer.Public(), Alg: alg, Use: "sig", KeyOps: []string{"verify"}}); err != nil {
				t.Errorf("Verify with matching alg/use/key_ops = %v", err)
			}
		})
	}
}

func TestSignHMACRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		alg    string
		secret int
	}{{"HS256", 32}, {"HS384", 48}, {"HS512", 64}} {
		t.Run(tc.alg, func(t *testing.T) {
			secret := make([]byte, tc.secret)
			rand.Read(secret)
			token, err := SignHMAC(tc.alg, secret, "", nil, []byte("hello"))
			if err != nil {
				t.Fatalf("SignHMAC: %v", err)
			}
			j, err := ParseCompact(token)
			if err != nil {
				t.Fatalf("ParseCompact: %v", err)
			}
			if err := j.Verify(&Key{Secret: secret}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wrong := append([]byte(nil), secret...)
			wrong[0] ^= 1
			if err := j.Verify(&Key{Secret: wrong}); !errors.Is(err, ErrSignatureInvalid) {
				t.Errorf("wrong secret: %v", err)
			}
			if err := j.Verify(&Key{Secret: secret[:tc.secret-1]}); !errors.Is(err, ErrKeyTooSmall) {
				t.Errorf("short secret: %v", err)
			}
			if _, err := SignHMAC(tc.alg, secret[:tc.secret-1], "", nil, nil); !errors.Is(err, ErrKeyTooSmall) {
				t.Errorf("SignHMAC short secret: %v", err)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	k := keysOnce()
	for _, tc := range []struct {
		name   string
		alg    string
		signer crypto.Signer
		extra  map[string]any
		want   error
	}{
		{"small RSA key", "RS256", k.rsa1024, nil, ErrKeyTooSmall},
		{"EC key for RS256", "RS256", k.p256, nil, ErrAlgorithmNotAllowed},
		{"wrong curve", "ES256", k.p384, nil, ErrAlgorithmNotAllowed},
		{"RSA key for EdDSA", "EdDSA", k.rsa2048, nil, ErrAlgorithmNotAllowed},
		{"HMAC through Sign", "HS256", k.rsa2048, nil, ErrAlgorithmNotAllowed},
		{"none", "none", k.rsa2048, nil, ErrUnsupportedAlgorithm},
		{"unknown alg", "RS1", k.rsa2048, nil, ErrUnsupportedAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Sign(tc.alg, tc.signer, "", tc.extra, []byte("x"))
			if !errors.Is(err, tc.want) {
				t.Errorf("Sign = %v, want %v", err, tc.want)
			}
		})
	}
	for _, name := range []string{"alg", "kid", "crit", "b64"} {
		if _, err := Sign("RS256", k.rsa2048, "", map[string]any{name: "x"}, nil); err == nil {
			t.Errorf("extra %q accepted", name)
		}
	}
}

func flipChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestHeaderJSONEscapes(t *testing.T) {
	token, err := Sign("ES256", keysOnce().p256, "k\"<id>", map[string]any{"typ": "at+jwt", "n": 1}, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseCompact(token)
	if err != nil {
		t.Fatal(err)
	}
	if j.Header.Kid != "k\"<id>" || !strings.Contains(string(j.Header.Raw), `"n":1`) {
		t.Errorf("header = %s", j.Header.Raw)
	}
}
