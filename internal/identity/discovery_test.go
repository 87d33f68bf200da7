package identity

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"portcullis/internal/corpus"
	"portcullis/internal/directory"
	"portcullis/internal/jose"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDiscoveryDocuments(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, path, golden string
		issuer, region     any
	}{
		{name: "v2 tenant by GUID", path: "/" + tenantID + "/v2.0/.well-known/openid-configuration", golden: "discovery-v2-tenant.json", issuer: f.url + "/" + tenantID + "/v2.0", region: "WW"},
		{name: "v2 tenant by domain", path: "/" + tenantDomain + "/v2.0/.well-known/openid-configuration", golden: "discovery-v2-tenant.json", issuer: f.url + "/" + tenantID + "/v2.0", region: "WW"},
		{name: "v2 common", path: "/common/v2.0/.well-known/openid-configuration", golden: "discovery-v2-common.json", issuer: f.url + "/{tenantid}/v2.0", region: nil},
		{name: "v2 organizations", path: "/organizations/v2.0/.well-known/openid-configuration", golden: "discovery-v2-organizations.json", issuer: f.url + "/{tenantid}/v2.0", region: nil},
		{name: "v1 tenant", path: "/" + tenantID + "/.well-known/openid-configuration", golden: "discovery-v1-tenant.json", issuer: f.url + "/" + tenantID + "/", region: "WW"},
		{name: "v1 common", path: "/common/.well-known/openid-configuration", golden: "discovery-v1-common.json", issuer: f.url + "/{tenantid}/", region: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.get(f.url + tc.path)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if resp.Header.Get("Content-Type") != "application/json; charset=utf-8" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("headers %v", resp.Header)
			}
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if doc["issuer"] != tc.issuer || doc["tenant_region_scope"] != tc.region {
				t.Errorf("issuer %v region %v", doc["issuer"], doc["tenant_region_scope"])
			}
			host := strings.Split(strings.TrimPrefix(f.url, "https://"), ":")[0]
			for _, k := range []string{"cloud_instance_name", "cloud_graph_host_name", "msgraph_host"} {
				if doc[k] != host {
					t.Errorf("%s = %v, want %s", k, doc[k], host)
				}
			}
			if _, ok := doc["kerberos_endpoint"]; ok {
				t.Error("kerberos_endpoint is advertised but not served")
			}
			// Every advertised endpoint is served.
			for k, v := range doc {
				s, ok := v.(string)
				if !ok || !strings.HasSuffix(k, "_endpoint") && k != "jwks_uri" {
					continue
				}
				if !strings.HasPrefix(s, f.url) {
					t.Errorf("%s = %s is not under the public URL", k, s)
					continue
				}
				if resp, _ := f.get(s); resp.StatusCode == 404 || resp.StatusCode == 405 && k != "token_endpoint" && k != "device_authorization_endpoint" {
					t.Errorf("%s = %s answers %d", k, s, resp.StatusCode)
				}
			}
			normalized := bytes.ReplaceAll(body, []byte(f.url), []byte("https://portcullis.test"))
			normalized = bytes.ReplaceAll(normalized, []byte(`"`+host+`"`), []byte(`"portcullis.test"`))
			golden(t, tc.golden, normalized)
		})
	}
}

// TestDiscoveryHasEveryEntraField compares the field sets with real Entra documents: every
// field Entra has is present, except those that name endpoints Portcullis does not serve.
func TestDiscoveryHasEveryEntraField(t *testing.T) {
	dir := corpus.Dir(t, "entra/openid-configuration")
	f := newFixture(t)
	notServed := map[string]bool{"kerberos_endpoint": true, "check_session_iframe": true}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skip("no discovery documents in the corpus")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var entra map[string]any
			if err := json.Unmarshal(raw, &entra); err != nil {
				t.Fatal(err)
			}
			path := "/common/v2.0/.well-known/openid-configuration"
			if strings.Contains(filepath.Base(file), "-v1-") {
				path = "/common/.well-known/openid-configuration"
			}
			_, body := f.get(f.url + path)
			var ours map[string]any
			if err := json.Unmarshal(body, &ours); err != nil {
				t.Fatal(err)
			}
			for k := range entra {
				if _, ok := ours[k]; !ok && !notServed[k] {
					t.Errorf("field %s of Entra's document is missing", k)
				}
			}
			for _, k := range []string{"token_endpoint_auth_methods_supported", "subject_types_supported", "id_token_signing_alg_values_supported", "scopes_supported", "claims_supported"} {
				if a, b := jsonText(entra[k]), jsonText(ours[k]); a != b {
					t.Errorf("%s = %s, Entra's is %s", k, b, a)
				}
			}
		})
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, got, "", "  "); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var a, b any
	if err := json.Unmarshal(want, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &b); err != nil {
		t.Fatal(err)
	}
	if jsonText(a) != jsonText(b) {
		t.Errorf("%s differs from the golden file:\n got %s\nwant %s", name, got, want)
	}
}

