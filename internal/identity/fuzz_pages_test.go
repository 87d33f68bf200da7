package identity

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// formRoutes are the identity service's request parsers besides the token endpoint: the
// authorize request (query or form post), the sign-in and consent forms, the device code
// request and the device sign-in forms.
var formRoutes = []struct{ method, path string }{
	{http.MethodGet, "/" + tenantID + "/oauth2/v2.0/authorize"},
	{http.MethodPost, "/" + tenantID + "/oauth2/v2.0/authorize"},
	{http.MethodGet, "/" + tenantID + "/oauth2/authorize"},
	{http.MethodPost, "/" + tenantID + "/login"},
	{http.MethodPost, "/" + tenantID + "/consent"},
	{http.MethodPost, "/" + tenantID + "/oauth2/v2.0/devicecode"},
	{http.MethodPost, "/" + tenantID + "/oauth2/devicecode"},
	{http.MethodGet, "/devicelogin"},
	{http.MethodPost, "/devicelogin"},
	{http.MethodPost, "/devicelogin/consent"},
	{http.MethodGet, "/" + tenantID + "/oauth2/v2.0/logout"},
}

// FuzzFormEndpoints sends arbitrary queries and form bodies to every page and device
// endpoint, with a CSRF cookie that matches the form's csrf_token when the input carries one
// (so that the parsers behind the CSRF check are reached too): never a 5xx, never a panic.
func FuzzFormEndpoints(f *testing.F) {
	fx := newFixture(f)
	csrf := strings.Repeat("c", 43)
	for _, s := range []struct {
		route       uint8
		query, body string
	}{
		{0, "client_id=" + publicAppID + "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A5000&scope=openid+api%3A%2F%2Fx%2F.default&code_challenge=abc&code_challenge_method=S256&state=s&nonce=n", ""},
		{1, "", "client_id=" + clientAppID + "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A5000%2Fcallback&response_mode=form_post&prompt=login"},
		{2, "client_id=" + clientAppID + "&response_type=code&resource=api%3A%2F%2Fx", ""},
		{3, "", "csrf_token=" + csrf + "&client_id=" + publicAppID + "&login=" + userName + "&passwd=wrong&redirect_uri=http%3A%2F%2Flocalhost&response_type=code"},
		{4, "", "csrf_token=" + csrf + "&client_id=" + publicAppID + "&accept=yes"},
		{5, "", "client_id=" + publicAppID + "&scope=openid+offline_access"},
		{6, "", "client_id=" + publicAppID + "&resource=api%3A%2F%2Fx"},
		{7, "otc=ABCD-EFGH", ""},
		{8, "", "csrf_token=" + csrf + "&otc=ABCDEFGHI&login=" + userName + "&passwd=x"},
		{9, "", "csrf_token=" + csrf + "&otc=%00&accept=1"},
		{10, "post_logout_redirect_uri=http%3A%2F%2Flocalhost&state=%zz", ""},
		{1, "", "%zz&&=&" + strings.Repeat("a=b&", 50)},
	} {
		f.Add(s.route, s.query, s.body)
	}
	h := fx.server.Handler()
	f.Fuzz(func(t *testing.T, route uint8, query, body string) {
		r := formRoutes[int(route)%len(formRoutes)]
		req := httptest.NewRequest(r.method, "https://id.example"+r.path, strings.NewReader(body))
		// Only what a client can put in a request line reaches the handler.
		req.URL.RawQuery = strings.Map(func(c rune) rune {
			if c <= ' ' || c == '#' || c >= 0x7f {
				return -1
			}
			return c
		}, query)
		req.RemoteAddr = "192.0.2.1:1234"
		if r.method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: csrf})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s with %q: status %d: %s", r.method, r.path, req.URL.RawQuery, body, rec.Code, rec.Body)
		}
	})
}
