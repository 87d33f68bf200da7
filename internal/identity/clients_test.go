package identity

import (
	"context"
	"crypto/x509"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The real client libraries, unchanged, against the service over TLS with the local CA.

func TestMSALConfidentialClient(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		cred    func() (confidential.Credential, error)
		wantACR string
	}{
		{name: "secret", cred: func() (confidential.Credential, error) { return confidential.NewCredFromSecret(f.secret) }, wantACR: "1"},
		{name: "certificate (PS256, x5t#S256)", cred: func() (confidential.Credential, error) {
			return confidential.NewCredFromCert([]*x509.Certificate{f.cert}, f.certKey)
		}, wantACR: "2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cred, err := tc.cred()
			if err != nil {
				t.Fatal(err)
			}
			app, err := confidential.New(f.url+"/"+tenantID, clientAppID, cred,
				confidential.WithHTTPClient(f.httpClient()), confidential.WithInstanceDiscovery(false))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := app.AcquireTokenByCredential(ctx, []string{backendURI + "/.default"})
			if err != nil {
				t.Fatalf("MSAL: %v", err)
			}
			_, c := f.claimsOf(res.AccessToken)
			if c["aud"] != backendAppID || c["azp"] != clientAppID || c["azpacr"] != tc.wantACR {
				t.Errorf("claims aud %v azp %v azpacr %v", c["aud"], c["azp"], c["azpacr"])
			}
			if res.ExpiresOn.Before(time.Now().Add(59 * time.Minute)) {
				t.Errorf("expires on %v", res.ExpiresOn)
			}
		})
	}
}

func TestMSALPublicClientDeviceCode(t *testing.T) {
	f := newFixture(t)
	app, err := public.New(publicAppID, public.WithAuthority(f.url+"/"+tenantID),
		public.WithHTTPClient(f.httpClient()), public.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dc, err := app.AcquireTokenByDeviceCode(ctx, []string{backendURI + "/" + filesRead})
	if err != nil {
		t.Fatalf("device code: %v", err)
	}
	if dc.Result.VerificationURL != f.url+"/devicelogin" || len(dc.Result.UserCode) != 9 {
		t.Fatalf("device code result %+v", dc.Result)
	}
	// The user's step: open the verification page, enter the code and sign in.
	done := make(chan error, 1)
	go func() {
		resp, err := f.client.Get(dc.Result.VerificationURL)
		if err != nil {
			done <- err
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		form := parseForm(t, string(body))
		r, page := f.submit(form, url.Values{"otc": {dc.Result.UserCode}, "login": {userName}, "passwd": {userPassword}})
		if r.StatusCode != 200 || !strings.Contains(page, "signed in to the") {
			t.Errorf("verification page answered %d:\n%s", r.StatusCode, page)
		}
		done <- nil
	}()
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatalf("MSAL device code result: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, c := f.claimsOf(res.AccessToken)
	if c["scp"] != filesRead || c["oid"] != userID || c["azp"] != publicAppID {
		t.Errorf("claims %v", c)
	}
	if res.Account.HomeAccountID != userID+"."+tenantID || res.Account.PreferredUsername != userName {
		t.Errorf("account %+v", res.Account)
	}
	// MSAL's cache holds the refresh token: a silent call works.
	silent, err := app.AcquireTokenSilent(ctx, []string{backendURI + "/" + filesRead}, public.WithSilentAccount(res.Account))
	if err != nil || silent.AccessToken == "" {
		t.Fatalf("silent: %v", err)
	}
}

func TestOAuth2ClientCredentials(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		style oauth2.AuthStyle
	}{
		{name: "secret in header", style: oauth2.AuthStyleInHeader},
		{name: "secret in body", style: oauth2.AuthStyleInParams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: clientAppID, ClientSecret: f.secret, TokenURL: f.tokenURL(2), Scopes: []string{backendURI + "/.default"}, AuthStyle: tc.style}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.httpClient())
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 59*time.Minute {
				t.Errorf("token type %s expiry %v", tok.TokenType, tok.Expiry)
			}
			_, c := f.claimsOf(tok.AccessToken)
			if c["roles"] == nil {
				t.Errorf("no roles: %v", c)
			}
		})
	}
}

