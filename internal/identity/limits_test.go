package identity

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// formOfSize returns form encoded and padded with an ignored parameter to exactly size bytes.
func formOfSize(t *testing.T, form url.Values, size int) string {
	t.Helper()
	body := form.Encode() + "&x-pad="
	if len(body) > size {
		t.Fatalf("form already %d bytes", len(body))
	}
	return body + strings.Repeat("a", size-len(body))
}

// TestFormSizeBound: every form the identity service parses is read up to maxFormBytes; one
// byte more is refused with a precise client error (Entra's JSON on the token and device code
// endpoints, the error page on the sign-in pages), never a 5xx.
func TestFormSizeBound(t *testing.T) {
	f := newFixture(t)
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {f.secret}, "scope": {backendURI + "/.default"}}
	tests := []struct {
		name, path string
		form       url.Values
		size       int
		status     int
		contains   string // in the body
	}{
		{name: "token request at the limit", path: "/" + tenantID + "/oauth2/v2.0/token", form: cc, size: maxFormBytes, status: 200, contains: "access_token"},
		{name: "token request one byte over", path: "/" + tenantID + "/oauth2/v2.0/token", form: cc, size: maxFormBytes + 1, status: 400, contains: "larger than the limit of 65536 bytes"},
		{name: "v1 token request one byte over", path: "/" + tenantID + "/oauth2/token", form: cc, size: maxFormBytes + 1, status: 400, contains: "larger than the limit of 65536 bytes"},
		{name: "device code request one byte over", path: "/" + tenantID + "/oauth2/v2.0/devicecode", form: url.Values{"client_id": {publicAppID}, "scope": {"openid"}}, size: maxFormBytes + 1, status: 400, contains: "larger than the limit of 65536 bytes"},
		{name: "authorize post one byte over", path: "/" + tenantID + "/oauth2/v2.0/authorize", form: url.Values{"client_id": {publicAppID}}, size: maxFormBytes + 1, status: 400, contains: "larger than the limit of 65536 bytes"},
		{name: "sign-in form one byte over", path: "/" + tenantID + "/login", form: url.Values{"login": {userName}}, size: maxFormBytes + 1, status: 400, contains: "larger than the limit of 65536 bytes"},
		{name: "consent form one byte over", path: "/" + tenantID + "/consent", form: url.Values{"accept": {"1"}}, size: maxFormBytes + 1, status: 400, contains: "larger than the limit of 65536 bytes"},
		{name: "device sign-in form one byte over", path: "/devicelogin", form: url.Values{"otc": {"ABCDEFGHI"}}, size: maxFormBytes + 1, status: 400, contains: "larger than the limit of 65536 bytes"},
		{name: "device consent form one byte over", path: "/devicelogin/consent", form: url.Values{"accept": {"1"}}, size: maxFormBytes + 1, status: 400, contains: "AADSTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, f.url+tt.path, strings.NewReader(formOfSize(t, tt.form, tt.size)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.contains) {
				t.Fatalf("status %d, want %d with %q; body %.400s", resp.StatusCode, tt.status, tt.contains, body)
			}
		})
	}
}

// TestServerErrorsLeakNothing: when the store fails under the identity service, the client
// gets Entra's generic server_error, with no cause, file path, stack or credential in it.
func TestServerErrorsLeakNothing(t *testing.T) {
	f := newFixture(t)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {f.secret}, "scope": {backendURI + "/.default"}}
	tests := []struct {
		name, method, path, body string
	}{
		{"token endpoint", http.MethodPost, "/" + tenantID + "/oauth2/v2.0/token", cc.Encode()},
		{"device code", http.MethodPost, "/" + tenantID + "/oauth2/v2.0/devicecode", url.Values{"client_id": {publicAppID}, "scope": {"openid"}}.Encode()},
		{"discovery", http.MethodGet, "/" + tenantID + "/v2.0/.well-known/openid-configuration", ""},
		{"keys", http.MethodGet, "/" + tenantID + "/discovery/v2.0/keys", ""},
		{"authorize", http.MethodGet, "/" + tenantID + "/oauth2/v2.0/authorize?" + url.Values{"client_id": {publicAppID}, "response_type": {"code"},
			"redirect_uri": {"http://localhost:5000"}, "scope": {"openid"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}.Encode(), ""},
	}
	leaks := []string{f.secret, f.dataDir, ".go:", "goroutine", "sqlite", "database", "closed", "panic", "/tmp/"}
	sawServerError := false
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, f.url+tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, l := range leaks {
				if strings.Contains(strings.ToLower(string(body)), strings.ToLower(l)) {
					t.Errorf("the %d answer holds %q: %.600s", resp.StatusCode, l, body)
				}
			}
			if resp.StatusCode == 500 {
				sawServerError = true
				var doc map[string]any
				if json.Unmarshal(body, &doc) == nil && !strings.HasPrefix(doc["error_description"].(string), "AADSTS50000:") {
					t.Errorf("not Entra's server_error: %s", body)
				}
			}
		})
	}
	if !sawServerError {
		t.Error("no request reached the failing store: the test proves nothing")
	}
}
