package identity

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"portcullis/internal/directory"
)

var (
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	alertRE  = regexp.MustCompile(`<p class="error" role="alert" id="error">([^<]*)</p>`)
)

// htmlForm is a form read from a page, as a browser without JavaScript sees it.
type htmlForm struct {
	action string
	fields url.Values
}

func parseForm(t testing.TB, body string) htmlForm {
	t.Helper()
	m := actionRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form on the page:\n%s", body)
	}
	f := htmlForm{action: html.UnescapeString(m[1]), fields: url.Values{}}
	for _, h := range hiddenRE.FindAllStringSubmatch(body, -1) {
		f.fields.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return f
}

// submit posts a page's form with extra fields and returns the response.
func (f *fixture) submit(form htmlForm, extra url.Values) (*http.Response, string) {
	f.t.Helper()
	values := url.Values{}
	for k, v := range form.fields {
		values[k] = v
	}
	for k, v := range extra {
		values[k] = v
	}
	target := form.action
	if strings.HasPrefix(target, "/") {
		target = f.url + target
	}
	resp, err := f.client.PostForm(target, values)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// authorize opens the sign-in page for params and signs in; it returns the response the
// browser gets after posting the form.
func (f *fixture) authorize(version int, params url.Values, user, password string) (*http.Response, string) {
	f.t.Helper()
	path := "/oauth2/v2.0/authorize"
	if version == 1 {
		path = "/oauth2/authorize"
	}
	resp, body := f.get(f.url + "/" + tenantID + path + "?" + params.Encode())
	if resp.StatusCode != 200 {
		return resp, string(body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		f.t.Errorf("sign-in page CSP %q", csp)
	}
	return f.submit(parseForm(f.t, string(body)), url.Values{"login": {user}, "passwd": {password}})
}

func pkcePair() (verifier, challenge string) {
	verifier = "verifier-" + strings.Repeat("x", 50)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func publicAuthorizeParams(challenge string) url.Values {
	return url.Values{
		"client_id": {publicAppID}, "response_type": {"code"}, "redirect_uri": {"http://localhost:53123/callback"},
		"scope": {backendURI + "/" + filesRead + " openid profile offline_access"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
}

// codeFrom reads the code from the redirect.
func codeFrom(t testing.TB, resp *http.Response, body string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in answered %d, want a redirect:\n%s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	f := newFixture(t)
	verifier, challenge := pkcePair()
	resp, body := f.authorize(2, publicAuthorizeParams(challenge), userName, userPassword)
	q := codeFrom(t, resp, body)
	if q.Get("state") != "st-1" || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "http://localhost:53123/callback?") {
		t.Errorf("redirected to %s: a loopback redirect URI keeps the requested port", loc)
	}
	redeem := url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")},
		"redirect_uri": {"http://localhost:53123/callback"}, "code_verifier": {verifier}, "client_info": {"1"}}
	status, doc, _ := f.post(f.tokenURL(2), redeem, nil)
	if status != 200 {
		t.Fatalf("redeem: %d %v", status, doc)
	}
	_, at := f.claimsOf(doc["access_token"].(string))
	if at["scp"] != filesRead || at["aud"] != backendAppID || at["azp"] != publicAppID || at["azpacr"] != "0" || at["oid"] != userID || at["preferred_username"] != userName || at["idtyp"] != "user" {
		t.Errorf("access token claims %v", at)
	}
	if roles, _ := at["roles"].([]any); len(roles) != 1 || roles[0] != readAllRole {
		t.Errorf("user roles %v", at["roles"])
	}
	_, id := f.claimsOf(doc["id_token"].(string))
	if id["aud"] != publicAppID || id["nonce"] != "n-1" || id["at_hash"] == nil || id["iss"] != f.url+"/"+tenantID+"/v2.0" || id["sub"] != at["sub"] {
		t.Errorf("ID token claims %v", id)
	}
	if doc["refresh_token"] == nil || doc["client_info"] == nil {
		t.Fatalf("response lacks refresh_token or client_info: %v", doc)
	}
	info, _ := base64.RawURLEncoding.DecodeString(doc["client_info"].(string))
	var ci map[string]string
	if json.Unmarshal(info, &ci) != nil || ci["uid"] != userID || ci["utid"] != tenantID {
		t.Errorf("client_info %s", info)
	}
	if doc["scope"] != backendURI+"/"+filesRead+" openid profile offline_access" {
		t.Errorf("scope %v", doc["scope"])
	}

	// Refresh rotates; the old refresh token used again revokes the family.
	rt1 := doc["refresh_token"].(string)
	status, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {rt1}}, nil)
	if status != 200 || doc["refresh_token"] == nil || doc["refresh_token"] == rt1 {
		t.Fatalf("refresh: %d %v", status, doc)
	}
	rt2 := doc["refresh_token"].(string)
	status, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {rt1}}, nil)
	assertEntraError(t, f, status, doc, 70000)
	status, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {rt2}}, nil)
	assertEntraError(t, f, status, doc, 70000)
}

