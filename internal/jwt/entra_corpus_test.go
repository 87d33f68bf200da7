// The 2013-2015 Azure AD signing certificates have negative serial numbers, which Go refuses
// by default since 1.23; only this test binary parses them.
//
//go:debug x509negativeserial=1

package jwt

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portcullis/internal/corpus"
	"portcullis/internal/jose"
	"portcullis/internal/keys"
)

// TestEntraCorpus validates the real Microsoft tokens of the shared corpus with the key sets
// they name, the clock at each token's iat (nbf without iat), issuer and audience taken from
// the token: exactly those the manifest marks as verified must pass.
func TestEntraCorpus(t *testing.T) {
	dir := corpus.Dir(t, "entra")
	manifest, err := os.ReadFile(filepath.Join(dir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		File     string `json:"file"`
		Iss      string `json:"iss"`
		Aud      string `json:"aud"`
		Iat      int64  `json:"iat"`
		Nbf      int64  `json:"nbf"`
		KeyFile  string `json:"key_file"`
		Verified bool   `json:"signature_verified"`
		How      string `json:"verification"`
	}
	if err := json.Unmarshal(manifest, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) < 10 {
		t.Fatalf("only %d tokens in the manifest", len(entries))
	}
	for _, e := range entries {
		t.Run(filepath.Base(e.File), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, e.File))
			if err != nil {
				t.Fatal(err)
			}
			// Microsoft Graph tokens verify only over a rewritten header (their nonce
			// convention); Microsoft says third parties must not accept them.
			mustVerify := e.Verified && !strings.Contains(e.How, "nonce")
			if e.KeyFile == "" {
				// No published key: with no key it can only be refused.
				_, err := mustValidator(t, Config{}).Validate(strings.TrimSpace(string(raw)))
				if err == nil {
					t.Fatal("accepted without any key")
				}
				return
			}
			keyDoc, err := os.ReadFile(filepath.Join(dir, e.KeyFile))
			if err != nil {
				t.Fatal(err)
			}
			var signing []jose.Key
			if strings.HasSuffix(e.KeyFile, ".pem") {
				k, err := jose.KeyFromPEM(keyDoc)
				if err != nil {
					t.Fatal(err)
				}
				signing = []jose.Key{*k}
			} else {
				ks, skipped, err := jose.ParseJWKS(keyDoc)
				if err != nil {
					t.Fatal(err)
				}
				if len(ks) == 0 {
					// The 2014 IdentityModel set writes n in standard base64 (refused by a
					// strict parser); its x5c certificates are the real keys.
					ks = keysFromX5C(t, keyDoc)
				}
				if len(ks) == 0 {
					t.Fatalf("no usable key in %s: %v", e.KeyFile, skipped)
				}
				signing = ks
			}
			at := e.Iat
			if at == 0 {
				at = e.Nbf
			}
			now := time.Unix(at, 0)
			v := mustValidator(t, Config{
				Checks:      Checks{Issuers: []string{e.Iss}, Audiences: []string{e.Aud}},
				SigningKeys: signing,
				Now:         fixedClock(&now),
			})
			tok, err := v.Validate(strings.TrimSpace(string(raw)))
			if mustVerify {
				if err != nil {
					t.Fatalf("a genuine Microsoft token was refused: %v", err)
				}
				if tok.Issuer != e.Iss {
					t.Fatalf("iss %q", tok.Issuer)
				}
				return
			}
			if err == nil {
				t.Fatal("a token with a wrong signature was accepted")
			}
			// An altered signature is either not canonical base64url any more (JwtInvalid)
			// or does not verify.
			if f := failureOf(t, err); f.Reason != TokenSignatureInvalid && f.Reason != JwtInvalid {
				t.Fatalf("reason %s, want TokenSignatureInvalid or JwtInvalid (%s)", f.Reason, f.Detail)
			}
		})
	}
}

func keysFromX5C(t *testing.T, doc []byte) []jose.Key {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string   `json:"kid"`
			X5c []string `json:"x5c"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	var out []jose.Key
	for _, k := range set.Keys {
		if len(k.X5c) == 0 {
			continue
		}
		der, err := base64.StdEncoding.DecodeString(k.X5c[0])
		if err != nil {
			t.Fatal(err)
		}
		key, err := jose.KeyFromCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		key.ID = k.Kid
		out = append(out, *key)
	}
	return out
}

// TestEntraMultiTenantDiscovery validates real v2 tokens the way a policy with the common
// v2 openid-config does: the discovery issuer is the "{tenantid}" template and the key set
// names an issuer per key (2019 capture of common/discovery/v2.0/keys).
func TestEntraMultiTenantDiscovery(t *testing.T) {
	dir := corpus.Dir(t, "entra")
	doc, err := os.ReadFile(filepath.Join(dir, "openid-configuration", "identitymodel-common-v2-openid-configuration-2024-02-02.json"))
	if err != nil {
		t.Fatal(err)
	}
	var disco struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(doc, &disco); err != nil {
		t.Fatal(err)
	}
	jwks, err := os.ReadFile(filepath.Join(dir, "jwks", "uruk-jwt-common-v2-keys-2019.json"))
	if err != nil {
		t.Fatal(err)
	}
	ks, _, err := jose.ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{}
	src.set.Store(&keys.Set{URL: "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration", Issuer: disco.Issuer, Keys: ks, Generation: 1})
	for _, tc := range []struct {
		file string
		aud  string
		iat  int64
	}{
		{"20-msal-dotnet-cachecompat-dotnet-v2-id-token-2019.jwt", "b945c513-3946-4ecd-b179-6499803a2167", 1548803119},
		{"22-msal-dotnet-cachecompat-python-v2-id-token-2019.jwt", "52d50834-b9a0-4948-9f62-1a3d283003d6", 1548804334},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "tokens", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(tc.iat, 0)
			v := mustValidator(t, Config{Checks: Checks{Audiences: []string{tc.aud}}, KeySources: []KeySource{src}, Now: fixedClock(&now)})
			tok, err := v.Validate(strings.TrimSpace(string(raw)))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !strings.HasSuffix(tok.Issuer, "/v2.0") {
				t.Fatalf("iss %q", tok.Issuer)
			}
		})
	}
}
