package graph_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portcullis/internal/config"
	"portcullis/internal/directory"
	"portcullis/internal/graph"
	"portcullis/internal/store/sqlite"
)

const (
	tenantID  = "3f5b1c2e-0000-4000-8000-000000000001"
	backendID = "6c1f0d2a-0000-4000-8000-0000000000b1"
	clientID  = "0b7e9d4c-0000-4000-8000-0000000000c1"
)

// env is a management API over a real SQLite store seeded with the article's tenant.
type env struct {
	t     *testing.T
	store directory.Store
	srv   *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	seed := &config.Identity{Tenants: []config.Tenant{{ID: tenantID, Domain: "contoso.example",
		Applications: []config.Application{
			{Name: "backend-app", AppID: backendID, IdentifierURIs: []string{"api://" + backendID}, AccessTokenVersion: 2,
				Scopes:   []config.Scope{{Value: "Files.Read", AdminConsentDisplayName: "Read files"}},
				AppRoles: []config.AppRole{{Value: "Files.Read.All", AllowedMemberTypes: []string{"Application"}}, {Value: "Admin", AllowedMemberTypes: []string{"User"}}}},
			{Name: "client-app", AppID: clientID, Secrets: []config.Secret{{Value: "client-secret-value"}}},
		},
		Users: []config.User{{Username: "alice@contoso.example", DisplayName: "Alice", Password: "Passw0rd!"}},
	}, {ID: "3f5b1c2e-0000-4000-8000-000000000002", Domain: "fabrikam.example"}}}
	if err := directory.Seed(context.Background(), s, seed, ""); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(graph.New(s, graph.Options{MaxBodyBytes: 64 << 10}))
	t.Cleanup(srv.Close)
	return &env{t: t, store: s, srv: srv}
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// call sends a request for the seeded tenant (by header) and decodes the JSON answer.
func (e *env) call(method, path string, body any) response {
	e.t.Helper()
	return e.callWith(method, path, body, map[string]string{graph.TenantHeader: tenantID})
}

func (e *env) callWith(method, path string, body any, headers map[string]string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
		}
	}
	// No response ever carries a stored hash.
	if bytes.Contains(raw, []byte("sha256:")) || bytes.Contains(raw, []byte("$argon2id$")) {
		e.t.Fatalf("%s %s: the response shows a stored hash: %s", method, path, raw)
	}
	return out
}

func (r response) must(t *testing.T, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// graphError checks Graph's error body and returns its message.
func (r response) graphError(t *testing.T, status int, code string) string {
	t.Helper()
	r.must(t, status)
	e, ok := r.body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %s", r.raw)
	}
	if e["code"] != code {
		t.Fatalf("error code %v, want %s: %s", e["code"], code, r.raw)
	}
	msg, _ := e["message"].(string)
	if msg == "" {
		t.Fatalf("error without a message: %s", r.raw)
	}
	return msg
}

func (r response) str(key string) string {
	v, _ := r.body[key].(string)
	return v
}

func (r response) list(t *testing.T) []map[string]any {
	t.Helper()
	if !strings.Contains(r.str("@odata.context"), "$metadata#") {
		t.Fatalf("list without @odata.context: %s", r.raw)
	}
	vals, ok := r.body["value"].([]any)
	if !ok {
		t.Fatalf("list without value array: %s", r.raw)
	}
	out := make([]map[string]any, 0, len(vals))
	for _, v := range vals {
		out = append(out, v.(map[string]any))
	}
	return out
}

func certificate(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client-cert"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestTenantSelection(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		status  int
		code    string
	}{
		{"header with the tenant id", "/v1.0/applications", map[string]string{graph.TenantHeader: tenantID}, 200, ""},
		{"header with a domain, any case", "/v1.0/applications", map[string]string{graph.TenantHeader: "CONTOSO.example"}, 200, ""},
		{"path prefix", "/tenants/" + tenantID + "/v1.0/applications", nil, 200, ""},
		{"path prefix wins over the header", "/tenants/" + tenantID + "/v1.0/applications", map[string]string{graph.TenantHeader: "nowhere.example"}, 200, ""},
		{"no tenant", "/v1.0/applications", nil, 400, "Request_BadRequest"},
		{"unknown tenant", "/v1.0/applications", map[string]string{graph.TenantHeader: "nowhere.example"}, 404, "Request_ResourceNotFound"},
		{"unknown tenant in the path", "/tenants/3f5b1c2e-0000-4000-8000-0000000000ff/v1.0/users", nil, 404, "Request_ResourceNotFound"},
		{"not under v1.0", "/beta/applications", map[string]string{graph.TenantHeader: tenantID}, 404, "Request_ResourceNotFound"},
		{"unknown resource", "/v1.0/groups", map[string]string{graph.TenantHeader: tenantID}, 404, "Request_ResourceNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.callWith("GET", tc.path, nil, tc.headers)
			if tc.code != "" {
				msg := r.graphError(t, tc.status, tc.code)
				if tc.name == "no tenant" && !strings.Contains(msg, graph.TenantHeader) {
					t.Fatalf("the message does not say how to pick a tenant: %s", msg)
				}
				return
			}
			r.must(t, tc.status)
			if n := len(r.list(t)); n != 2 {
				t.Fatalf("%d applications, want the seeded 2", n)
			}
			if r.header.Get("request-id") == "" {
				t.Fatal("no request-id header")
			}
		})
	}
	r := e.callWith("GET", "/tenants/"+tenantID+"/v1.0/applications", nil, nil)
	if want := e.srv.URL + "/tenants/" + tenantID + "/v1.0/$metadata#applications"; r.str("@odata.context") != want {
		t.Fatalf("@odata.context %q, want %q", r.str("@odata.context"), want)
	}
}