func TestKeySets(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, path string
		issuer     string
	}{
		{name: "tenant v2", path: "/" + tenantID + "/discovery/v2.0/keys", issuer: f.url + "/{tenantid}/v2.0"},
		{name: "tenant v1", path: "/" + tenantID + "/discovery/keys"},
		{name: "common v1", path: "/common/discovery/keys"},
		{name: "common v2", path: "/common/discovery/v2.0/keys", issuer: f.url + "/{tenantid}/v2.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.get(f.url + tc.path)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			var doc struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Keys) != 2 {
				t.Fatalf("%d keys, want current and next", len(doc.Keys))
			}
			for _, k := range doc.Keys {
				x5c := k["x5c"].([]any)[0].(string)
				der, err := base64.StdEncoding.DecodeString(x5c)
				if err != nil {
					t.Fatal(err)
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					t.Fatal(err)
				}
				if k["kid"] != jose.Thumbprint(der) || k["x5t"] != k["kid"] {
					t.Errorf("kid %v x5t %v, want both %s", k["kid"], k["x5t"], jose.Thumbprint(der))
				}
				pub := cert.PublicKey.(*rsa.PublicKey)
				if pub.N.BitLen() != 2048 || k["n"] != base64.RawURLEncoding.EncodeToString(pub.N.Bytes()) || k["e"] != base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()) {
					t.Errorf("n/e do not match the certificate")
				}
				if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != nil {
					t.Errorf("kty %v use %v alg %v", k["kty"], k["use"], k["alg"])
				}
				if iss, _ := k["issuer"].(string); iss != tc.issuer {
					t.Errorf("issuer %q, want %q", iss, tc.issuer)
				}
			}
		})
	}
}

func TestUnknownTenantDiscovery(t *testing.T) {
	f := newFixture(t)
	resp, body := f.get(f.url + "/nosuch.example/v2.0/.well-known/openid-configuration")
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	assertEntraErrorAs(t, f, resp.StatusCode, doc, 90002, "invalid_tenant", 400)
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TokenLifetime = time.Hour })
	ctx := context.Background()
	before, err := f.server.keys.forTenant(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	var next string
	for _, k := range before.published {
		if k.status == keyNext {
			next = k.kid
		}
	}
	oldCurrent := before.current.kid
	_, doc := f.clientCredentials(2, nil)
	oldToken := doc["access_token"].(string)

	after, err := f.server.keys.rotate(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if after.current.kid != next {
		t.Fatalf("after rotation the current key is %s, want the published next key %s", after.current.kid, next)
	}
	statuses := map[string]string{}
	for _, k := range after.published {
		statuses[k.kid] = k.status
	}
	if statuses[oldCurrent] != keyPrevious || len(statuses) != 3 {
		t.Fatalf("published keys %v: want the old current as previous, a current and a new next", statuses)
	}
	// A token signed before the rotation still verifies; a new one uses the new key.
	f.claimsOf(oldToken)
	_, doc = f.clientCredentials(2, nil)
	if h, _ := f.claimsOf(doc["access_token"].(string)); h.Kid != next {
		t.Errorf("new token kid %s, want %s", h.Kid, next)
	}
	// Once every token of the old key has expired, it leaves the key set.
	f.clock.Advance(f.server.maxTokenLifetime() + time.Minute)
	later, err := f.server.keys.reload(ctx, tenantID, false)
	if err != nil {
		t.Fatal(err)
	}
	if later.byKid(oldCurrent) != nil || len(later.published) != 2 {
		t.Errorf("old key still published after its tokens expired: %d keys", len(later.published))
	}
}

// TestFirstKeysCreatedOnce: concurrent first requests for a tenant without keys create one
// current and one next key, not one pair each.
func TestFirstKeysCreatedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.store.Update(ctx, func(tx directory.Writer) error {
		return tx.PutTenant(ctx, &directory.Tenant{ID: "3f5b1c2e-0000-4000-8000-000000000002", Domains: []string{"fabrikam.example"}})
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.server.keys.forTenant(ctx, "3f5b1c2e-0000-4000-8000-000000000002"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	keys, err := f.store.SigningKeys(ctx, "3f5b1c2e-0000-4000-8000-000000000002")
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	for _, k := range keys {
		statuses[k.Status]++
	}
	if len(keys) != 2 || statuses[keyCurrent] != 1 || statuses[keyNext] != 1 {
		t.Errorf("stored keys %v, want one current and one next", statuses)
	}
}
