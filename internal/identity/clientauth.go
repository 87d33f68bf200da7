package identity

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"portcullis/internal/directory"
	"portcullis/internal/jose"
)

// assertionSkew is the clock skew allowed on client assertions and incoming tokens.
const assertionSkew = 5 * time.Minute

// Values of appidacr / azpacr.
const (
	acrPublic      = "0"
	acrSecret      = "1"
	acrCertificate = "2"
)

// client is an authenticated (or, for public flows, identified) client application.
type client struct {
	tenantID string
	app      *directory.Application
	sp       *directory.ServicePrincipal
	acr      string
}

// findClient looks the client up. For common/organizations it searches the tenants, since
// the path does not name one.
func (s *Server) findClient(ctx context.Context, t tenantRef, clientID string) (*client, error) {
	if clientID == "" {
		return nil, errMissingParameter("client_id")
	}
	if t.Multi() {
		tenants, err := s.store.Tenants(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		for _, tn := range tenants {
			c, err := s.findClient(ctx, tenantRef{Segment: tn.ID, Tenant: &tn}, clientID)
			if err == nil {
				return c, nil
			}
			var pe *Error
			if !errors.As(err, &pe) {
				return nil, err
			}
		}
		return nil, errUnknownApp(clientID, t.Segment)
	}
	app, err := s.dir.ApplicationByAppID(ctx, t.Tenant.ID, clientID)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, errUnknownApp(clientID, t.Tenant.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("find client: %w", err)
	}
	sp, err := s.dir.ServicePrincipalByAppID(ctx, t.Tenant.ID, clientID)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, errUnknownApp(clientID, t.Tenant.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("find client service principal: %w", err)
	}
	if !sp.AccountEnabled {
		return nil, newError(7000112, "unauthorized_client", 400, "Application '%s'(%s) is disabled.", app.AppID, app.DisplayName)
	}
	return &client{tenantID: t.Tenant.ID, app: app, sp: sp}, nil
}

// authenticateClient checks the client's credential. With public=true a public client may
// send none (it is then acr "0"); a confidential client must always authenticate.
func (s *Server) authenticateClient(ctx context.Context, req *tokenRequest, allowPublic bool) (*client, error) {
	clientID := req.clientID
	if clientID == "" && req.assertion != "" {
		// private_key_jwt may omit client_id: it is the assertion's sub.
		if j, err := jose.ParseCompact(req.assertion); err == nil {
			var c struct {
				Sub string `json:"sub"`
			}
			if json.Unmarshal(j.Payload, &c) == nil {
				clientID = c.Sub
			}
		}
	}
	hasCredential := req.clientSecret != "" || req.assertion != "" || req.assertionType != ""
	srcKey := clientSourceKey(req.source)
	if hasCredential {
		if wait, blocked := s.throttle.blocked(srcKey); blocked {
			return nil, errSourceThrottled(wait)
		}
	}
	c, err := s.findClient(ctx, req.tenant, clientID)
	if err != nil {
		return nil, err
	}
	throttleKey := "client:" + c.tenantID + ":" + c.app.AppID
	if wait, blocked := s.throttle.blocked(throttleKey); blocked {
		return nil, errClientThrottled(wait)
	}
	switch {
	case !hasCredential && allowPublic && isPublicApp(c.app):
		c.acr = acrPublic
		return c, nil
	case !hasCredential && allowPublic:
		return nil, errClientAuthMissing()
	case !hasCredential:
		if isPublicApp(c.app) && len(c.app.Passwords) == 0 && len(c.app.Certificates) == 0 {
			return nil, errPublicClientRequired(c.app.AppID)
		}
		return nil, errClientAuthMissing()
	case isPublicApp(c.app) && len(c.app.Passwords) == 0 && len(c.app.Certificates) == 0:
		return nil, errPublicClientCredential()
	}
	if req.assertionType != "" || req.assertion != "" {
		err = s.checkAssertion(req, c)
		c.acr = acrCertificate
	} else {
		err = s.checkSecret(c, req.clientSecret)
		c.acr = acrSecret
	}
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) && pe.OAuth == "invalid_client" {
			s.throttle.fail(throttleKey)
			s.throttle.fail(srcKey)
		}
		return nil, err
	}
	return c, nil
}

// isPublicApp reports a public client (isFallbackPublicClient or a native redirect URI).
func isPublicApp(app *directory.Application) bool {
	return app.PublicClient || len(app.PublicRedirectURIs) > 0
}

// checkSecret compares the secret's SHA-256 with every unexpired password credential in
// constant time.
func (s *Server) checkSecret(c *client, secret string) error {
	now := s.now()
	var expired bool
	for _, p := range c.app.Passwords {
		if !directory.VerifySecret(p.Hash, secret) {
			continue
		}
		if !p.End.IsZero() && now.After(p.End) {
			expired = true
			continue
		}
		if !p.Start.IsZero() && now.Before(p.Start.Add(-assertionSkew)) {
			continue
		}
		return nil
	}
	if expired {
		return errSecretExpired(c.app.AppID)
	}
	return errInvalidSecret(c.app.AppID)
}

