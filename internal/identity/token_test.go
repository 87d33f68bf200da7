package identity

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"portcullis/internal/directory"
	"portcullis/internal/jose"
)

func TestClientCredentialsTokenShapes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		version  int
		form     url.Values
		wantAud  string
		wantVer  string
		wantIss  string
		wantX5t  bool
		appClaim string
		roles    []string
	}{
		{name: "v2 endpoint, v2 resource", version: 2, form: url.Values{"scope": {backendURI + "/.default openid profile offline_access"}, "client_info": {"1"}, "x-client-SKU": {"MSAL.Go"}},
			wantAud: backendAppID, wantVer: "2.0", wantIss: f.url + "/" + tenantID + "/v2.0", appClaim: "azp", roles: []string{readAllRole}},
		{name: "v1 endpoint, v2 resource: the resource decides", version: 1, form: url.Values{"resource": {backendURI}},
			wantAud: backendAppID, wantVer: "2.0", wantIss: f.url + "/" + tenantID + "/v2.0", appClaim: "azp", roles: []string{readAllRole}},
		{name: "v2 endpoint, v1 resource by App ID URI", version: 2, form: url.Values{"scope": {legacyURI + "/.default"}},
			wantAud: legacyURI, wantVer: "1.0", wantIss: f.url + "/" + tenantID + "/", wantX5t: true, appClaim: "appid"},
		{name: "v1 endpoint, v1 resource by app ID", version: 1, form: url.Values{"resource": {legacyAppID}},
			wantAud: legacyAppID, wantVer: "1.0", wantIss: f.url + "/" + tenantID + "/", wantX5t: true, appClaim: "appid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, doc := f.clientCredentials(tc.version, tc.form)
			if status != 200 {
				t.Fatalf("status %d: %v", status, doc)
			}
			if doc["token_type"] != "Bearer" || doc["refresh_token"] != nil || doc["scope"] != nil {
				t.Errorf("response fields: %v", doc)
			}
			if tc.version == 1 {
				for _, k := range []string{"expires_in", "ext_expires_in", "expires_on", "not_before"} {
					if _, ok := doc[k].(string); !ok {
						t.Errorf("v1 %s = %#v, want a string", k, doc[k])
					}
				}
			} else if n, ok := doc["expires_in"].(float64); !ok || n < 3600 || n > 5400 {
				t.Errorf("v2 expires_in = %#v, want a number in Entra's 60-90 minutes", doc["expires_in"])
			}
			h, c := f.claimsOf(doc["access_token"].(string))
			if h.Alg != "RS256" || h.Typ != "JWT" || h.Kid == "" {
				t.Errorf("header %+v", h)
			}
			if got := h.X5t != ""; got != tc.wantX5t {
				t.Errorf("x5t present = %v, want %v", got, tc.wantX5t)
			}
			if tc.wantX5t && h.X5t != h.Kid {
				t.Errorf("x5t %q != kid %q", h.X5t, h.Kid)
			}
			if c["aud"] != tc.wantAud || c["ver"] != tc.wantVer || c["iss"] != tc.wantIss || c["idp"] != tc.wantIss {
				t.Errorf("aud/ver/iss/idp = %v %v %v %v", c["aud"], c["ver"], c["iss"], c["idp"])
			}
			if c[tc.appClaim] != clientAppID || c[tc.appClaim+"acr"] != "1" {
				t.Errorf("%s = %v, %sacr = %v", tc.appClaim, c[tc.appClaim], tc.appClaim, c[tc.appClaim+"acr"])
			}
			if c["oid"] != clientSPID || c["sub"] != clientSPID || c["tid"] != tenantID || c["idtyp"] != "app" {
				t.Errorf("oid/sub/tid/idtyp = %v %v %v %v", c["oid"], c["sub"], c["tid"], c["idtyp"])
			}
			for _, k := range []string{"aio", "rh", "uti", "iat", "nbf", "exp"} {
				if c[k] == nil {
					t.Errorf("claim %s missing", k)
				}
			}
			if c["scp"] != nil {
				t.Errorf("app-only token has scp %v", c["scp"])
			}
			var roles []string
			if rs, ok := c["roles"].([]any); ok {
				for _, r := range rs {
					roles = append(roles, r.(string))
				}
			}
			if !slices.Equal(roles, tc.roles) {
				t.Errorf("roles = %v, want %v", roles, tc.roles)
			}
		})
	}
}