func TestCodeReplayRevokesRefreshTokens(t *testing.T) {
	f := newFixture(t)
	verifier, challenge := pkcePair()
	q := f.signInCode(publicAuthorizeParams(challenge))
	redeem := url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {"http://localhost:53123/callback"}, "code_verifier": {verifier}}
	status, doc, _ := f.post(f.tokenURL(2), redeem, nil)
	if status != 200 {
		t.Fatalf("%d %v", status, doc)
	}
	rt := doc["refresh_token"].(string)
	status, doc, _ = f.post(f.tokenURL(2), redeem, nil)
	assertEntraError(t, f, status, doc, 54005)
	status, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {rt}}, nil)
	assertEntraError(t, f, status, doc, 70000)
}

func (f *fixture) authorizeOK(params url.Values) (*http.Response, string) {
	return f.authorize(2, params, userName, userPassword)
}

// signInCode signs Alice in and returns the redirect's query.
func (f *fixture) signInCode(params url.Values) url.Values {
	f.t.Helper()
	resp, body := f.authorizeOK(params)
	return codeFrom(f.t, resp, body)
}

func TestAuthorizationCodeRedemptionErrors(t *testing.T) {
	f := newFixture(t)
	verifier, challenge := pkcePair()
	tests := []struct {
		name   string
		mutate func(url.Values)
		wait   time.Duration
		code   int
	}{
		{name: "verifier missing", mutate: func(v url.Values) { v.Del("code_verifier") }, code: 50148},
		{name: "verifier does not match", mutate: func(v url.Values) { v.Set("code_verifier", verifier+"x") }, code: 501481},
		{name: "code expired", wait: codeLifetime + time.Second, code: 70008},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := f.signInCode(publicAuthorizeParams(challenge))
			form := url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {"http://localhost:53123/callback"}, "code_verifier": {verifier}}
			if tc.mutate != nil {
				tc.mutate(form)
			}
			f.clock.Advance(tc.wait)
			status, doc, _ := f.post(f.tokenURL(2), form, nil)
			assertEntraError(t, f, status, doc, tc.code)
		})
	}
}

func TestRefreshTokenExpiry(t *testing.T) {
	f := newFixture(t)
	verifier, challenge := pkcePair()
	q := f.signInCode(publicAuthorizeParams(challenge))
	status, doc, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {"http://localhost:53123/callback"}, "code_verifier": {verifier}}, nil)
	if status != 200 {
		t.Fatalf("%d %v", status, doc)
	}
	f.clock.Advance(refreshLifetime + time.Hour)
	status, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {doc["refresh_token"].(string)}}, nil)
	assertEntraError(t, f, status, doc, 700082)
}

