package main

// faultIdP is an OpenID provider on loopback, in Entra's URL shape, whose tenants can be
// switched between behaviours while the gateway runs: healthy, answering 500, hanging past
// the fetch timeout, answering an HTML page, cutting the body short, or publishing other key
// material. It counts every request per tenant and endpoint, so that tests can tell how often
// the gateway fetched.

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// idpFault is how one endpoint of a tenant misbehaves.
type idpFault string

const (
	faultNone      idpFault = ""
	faultStatus500 idpFault = "500"
	faultHang      idpFault = "hang"      // no answer until the client gives up
	faultHTML      idpFault = "html"      // 200 with an HTML error page
	faultTruncated idpFault = "truncated" // 200, a Content-Length the body never reaches
)

// idpKey is one published key: its kid and the private key that signs tokens under it.
type idpKey struct {
	kid string
	key *rsa.PrivateKey
}

// idpTenant is one tenant's state. Its fields are guarded by faultIdP.mu; the counters are
// atomic.
type idpTenant struct {
	discoveryFault, jwksFault idpFault
	published                 []idpKey

	discovery, jwks atomic.Int64 // requests received
	abandoned       atomic.Int64 // hanging requests whose client went away
}

type faultIdP struct {
	srv     *httptest.Server
	mu      sync.Mutex
	tenants map[string]*idpTenant
	done    chan struct{} // closed at cleanup: hanging handlers return
}

func newFaultIdP(t *testing.T) *faultIdP {
	idp := &faultIdP{tenants: map[string]*idpTenant{}, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		tn, fault := idp.tenant(r.PathValue("tenant"), true)
		if tn == nil {
			http.NotFound(w, r)
			return
		}
		tn.discovery.Add(1)
		ten := r.PathValue("tenant")
		body, _ := json.Marshal(map[string]any{
			"issuer":                                idp.issuer(ten),
			"jwks_uri":                              idp.srv.URL + "/" + ten + "/discovery/v2.0/keys",
			"authorization_endpoint":                idp.srv.URL + "/" + ten + "/oauth2/v2.0/authorize",
			"token_endpoint":                        idp.srv.URL + "/" + ten + "/oauth2/v2.0/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"pairwise"},
		})
		idp.answer(w, r, tn, fault, body)
	})
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		tn, fault := idp.tenant(r.PathValue("tenant"), false)
		if tn == nil {
			http.NotFound(w, r)
			return
		}
		tn.jwks.Add(1)
		idp.mu.Lock()
		keys := make([]map[string]any, len(tn.published))
		for i, k := range tn.published {
			keys[i] = rsaJWK(k.kid, &k.key.PublicKey)
		}
		idp.mu.Unlock()
		body, _ := json.Marshal(map[string]any{"keys": keys})
		idp.answer(w, r, tn, fault, body)
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(idp.done)
		idp.srv.CloseClientConnections()
		idp.srv.Close()
	})
	return idp
}

func (idp *faultIdP) issuer(tenant string) string {
	return idp.srv.URL + "/" + tenant + "/v2.0"
}

// discoveryURL is the openid-config URL a policy names: Entra's, which the gateway's
// authority alias sends to this provider.
func discoveryURL(tenant string) string {
	return "https://login.microsoftonline.com/" + tenant + "/v2.0/.well-known/openid-configuration"
}

// addTenant publishes a tenant with the given keys and no fault.
func (idp *faultIdP) addTenant(tenant string, keys ...idpKey) *idpTenant {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	tn := &idpTenant{published: keys}
	idp.tenants[tenant] = tn
	return tn
}

// set changes a tenant's behaviour: its faults and, when keys is not nil, its key set.
func (idp *faultIdP) set(tenant string, discovery, jwks idpFault, keys []idpKey) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	tn := idp.tenants[tenant]
	tn.discoveryFault, tn.jwksFault = discovery, jwks
	if keys != nil {
		tn.published = keys
	}
}

func (idp *faultIdP) tenant(name string, discovery bool) (*idpTenant, idpFault) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	tn := idp.tenants[name]
	if tn == nil {
		return nil, faultNone
	}
	if discovery {
		return tn, tn.discoveryFault
	}
	return tn, tn.jwksFault
}

func (idp *faultIdP) answer(w http.ResponseWriter, r *http.Request, tn *idpTenant, fault idpFault, body []byte) {
	switch fault {
	case faultStatus500:
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
	case faultHang:
		select {
		case <-r.Context().Done():
			tn.abandoned.Add(1)
		case <-idp.done:
		}
	case faultHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html><body><h1>Service unavailable</h1><p>Sign-in is down for maintenance.</p></body></html>")
	case faultTruncated:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Ending the handler this way closes the connection before the promised length.
		panic(http.ErrAbortHandler)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

// token signs an RS256 access token for tenant with key, for audience aud.
func (idp *faultIdP) token(t *testing.T, tenant string, key idpKey, aud string) string {
	t.Helper()
	now := time.Now().Unix()
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": key.kid})
	claims, _ := json.Marshal(map[string]any{
		"aud": aud, "iss": idp.issuer(tenant), "tid": tenant, "sub": "client-app-sp", "ver": "2.0",
		"iat": now - 60, "nbf": now - 60, "exp": now + 3600,
	})
	return signWith(t, string(header), string(claims), key.key)
}

// tenantPolicy is the article's validate-jwt for one tenant and audience.
func tenantPolicy(tenant, audience string) string {
	return strings.NewReplacer("{{tenant-id}}", tenant, "{{backend-app-client-id}}", audience).Replace(articlePolicy)
}

// readiness is /readyz's answer.
type readiness struct {
	Status     string `json:"status"`
	KeySources []struct {
		URL       string `json:"url"`
		Ready     bool   `json:"ready"`
		Stale     bool   `json:"stale"`
		Keys      int    `json:"keys"`
		LastError string `json:"lastError"`
	} `json:"keySources"`
}

func readyz(t *testing.T, admin string) (int, readiness) {
	t.Helper()
	status, _, body := httpGet(t, admin+"/readyz")
	var r readiness
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("readyz %d: %v: %s", status, err, body)
	}
	return status, r
}

// source returns the /readyz entry of an openid-config URL.
func (r readiness) source(t *testing.T, url string) (ready, stale bool, lastError string) {
	t.Helper()
	for _, s := range r.KeySources {
		if s.URL == url {
			return s.Ready, s.Stale, s.LastError
		}
	}
	t.Fatalf("readyz lists no source %s: %+v", url, r.KeySources)
	return false, false, ""
}

// metricValue returns the value of the metric line that starts with prefix, or "" when there
// is none.
func metricValue(t *testing.T, admin, prefix string) string {
	t.Helper()
	_, _, body := httpGet(t, admin+"/metrics")
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, prefix+" "); ok {
			return v
		}
	}
	return ""
}

// eventually polls cond (every 20ms, for at most limit) and fails with what when it never
// holds.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
