package identity

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"portcullis/internal/directory"
)

// Lifetimes of protocol state (Entra's).
const (
	codeLifetime    = 10 * time.Minute
	refreshLifetime = 90 * 24 * time.Hour
	// spaRefreshLifetime is the fixed lifetime of a single-page application's refresh token.
	spaRefreshLifetime = 24 * time.Hour
	deviceLifetime     = 15 * time.Minute
)

// Grant record kinds.
const (
	kindCode     = "code"
	kindRefresh  = "refresh"
	kindDevice   = "device"
	kindUserCode = "usercode"
)

// userGrant is what a code, device code or refresh token stands for.
type userGrant struct {
	Version  int    `json:"version"` // endpoint version of the sign-in (ID token shape)
	TenantID string `json:"tid"`
	ClientID string `json:"client_id"`
	UserID   string `json:"user_id"`
	Scope    string `json:"scope"`
	Resource string `json:"resource,omitempty"` // v1 resource parameter
	AuthTime int64  `json:"auth_time"`
	// Authorization code only.
	RedirectURI   string `json:"redirect_uri,omitempty"`
	Nonce         string `json:"nonce,omitempty"`
	Challenge     string `json:"code_challenge,omitempty"`
	Method        string `json:"code_challenge_method,omitempty"`
	PublicRequest bool   `json:"public,omitempty"`
	// SPA: issued to a single-page application's redirect URI; only such grants are redeemed
	// cross-origin, and their refresh tokens live 24 hours (Entra's rule).
	SPA bool `json:"spa,omitempty"`
}

// grantAuthorizationCode redeems a code once. A code presented again revokes every refresh
// token issued from it (RFC 9700 §4.5.3.1 recommends it).
func (s *Server) grantAuthorizationCode(r *http.Request, req *tokenRequest) (*issuedTokens, error) {
	ctx := r.Context()
	if req.code == "" {
		return nil, errMissingParameter("code")
	}
	key := grantKey(req.code)
	// Look first, consume last: a request that fails client authentication, redirect URI or
	// PKCE checks must not burn the code for its rightful client.
	rec, err := s.store.Grant(ctx, kindCode, key)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, errCodeInvalid()
	}
	if err != nil {
		return nil, fmt.Errorf("read authorization code: %w", err)
	}
	var g userGrant
	if err := json.Unmarshal(rec.Data, &g); err != nil {
		return nil, fmt.Errorf("decode authorization code: %w", err)
	}
	if req.clientID != "" && req.clientID != g.ClientID {
		return nil, newError(70002, "invalid_grant", 400, "The authorization code was issued to another client.")
	}
	if req.origin != "" && !g.SPA {
		return nil, errCrossOrigin()
	}
	if req.clientID == "" {
		req.clientID = g.ClientID
	}
	c, err := s.authenticateClient(ctx, req, g.PublicRequest)
	if err != nil {
		return nil, err
	}
	if c.tenantID != g.TenantID {
		return nil, errCodeInvalid()
	}
	if !rec.Used {
		if s.now().After(rec.Expires) {
			return nil, errCodeExpired()
		}
		if req.redirectURI != g.RedirectURI {
			return nil, errRedirectGrantMismatch()
		}
		if err := checkPKCE(g.Challenge, g.Method, req.codeVerifier); err != nil {
			return nil, err
		}
	}
	scope := g.Scope
	if req.scope != "" {
		scope = req.scope
	}
	// The code is consumed only once the tokens are ready, so a request that fails a check
	// leaves it for its rightful client.
	consume := func() error {
		var protoErr error
		err := s.store.Update(ctx, func(tx directory.Writer) error {
			rec, err := tx.Grant(ctx, kindCode, key)
			if errors.Is(err, directory.ErrNotFound) {
				protoErr = errCodeInvalid()
				return nil
			}
			if err != nil {
				return err
			}
			if rec.Used {
				// A replayed code: revoke every refresh token issued from it (RFC 9700 §4.5.3.1).
				protoErr = errCodeRedeemed()
				return tx.DeleteGrantFamily(ctx, rec.Family)
			}
			rec.Used = true
			return tx.PutGrant(ctx, rec)
		})
		if err != nil {
			return err
		}
		return protoErr
	}
	if rec.Used {
		return nil, consume()
	}
	return s.issueUserTokens(ctx, req, c, g, scope, rec.Family, idTokenInput{version: g.Version, nonce: g.Nonce}, consume)
}