func TestAuthorizeRequestErrors(t *testing.T) {
	f := newFixture(t)
	_, challenge := pkcePair()
	tests := []struct {
		name      string
		mutate    func(url.Values)
		user      string
		password  string
		wantPage  int    // AADSTS code shown on an error page (not redirected)
		wantError string // error redirected to the client
		wantAlert int    // AADSTS code shown on the sign-in form again
	}{
		{name: "redirect URI not registered", mutate: func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, wantPage: 50011},
		{name: "loopback with another path", mutate: func(v url.Values) { v.Set("redirect_uri", "http://localhost:5000/other") }, wantPage: 50011},
		{name: "unknown client", mutate: func(v url.Values) { v.Set("client_id", "00000000-1111-4000-8000-000000000000") }, wantPage: 700016},
		{name: "public client without PKCE", mutate: func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, wantError: "invalid_request"},
		{name: "public client with plain PKCE", mutate: func(v url.Values) { v.Set("code_challenge_method", "plain") }, wantError: "invalid_request"},
		{name: "implicit response type", mutate: func(v url.Values) { v.Set("response_type", "token") }, wantError: "unsupported_response_type"},
		{name: "disabled scope", mutate: func(v url.Values) { v.Set("scope", backendURI+"/"+filesWrite) }, wantError: "invalid_scope"},
		{name: "silent sign-in without a session", mutate: func(v url.Values) { v.Set("prompt", "none") }, wantError: "login_required"},
		{name: "wrong password", password: "nope", wantAlert: 50126},
		{name: "unknown user", user: "bob@contoso.example", wantAlert: 50034},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := publicAuthorizeParams(challenge)
			if tc.mutate != nil {
				tc.mutate(params)
			}
			user, password := userName, userPassword
			if tc.user != "" {
				user = tc.user
			}
			if tc.password != "" {
				password = tc.password
			}
			resp, body := f.authorize(2, params, user, password)
			switch {
			case tc.wantPage != 0:
				if resp.StatusCode != 400 || !strings.Contains(body, "AADSTS"+itoa(tc.wantPage)+":") || resp.Header.Get("Location") != "" {
					t.Errorf("status %d, Location %q; want a 400 page with AADSTS%d:\n%s", resp.StatusCode, resp.Header.Get("Location"), tc.wantPage, body)
				}
			case tc.wantError != "":
				q := codeFrom(t, resp, body)
				if q.Get("error") != tc.wantError || q.Get("state") != "st-1" || !strings.HasPrefix(q.Get("error_description"), "AADSTS") {
					t.Errorf("redirect query %v, want error=%s", q, tc.wantError)
				}
			default:
				m := alertRE.FindStringSubmatch(body)
				if resp.StatusCode != 200 || m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), "AADSTS"+itoa(tc.wantAlert)+":") {
					t.Errorf("status %d alert %v, want AADSTS%d on the sign-in page", resp.StatusCode, m, tc.wantAlert)
				}
			}
		})
	}
}