func TestGoOIDCDiscoveryAndIDToken(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		issuer  string
		version int
	}{
		{name: "v2", issuer: f.url + "/" + tenantID + "/v2.0", version: 2},
		{name: "v1", issuer: f.url + "/" + tenantID + "/", version: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := oidc.ClientContext(context.Background(), f.httpClient())
			provider, err := oidc.NewProvider(ctx, tc.issuer)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			conf := oauth2.Config{ClientID: clientAppID, ClientSecret: f.secret, Endpoint: provider.Endpoint(), RedirectURL: clientRedir, Scopes: []string{oidc.ScopeOpenID, "profile"}}
			authURL, err := url.Parse(conf.AuthCodeURL("state-1", oidc.Nonce("nonce-1")))
			if err != nil {
				t.Fatal(err)
			}
			resp, body := f.authorize(tc.version, authURL.Query(), userName, userPassword)
			q := codeFrom(t, resp, body)
			tok, err := conf.Exchange(ctx, q.Get("code"))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := provider.Verifier(&oidc.Config{ClientID: clientAppID}).Verify(ctx, raw)
			if err != nil {
				t.Fatalf("ID token verification: %v", err)
			}
			if idt.Nonce != "nonce-1" {
				t.Errorf("nonce %q", idt.Nonce)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash: %v", err)
			}
			var claims struct {
				Name string `json:"name"`
				Oid  string `json:"oid"`
			}
			if err := idt.Claims(&claims); err != nil || claims.Name != "Alice" || claims.Oid != userID {
				t.Errorf("claims %+v %v", claims, err)
			}
			if tc.version == 2 {
				info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
				if err != nil || info.Subject != idt.Subject {
					t.Errorf("userinfo %+v %v", info, err)
				}
			}
		})
	}
}

func TestDeviceCodePolling(t *testing.T) {
	f := newFixture(t)
	for _, version := range []int{1, 2} {
		t.Run("v"+itoa(version), func(t *testing.T) {
			path := "/oauth2/v2.0/devicecode"
			form := url.Values{"client_id": {publicAppID}, "scope": {backendURI + "/" + filesRead + " offline_access"}}
			if version == 1 {
				path = "/oauth2/devicecode"
				form = url.Values{"client_id": {publicAppID}, "resource": {backendURI}}
			}
			status, dc, _ := f.post(f.url+"/"+tenantID+path, form, nil)
			if status != 200 {
				t.Fatalf("%d %v", status, dc)
			}
			if version == 1 {
				if _, ok := dc["expires_in"].(string); !ok || dc["verification_url"] != f.url+"/devicelogin" {
					t.Errorf("v1 device code response %v", dc)
				}
			} else if dc["expires_in"] != float64(900) || dc["verification_uri"] != f.url+"/devicelogin" {
				t.Errorf("v2 device code response %v", dc)
			}
			poll := url.Values{"grant_type": {grantDeviceCode}, "client_id": {publicAppID}, "device_code": {dc["device_code"].(string)}}
			status, doc, _ := f.post(f.tokenURL(version), poll, nil)
			assertEntraError(t, f, status, doc, 70016)
			status, doc, _ = f.post(f.tokenURL(version), poll, nil)
			assertEntraErrorAs(t, f, status, doc, 70016, "slow_down", 400)
			f.clock.Advance(2 * time.Second)
			status, doc, _ = f.post(f.tokenURL(version), poll, nil)
			assertEntraError(t, f, status, doc, 70016)
			// The user signs in on the verification page.
			resp, body := f.get(f.url + "/devicelogin")
			r, page := f.submit(parseForm(t, string(body)), url.Values{"otc": {dc["user_code"].(string)}, "login": {userName}, "passwd": {userPassword}})
			if resp.StatusCode != 200 || r.StatusCode != 200 || !strings.Contains(page, "signed in to the") {
				t.Fatalf("verification page %d/%d", resp.StatusCode, r.StatusCode)
			}
			status, doc, _ = f.post(f.tokenURL(version), poll, nil)
			if status != 200 || doc["refresh_token"] == nil {
				t.Fatalf("%d %v", status, doc)
			}
			// Used once.
			status, doc, _ = f.post(f.tokenURL(version), poll, nil)
			assertEntraError(t, f, status, doc, 70018)
		})
	}
	t.Run("expired", func(t *testing.T) {
		_, dc, _ := f.post(f.url+"/"+tenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {publicAppID}, "scope": {backendURI + "/" + filesRead}}, nil)
		f.clock.Advance(deviceLifetime + time.Second)
		status, doc, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {grantDeviceCode}, "client_id": {publicAppID}, "device_code": {dc["device_code"].(string)}}, nil)
		assertEntraError(t, f, status, doc, 70019)
	})
}