// checkPKCE verifies code_verifier against the challenge stored with the code.
func checkPKCE(challenge, method, verifier string) error {
	if challenge == "" {
		return nil
	}
	if verifier == "" {
		return errPKCEMissingVerifier()
	}
	want := challenge
	got := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errPKCEMismatch()
	}
	return nil
}

// grantRefreshToken exchanges a refresh token for new tokens and a new refresh token. A
// refresh token used twice revokes its whole family (CONTRACT.md; Entra does not).
func (s *Server) grantRefreshToken(r *http.Request, req *tokenRequest) (*issuedTokens, error) {
	ctx := r.Context()
	if req.refreshToken == "" {
		return nil, errMissingParameter("refresh_token")
	}
	key := grantKey(req.refreshToken)
	rec, err := s.store.Grant(ctx, kindRefresh, key)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, errRefreshInvalid()
	}
	if err != nil {
		return nil, fmt.Errorf("read refresh token: %w", err)
	}
	var g userGrant
	if err := json.Unmarshal(rec.Data, &g); err != nil {
		return nil, fmt.Errorf("decode refresh token: %w", err)
	}
	if req.clientID != "" && req.clientID != g.ClientID {
		return nil, newError(70000, "invalid_grant", 400, "The refresh token was issued to another client.")
	}
	if req.origin != "" && !g.SPA {
		return nil, errCrossOrigin()
	}
	if req.clientID == "" {
		req.clientID = g.ClientID
	}
	if !req.tenant.Multi() && req.tenant.Tenant.ID != g.TenantID {
		return nil, errRefreshInvalid()
	}
	c, err := s.authenticateClient(ctx, req, g.PublicRequest)
	if err != nil {
		return nil, err
	}
	if c.tenantID != g.TenantID {
		return nil, errRefreshInvalid()
	}
	consume := func() error {
		var protoErr error
		err := s.store.Update(ctx, func(tx directory.Writer) error {
			rec, err := tx.Grant(ctx, kindRefresh, key)
			if errors.Is(err, directory.ErrNotFound) {
				protoErr = errRefreshInvalid()
				return nil
			}
			if err != nil {
				return err
			}
			if rec.Used {
				protoErr = errRefreshReused()
				return tx.DeleteGrantFamily(ctx, rec.Family)
			}
			if s.now().After(rec.Expires) {
				protoErr = errRefreshExpired()
				return tx.DeleteGrant(ctx, kindRefresh, key)
			}
			rec.Used = true
			return tx.PutGrant(ctx, rec)
		})
		if err != nil {
			return err
		}
		return protoErr
	}
	if rec.Used || s.now().After(rec.Expires) {
		return nil, consume()
	}
	scope := g.Scope
	if req.scope != "" {
		scope = req.scope
		if !strings.Contains(" "+scope+" ", " offline_access ") {
			// Narrowing scopes keeps the refresh token's offline access.
			scope += " offline_access"
		}
	}
	if req.resource != "" {
		g.Resource = req.resource
	}
	return s.issueUserTokens(ctx, req, c, g, scope, rec.Family, idTokenInput{version: g.Version}, consume)
}

