package identity

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestTokenEndpointErrors asserts Entra's body for each error of the token endpoint.
func TestTokenEndpointErrors(t *testing.T) {
	f := newFixture(t)
	cc := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {f.secret}, "scope": {backendURI + "/.default"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	tests := []struct {
		name    string
		path    string // token endpoint path after the host; default the tenant's v2
		form    url.Values
		rawBody string
		code    int
		oauth   string // when the code's error value differs here
	}{
		{name: "invalid secret", form: cc("client_secret", "wrong"), code: 7000215},
		{name: "unknown application", form: cc("client_id", "00000000-1111-4000-8000-000000000000"), code: 700016},
		{name: "unknown resource", form: cc("scope", "api://nothing-here/.default"), code: 500011},
		{name: "client credentials without /.default", form: cc("scope", backendURI+"/"+filesRead), code: 1002012},
		{name: "two resources", form: cc("scope", backendURI+"/.default "+legacyURI+"/.default"), code: 700022},
		{name: "unknown tenant", path: "/nosuch.example/oauth2/v2.0/token", form: cc(), code: 90002},
		{name: "resource parameter on v2", form: cc("resource", backendURI), code: 901002},
		{name: "client authentication missing", form: cc("client_secret", ""), code: 7000218},
		{name: "grant type missing", form: cc("grant_type", ""), code: 900144},
		{name: "unsupported grant type", form: cc("grant_type", "password"), code: 70003},
		{name: "parameter sent twice", rawBody: "grant_type=client_credentials&client_id=" + clientAppID + "&client_id=" + clientAppID, code: 9002313},
		{name: "client credentials on common", path: "/common/oauth2/v2.0/token", form: cc(), code: 9001023},
		{name: "public client sends a secret", form: cc("client_id", publicAppID, "client_secret", "x"), code: 700025},
		{name: "unknown authorization code", form: url.Values{"grant_type": {"authorization_code"}, "client_id": {clientAppID}, "client_secret": {f.secret}, "code": {"bogus"}, "redirect_uri": {clientRedir}}, code: 9002313, oauth: "invalid_grant"},
		{name: "unknown refresh token", form: url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {"bogus"}}, code: 70000},
		{name: "unknown device code", form: url.Values{"grant_type": {grantDeviceCode}, "client_id": {publicAppID}, "device_code": {"bogus"}}, code: 70018},
		{name: "disabled scope on delegated request", form: url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {"bogus"}, "scope": {backendURI + "/" + filesWrite}}, code: 70000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := f.tokenURL(2)
			if tc.path != "" {
				endpoint = f.url + tc.path
			}
			var status int
			var doc map[string]any
			if tc.rawBody != "" {
				status, doc = f.postRaw(endpoint, tc.rawBody)
			} else {
				status, doc, _ = f.post(endpoint, tc.form, nil)
			}
			if tc.oauth != "" {
				assertEntraErrorAs(t, f, status, doc, tc.code, tc.oauth, 400)
				return
			}
			assertEntraError(t, f, status, doc, tc.code)
		})
	}
}

func TestCorrelationIDEchoesClientRequestID(t *testing.T) {
	f := newFixture(t)
	const id = "0f8fad5b-d9cb-469f-a165-70867728950e"
	status, doc, hdr := f.post(f.tokenURL(2), url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {"wrong"}, "scope": {backendURI + "/.default"}}, http.Header{"Client-Request-Id": {id}})
	if status != 401 || doc["correlation_id"] != id {
		t.Fatalf("status %d correlation_id %v, want 401 and %s", status, doc["correlation_id"], id)
	}
	if hdr.Get("Cache-Control") != "no-store, no-cache" {
		t.Errorf("Cache-Control = %q", hdr.Get("Cache-Control"))
	}
}

func TestClientThrottling(t *testing.T) {
	f := newFixture(t)
	bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {"wrong"}, "scope": {backendURI + "/.default"}}
	for i := 0; i < throttleFailures; i++ {
		status, doc, _ := f.post(f.tokenURL(2), bad, nil)
		assertEntraError(t, f, status, doc, 7000215)
	}
	// Locked out now, even with the right secret.
	status, doc, hdr := f.post(f.tokenURL(2), url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {f.secret}, "scope": {backendURI + "/.default"}}, nil)
	assertEntraError(t, f, status, doc, 90055)
	if hdr.Get("Retry-After") != "300" {
		t.Errorf("Retry-After = %q, want 300", hdr.Get("Retry-After"))
	}
	f.clock.Advance(throttleLockout + time.Second)
	if status, doc := f.clientCredentials(2, nil); status != 200 {
		t.Fatalf("after the lockout: %d %v", status, doc)
	}
}
