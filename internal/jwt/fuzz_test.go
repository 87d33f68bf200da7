package jwt

import (
	"errors"
	"strings"
	"testing"

	"portcullis/internal/jose"
	"portcullis/internal/keys"
)

// FuzzValidate feeds arbitrary text to a validator configured with static keys, a key source
// and a decryption key. Whatever the input, the answer is a token or a *Failure with one of
// the nine reasons, never a panic; and nothing the fuzzer makes without a key is accepted.
func FuzzValidate(f *testing.F) {
	k := testKeys()
	for _, seed := range []string{
		"",
		"a.b.c",
		"eyJhbGciOiJub25lIn0.e30.",
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJleHAiOjF9.AAAA",
		"eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOltdfQ.c2ln",
		"a.b.c.d.e",
		signRaw(f, `{"alg":"RS256","kid":"k1"}`, string(mustJSON(f, claims(nil))), k.rsa),
	} {
		f.Add(seed)
	}
	src := &fakeSource{}
	src.set.Store(&keys.Set{Issuer: "https://idp.example/{tenantid}/v2.0", Generation: 1, FetchedAt: testNow,
		Keys: []jose.Key{pubKey("k1", k.rsa), {ID: "ec", Public: &k.ec.PublicKey, Issuer: "https://idp.example/{tenantid}/v2.0"}}})
	now := testNow
	v, err := New(Config{
		Checks:         Checks{Audiences: []string{testAudience}, RequiredClaims: []ClaimRequirement{{Name: "scp", Values: []string{"Files.Read"}, Separator: " "}}},
		SigningKeys:    []jose.Key{{ID: "hs", Secret: []byte("0123456789abcdef0123456789abcdef")}},
		DecryptionKeys: []jose.Key{{Private: k.rsa2}},
		KeySources:     []KeySource{src},
		Cache:          NewCache(64),
		Now:            fixedClock(&now),
	})
	if err != nil {
		f.Fatal(err)
	}
	valid := map[Reason]bool{}
	for r := range reasonMessages {
		valid[r] = true
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for range 2 { // the second call exercises the cache
			tok, err := v.Validate(raw)
			if err == nil {
				// Only a token signed with one of the configured keys can pass; the fuzzer
				// cannot forge one, so an acceptance must be a seed we signed ourselves.
				if !strings.HasPrefix(raw, "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.") || tok == nil {
					t.Fatalf("accepted %q", raw)
				}
				continue
			}
			var fl *Failure
			if !errors.As(err, &fl) || !valid[fl.Reason] || fl.Message == "" {
				t.Fatalf("error %v is not a Failure with a known reason", err)
			}
		}
		if tok, err := Decode(raw); err == nil && tok.Claims == nil {
			t.Fatal("Decode returned a token without claims")
		}
	})
}