func TestOnBehalfOf(t *testing.T) {
	f := newFixture(t)
	// The user's token for client-app's own API (client-app is the middle tier): give
	// client-app an identifier URI and scope, and let public-app call it.
	ctx := context.Background()
	if err := f.exposeClientAPI(ctx); err != nil {
		t.Fatal(err)
	}
	_, challenge := pkcePair()
	params := publicAuthorizeParams(challenge)
	params.Set("scope", "api://"+clientAppID+"/access_as_user")
	q := f.signInCode(params)
	verifier, _ := pkcePair()
	status, doc, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {"http://localhost:53123/callback"}, "code_verifier": {verifier}}, nil)
	if status != 200 {
		t.Fatalf("%d %v", status, doc)
	}
	userToken := doc["access_token"].(string)
	appToken := func() string {
		_, d := f.clientCredentials(2, nil)
		return d["access_token"].(string)
	}()
	tests := []struct {
		name      string
		assertion string
		clientID  string
		code      int
	}{
		{name: "user token for the middle tier", assertion: userToken, clientID: clientAppID},
		{name: "app-only token refused", assertion: appToken, clientID: clientAppID, code: 50013},
		{name: "tampered signature", assertion: userToken[:len(userToken)-4] + "AAAA", clientID: clientAppID, code: 50013},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {grantJWTBearer}, "client_id": {tc.clientID}, "client_secret": {f.secret}, "assertion": {tc.assertion},
				"requested_token_use": {"on_behalf_of"}, "scope": {backendURI + "/" + filesRead}}
			status, doc, _ := f.post(f.tokenURL(2), form, nil)
			if tc.code != 0 {
				assertEntraError(t, f, status, doc, tc.code)
				return
			}
			if status != 200 {
				t.Fatalf("%d %v", status, doc)
			}
			_, c := f.claimsOf(doc["access_token"].(string))
			if c["aud"] != backendAppID || c["azp"] != clientAppID || c["oid"] != userID || c["scp"] != filesRead {
				t.Errorf("OBO token claims %v", c)
			}
		})
	}
}

// TestDeviceCodeConsent: a device flow for a scope the user may consent to shows the consent
// page after sign-in; cancel makes the device's poll answer authorization_declined.
func TestDeviceCodeConsent(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		decision string
		code     int // 0: tokens
	}{{"decline", 70020}, {"accept", 0}} {
		t.Run(tc.decision, func(t *testing.T) {
			_, dc, _ := f.post(f.url+"/"+tenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {publicAppID}, "scope": {legacyURI + "/user_impersonation"}}, nil)
			_, body := f.get(f.url + "/devicelogin")
			r, page := f.submit(parseForm(t, string(body)), url.Values{"otc": {dc["user_code"].(string)}, "login": {userName}, "passwd": {userPassword}})
			if r.StatusCode != 200 || !strings.Contains(page, "Permissions requested") {
				t.Fatalf("no consent page: %d\n%s", r.StatusCode, page)
			}
			r, page = f.submit(parseForm(t, page), url.Values{"decision": {tc.decision}})
			if r.StatusCode != 200 {
				t.Fatalf("consent answer: %d\n%s", r.StatusCode, page)
			}
			status, doc, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {grantDeviceCode}, "client_id": {publicAppID}, "device_code": {dc["device_code"].(string)}}, nil)
			if tc.code != 0 {
				assertEntraError(t, f, status, doc, tc.code)
				return
			}
			if status != 200 {
				t.Fatalf("%d %v", status, doc)
			}
			if _, c := f.claimsOf(doc["access_token"].(string)); c["scp"] != "user_impersonation" {
				t.Errorf("claims %v", c)
			}
		})
	}
}
