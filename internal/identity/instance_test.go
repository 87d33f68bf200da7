package identity

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

func TestInstanceDiscovery(t *testing.T) {
	f := newFixture(t)
	host := strings.TrimPrefix(f.url, "https://")
	ask := func(path, endpoint string) string {
		q := url.Values{"api-version": {"1.1"}}
		if endpoint != "" {
			q.Set("authorization_endpoint", endpoint)
		}
		return f.url + path + "?" + q.Encode()
	}
	tests := []struct {
		name    string
		url     string
		wantDoc string // tenant_discovery_endpoint; "" means an error
		code    int
		oauth   string
	}{
		{name: "v2 authority by GUID", url: ask("/common/discovery/instance", f.url+"/"+tenantID+"/oauth2/v2.0/authorize"),
			wantDoc: f.url + "/" + tenantID + "/v2.0/.well-known/openid-configuration"},
		{name: "v2 authority by domain, host in capitals", url: ask("/common/discovery/instance", "https://"+strings.ToUpper(host)+"/"+tenantDomain+"/oauth2/v2.0/authorize"),
			wantDoc: f.url + "/" + tenantDomain + "/v2.0/.well-known/openid-configuration"},
		{name: "v1 authority", url: ask("/common/discovery/instance", f.url+"/organizations/oauth2/authorize"),
			wantDoc: f.url + "/organizations/.well-known/openid-configuration"},
		{name: "tenant-scoped path", url: ask("/"+tenantID+"/discovery/instance", f.url+"/common/oauth2/v2.0/authorize"),
			wantDoc: f.url + "/common/v2.0/.well-known/openid-configuration"},
		{name: "another host", url: ask("/common/discovery/instance", "https://login.microsoftonline.com/"+tenantID+"/oauth2/v2.0/authorize"),
			code: 50049, oauth: "invalid_instance"},
		{name: "same host, other port", url: ask("/common/discovery/instance", "https://"+strings.Split(host, ":")[0]+":1/"+tenantID+"/oauth2/v2.0/authorize"),
			code: 50049, oauth: "invalid_instance"},
		{name: "plain http", url: ask("/common/discovery/instance", "http://"+host+"/"+tenantID+"/oauth2/v2.0/authorize"),
			code: 50049, oauth: "invalid_instance"},
		{name: "not an authorize endpoint", url: ask("/common/discovery/instance", f.url+"/"+tenantID+"/oauth2/v2.0/token"),
			code: 50049, oauth: "invalid_instance"},
		{name: "tenant with a slash smuggled in", url: ask("/common/discovery/instance", f.url+"/a%2Fb/oauth2/v2.0/authorize"),
			code: 50049, oauth: "invalid_instance"},
		{name: "query on the endpoint", url: ask("/common/discovery/instance", f.url+"/"+tenantID+"/oauth2/v2.0/authorize?x=1"),
			code: 50049, oauth: "invalid_instance"},
		{name: "no authorization endpoint", url: ask("/common/discovery/instance", ""),
			code: 900144, oauth: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.get(tc.url)
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
			}
			if tc.wantDoc == "" {
				assertEntraErrorAs(t, f, resp.StatusCode, doc, tc.code, tc.oauth, 400)
				return
			}
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			var got instanceDiscovery
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			want := instanceDiscovery{TenantDiscoveryEndpoint: tc.wantDoc, APIVersion: "1.1",
				Metadata: []instanceMetadata{{PreferredNetwork: host, PreferredCache: host, Aliases: []string{host}}}}
			if got.TenantDiscoveryEndpoint != want.TenantDiscoveryEndpoint || got.APIVersion != want.APIVersion ||
				len(got.Metadata) != 1 || got.Metadata[0].PreferredNetwork != host || got.Metadata[0].PreferredCache != host || !slices.Equal(got.Metadata[0].Aliases, []string{host}) {
				t.Errorf("got %+v, want %+v", got, want)
			}
			// The document named is served.
			if r, b := f.get(got.TenantDiscoveryEndpoint); r.StatusCode != 200 {
				t.Errorf("tenant discovery endpoint answered %d: %s", r.StatusCode, b)
			}
		})
	}
}

// worldwideTransport stands in for a network where MSAL's discovery host reaches this
// service: MSAL for Go sends instance discovery for an authority it does not know to
// login.microsoftonline.com, whatever the authority's host. Every connection goes to the
// test server, and the server's certificate is checked for the test server's own name. It
// records the requests it carries.
type worldwideTransport struct {
	base *http.Transport
	mu   sync.Mutex
	urls []*url.URL
}