// TestArticleSteps follows the portal steps through Graph: register, expose an API, add a
// scope and a role, add a secret and a certificate, and delete.
func TestArticleSteps(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	created := e.call("POST", "/v1.0/applications", map[string]any{"displayName": "my-api", "signInAudience": "AzureADMyOrg"}).must(t, 201)
	id, appID := created.str("id"), created.str("appId")
	if !directory.IsGUID(id) || !directory.IsGUID(appID) || id == appID {
		t.Fatalf("id %q appId %q", id, appID)
	}
	if !strings.HasSuffix(created.str("@odata.context"), "/v1.0/$metadata#applications/$entity") {
		t.Fatalf("@odata.context %q", created.str("@odata.context"))
	}
	if uris := created.body["identifierUris"].([]any); len(uris) != 0 {
		t.Fatalf("a new registration has identifierUris %v; Entra sets none until Expose an API", uris)
	}
	if created.header.Get("Location") == "" {
		t.Fatal("201 without Location")
	}
	for _, k := range []string{"api", "appRoles", "passwordCredentials", "keyCredentials", "web", "publicClient", "spa",
		"requiredResourceAccess", "isFallbackPublicClient", "signInAudience", "createdDateTime"} {
		if _, ok := created.body[k]; !ok {
			t.Errorf("application JSON lacks %s", k)
		}
	}

	scopeID, roleID := directory.NewID(), directory.NewID()
	e.call("PATCH", "/v1.0/applications/"+id, map[string]any{
		"identifierUris": []string{"api://" + appID},
		"api": map[string]any{"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": []any{map[string]any{
			"id": scopeID, "value": "access_as_user", "type": "User", "isEnabled": true,
			"adminConsentDisplayName": "Access", "adminConsentDescription": "Access the API"}}},
		"appRoles": []any{map[string]any{"id": roleID, "value": "Data.Read", "allowedMemberTypes": []string{"Application"},
			"displayName": "Read", "description": "Read data", "isEnabled": true, "@odata.type": "#microsoft.graph.appRole"}},
	}).must(t, 204)
	got := e.call("GET", "/v1.0/applications(appId='"+appID+"')", nil).must(t, 200)
	api := got.body["api"].(map[string]any)
	if api["requestedAccessTokenVersion"] != float64(2) {
		t.Fatalf("token version: %v", api["requestedAccessTokenVersion"])
	}
	scope := api["oauth2PermissionScopes"].([]any)[0].(map[string]any)
	if scope["id"] != scopeID || scope["value"] != "access_as_user" || scope["isEnabled"] != true || scope["adminConsentDisplayName"] != "Access" {
		t.Fatalf("scope: %v", scope)
	}
	role := got.body["appRoles"].([]any)[0].(map[string]any)
	if role["id"] != roleID || role["origin"] != "Application" {
		t.Fatalf("role: %v", role)
	}
	stored, err := e.store.ApplicationByIdentifierURI(ctx, tenantID, "api://"+appID)
	if err != nil || stored.ID != id {
		t.Fatalf("identifier URI not stored: %v", err)
	}

	filters := []struct {
		name, filter string
		want         int
	}{
		{"appId", "appId eq '" + appID + "'", 1},
		{"displayName", "displayName eq 'my-api'", 1},
		{"displayName any case", "displayName eq 'MY-API'", 1},
		{"identifierUris", "identifierUris/any(x:x eq 'api://" + appID + "')", 1},
		{"two clauses", "displayName eq 'my-api' and appId eq '" + backendID + "'", 0},
		{"startswith", "startswith(displayName,'MY-')", 1},
		{"startswith all", "startswith(displayName,'')", 3},
		{"none", "appId eq '00000000-0000-0000-0000-000000000000'", 0},
	}
	for _, f := range filters {
		t.Run("filter "+f.name, func(t *testing.T) {
			r := e.call("GET", "/v1.0/applications?$filter="+urlQuery(f.filter), nil).must(t, 200)
			if n := len(r.list(t)); n != f.want {
				t.Fatalf("%d results, want %d", n, f.want)
			}
		})
	}

	pw := e.call("POST", "/v1.0/applications/"+id+"/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "ci"}}).must(t, 200)
	secret := pw.str("secretText")
	if len(secret) < 44 || pw.str("hint") != secret[:3] || !directory.IsGUID(pw.str("keyId")) || pw.str("displayName") != "ci" {
		t.Fatalf("addPassword: %s", pw.raw)
	}
	if !strings.Contains(pw.str("@odata.context"), "microsoft.graph.passwordCredential") {
		t.Fatalf("addPassword @odata.context %q", pw.str("@odata.context"))
	}
	stored, _ = e.store.Application(ctx, tenantID, id)
	if len(stored.Passwords) != 1 || !directory.VerifySecret(stored.Passwords[0].Hash, secret) {
		t.Fatal("the stored hash does not verify the returned secret")
	}
	shown := e.call("GET", "/v1.0/applications/"+id, nil).must(t, 200)
	if bytes.Contains(shown.raw, []byte(secret)) {
		t.Fatal("the secret is shown again after addPassword")
	}
	cred := shown.body["passwordCredentials"].([]any)[0].(map[string]any)
	if cred["secretText"] != nil || cred["hint"] != secret[:3] {
		t.Fatalf("password credential on GET: %v", cred)
	}

	der := certificate(t)
	key := e.call("POST", "/v1.0/applications/"+id+"/addKey", map[string]any{
		"keyCredential": map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(der)},
		"proof":         "ignored"}).must(t, 200)
	thumb := sha1.Sum(der)
	if key.str("customKeyIdentifier") != base64.StdEncoding.EncodeToString(thumb[:]) || key.str("type") != "AsymmetricX509Cert" {
		t.Fatalf("addKey: %s", key.raw)
	}
	e.call("POST", "/v1.0/applications/"+id+"/addKey", map[string]any{
		"keyCredential": map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(der)}}).
		graphError(t, 400, "Request_BadRequest")
	stored, _ = e.store.Application(ctx, tenantID, id)
	if len(stored.Certificates) != 1 || !bytes.Equal(stored.Certificates[0].DER, der) {
		t.Fatal("certificate not stored")
	}
	e.call("POST", "/v1.0/applications/"+id+"/removeKey", map[string]any{"keyId": key.str("keyId"), "proof": "x"}).must(t, 204)
	e.call("POST", "/v1.0/applications/"+id+"/removeKey", map[string]any{"keyId": key.str("keyId")}).graphError(t, 404, "Request_ResourceNotFound")
	e.call("POST", "/v1.0/applications/"+id+"/removePassword", map[string]any{"keyId": pw.str("keyId")}).must(t, 204)
	e.call("POST", "/v1.0/applications/"+id+"/removePassword", map[string]any{"keyId": pw.str("keyId")}).graphError(t, 404, "Request_ResourceNotFound")
	stored, _ = e.store.Application(ctx, tenantID, id)
	if len(stored.Passwords) != 0 || len(stored.Certificates) != 0 {
		t.Fatal("credentials not removed")
	}

	// Disable, then remove a scope (two steps, as Graph requires).
	e.call("PATCH", "/v1.0/applications/"+id, map[string]any{"api": map[string]any{"oauth2PermissionScopes": []any{}}}).
		graphError(t, 400, "CannotDeleteOrUpdateEnabledEntitlement")
	e.call("PATCH", "/v1.0/applications/"+id, map[string]any{"api": map[string]any{"oauth2PermissionScopes": []any{map[string]any{
		"id": scopeID, "value": "access_as_user", "type": "User", "isEnabled": false}}}}).must(t, 204)
	e.call("PATCH", "/v1.0/applications/"+id, map[string]any{"api": map[string]any{"oauth2PermissionScopes": []any{}}}).must(t, 204)

	e.call("DELETE", "/v1.0/applications/"+id, nil).must(t, 204)
	e.call("GET", "/v1.0/applications/"+id, nil).graphError(t, 404, "Request_ResourceNotFound")
	e.call("DELETE", "/v1.0/applications/"+id, nil).graphError(t, 404, "Request_ResourceNotFound")
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27", "/", "%2F", "(", "%28", ")", "%29", ":", "%3A").Replace(s)
}