func TestSignInCSRF(t *testing.T) {
	f := newFixture(t)
	_, challenge := pkcePair()
	resp, body := f.get(f.url + "/" + tenantID + "/oauth2/v2.0/authorize?" + publicAuthorizeParams(challenge).Encode())
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	form := parseForm(t, string(body))
	// A cross-site form: no cookie of ours, a guessed token.
	other := &http.Client{Transport: f.client.Transport, CheckRedirect: f.client.CheckRedirect}
	values := form.fields
	values.Set("csrf_token", strings.Repeat("A", 43))
	values.Set("login", userName)
	values.Set("passwd", userPassword)
	r, err := other.PostForm(f.url+form.action, values)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 400 || r.Header.Get("Location") != "" {
		t.Errorf("forged sign-in answered %d (Location %q), want 400 and no code", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestUserLockout(t *testing.T) {
	f := newFixture(t)
	_, challenge := pkcePair()
	for i := 0; i < throttleFailures; i++ {
		f.authorize(2, publicAuthorizeParams(challenge), userName, "wrong")
	}
	resp, body := f.authorize(2, publicAuthorizeParams(challenge), userName, userPassword)
	if m := alertRE.FindStringSubmatch(body); resp.StatusCode != 200 || m == nil || !strings.HasPrefix(m[1], "AADSTS50053:") {
		t.Fatalf("after %d failures the right password got %d %v, want AADSTS50053", throttleFailures, resp.StatusCode, m)
	}
	f.clock.Advance(throttleLockout + time.Second)
	f.signInCode(publicAuthorizeParams(challenge))
}

func TestFormPostResponseMode(t *testing.T) {
	f := newFixture(t)
	params := url.Values{"client_id": {clientAppID}, "response_type": {"code"}, "redirect_uri": {clientRedir}, "scope": {"openid profile"}, "state": {"s&t"}, "response_mode": {"form_post"}, "nonce": {"n"}}
	resp, body := f.authorize(2, params, userName, userPassword)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	form := parseForm(t, body)
	if form.action != clientRedir || form.fields.Get("state") != "s&t" || form.fields.Get("code") == "" {
		t.Fatalf("form_post form %+v", form)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action https://app.contoso.example") {
		t.Errorf("CSP %q", csp)
	}
	// A confidential client redeems without PKCE but must authenticate.
	redeem := url.Values{"grant_type": {"authorization_code"}, "client_id": {clientAppID}, "code": {form.fields.Get("code")}, "redirect_uri": {clientRedir}}
	status, doc, _ := f.post(f.tokenURL(2), redeem, nil)
	assertEntraError(t, f, status, doc, 7000218)
	redeem.Set("client_secret", f.secret)
	status, doc, _ = f.post(f.tokenURL(2), redeem, nil)
	if status != 200 || doc["id_token"] == nil {
		t.Fatalf("%d %v", status, doc)
	}
	// No API scope: a Graph-audience token, which userinfo accepts.
	req, _ := http.NewRequest(http.MethodGet, f.url+"/oidc/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+doc["access_token"].(string))
	r, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var info map[string]string
	if err := json.NewDecoder(r.Body).Decode(&info); err != nil || r.StatusCode != 200 {
		t.Fatalf("userinfo %d %v", r.StatusCode, err)
	}
	_, id := f.claimsOf(doc["id_token"].(string))
	if info["sub"] != id["sub"] || info["name"] != "Alice" || info["email"] != userName {
		t.Errorf("userinfo %v, ID token sub %v", info, id["sub"])
	}
}

func TestConsent(t *testing.T) {
	f := newFixture(t)
	// client-app holds admin consent for legacy-api; public-app holds none.
	f.signInCode(url.Values{"client_id": {clientAppID}, "response_type": {"code"}, "redirect_uri": {clientRedir}, "scope": {legacyURI + "/user_impersonation"}})
	verifier, challenge := pkcePair()
	params := func(scope string) url.Values {
		return url.Values{"client_id": {publicAppID}, "response_type": {"code"}, "redirect_uri": {publicRedir}, "scope": {scope}, "state": {"s"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	}
	t.Run("admin scope without admin consent", func(t *testing.T) {
		q := f.signInCode(params(legacyURI + "/Legacy.Admin"))
		if q.Get("error") != "consent_required" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65001:") {
			t.Errorf("redirect query %v, want consent_required AADSTS65001", q)
		}
	})
	t.Run("user declines", func(t *testing.T) {
		resp, body := f.authorizeOK(params(legacyURI + "/user_impersonation"))
		if resp.StatusCode != 200 || !strings.Contains(body, "Use the legacy API as you") {
			t.Fatalf("no consent page: %d\n%s", resp.StatusCode, body)
		}
		r, page := f.submit(parseForm(t, body), url.Values{"decision": {"decline"}})
		q := codeFrom(t, r, page)
		if q.Get("error") != "access_denied" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65004:") {
			t.Errorf("redirect query %v", q)
		}
	})
	t.Run("user accepts, and is not asked again", func(t *testing.T) {
		_, body := f.authorizeOK(params(legacyURI + "/user_impersonation"))
		form := parseForm(t, body)
		r, page := f.submit(form, url.Values{"decision": {"accept"}})
		q := codeFrom(t, r, page)
		status, doc, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {publicRedir}, "code_verifier": {verifier}}, nil)
		if status != 200 {
			t.Fatalf("%d %v", status, doc)
		}
		if _, c := f.claimsOf(doc["access_token"].(string)); c["scp"] != "user_impersonation" || c["aud"] != legacyURI {
			t.Errorf("claims %v", c)
		}
		// The ticket is single use.
		r, _ = f.submit(form, url.Values{"decision": {"accept"}})
		if r.StatusCode != 400 {
			t.Errorf("a consent ticket used twice answered %d", r.StatusCode)
		}
		// Consent is remembered for this user.
		if q := f.signInCode(params(legacyURI + "/user_impersonation")); q.Get("code") == "" {
			t.Errorf("asked again: %v", q)
		}
	})
}

func TestV1DelegatedToken(t *testing.T) {
	f := newFixture(t)
	params := url.Values{"client_id": {clientAppID}, "response_type": {"code"}, "redirect_uri": {clientRedir}, "resource": {legacyURI}, "state": {"s"}}
	resp, body := f.authorize(1, params, userName, userPassword)
	q := codeFrom(t, resp, body)
	if q.Get("session_state") == "" {
		t.Errorf("v1 authorize response lacks session_state: %v", q)
	}
	status, doc, _ := f.post(f.tokenURL(1), url.Values{"grant_type": {"authorization_code"}, "client_id": {clientAppID}, "client_secret": {f.secret}, "code": {q.Get("code")}, "redirect_uri": {clientRedir}, "resource": {legacyURI}}, nil)
	if status != 200 {
		t.Fatalf("%d %v", status, doc)
	}
	if doc["resource"] != legacyURI || doc["scope"] != "user_impersonation" || doc["refresh_token"] == nil {
		t.Errorf("v1 response %v", doc)
	}
	if _, ok := doc["expires_in"].(string); !ok {
		t.Errorf("v1 expires_in %#v", doc["expires_in"])
	}
	h, c := f.claimsOf(doc["access_token"].(string))
	if h.X5t == "" || c["ver"] != "1.0" || c["aud"] != legacyURI || c["appid"] != clientAppID || c["appidacr"] != "1" || c["scp"] != "user_impersonation" {
		t.Errorf("v1 delegated header %+v claims %v", h, c)
	}
	for k, want := range map[string]any{"upn": userName, "unique_name": userName, "given_name": "Alice", "family_name": "Liddell", "name": "Alice", "oid": userID, "tid": tenantID, "idtyp": "user", "acr": "1"} {
		if c[k] != want {
			t.Errorf("%s = %v, want %v", k, c[k], want)
		}
	}
	if c["preferred_username"] != nil || c["azp"] != nil {
		t.Errorf("v2-only claims in a v1 token: %v", c)
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, query string
		wantLoc     string
	}{
		{name: "registered URI", query: "post_logout_redirect_uri=" + url.QueryEscape(clientRedir) + "&client_id=" + clientAppID + "&state=x", wantLoc: clientRedir + "?state=x"},
		{name: "unregistered URI is no open redirect", query: "post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/") + "&client_id=" + clientAppID},
		{name: "no client named", query: "post_logout_redirect_uri=" + url.QueryEscape(clientRedir)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := f.get(f.url + "/" + tenantID + "/oauth2/v2.0/logout?" + tc.query)
			if loc := resp.Header.Get("Location"); loc != tc.wantLoc {
				t.Errorf("Location %q, want %q", loc, tc.wantLoc)
			}
			if tc.wantLoc == "" && resp.StatusCode != 200 {
				t.Errorf("status %d, want the signed-out page", resp.StatusCode)
			}
		})
	}
}