// issueUserTokens mints the delegated access token, and the ID and refresh tokens that the
// scopes ask for. consume, when set, uses up the code or refresh token being redeemed: it runs
// after every check has passed and before a new refresh token is stored, so a failed request
// burns nothing and a replay loses the race cleanly.
func (s *Server) issueUserTokens(ctx context.Context, req *tokenRequest, c *client, g userGrant, scope, family string, idIn idTokenInput, consume func() error) (*issuedTokens, error) {
	user, err := s.store.User(ctx, c.tenantID, g.UserID)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, errUnknownUser(c.tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	if !user.AccountEnabled {
		return nil, errUserDisabled()
	}
	q, err := parseScopes(scope)
	if err != nil {
		return nil, err
	}
	if g.Resource != "" && q.resource == "" {
		q.resource, q.permissions = g.Resource, []string{".default"}
	}
	subj := &grantSubject{client: c, user: user, authTime: time.Unix(g.AuthTime, 0)}
	if q.resource == "" {
		// Only OpenID scopes: Entra issues a Microsoft Graph token, which userinfo accepts.
		subj.resource = graphResource()
		for _, o := range q.oidc {
			if o != "offline_access" {
				subj.scp = append(subj.scp, o)
			}
		}
	} else {
		res, err := s.findResource(ctx, c.tenantID, q.resource)
		if err != nil {
			return nil, err
		}
		if err := checkPermissions(res, q.permissions); err != nil {
			return nil, err
		}
		if subj.scp, err = s.delegatedScopes(ctx, c, res, user.ID, q.permissions); err != nil {
			return nil, err
		}
		if subj.roles, err = s.appRoles(ctx, c.tenantID, user.ID, res, "User"); err != nil {
			return nil, err
		}
		subj.resource = res
	}
	out, err := s.mintAccessToken(ctx, subj)
	if err != nil {
		return nil, err
	}
	out.scope = responseScope(req.version, subj, q)
	if q.has("openid") {
		idIn.accessToken = out.accessToken
		if idIn.version == 0 {
			idIn.version = req.version
		}
		if out.idToken, err = s.mintIDToken(ctx, subj, idIn); err != nil {
			return nil, err
		}
	}
	if consume != nil {
		if err := consume(); err != nil {
			return nil, err
		}
	}
	if q.has("offline_access") || req.version == 1 {
		if family == "" {
			family = uuid.NewString()
		}
		g.Scope = scope
		if out.refreshToken, err = s.storeRefreshToken(ctx, g, family); err != nil {
			return nil, err
		}
	}
	if req.clientInfo {
		out.clientInfo = clientInfo(user.ID, c.tenantID)
	}
	return out, nil
}

// storeRefreshToken makes a refresh token of family and keeps its hash.
func (s *Server) storeRefreshToken(ctx context.Context, g userGrant, family string) (string, error) {
	rt := randomToken()
	data, err := json.Marshal(g)
	if err != nil {
		return "", err
	}
	life := refreshLifetime
	if g.SPA {
		life = spaRefreshLifetime
	}
	rec := &directory.GrantRecord{Kind: kindRefresh, Key: grantKey(rt), Family: family, TenantID: g.TenantID, Data: data, Expires: s.now().Add(life)}
	if err := s.store.Update(ctx, func(tx directory.Writer) error { return tx.PutGrant(ctx, rec) }); err != nil {
		return "", fmt.Errorf("store refresh token: %w", err)
	}
	return rt, nil
}

// responseScope is the response's scope: v2 lists the granted permissions qualified by the
// resource plus the OpenID scopes; v1 lists the permission values.
func responseScope(version int, subj *grantSubject, q scopeRequest) string {
	if version == 1 {
		return strings.Join(subj.scp, " ")
	}
	var parts []string
	if subj.resource.app.AppID != graphAppID {
		prefix := strings.TrimSuffix(subj.resource.audience, "/")
		for _, p := range subj.scp {
			parts = append(parts, prefix+"/"+p)
		}
	} else {
		parts = append(parts, subj.scp...)
	}
	for _, o := range q.oidc {
		if !containsString(parts, o) {
			parts = append(parts, o)
		}
	}
	return strings.Join(parts, " ")
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// graphResource stands for Microsoft Graph when a sign-in names no API: a v1 token whose
// audience is Graph's app ID, accepted only by this service's userinfo endpoint.
func graphResource() *resource {
	return &resource{
		app:      &directory.Application{AppID: graphAppID, DisplayName: "Microsoft Graph", AccessTokenVersion: 1},
		sp:       &directory.ServicePrincipal{ID: graphAppID, AppID: graphAppID},
		audience: graphAppID,
	}
}