func TestApplicationErrors(t *testing.T) {
	e := newEnv(t)
	backend, err := e.store.ApplicationByAppID(context.Background(), tenantID, backendID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		method  string
		path    string
		body    any
		ctype   string
		status  int
		code    string
		message string
	}{
		{"create without a name", "POST", "/v1.0/applications", map[string]any{"signInAudience": "AzureADMyOrg"}, "", 400, "Request_BadRequest", "displayName"},
		{"unknown property", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "colour": "red"}, "", 400, "Request_BadRequest", "'colour'"},
		{"unknown nested property", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "api": map[string]any{"scopes": []any{}}}, "", 400, "Request_BadRequest", "'scopes'"},
		{"wrong type", "POST", "/v1.0/applications", map[string]any{"displayName": 42}, "", 400, "Request_BadRequest", "displayName"},
		{"not JSON", "POST", "/v1.0/applications", `{"displayName": `, "", 400, "Request_BadRequest", "not valid JSON"},
		{"an array", "POST", "/v1.0/applications", `[]`, "", 400, "Request_BadRequest", "JSON object"},
		{"empty body", "POST", "/v1.0/applications", ``, "", 400, "Request_BadRequest", "empty"},
		{"too large", "POST", "/v1.0/applications", `{"displayName":"` + strings.Repeat("x", 70<<10) + `"}`, "", 413, "Request_EntityTooLarge", "larger than"},
		{"not JSON content type", "POST", "/v1.0/applications", `displayName=x`, "application/x-www-form-urlencoded", 415, "Request_UnsupportedMediaType", "JSON"},
		{"appId is read-only", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "appId": directory.NewID()}, "", 400, "Request_BadRequest", "read-only"},
		{"taken identifier URI", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "identifierUris": []string{"api://" + backendID}}, "", 400, "Request_BadRequest", "identifierUris already exists"},
		{"bad identifier URI", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "identifierUris": []string{"ftp://x"}}, "", 400, "Request_BadRequest", "scheme"},
		{"bad sign-in audience", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "signInAudience": "Everyone"}, "", 400, "Request_BadRequest", "signInAudience"},
		{"token version 3", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "api": map[string]any{"requestedAccessTokenVersion": 3}}, "", 400, "Request_BadRequest", "1 or 2"},
		{"scope without a GUID", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "api": map[string]any{"oauth2PermissionScopes": []any{map[string]any{"id": "1", "value": "a", "type": "User"}}}}, "", 400, "Request_BadRequest", "not a GUID"},
		{"role without member types", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "appRoles": []any{map[string]any{"id": directory.NewID(), "value": "r"}}}, "", 400, "Request_BadRequest", "allowedMemberTypes"},
		{"secret through PATCH", "PATCH", "/v1.0/applications/" + backend.ID, map[string]any{"passwordCredentials": []any{map[string]any{"displayName": "x"}}}, "", 400, "Request_BadRequest", "addPassword"},
		{"removing an enabled role", "PATCH", "/v1.0/applications/" + backend.ID, map[string]any{"appRoles": []any{}}, "", 400, "CannotDeleteOrUpdateEnabledEntitlement", "Files.Read.All"},
		{"unsupported property with a value", "PATCH", "/v1.0/applications/" + backend.ID, map[string]any{"optionalClaims": map[string]any{"accessToken": []any{map[string]any{"name": "email"}}}}, "", 400, "Request_BadRequest", "not supported"},
		{"changing appId", "PATCH", "/v1.0/applications/" + backend.ID, map[string]any{"appId": directory.NewID()}, "", 400, "Request_BadRequest", "read-only"},
		{"unknown application", "PATCH", "/v1.0/applications/" + directory.NewID(), map[string]any{"displayName": "y"}, "", 404, "Request_ResourceNotFound", "does not exist"},
		{"unknown appId", "GET", "/v1.0/applications(appId='" + directory.NewID() + "')", nil, "", 404, "Request_ResourceNotFound", "does not exist"},
		{"addPassword with secretText", "POST", "/v1.0/applications/" + backend.ID + "/addPassword", map[string]any{"passwordCredential": map[string]any{"secretText": "mine"}}, "", 400, "Request_BadRequest", "secretText"},
		{"addPassword ending before it starts", "POST", "/v1.0/applications/" + backend.ID + "/addPassword", map[string]any{"passwordCredential": map[string]any{"endDateTime": "2001-01-01T00:00:00Z"}}, "", 400, "Request_BadRequest", "endDateTime"},
		{"addKey without key", "POST", "/v1.0/applications/" + backend.ID + "/addKey", map[string]any{"keyCredential": map[string]any{"type": "AsymmetricX509Cert"}}, "", 400, "Request_BadRequest", "key"},
		{"addKey with garbage", "POST", "/v1.0/applications/" + backend.ID + "/addKey", map[string]any{"keyCredential": map[string]any{"key": "AAAA"}}, "", 400, "Request_BadRequest", "X.509"},
		{"removePassword without keyId", "POST", "/v1.0/applications/" + backend.ID + "/removePassword", map[string]any{}, "", 400, "Request_BadRequest", "keyId"},
		{"GET on addPassword", "GET", "/v1.0/applications/" + backend.ID + "/addPassword", nil, "", 405, "Request_BadRequest", "GET"},
		{"PUT on the collection", "PUT", "/v1.0/applications", map[string]any{}, "", 405, "Request_BadRequest", "PUT"},
		{"unknown sub-resource", "GET", "/v1.0/applications/" + backend.ID + "/owners", nil, "", 404, "Request_ResourceNotFound", "owners"},
		{"unsupported filter function", "GET", "/v1.0/applications?$filter=" + urlQuery("endswith(displayName,'b')"), nil, "", 400, "Request_UnsupportedQuery", "filter"},
		{"startswith on a collection", "GET", "/v1.0/applications?$filter=" + urlQuery("startswith(identifierUris,'api')"), nil, "", 400, "Request_UnsupportedQuery", "identifierUris"},
		{"filter on an unknown property", "GET", "/v1.0/applications?$filter=" + urlQuery("colour eq 'red'"), nil, "", 400, "Request_UnsupportedQuery", "colour"},
		{"filter with ne", "GET", "/v1.0/applications?$filter=" + urlQuery("displayName ne 'x'"), nil, "", 400, "Request_UnsupportedQuery", "eq"},
		{"unclosed string", "GET", "/v1.0/applications?$filter=" + urlQuery("displayName eq 'x"), nil, "", 400, "Request_UnsupportedQuery", "closed"},
		{"orderby", "GET", "/v1.0/applications?$orderby=displayName", nil, "", 400, "Request_UnsupportedQuery", "$orderby"},
		{"bad top", "GET", "/v1.0/applications?$top=0", nil, "", 400, "Request_BadRequest", "page size"},
	}
	before := e.call("GET", "/v1.0/applications", nil).must(t, 200).raw
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			headers := map[string]string{graph.TenantHeader: tenantID}
			if tc.ctype != "" {
				headers["Content-Type"] = tc.ctype
			}
			msg := e.callWith(tc.method, tc.path, tc.body, headers).graphError(t, tc.status, tc.code)
			if !strings.Contains(msg, tc.message) {
				t.Fatalf("message %q does not mention %q", msg, tc.message)
			}
		})
	}
	if after := e.call("GET", "/v1.0/applications", nil).must(t, 200).raw; !bytes.Equal(before, after) {
		t.Fatalf("failed requests changed the applications:\nbefore %s\nafter  %s", before, after)
	}
	// Empty values of unsupported properties are accepted (what a GET shows can be sent back).
	e.call("PATCH", "/v1.0/applications/"+backend.ID, map[string]any{"optionalClaims": nil, "tags": []any{}, "description": nil,
		"web": map[string]any{"homePageUrl": nil, "implicitGrantSettings": map[string]any{"enableIdTokenIssuance": false}}}).must(t, 204)
	// null takes the token version back to Graph's default (v1.0 tokens).
	e.call("PATCH", "/v1.0/applications/"+backend.ID, map[string]any{"api": map[string]any{"requestedAccessTokenVersion": nil}}).must(t, 204)
	if got, _ := e.store.Application(context.Background(), tenantID, backend.ID); got.AccessTokenVersion != 0 {
		t.Fatalf("requestedAccessTokenVersion null stored as %d", got.AccessTokenVersion)
	}
	e.call("PATCH", "/v1.0/applications/"+backend.ID, map[string]any{"api": map[string]any{"requestedAccessTokenVersion": "2"}}).
		graphError(t, 400, "Request_BadRequest")
	top := e.call("GET", "/v1.0/applications?$top=1&$select=appId", nil).must(t, 200)
	if len(top.list(t)) != 1 {
		t.Fatal("$top=1 returned more than one")
	}
}