func newWorldwideTransport(f *fixture) *worldwideTransport {
	tr := f.httpClient().Transport.(*http.Transport).Clone()
	addr := f.ts.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = strings.Split(addr, ":")[0]
	return &worldwideTransport{base: tr}
}

func (w *worldwideTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.urls = append(w.urls, r.URL)
	w.mu.Unlock()
	return w.base.RoundTrip(r)
}

// discoveryAsked reports whether a request went to Entra's worldwide discovery host for
// the authority's authorize endpoint.
func (w *worldwideTransport) discoveryAsked(authorize string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, u := range w.urls {
		if u.Host == "login.microsoftonline.com" && u.Path == "/common/discovery/instance" && u.Query().Get("authorization_endpoint") == authorize {
			return true
		}
	}
	return false
}

// TestMSALWithInstanceDiscovery runs MSAL for Go with its default instance discovery on.
func TestMSALWithInstanceDiscovery(t *testing.T) {
	f := newFixture(t)
	authority := f.url + "/" + tenantID
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("confidential client", func(t *testing.T) {
		tr := newWorldwideTransport(f)
		cred, err := confidential.NewCredFromSecret(f.secret)
		if err != nil {
			t.Fatal(err)
		}
		app, err := confidential.New(authority, clientAppID, cred, confidential.WithHTTPClient(&http.Client{Transport: tr, Timeout: 30 * time.Second}))
		if err != nil {
			t.Fatal(err)
		}
		scopes := []string{backendURI + "/.default"}
		res, err := app.AcquireTokenByCredential(ctx, scopes)
		if err != nil {
			t.Fatalf("MSAL: %v", err)
		}
		if !tr.discoveryAsked(authority + "/oauth2/v2.0/authorize") {
			t.Fatalf("MSAL did not ask for instance discovery; requests: %v", tr.urls)
		}
		if _, c := f.claimsOf(res.AccessToken); c["aud"] != backendAppID || c["azp"] != clientAppID {
			t.Errorf("claims %v", c)
		}
		// The cache is keyed by the discovered aliases: the token is found again.
		again, err := app.AcquireTokenByCredential(ctx, scopes)
		if err != nil || again.AccessToken != res.AccessToken {
			t.Errorf("second call: %v (same token: %v)", err, again.AccessToken == res.AccessToken)
		}
	})
	t.Run("public client", func(t *testing.T) {
		tr := newWorldwideTransport(f)
		app, err := public.New(publicAppID, public.WithAuthority(authority), public.WithHTTPClient(&http.Client{Transport: tr, Timeout: 30 * time.Second}))
		if err != nil {
			t.Fatal(err)
		}
		dc, err := app.AcquireTokenByDeviceCode(ctx, []string{backendURI + "/" + filesRead})
		if err != nil {
			t.Fatalf("device code: %v", err)
		}
		if !tr.discoveryAsked(authority + "/oauth2/v2.0/authorize") {
			t.Fatalf("MSAL did not ask for instance discovery; requests: %v", tr.urls)
		}
		if dc.Result.VerificationURL != f.url+"/devicelogin" || len(dc.Result.UserCode) != 9 {
			t.Errorf("device code result %+v", dc.Result)
		}
	})
}

// FuzzInstanceDiscovery asks about arbitrary authorize endpoints: the answer is 200 naming a
// document under this service's own URL, or 400, never anything else.
func FuzzInstanceDiscovery(f *testing.F) {
	fx := newFixture(f)
	for _, s := range []string{
		fx.url + "/" + tenantID + "/oauth2/v2.0/authorize", fx.url + "/common/oauth2/authorize",
		fx.url + "/../oauth2/v2.0/authorize", fx.url + "/a%2F..%2Fb/oauth2/v2.0/authorize", "https://evil.example/common/oauth2/v2.0/authorize",
		fx.url + "@evil.example/x/oauth2/v2.0/authorize", "%zz", "",
	} {
		f.Add(s)
	}
	h := fx.server.Handler()
	f.Fuzz(func(t *testing.T, endpoint string) {
		req := httptest.NewRequest(http.MethodGet, "/common/discovery/instance?"+url.Values{"authorization_endpoint": {endpoint}}.Encode(), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusBadRequest:
			return
		case http.StatusOK:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, endpoint, rec.Body)
		}
		var got instanceDiscovery
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		tenant, ok := strings.CutPrefix(got.TenantDiscoveryEndpoint, fx.url+"/")
		if !ok {
			t.Fatalf("%q answered with %q", endpoint, got.TenantDiscoveryEndpoint)
		}
		tenant, _, _ = strings.Cut(tenant, "/")
		if !validTenantSegment(tenant) {
			t.Fatalf("%q answered with tenant %q", endpoint, tenant)
		}
	})
}