// TestRefreshScopeErrors: a refresh request that fails a check answers Entra's error and
// leaves the refresh token usable.
func TestRefreshScopeErrors(t *testing.T) {
	f := newFixture(t)
	verifier, challenge := pkcePair()
	q := f.signInCode(publicAuthorizeParams(challenge))
	status, doc, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {"http://localhost:53123/callback"}, "code_verifier": {verifier}}, nil)
	if status != 200 {
		t.Fatalf("%d %v", status, doc)
	}
	rt := doc["refresh_token"].(string)
	tests := []struct {
		name  string
		scope string
		code  int
	}{
		{name: "disabled scope", scope: backendURI + "/" + filesWrite, code: 70011},
		{name: "scope the API does not expose", scope: backendURI + "/Nope", code: 70011},
		{name: "API without consent", scope: legacyURI + "/user_impersonation", code: 65001},
		{name: "unknown API", scope: "api://unknown/x", code: 500011},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, doc, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {rt}, "scope": {tc.scope}}, nil)
			assertEntraError(t, f, status, doc, tc.code)
			if tc.code == 65001 && doc["suberror"] != "consent_required" {
				t.Errorf("suberror %v", doc["suberror"])
			}
		})
	}
	status, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {rt}}, nil)
	if status != 200 {
		t.Fatalf("the refresh token was burned by failed requests: %d %v", status, doc)
	}
}

