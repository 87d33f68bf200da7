package main

// Identity-provider faults through the running gateway: `portcullis serve` through Main,
// the article's validate-jwt, and a faultIdP whose tenants fail in the ways real providers do.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const reliabilityAudience = "6c1f0d2a-0000-4000-8000-0000000000e1"

// idpGateway writes a configuration with one API per tenant (path = tenant), each behind the
// article's validate-jwt for that tenant, and starts serve on it.
func idpGateway(t *testing.T, idp *faultIdP, backend string, extra string, tenants ...string) (*instance, string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"policies/global.xml": forwardPolicy}
	var apis strings.Builder
	for _, tn := range tenants {
		files["policies/"+tn+".xml"] = tenantPolicy(tn, reliabilityAudience)
		fmt.Fprintf(&apis, "    - name: %s\n      path: %s\n      backend: %s\n      policy: policies/%s.xml\n", tn, tn, backend, tn)
	}
	files["portcullis.yaml"] = fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  authority-aliases:
    https://login.microsoftonline.com: %s
%s  apis:
%sadmin:
  listen: 127.0.0.1:0
`, idp.srv.URL, extra, apis.String())
	writeFiles(t, dir, files)
	return startServe(t, filepath.Join(dir, "portcullis.yaml")), dir
}

func bearerGet(t *testing.T, url, token string) int {
	t.Helper()
	status, _, body := httpGet(t, url, "Authorization", "Bearer "+token)
	if status >= 500 {
		t.Errorf("GET %s: %d %s", url, status, body)
	}
	return status
}

// TestIdentityProviderFaults: while a tenant's discovery or JWKS endpoint fails, tokens signed
// with the keys the gateway already has keep passing; a token naming an unknown key is
// refused after one fetch, and further unknown keys cause no further fetch (rate limit); a
// hanging provider is abandoned at the fetch timeout; /readyz stays 200 and marks the source
// stale, and the metrics count the failed fetch and the stale source. Each case has its own
// tenant, so that its fetches and rate limit are its own.
func TestIdentityProviderFaults(t *testing.T) {
	idp := newFaultIdP(t)
	backend := backendNamed(t, "api")
	cases := []struct {
		name                 string
		discovery, jwks      idpFault
		wantDiscovery, wantJ int64 // requests the one refetch makes at each endpoint
	}{
		{"discovery answers 500", faultStatus500, faultNone, 1, 0},
		{"keys answer 500", faultNone, faultStatus500, 1, 1},
		{"discovery hangs", faultHang, faultNone, 1, 0},
		{"keys hang", faultNone, faultHang, 1, 1},
		{"discovery answers HTML", faultHTML, faultNone, 1, 0},
		{"keys answer HTML", faultNone, faultHTML, 1, 1},
		{"discovery body truncated", faultTruncated, faultNone, 1, 0},
		{"keys body truncated", faultNone, faultTruncated, 1, 1},
	}
	good := make([]idpKey, len(cases))
	tenants := make([]string, len(cases))
	for i := range cases {
		tenants[i] = fmt.Sprintf("3f5b1c2e-0000-4000-8000-%012d", i+1)
		good[i] = idpKey{kid: "good", key: genRSA(t, 2048)}
		idp.addTenant(tenants[i], good[i])
	}
	in, _ := idpGateway(t, idp, backend.URL, "", tenants...)
	waitReady(t, in.admin)

	t.Run("cases", func(t *testing.T) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tenant, tn := tenants[i], idp.tenants[tenants[i]]
				api := in.gateway + "/" + tenant + "/x"
				known := idp.token(t, tenant, good[i], reliabilityAudience)
				stranger := idpKey{kid: "unknown", key: good[i].key}
				unknown := idp.token(t, tenant, stranger, reliabilityAudience)
				d0, j0 := tn.discovery.Load(), tn.jwks.Load()

				idp.set(tenant, tc.discovery, tc.jwks, nil)
				if got := bearerGet(t, api, known); got != 200 {
					t.Fatalf("known key while the provider fails: %d, want 200", got)
				}
				// The first unknown kid refetches (and fails); the next ones are rate-limited.
				for n := 0; n < 10; n++ {
					if got := bearerGet(t, api, unknown); got != 401 {
						t.Fatalf("unknown key #%d: %d, want 401", n, got)
					}
				}
				if got := bearerGet(t, api, known); got != 200 {
					t.Errorf("known key after the failed refetch: %d, want 200", got)
				}
				if d, j := tn.discovery.Load()-d0, tn.jwks.Load()-j0; d != tc.wantDiscovery || j != tc.wantJ {
					t.Errorf("10 unknown keys made %d discovery and %d key-set requests, want %d and %d (one rate-limited refetch)",
						d, j, tc.wantDiscovery, tc.wantJ)
				}
				if tc.discovery == faultHang || tc.jwks == faultHang {
					// The gateway gave up on the hanging request (fetch timeout): the provider saw
					// its client leave.
					eventually(t, 10*time.Second, "the hanging fetch to be abandoned", func() bool { return tn.abandoned.Load() == 1 })
				}

				status, r := readyz(t, in.admin)
				ready, stale, lastErr := r.source(t, discoveryURL(tenant))
				if status != 200 || !ready || !stale || lastErr == "" {
					t.Errorf("readyz %d, source ready=%v stale=%v lastError=%q; want 200, ready and stale with the error",
						status, ready, stale, lastErr)
				}
				url := discoveryURL(tenant)
				if v := metricValue(t, in.admin, `portcullis_jwks_stale{url="`+url+`"}`); v != "1" {
					t.Errorf("portcullis_jwks_stale = %q, want 1", v)
				}
				if v := metricValue(t, in.admin, `portcullis_jwks_fetches_total{cause="unknown-kid",result="error",url="`+url+`"}`); v != "1" {
					t.Errorf("failed unknown-kid fetches = %q, want 1", v)
				}
			})
		}
	})
}

// TestIdentityProviderKeyChanges: a new kid at the provider (rotation) is picked up without a
// restart, and the first token signed with it passes; a different key published under a kid
// the gateway already knows does not lock out tokens signed with the known good key.
func TestIdentityProviderKeyChanges(t *testing.T) {
	idp := newFaultIdP(t)
	backend := backendNamed(t, "api")
	const rotating, changing = "3f5b1c2e-0000-4000-8000-0000000000a1", "3f5b1c2e-0000-4000-8000-0000000000a2"
	first := idpKey{kid: "key-1", key: genRSA(t, 2048)}
	second := idpKey{kid: "key-2", key: genRSA(t, 2048)}
	original := idpKey{kid: "shared", key: genRSA(t, 2048)}
	replacement := idpKey{kid: "shared", key: genRSA(t, 2048)}
	idp.addTenant(rotating, first)
	idp.addTenant(changing, original)
	in, _ := idpGateway(t, idp, backend.URL, "", rotating, changing)
	waitReady(t, in.admin)

	t.Run("rotation", func(t *testing.T) {
		api := in.gateway + "/" + rotating + "/x"
		if got := bearerGet(t, api, idp.token(t, rotating, first, reliabilityAudience)); got != 200 {
			t.Fatalf("first key: %d", got)
		}
		// The provider publishes the next key beside the current one, then signs with it.
		idp.set(rotating, faultNone, faultNone, []idpKey{first, second})
		for n := 0; n < 5; n++ {
			if got := bearerGet(t, api, idp.token(t, rotating, second, reliabilityAudience)); got != 200 {
				t.Fatalf("token #%d signed with the new key: %d, want 200 (no failed request)", n, got)
			}
		}
		// The old key leaves the set: tokens it signed still pass until the next refresh
		// confirms it gone, then the new key alone serves.
		idp.set(rotating, faultNone, faultNone, []idpKey{second})
		if got := bearerGet(t, api, idp.token(t, rotating, second, reliabilityAudience)); got != 200 {
			t.Errorf("new key after the old one left: %d", got)
		}
	})
	t.Run("changed key under the same kid", func(t *testing.T) {
		api := in.gateway + "/" + changing + "/x"
		tn := idp.tenants[changing]
		idp.set(changing, faultNone, faultNone, []idpKey{replacement, {kid: "trigger", key: replacement.key}})
		j0 := tn.jwks.Load()
		// A token naming a kid the gateway lacks makes it fetch the changed set.
		if got := bearerGet(t, api, idp.token(t, changing, idpKey{kid: "trigger", key: replacement.key}, reliabilityAudience)); got != 200 {
			t.Fatalf("token under the new kid: %d", got)
		}
		if tn.jwks.Load() != j0+1 {
			t.Fatalf("the key set was fetched %d times, want 1", tn.jwks.Load()-j0)
		}
		if got := bearerGet(t, api, idp.token(t, changing, original, reliabilityAudience)); got != 200 {
			t.Errorf("token signed with the known good key after its kid changed material: %d, want 200 (kept until key-staleness)", got)
		}
		if got := bearerGet(t, api, idp.token(t, changing, replacement, reliabilityAudience)); got != 200 {
			t.Errorf("token signed with the key now published: %d, want 200", got)
		}
		if got := bearerGet(t, api, idp.token(t, changing, idpKey{kid: "shared", key: genRSA(t, 2048)}, reliabilityAudience)); got != 401 {
			t.Errorf("token under the kid signed with a key never published: %d, want 401", got)
		}
	})
}

// TestIdentityProviderStaleness: with a short key-staleness, a healthy provider's keys are
// refreshed before they lapse (readiness never drops); an outage longer than key-staleness
// makes /readyz answer 503 and tokens fail closed; once the provider answers again the
// gateway recovers by itself, without a restart or a reload. Fetches happen at the refresh
// rate, never per request.
func TestIdentityProviderStaleness(t *testing.T) {
	idp := newFaultIdP(t)
	backend := backendNamed(t, "api")
	const tenant = "3f5b1c2e-0000-4000-8000-0000000000b1"
	key := idpKey{kid: "key-1", key: genRSA(t, 2048)}
	tn := idp.addTenant(tenant, key)
	in, _ := idpGateway(t, idp, backend.URL, "  key-staleness: 2s\n", tenant)
	waitReady(t, in.admin)
	api := in.gateway + "/" + tenant + "/x"
	token := idp.token(t, tenant, key, reliabilityAudience)
	url := discoveryURL(tenant)

	// Healthy: across several refreshes (counted at the provider), every readiness check and
	// every request passes. Without a refresh inside key-staleness the keys would lapse here.
	requests := 0
	for start := tn.discovery.Load(); tn.discovery.Load() < start+3; requests++ {
		if status, _ := readyz(t, in.admin); status != 200 {
			t.Fatalf("readyz %d while the provider is healthy (after %d refreshes)", status, tn.discovery.Load()-start)
		}
		if got := bearerGet(t, api, token); got != 200 {
			t.Fatalf("request while the provider is healthy: %d", got)
		}
		if requests > 1000 {
			t.Fatal("the keys were not refreshed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fetches := tn.discovery.Load(); fetches > int64(requests) {
		t.Errorf("%d fetches for %d requests", fetches, requests)
	}

	// Outage past key-staleness: not ready, tokens refused (never a 5xx), metrics say so.
	idp.set(tenant, faultStatus500, faultNone, nil)
	eventually(t, 20*time.Second, "/readyz 503 once the keys pass key-staleness", func() bool {
		status, _ := readyz(t, in.admin)
		return status == 503
	})
	_, r := readyz(t, in.admin)
	if ready, stale, lastErr := r.source(t, url); ready || !stale || lastErr == "" || r.Status != "not ready" {
		t.Errorf("readyz during the outage: %+v", r)
	}
	if got := bearerGet(t, api, token); got != 401 {
		t.Errorf("token after the keys lapsed: %d, want 401 (fail closed)", got)
	}
	if v := metricValue(t, in.admin, `portcullis_jwks_ready{url="`+url+`"}`); v != "0" {
		t.Errorf("portcullis_jwks_ready = %q, want 0", v)
	}
	if v := metricValue(t, in.admin, `portcullis_jwks_fetches_total{cause="scheduled",result="error",url="`+url+`"}`); v == "" || v == "0" {
		t.Errorf("failed scheduled fetches = %q, want at least 1", v)
	}

	// Recovery by itself.
	idp.set(tenant, faultNone, faultNone, nil)
	eventually(t, 20*time.Second, "/readyz 200 after the provider recovered", func() bool {
		status, _ := readyz(t, in.admin)
		return status == 200
	})
	_, r = readyz(t, in.admin)
	if ready, stale, _ := r.source(t, url); !ready || stale {
		t.Errorf("readyz after recovery: %+v", r)
	}
	if got := bearerGet(t, api, token); got != 200 {
		t.Errorf("token after recovery: %d, want 200", got)
	}
	if v := metricValue(t, in.admin, `portcullis_jwks_stale{url="`+url+`"}`); v != "0" {
		t.Errorf("portcullis_jwks_stale after recovery = %q, want 0", v)
	}
}

// TestReloadDropsRemovedKeySource: an openid-config URL that a reload removes stops counting
// for /readyz. An API added with a provider that never answers makes the gateway not ready;
// removing that API again makes it ready, without a restart.
func TestReloadDropsRemovedKeySource(t *testing.T) {
	idp := newFaultIdP(t)
	backend := backendNamed(t, "api")
	const healthy, broken = "3f5b1c2e-0000-4000-8000-0000000000c1", "3f5b1c2e-0000-4000-8000-0000000000c2"
	idp.addTenant(healthy, idpKey{kid: "key-1", key: genRSA(t, 2048)})
	idp.addTenant(broken, idpKey{kid: "key-1", key: genRSA(t, 2048)})
	idp.set(broken, faultStatus500, faultNone, nil)
	in, dir := idpGateway(t, idp, backend.URL, "", healthy)
	waitReady(t, in.admin)
	cfgPath := filepath.Join(dir, "portcullis.yaml")
	reloaded := regexp.MustCompile(`configuration reloaded`)
	cfg := readFile(t, cfgPath)

	// Add the broken tenant's API.
	withBroken := strings.Replace(cfg, "admin:\n", fmt.Sprintf("    - name: %s\n      path: %s\n      backend: %s\n      policy: policies/%s.xml\nadmin:\n", broken, broken, backend.URL, broken), 1)
	writeFiles(t, dir, map[string]string{"policies/" + broken + ".xml": tenantPolicy(broken, reliabilityAudience), "portcullis.yaml": withBroken})
	waitFor(t, in.stdout, reloaded, 1)
	eventually(t, 10*time.Second, "/readyz 503 with a source that has no keys", func() bool {
		status, _ := readyz(t, in.admin)
		return status == 503
	})

	// Remove it again.
	writeFiles(t, dir, map[string]string{"portcullis.yaml": cfg + "##\n"})
	waitFor(t, in.stdout, reloaded, 2)
	status, r := readyz(t, in.admin)
	if status != 200 {
		t.Errorf("readyz after the API was removed: %d %+v, want 200", status, r)
	}
	for _, s := range r.KeySources {
		if s.URL == discoveryURL(broken) {
			t.Errorf("readyz still lists the removed source %s", s.URL)
		}
	}
	if got := bearerGet(t, in.gateway+"/"+broken+"/x", "x"); got != http.StatusNotFound {
		t.Errorf("the removed API answers %d, want 404", got)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
