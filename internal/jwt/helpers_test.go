package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/keys"
)

var b64 = base64.RawURLEncoding

// testKeys are generated once per test binary: RSA key generation is slow.
var testKeys = sync.OnceValue(func() struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
} {
	a, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	b, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return struct {
		rsa, rsa2 *rsa.PrivateKey
		ec        *ecdsa.PrivateKey
	}{a, b, e}
})

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const (
	testIssuer   = "https://idp.example/3f5b1c2e-0000-4000-8000-000000000001/v2.0"
	testAudience = "6c1f0d2a-0000-4000-8000-0000000000b1"
	testTenant   = "3f5b1c2e-0000-4000-8000-000000000001"
)

// claims returns a valid claim set for testNow; edits change or (with nil) remove claims.
func claims(edits map[string]any) map[string]any {
	c := map[string]any{
		"iss": testIssuer, "aud": testAudience, "tid": testTenant, "sub": "user-1",
		"iat": testNow.Add(-time.Minute).Unix(), "nbf": testNow.Add(-time.Minute).Unix(),
		"exp": testNow.Add(time.Hour).Unix(), "ver": "2.0",
		"scp": "Files.Read Files.Write", "roles": []string{"Reader", "Writer"},
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signRS256 signs payload with the header given as JSON text, using only the standard
// library, so that tests control every byte the attacker controls.
func signRaw(t testing.TB, header, payload string, key crypto.Signer) string {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	if key == nil {
		return input + "."
	}
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	case *ecdsa.PrivateKey:
		var r, s []byte
		rr, ss, e := ecdsa.Sign(rand.Reader, k, sum[:])
		err = e
		r, s = rr.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))
		sig = append(r, s...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// token signs claims with RS256 and kid through package jose.
func token(t testing.TB, key *rsa.PrivateKey, kid string, c map[string]any) string {
	t.Helper()
	s, err := jose.Sign("RS256", key, kid, map[string]any{"typ": "JWT"}, mustJSON(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pubKey(id string, k *rsa.PrivateKey) jose.Key {
	return jose.Key{ID: id, Public: &k.PublicKey}
}

func fixedClock(t *time.Time) func() time.Time { return func() time.Time { return *t } }

// fakeSource is a KeySource whose keys the test sets; it counts refetches.
type fakeSource struct {
	set      atomic.Pointer[keys.Set]
	next     *keys.Set // published by the next refetch
	refetchs atomic.Int32
}

func (f *fakeSource) Current() *keys.Set { return f.set.Load() }
func (f *fakeSource) RefetchUnknownKid() *keys.Set {
	f.refetchs.Add(1)
	if f.next != nil {
		f.set.Store(f.next)
	}
	return f.set.Load()
}
