package identity

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"api://x/.default", "openid profile offline_access", "api://x/a api://y/b", "https://c.example//.default", "User.Read", "/", "a/ b/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, scope string) {
		q, err := parseScopes(scope)
		if err != nil {
			return
		}
		for _, p := range q.permissions {
			if p == "" || strings.ContainsAny(p, " \t") {
				t.Fatalf("permission %q from %q", p, scope)
			}
		}
		if len(q.permissions) > 0 && q.resource == "" {
			t.Fatalf("permissions without a resource from %q", scope)
		}
	})
}

// FuzzTokenEndpoint sends arbitrary bodies to the token endpoint: every answer is a JSON
// success or an Entra error, never a 5xx or a panic.
func FuzzTokenEndpoint(f *testing.F) {
	fx := newFixture(f)
	if _, err := fx.server.keys.forTenant(context.Background(), tenantID); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"grant_type=client_credentials&client_id=" + clientAppID + "&client_secret=x&scope=api%3A%2F%2Fx%2F.default",
		"grant_type=authorization_code&code=abc&client_id=" + publicAppID,
		"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=a.b.c&requested_token_use=on_behalf_of",
		"client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=e30.e30.e30&grant_type=client_credentials",
		"%zz", "grant_type=refresh_token&refresh_token=", "",
	} {
		f.Add(s)
	}
	h := fx.server.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/"+tenantID+"/oauth2/v2.0/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
		}
	})
}