func TestServicePrincipalsAndAssignments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	backendSP, _ := e.store.ServicePrincipalByAppID(ctx, tenantID, backendID)
	clientSP, _ := e.store.ServicePrincipalByAppID(ctx, tenantID, clientID)
	backend, _ := e.store.ApplicationByAppID(ctx, tenantID, backendID)
	readAll, _ := backend.AppRoleByValue("Files.Read.All")
	adminRole, _ := backend.AppRoleByValue("Admin")

	app := e.call("POST", "/v1.0/applications", map[string]any{"displayName": "new-client"}).must(t, 201)
	sp := e.call("POST", "/v1.0/servicePrincipals", map[string]any{"appId": app.str("appId"), "accountEnabled": true}).must(t, 201)
	if sp.str("appId") != app.str("appId") || sp.str("displayName") != "new-client" || sp.body["accountEnabled"] != true ||
		!strings.HasSuffix(sp.str("@odata.context"), "$metadata#servicePrincipals/$entity") {
		t.Fatalf("service principal: %s", sp.raw)
	}
	e.call("POST", "/v1.0/servicePrincipals", map[string]any{"appId": app.str("appId")}).graphError(t, 409, "Request_MultipleObjectsWithSameKeyValue")
	e.call("POST", "/v1.0/servicePrincipals", map[string]any{"appId": directory.NewID()}).graphError(t, 400, "Request_BadRequest")
	e.call("POST", "/v1.0/servicePrincipals", map[string]any{}).graphError(t, 400, "Request_BadRequest")

	found := e.call("GET", "/v1.0/servicePrincipals?$filter="+urlQuery("appId eq '"+backendID+"'"), nil).must(t, 200).list(t)
	if len(found) != 1 || found[0]["id"] != backendSP.ID {
		t.Fatalf("filter by appId: %v", found)
	}
	names := found[0]["servicePrincipalNames"].([]any)
	if len(names) != 2 || names[1] != "api://"+backendID || len(found[0]["appRoles"].([]any)) != 2 {
		t.Fatalf("service principal inherits from its application: %v", found[0])
	}
	byName := e.call("GET", "/v1.0/servicePrincipals?$filter="+urlQuery("servicePrincipalNames/any(n:n eq 'api://"+backendID+"')"), nil).must(t, 200).list(t)
	if len(byName) != 1 || byName[0]["id"] != backendSP.ID {
		t.Fatalf("filter by servicePrincipalNames: %v", byName)
	}
	byAppID := e.call("GET", "/v1.0/servicePrincipals(appId='"+clientID+"')", nil).must(t, 200)
	if byAppID.str("id") != clientSP.ID {
		t.Fatalf("servicePrincipals(appId=…): %s", byAppID.raw)
	}
	e.call("PATCH", "/v1.0/servicePrincipals/"+backendSP.ID, map[string]any{"appRoleAssignmentRequired": true}).must(t, 204)
	if got, _ := e.store.ServicePrincipal(ctx, tenantID, backendSP.ID); !got.AppRoleAssignmentRequired {
		t.Fatal("appRoleAssignmentRequired not stored")
	}

	assignURL := "/v1.0/servicePrincipals/" + backendSP.ID + "/appRoleAssignedTo"
	// The seed gave client-app nothing, so the first assignment is new.
	a := e.call("POST", assignURL, map[string]any{"principalId": clientSP.ID, "resourceId": backendSP.ID, "appRoleId": readAll.ID}).must(t, 201)
	if a.str("principalType") != "ServicePrincipal" || a.str("principalDisplayName") != "client-app" ||
		a.str("resourceDisplayName") != "backend-app" || a.str("appRoleId") != readAll.ID {
		t.Fatalf("assignment: %s", a.raw)
	}
	errorsCases := []struct {
		name string
		body map[string]any
		want string
	}{
		{"duplicate", map[string]any{"principalId": clientSP.ID, "resourceId": backendSP.ID, "appRoleId": readAll.ID}, "already exists"},
		{"user-only role to an application", map[string]any{"principalId": clientSP.ID, "resourceId": backendSP.ID, "appRoleId": adminRole.ID}, "allowedMemberTypes"},
		{"unknown role", map[string]any{"principalId": clientSP.ID, "resourceId": backendSP.ID, "appRoleId": directory.NewID()}, "not found"},
		{"resource other than the path", map[string]any{"principalId": clientSP.ID, "resourceId": clientSP.ID, "appRoleId": readAll.ID}, "path"},
		{"unknown principal", map[string]any{"principalId": directory.NewID(), "resourceId": backendSP.ID, "appRoleId": readAll.ID}, "neither"},
		{"missing appRoleId", map[string]any{"principalId": clientSP.ID, "resourceId": backendSP.ID}, "appRoleId"},
	}
	for _, tc := range errorsCases {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.call("POST", assignURL, tc.body).graphError(t, 400, "Request_BadRequest")
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not mention %q", msg, tc.want)
			}
		})
	}
	alice, _ := e.store.UserByName(ctx, tenantID, "alice@contoso.example")
	ua := e.call("POST", assignURL, map[string]any{"principalId": alice.ID, "resourceId": backendSP.ID, "appRoleId": adminRole.ID}).must(t, 201)
	if ua.str("principalType") != "User" || ua.str("principalDisplayName") != "Alice" {
		t.Fatalf("user assignment: %s", ua.raw)
	}
	list := e.call("GET", assignURL, nil).must(t, 200).list(t)
	if len(list) != 2 {
		t.Fatalf("%d assignments, want 2", len(list))
	}
	asPrincipal := e.call("GET", "/v1.0/servicePrincipals/"+clientSP.ID+"/appRoleAssignments", nil).must(t, 200).list(t)
	if len(asPrincipal) != 1 || asPrincipal[0]["id"] != a.str("id") {
		t.Fatalf("client's appRoleAssignments: %v", asPrincipal)
	}
	userRoles := e.call("GET", "/v1.0/users/alice@contoso.example/appRoleAssignments", nil).must(t, 200).list(t)
	if len(userRoles) != 1 {
		t.Fatalf("alice's appRoleAssignments: %v", userRoles)
	}
	e.call("DELETE", assignURL+"/"+ua.str("id"), nil).must(t, 204)
	e.call("DELETE", assignURL+"/"+ua.str("id"), nil).graphError(t, 404, "Request_ResourceNotFound")

	// Deleting the client's service principal removes its assignments.
	e.call("DELETE", "/v1.0/servicePrincipals/"+clientSP.ID, nil).must(t, 204)
	if left, _ := e.store.AppRoleAssignments(ctx, tenantID, clientSP.ID, ""); len(left) != 0 {
		t.Fatalf("assignments of a deleted service principal remain: %v", left)
	}
	e.call("GET", "/v1.0/servicePrincipals/"+clientSP.ID, nil).graphError(t, 404, "Request_ResourceNotFound")
}

