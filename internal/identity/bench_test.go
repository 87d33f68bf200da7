package identity

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"portcullis/internal/cputime"
)

// BenchmarkClientCredentials measures client-credentials tokens through the HTTP handler:
// form parsing, tenant and client lookups in SQLite, the secret's SHA-256, roles, claims,
// an RS256 signature with the tenant's cached key and the JSON answer.
func BenchmarkClientCredentials(b *testing.B) {
	f := newFixture(b)
	if _, err := f.server.keys.forTenant(context.Background(), tenantID); err != nil {
		b.Fatal(err)
	}
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {f.secret},
		"scope": {backendURI + "/.default"}}.Encode()
	h := f.server.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/"+tenantID+"/oauth2/v2.0/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	reportRates(b, cpu, "tokens")
}

// BenchmarkBareRSASign is the floor: one RS256 signature with an RSA-2048 key.
func BenchmarkBareRSASign(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, signingKeyBits)
	if err != nil {
		b.Fatal(err)
	}
	key.Precompute()
	digest := sha256.Sum256([]byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0"))
	b.ResetTimer()
	cpu := cputime.Process()
	for b.Loop() {
		if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpu, "signatures")
}

// reportRates reports the rate per wall-clock second and per CPU second (the latter does not
// depend on what else the machine is running).
func reportRates(b *testing.B, cpuBefore time.Duration, what string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), what+"/s")
	if used := cputime.Process() - cpuBefore; used > 0 {
		b.ReportMetric(float64(b.N)/used.Seconds(), what+"/cpu-s")
	}
}