// TestSinglePageApplication: a code issued to a SPA redirect URI is redeemed cross-origin
// (CORS), its refresh token lives 24 hours; other grants refuse cross-origin requests.
func TestSinglePageApplication(t *testing.T) {
	f := newFixture(t)
	origin := http.Header{"Origin": {spaOrigin}}
	verifier, challenge := pkcePair()
	params := publicAuthorizeParams(challenge)
	params.Set("redirect_uri", spaRedir)
	q := f.signInCode(params)
	redeem := url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {spaRedir}, "code_verifier": {verifier}}
	status, doc, hdr := f.post(f.tokenURL(2), redeem, origin)
	if status != 200 || hdr.Get("Access-Control-Allow-Origin") != spaOrigin {
		t.Fatalf("SPA redemption: %d, ACAO %q: %v", status, hdr.Get("Access-Control-Allow-Origin"), doc)
	}
	rt := doc["refresh_token"].(string)
	status, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {rt}}, origin)
	if status != 200 {
		t.Fatalf("SPA refresh: %d %v", status, doc)
	}
	f.clock.Advance(spaRefreshLifetime + time.Minute)
	status, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {doc["refresh_token"].(string)}}, origin)
	assertEntraError(t, f, status, doc, 700082)

	t.Run("native code redeemed cross-origin", func(t *testing.T) {
		verifier, challenge := pkcePair()
		q := f.signInCode(publicAuthorizeParams(challenge))
		status, doc, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {"http://localhost:53123/callback"}, "code_verifier": {verifier}}, origin)
		assertEntraError(t, f, status, doc, 9002326)
	})
	t.Run("client credentials from a browser", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {f.secret}, "scope": {backendURI + "/.default"}}
		status, doc, _ := f.post(f.tokenURL(2), form, origin)
		assertEntraError(t, f, status, doc, 9002326)
	})
	t.Run("preflight", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, f.tokenURL(2), nil)
		req.Header.Set("Origin", spaOrigin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != spaOrigin || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("preflight %d %v", resp.StatusCode, resp.Header)
		}
	})
}

func TestPurgeExpired(t *testing.T) {
	f := newFixture(t)
	_, challenge := pkcePair()
	q := f.signInCode(publicAuthorizeParams(challenge))
	key := grantKey(q.Get("code"))
	ctx := context.Background()
	if err := f.server.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Grant(ctx, kindCode, key); err != nil {
		t.Fatalf("a live code was purged: %v", err)
	}
	f.clock.Advance(codeLifetime + time.Second)
	if err := f.server.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Grant(ctx, kindCode, key); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("expired code still stored: %v", err)
	}
}