func TestPermissionGrants(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	backendSP, _ := e.store.ServicePrincipalByAppID(ctx, tenantID, backendID)
	clientSP, _ := e.store.ServicePrincipalByAppID(ctx, tenantID, clientID)
	alice, _ := e.store.UserByName(ctx, tenantID, "alice@contoso.example")

	g := e.call("POST", "/v1.0/oauth2PermissionGrants", map[string]any{"clientId": clientSP.ID, "consentType": "AllPrincipals",
		"resourceId": backendSP.ID, "scope": "Files.Read"}).must(t, 201)
	if g.str("scope") != "Files.Read" || g.body["principalId"] != nil || g.str("consentType") != "AllPrincipals" ||
		!strings.HasSuffix(g.str("@odata.context"), "$metadata#oauth2PermissionGrants/$entity") {
		t.Fatalf("grant: %s", g.raw)
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   string
		want   string
	}{
		{"duplicate", map[string]any{"clientId": clientSP.ID, "consentType": "AllPrincipals", "resourceId": backendSP.ID, "scope": "Files.Read"}, 409, "Request_MultipleObjectsWithSameKeyValue", "already exists"},
		{"unknown scope", map[string]any{"clientId": clientSP.ID, "consentType": "Principal", "principalId": alice.ID, "resourceId": backendSP.ID, "scope": "Files.Write"}, 400, "Request_BadRequest", "Files.Write"},
		{"Principal without principalId", map[string]any{"clientId": clientSP.ID, "consentType": "Principal", "resourceId": backendSP.ID, "scope": "Files.Read"}, 400, "Request_BadRequest", "principalId"},
		{"bad consent type", map[string]any{"clientId": clientSP.ID, "consentType": "Everyone", "resourceId": backendSP.ID}, 400, "Request_BadRequest", "consentType"},
		{"unknown client", map[string]any{"clientId": directory.NewID(), "consentType": "AllPrincipals", "resourceId": backendSP.ID}, 400, "Request_BadRequest", "client service principal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.call("POST", "/v1.0/oauth2PermissionGrants", tc.body).graphError(t, tc.status, tc.code)
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not mention %q", msg, tc.want)
			}
		})
	}
	user := e.call("POST", "/v1.0/oauth2PermissionGrants", map[string]any{"clientId": clientSP.ID, "consentType": "Principal",
		"principalId": alice.ID, "resourceId": backendSP.ID, "scope": "Files.Read"}).must(t, 201)
	if user.str("principalId") != alice.ID {
		t.Fatalf("user grant: %s", user.raw)
	}
	byClient := e.call("GET", "/v1.0/oauth2PermissionGrants?$filter="+urlQuery("clientId eq '"+clientSP.ID+"' and consentType eq 'AllPrincipals'"), nil).must(t, 200).list(t)
	if len(byClient) != 1 || byClient[0]["id"] != g.str("id") {
		t.Fatalf("filtered grants: %v", byClient)
	}
	e.call("PATCH", "/v1.0/oauth2PermissionGrants/"+g.str("id"), map[string]any{"scope": "Files.Read  "}).must(t, 204)
	e.call("PATCH", "/v1.0/oauth2PermissionGrants/"+g.str("id"), map[string]any{"scope": "Nope"}).graphError(t, 400, "Request_BadRequest")
	e.call("PATCH", "/v1.0/oauth2PermissionGrants/"+g.str("id"), map[string]any{"clientId": backendSP.ID}).graphError(t, 400, "Request_BadRequest")
	e.call("GET", "/v1.0/oauth2PermissionGrants/"+g.str("id"), nil).must(t, 200)
	e.call("DELETE", "/v1.0/oauth2PermissionGrants/"+g.str("id"), nil).must(t, 204)
	e.call("GET", "/v1.0/oauth2PermissionGrants/"+g.str("id"), nil).graphError(t, 404, "Request_ResourceNotFound")

	// Deleting the user removes the user's consent.
	e.call("DELETE", "/v1.0/users/"+alice.ID, nil).must(t, 204)
	if left, _ := e.store.PermissionGrants(ctx, tenantID, "", ""); len(left) != 0 {
		t.Fatalf("grants remain after deleting their user: %v", left)
	}
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.call("POST", "/v1.0/users", map[string]any{"accountEnabled": true, "displayName": "Bob", "mailNickname": "bob",
		"userPrincipalName": "bob@contoso.example", "passwordProfile": map[string]any{"forceChangePasswordNextSignIn": false, "password": "Bob's-Passw0rd"}}).must(t, 201)
	if u.str("userPrincipalName") != "bob@contoso.example" || u.str("displayName") != "Bob" || !directory.IsGUID(u.str("id")) {
		t.Fatalf("user: %s", u.raw)
	}
	if bytes.Contains(u.raw, []byte("Passw0rd")) || bytes.Contains(u.raw, []byte("password")) {
		t.Fatalf("the user JSON shows the password: %s", u.raw)
	}
	stored, err := e.store.UserByName(ctx, tenantID, "BOB@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := directory.VerifyPassword(stored.PasswordHash, "Bob's-Passw0rd"); !ok {
		t.Fatal("stored password hash does not verify")
	}
	tests := []struct {
		name string
		body map[string]any
		want string
	}{
		{"weak password", map[string]any{"displayName": "C", "userPrincipalName": "c@contoso.example", "passwordProfile": map[string]any{"password": "password"}}, "complexity"},
		{"taken name", map[string]any{"displayName": "B", "userPrincipalName": "Bob@contoso.example", "passwordProfile": map[string]any{"password": "Xyz-12345"}}, "userPrincipalName already exists"},
		{"no password", map[string]any{"displayName": "D", "userPrincipalName": "d@contoso.example"}, "passwordProfile.password"},
		{"bad name", map[string]any{"displayName": "E", "userPrincipalName": "e", "passwordProfile": map[string]any{"password": "Xyz-12345"}}, "name@domain"},
		{"unsupported property", map[string]any{"displayName": "F", "userPrincipalName": "f@contoso.example", "jobTitle": "CEO", "passwordProfile": map[string]any{"password": "Xyz-12345"}}, "jobTitle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.call("POST", "/v1.0/users", tc.body).graphError(t, 400, "Request_BadRequest")
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not mention %q", msg, tc.want)
			}
			if strings.Contains(msg, "Xyz-12345") {
				t.Fatal("the error shows the password")
			}
		})
	}
	if users, _ := e.store.Users(ctx, tenantID); len(users) != 2 {
		t.Fatalf("%d users after failed creations, want 2", len(users))
	}
	byName := e.call("GET", "/v1.0/users/bob@contoso.example", nil).must(t, 200)
	if byName.str("id") != u.str("id") {
		t.Fatalf("GET by userPrincipalName: %s", byName.raw)
	}
	filtered := e.call("GET", "/v1.0/users?$filter="+urlQuery("userPrincipalName eq 'alice@contoso.example'"), nil).must(t, 200).list(t)
	if len(filtered) != 1 || filtered[0]["displayName"] != "Alice" {
		t.Fatalf("filtered users: %v", filtered)
	}
	e.call("PATCH", "/v1.0/users/"+u.str("id"), map[string]any{"displayName": "Robert", "passwordProfile": map[string]any{"password": "New-Passw0rd"}}).must(t, 204)
	stored, _ = e.store.User(ctx, tenantID, u.str("id"))
	if ok, _ := directory.VerifyPassword(stored.PasswordHash, "New-Passw0rd"); !ok || stored.DisplayName != "Robert" {
		t.Fatal("PATCH did not change the name and password")
	}
	e.call("DELETE", "/v1.0/users/bob@contoso.example", nil).must(t, 204)
	e.call("GET", "/v1.0/users/"+u.str("id"), nil).graphError(t, 404, "Request_ResourceNotFound")
}

