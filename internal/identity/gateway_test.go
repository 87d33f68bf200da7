package identity

import (
	"context"
	"net/url"
	"testing"
	"time"

	"portcullis/internal/jwt"
	"portcullis/internal/keys"
)

// TestTokensPassTheGatewayValidator validates the service's tokens with the gateway's own
// validate-jwt machinery (key cache from discovery, through authority aliases as the article's
// policy is written for Entra): v2 tokens against the v2 discovery and the API's client ID,
// v1 tokens against the v1 discovery and the Application ID URI; a token for another
// audience fails both.
func TestTokensPassTheGatewayValidator(t *testing.T) {
	f := newFixture(t)
	kc, err := keys.NewCache(keys.Options{Client: f.httpClient(), Aliases: keys.Aliases{"https://login.microsoftonline.com": f.url}})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	v2src, err := kc.Source("https://login.microsoftonline.com/" + tenantID + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	v1src, err := kc.Source("https://login.microsoftonline.com/" + tenantID + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kc.WaitReady(ctx); err != nil {
		t.Fatalf("keys: %v %+v", err, kc.Status())
	}
	v2, err := jwt.New(jwt.Config{KeySources: []jwt.KeySource{v2src}, Checks: jwt.Checks{Audiences: []string{backendAppID}, ClockSkew: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := jwt.New(jwt.Config{KeySources: []jwt.KeySource{v1src}, Checks: jwt.Checks{Audiences: []string{legacyURI}, ClockSkew: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}

	_, cc2 := f.clientCredentials(2, nil)
	_, cc1 := f.clientCredentials(2, url.Values{"scope": {legacyURI + "/.default"}})
	verifier, challenge := pkcePair()
	q := f.signInCode(publicAuthorizeParams(challenge))
	_, code, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {"http://localhost:53123/callback"}, "code_verifier": {verifier}}, nil)
	_, refreshed, _ := f.post(f.tokenURL(2), url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {code["refresh_token"].(string)}}, nil)

	tests := []struct {
		name      string
		token     any
		validator *jwt.Validator
		pass      bool
	}{
		{name: "client credentials, v2 resource", token: cc2["access_token"], validator: v2, pass: true},
		{name: "authorization code, v2 resource", token: code["access_token"], validator: v2, pass: true},
		{name: "refresh token, v2 resource", token: refreshed["access_token"], validator: v2, pass: true},
		{name: "client credentials, v1 resource", token: cc1["access_token"], validator: v1, pass: true},
		{name: "v1 token at the v2 policy", token: cc1["access_token"], validator: v2},
		{name: "v2 token at the v1 policy", token: cc2["access_token"], validator: v1},
		{name: "ID token (audience: the client)", token: code["id_token"], validator: v2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, ok := tc.token.(string)
			if !ok {
				t.Fatalf("no token: %v", tc.token)
			}
			_, err := tc.validator.Validate(raw)
			if (err == nil) != tc.pass {
				t.Errorf("validation error %v, want pass=%v", err, tc.pass)
			}
		})
	}
}