func TestClientAuthenticationMethods(t *testing.T) {
	f := newFixture(t)
	assertion := func(alg string, header map[string]any, claims map[string]any) string {
		payload, _ := jsonMarshal(claims)
		tok, err := jose.Sign(alg, f.certKey, "", header, payload)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	base := func(aud string) map[string]any {
		return map[string]any{"aud": aud, "iss": clientAppID, "sub": clientAppID, "jti": "x", "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	}
	x5t := jose.Thumbprint(f.cert.Raw)
	x5tS256std := base64.StdEncoding.EncodeToString(mustDecode(jose.ThumbprintS256(f.cert.Raw)))
	tests := []struct {
		name     string
		form     url.Values
		header   http.Header
		wantCode int // 0 = success
	}{
		{name: "secret in body", form: url.Values{"client_secret": {f.secret}}},
		{name: "secret by HTTP Basic", header: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientAppID)+":"+url.QueryEscape(f.secret)))}}},
		{name: "RS256 assertion with x5t, aud = token endpoint", form: url.Values{"client_assertion_type": {assertionTypeJWTBearer}, "client_assertion": {assertion("RS256", map[string]any{"typ": "JWT", "x5t": x5t}, base(f.tokenURL(2)))}}},
		{name: "PS256 assertion with standard base64 x5t#S256, aud = issuer", form: url.Values{"client_assertion_type": {assertionTypeJWTBearer}, "client_assertion": {assertion("PS256", map[string]any{"x5t#S256": x5tS256std}, base(f.url+"/"+tenantID+"/v2.0"))}}},
		{name: "wrong secret", form: url.Values{"client_secret": {"not-the-secret"}}, wantCode: 7000215},
		{name: "no credential", wantCode: 7000218},
		{name: "assertion for another audience", form: url.Values{"client_assertion_type": {assertionTypeJWTBearer}, "client_assertion": {assertion("RS256", map[string]any{"x5t": x5t}, base("https://elsewhere.example/token"))}}, wantCode: 700027},
		{name: "expired assertion beyond skew", form: url.Values{"client_assertion_type": {assertionTypeJWTBearer}, "client_assertion": {assertion("RS256", map[string]any{"x5t": x5t}, map[string]any{"aud": f.tokenURL(2), "iss": clientAppID, "sub": clientAppID, "exp": now.Add(-6 * time.Minute).Unix()})}}, wantCode: 700024},
		{name: "assertion naming an unregistered certificate", form: url.Values{"client_assertion_type": {assertionTypeJWTBearer}, "client_assertion": {assertion("RS256", map[string]any{"x5t": "AAAAAAAAAAAAAAAAAAAAAAAAAAA"}, base(f.tokenURL(2)))}}, wantCode: 700027},
		{name: "HS256 assertion refused", form: url.Values{"client_assertion_type": {assertionTypeJWTBearer}, "client_assertion": {"eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}}, wantCode: 700027},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "scope": {backendURI + "/.default"}}
			for k, v := range tc.form {
				form[k] = v
			}
			if tc.header != nil {
				form.Del("client_id")
			}
			status, doc, _ := f.post(f.tokenURL(2), form, tc.header)
			if tc.wantCode == 0 {
				if status != 200 || doc["access_token"] == nil {
					t.Fatalf("status %d: %v", status, doc)
				}
				_, c := f.claimsOf(doc["access_token"].(string))
				want := "1"
				if tc.form.Get("client_assertion") != "" {
					want = "2"
				}
				if c["azpacr"] != want {
					t.Errorf("azpacr = %v, want %s", c["azpacr"], want)
				}
				return
			}
			assertEntraError(t, f, status, doc, tc.wantCode)
		})
	}
}

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$`)
	guidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// entraErrors are the error values and statuses Entra answers each code with.
var entraErrors = map[int]struct {
	oauth  string
	status int
}{
	7000215: {"invalid_client", 401}, 7000218: {"invalid_client", 401}, 700027: {"invalid_client", 401},
	700024: {"invalid_client", 401}, 700025: {"invalid_client", 401},
	700016: {"unauthorized_client", 400}, 500011: {"invalid_resource", 400}, 70011: {"invalid_scope", 400},
	1002012: {"invalid_scope", 400}, 700022: {"invalid_scope", 400}, 65001: {"invalid_grant", 400},
	50126: {"invalid_grant", 400}, 90002: {"invalid_request", 400}, 901002: {"invalid_request", 400},
	50148: {"invalid_grant", 400}, 501481: {"invalid_grant", 400}, 70008: {"invalid_grant", 400},
	700082: {"invalid_grant", 400}, 9002313: {"invalid_request", 400}, 50034: {"invalid_grant", 400},
	70003: {"unsupported_grant_type", 400}, 900144: {"invalid_request", 400}, 54005: {"invalid_grant", 400},
	70000: {"invalid_grant", 400}, 9001023: {"invalid_request", 400}, 70016: {"authorization_pending", 400},
	70018: {"bad_verification_code", 400}, 70019: {"expired_token", 400}, 90055: {"temporarily_unavailable", 429},
	50053: {"invalid_grant", 400}, 50013: {"invalid_grant", 400}, 9002326: {"invalid_request", 400},
	70020: {"authorization_declined", 400},
}

// assertEntraError checks every field of Entra's error body.
func assertEntraError(t *testing.T, f *fixture, status int, doc map[string]any, code int) {
	t.Helper()
	want, known := entraErrors[code]
	if !known {
		t.Fatalf("test table lacks AADSTS%d", code)
	}
	assertEntraErrorAs(t, f, status, doc, code, want.oauth, want.status)
}

// assertEntraErrorAs is assertEntraError for a code whose error value depends on where it
// occurs (9002313 is invalid_request for a malformed request, invalid_grant for a bad code).
func assertEntraErrorAs(t *testing.T, f *fixture, status int, doc map[string]any, code int, oauth string, httpStatus int) {
	t.Helper()
	want := struct {
		oauth  string
		status int
	}{oauth, httpStatus}
	if status != want.status {
		t.Errorf("status = %d, want %d (%v)", status, want.status, doc)
	}
	if doc["error"] != want.oauth {
		t.Errorf("error = %v, want %s", doc["error"], want.oauth)
	}
	codes, _ := doc["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(code) {
		t.Errorf("error_codes = %v, want [%d]", doc["error_codes"], code)
	}
	desc, _ := doc["error_description"].(string)
	if !strings.HasPrefix(desc, "AADSTS"+itoa(code)+": ") {
		t.Errorf("error_description = %q, want prefix AADSTS%d: ", desc, code)
	}
	ts, _ := doc["timestamp"].(string)
	if !timestampRE.MatchString(ts) || !strings.Contains(desc, "\r\nTimestamp: "+ts) {
		t.Errorf("timestamp = %q (description %q)", ts, desc)
	}
	for _, k := range []string{"trace_id", "correlation_id"} {
		v, _ := doc[k].(string)
		if !guidRE.MatchString(v) {
			t.Errorf("%s = %q, want a GUID", k, v)
		}
	}
	if doc["error_uri"] != f.url+"/error?code="+itoa(code) {
		t.Errorf("error_uri = %v", doc["error_uri"])
	}
}

func TestDirectoryChangesReachTokensWithinTheCacheTTL(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.DirectoryCacheTTL = 50 * time.Millisecond })
	_, doc := f.clientCredentials(2, nil)
	if _, c := f.claimsOf(doc["access_token"].(string)); c["roles"] == nil {
		t.Fatalf("roles missing before the change: %v", c)
	}
	ctx := context.Background()
	if err := f.store.Update(ctx, func(tx directory.Writer) error {
		return tx.DeleteAppRoleAssignment(ctx, tenantID, "d0000000-0000-4000-8000-000000000001")
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	_, doc = f.clientCredentials(2, nil)
	if _, c := f.claimsOf(doc["access_token"].(string)); c["roles"] != nil {
		t.Errorf("roles %v still granted after the assignment was removed", c["roles"])
	}
}