func TestDeleteApplicationCascades(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	backendSP, _ := e.store.ServicePrincipalByAppID(ctx, tenantID, backendID)
	clientSP, _ := e.store.ServicePrincipalByAppID(ctx, tenantID, clientID)
	backend, _ := e.store.ApplicationByAppID(ctx, tenantID, backendID)
	role, _ := backend.AppRoleByValue("Files.Read.All")
	e.call("POST", "/v1.0/oauth2PermissionGrants", map[string]any{"clientId": clientSP.ID, "consentType": "AllPrincipals",
		"resourceId": backendSP.ID, "scope": "Files.Read"}).must(t, 201)
	e.call("POST", "/v1.0/servicePrincipals/"+backendSP.ID+"/appRoleAssignedTo", map[string]any{"principalId": clientSP.ID,
		"resourceId": backendSP.ID, "appRoleId": role.ID}).must(t, 201)
	e.call("DELETE", "/v1.0/applications(appId='"+backendID+"')", nil).must(t, 204)
	if _, err := e.store.ServicePrincipal(ctx, tenantID, backendSP.ID); err == nil {
		t.Fatal("the application's service principal survived it")
	}
	grants, _ := e.store.PermissionGrants(ctx, tenantID, "", "")
	assigned, _ := e.store.AppRoleAssignments(ctx, tenantID, "", "")
	if len(grants)+len(assigned) != 0 {
		t.Fatalf("consent for a deleted application remains: %v %v", grants, assigned)
	}
}