// clientAssertionClaims are the claims of a private_key_jwt assertion.
type clientAssertionClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
	Nbf *float64        `json:"nbf"`
	Jti string          `json:"jti"`
}

// checkAssertion verifies a client assertion signed with a certificate registered on the app:
// RS256 named by x5t (SHA-1) or PS256 named by x5t#S256, thumbprints in base64url or base64.
func (s *Server) checkAssertion(req *tokenRequest, c *client) error {
	if req.assertionType != assertionTypeJWTBearer {
		return newError(7000219, "invalid_client", 401, "'client_assertion_type' must be '%s'.", assertionTypeJWTBearer)
	}
	if req.assertion == "" {
		return errMissingParameter("client_assertion")
	}
	j, err := jose.ParseCompact(req.assertion)
	if err != nil {
		return errAssertionInvalid("the assertion is not a compact JWS")
	}
	var thumb []byte
	var sha256Thumb bool
	switch j.Header.Alg {
	case "RS256", "PS256":
	default:
		return errAssertionInvalid(fmt.Sprintf("the algorithm %q is not accepted; use RS256 or PS256", j.Header.Alg))
	}
	switch {
	case j.Header.X5tS256 != "":
		thumb, sha256Thumb = decodeThumbprint(j.Header.X5tS256), true
	case j.Header.X5t != "":
		thumb = decodeThumbprint(j.Header.X5t)
	default:
		return errAssertionInvalid("the header names no certificate (x5t or x5t#S256)")
	}
	if thumb == nil {
		return errAssertionInvalid("the certificate thumbprint is not base64")
	}
	now := s.now()
	var cred *directory.KeyCredential
	for i := range c.app.Certificates {
		k := &c.app.Certificates[i]
		var sum []byte
		if sha256Thumb {
			h := sha256.Sum256(k.DER)
			sum = h[:]
		} else {
			h := sha1.Sum(k.DER)
			sum = h[:]
		}
		if bytes.Equal(sum, thumb) {
			cred = k
			break
		}
	}
	if cred == nil {
		return errAssertionCertificate(c.app.AppID)
	}
	if !cred.End.IsZero() && now.After(cred.End) {
		return newError(700027, "invalid_client", 401, "The certificate used to sign the client assertion for app '%s' has expired.", c.app.AppID)
	}
	key, err := jose.KeyFromCertificate(cred.DER)
	if err != nil {
		return errAssertionCertificate(c.app.AppID)
	}
	if err := j.Verify(key); err != nil {
		return errAssertionInvalid("the signature does not verify with the registered certificate")
	}
	var claims clientAssertionClaims
	if err := json.Unmarshal(j.Payload, &claims); err != nil {
		return errAssertionInvalid("the claims are not a JSON object")
	}
	if claims.Iss != c.app.AppID || claims.Sub != c.app.AppID {
		return errAssertionInvalid("iss and sub must both be the client ID")
	}
	if claims.Exp == nil {
		return errAssertionInvalid("the assertion has no exp")
	}
	if now.After(time.Unix(int64(*claims.Exp), 0).Add(assertionSkew)) {
		return errAssertionTime()
	}
	if claims.Nbf != nil && now.Before(time.Unix(int64(*claims.Nbf), 0).Add(-assertionSkew)) {
		return errAssertionTime()
	}
	auds, ok := audiences(claims.Aud)
	if !ok || len(auds) == 0 {
		return errAssertionInvalid("the assertion has no aud")
	}
	accepted := s.assertionAudiences(req, c.tenantID)
	for _, a := range auds {
		for _, want := range accepted {
			if strings.TrimRight(a, "/") == strings.TrimRight(want, "/") {
				return nil
			}
		}
	}
	return errAssertionAudience(auds[0])
}

// assertionAudiences are the aud values a client assertion may carry: the token endpoint used
// (as called, and with the tenant GUID) and the tenant's issuers.
func (s *Server) assertionAudiences(req *tokenRequest, tid string) []string {
	path := "/oauth2/v2.0/token"
	if req.version == 1 {
		path = "/oauth2/token"
	}
	return []string{req.endpoint, s.publicURL + "/" + tid + path, s.issuerV2(tid), s.issuerV1(tid)}
}

// audiences reads aud as a string or an array of strings.
func audiences(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many, true
	}
	return nil, false
}

// decodeThumbprint accepts base64url or standard base64, padded or not (MSAL sends standard
// base64, the RFC says base64url).
func decodeThumbprint(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}
