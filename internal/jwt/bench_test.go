package jwt

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"portcullis/internal/cputime"
	"portcullis/internal/jose"
)

// entraLikeClaims is the size and shape of an Entra v2 access token's payload.
func entraLikeClaims(i int) map[string]any {
	return claims(map[string]any{
		"aio":    "AWQAm/8TAAAA" + strings.Repeat("x", 60),
		"azp":    "0b7e9d4c-0000-4000-8000-0000000000c1",
		"azpacr": "1", "idp": testIssuer, "name": "Alice Example", "oid": "8f2b0e1c-0000-4000-8000-000000000042",
		"preferred_username": "alice@contoso.example", "rh": "0.AAAA" + strings.Repeat("y", 40),
		"uti": fmt.Sprintf("uti-%d", i), "jti": fmt.Sprintf("jti-%d", i),
	})
}

func benchValidator(b *testing.B, cache *Cache) *Validator {
	k := testKeys()
	v, err := New(Config{
		Checks:      Checks{Audiences: []string{testAudience}, Issuers: []string{testIssuer}, RequiredClaims: []ClaimRequirement{{Name: "scp", Values: []string{"Files.Read"}, Separator: " "}}},
		SigningKeys: []jose.Key{pubKey("k1", k.rsa)},
		Cache:       cache,
		Now:         func() time.Time { return testNow },
	})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkValidateWarm: the same token again, served by the validated-token cache.
func BenchmarkValidateWarm(b *testing.B) {
	v := benchValidator(b, NewCache(0))
	raw := token(b, testKeys().rsa, "k1", entraLikeClaims(0))
	if _, err := v.Validate(raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	for i := 0; i < b.N; i++ {
		if _, err := v.Validate(raw); err != nil {
			b.Fatal(err)
		}
	}
	cputime.ReportPerOp(b, cpu)
}

// BenchmarkValidateCold: a token never seen before on every iteration (full parse and RSA
// verification, plus a cache insert).
func BenchmarkValidateCold(b *testing.B) {
	const n = 2048
	k := testKeys()
	toks := make([]string, n)
	for i := range toks {
		toks[i] = token(b, k.rsa, "k1", entraLikeClaims(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	var used time.Duration // CPU of the timed parts only: a new validator checks its keys (ROCA)
	for i := 0; i < b.N; i++ {
		if i%n == 0 {
			b.StopTimer()
			v := benchValidator(b, NewCache(0)) // a fresh cache: every token is new again
			b.StartTimer()
			cpu := cputime.Process()
			validateCold(b, v, toks[:min(n, b.N-i)])
			used += cputime.Process() - cpu
			i += min(n, b.N-i) - 1
		}
	}
	if used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func validateCold(b *testing.B, v *Validator, toks []string) {
	for _, raw := range toks {
		if _, err := v.Validate(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareRSAVerify: rsa.VerifyPKCS1v15 of the same key size over a token's signing
// input, the floor under BenchmarkValidateCold.
func BenchmarkBareRSAVerify(b *testing.B) {
	k := testKeys()
	raw := token(b, k.rsa, "k1", entraLikeClaims(0))
	i := strings.LastIndexByte(raw, '.')
	input := raw[:i]
	sig, err := b64.DecodeString(raw[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := &k.rsa.PublicKey
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	for i := 0; i < b.N; i++ {
		sum := sha256.Sum256([]byte(input))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
	cputime.ReportPerOp(b, cpu)
}

// BenchmarkCacheKey: what a cache hit pays to find a token: the seeded 64-bit hash the cache
// uses beside a SHA-256 of the same Entra-sized token.
func BenchmarkCacheKey(b *testing.B) {
	raw := token(b, testKeys().rsa, "k1", entraLikeClaims(0))
	c := NewCache(0)
	rawBytes := []byte(raw)
	b.Run("maphash", func(b *testing.B) {
		cpu := cputime.Process()
		for b.Loop() {
			_ = c.key(raw, 1)
		}
		cputime.ReportPerOp(b, cpu)
	})
	b.Run("sha256", func(b *testing.B) {
		cpu := cputime.Process()
		for b.Loop() {
			_ = sha256.Sum256(rawBytes)
		}
		cputime.ReportPerOp(b, cpu)
	})
}