func TestSingleTenantAndExtensions(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seed := &config.Identity{Tenants: []config.Tenant{{ID: tenantID, Applications: []config.Application{{Name: "only"}}}}}
	if err := directory.Seed(context.Background(), s, seed, ""); err != nil {
		t.Fatal(err)
	}
	var extPaths []string
	ext := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		extPaths = append(extPaths, r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	})
	srv := httptest.NewServer(graph.New(s, graph.Options{Extensions: ext}))
	defer srv.Close()
	e := &env{t: t, store: s, srv: srv}
	// One tenant: nothing to choose.
	if apps := e.callWith("GET", "/v1.0/applications", nil, nil).must(t, 200).list(t); len(apps) != 1 {
		t.Fatalf("applications of the only tenant: %v", apps)
	}
	for _, p := range []string{"/v1.0/portcullis/keys", "/tenants/" + tenantID + "/v1.0/portcullis/keys"} {
		res, err := http.Post(srv.URL+p, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusTeapot {
			t.Fatalf("%s: status %d, want the extension's 418", p, res.StatusCode)
		}
	}
	if strings.Join(extPaths, " ") != "/v1.0/portcullis/keys /tenants/"+tenantID+"/v1.0/portcullis/keys" {
		t.Fatalf("the extension saw %v; paths must reach it unchanged", extPaths)
	}
}

func TestInternalErrorHidesDetails(t *testing.T) {
	e := newEnv(t)
	// A closed store fails every call: the client sees a generic 500, never the cause.
	e.store.Close()
	r := e.call("GET", "/v1.0/applications", nil)
	msg := r.graphError(t, 500, "Service_InternalServerError")
	if strings.Contains(msg, "sql") || strings.Contains(msg, "closed") || strings.Contains(msg, "/") {
		t.Fatalf("the 500 leaks its cause: %s", msg)
	}
}
