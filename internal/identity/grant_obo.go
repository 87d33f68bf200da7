package identity

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"portcullis/internal/jose"
)

// incomingClaims are the claims of a user access token presented for on-behalf-of.
type incomingClaims struct {
	Aud   json.RawMessage `json:"aud"`
	Iss   string          `json:"iss"`
	Tid   string          `json:"tid"`
	Oid   string          `json:"oid"`
	Scp   string          `json:"scp"`
	Idtyp string          `json:"idtyp"`
	Exp   *float64        `json:"exp"`
	Nbf   *float64        `json:"nbf"`
}

// grantOnBehalfOf exchanges a user's access token for the calling API (aud = the calling app)
// for a token to a downstream API. Only delegated scopes flow; the incoming token must be
// signed by the tenant's own keys.
func (s *Server) grantOnBehalfOf(r *http.Request, req *tokenRequest) (*issuedTokens, error) {
	ctx := r.Context()
	if req.tokenUse != "on_behalf_of" {
		if req.tokenUse == "" {
			return nil, errMissingParameter("requested_token_use")
		}
		return nil, errMalformed("requested_token_use must be 'on_behalf_of'.")
	}
	if req.userAssert == "" {
		return nil, errMissingParameter("assertion")
	}
	j, err := jose.ParseCompact(req.userAssert)
	if err != nil {
		return nil, errOBOAssertion("the assertion is not a signed JWT")
	}
	var in incomingClaims
	if err := json.Unmarshal(j.Payload, &in); err != nil {
		return nil, errOBOAssertion("the assertion's claims are not a JSON object")
	}
	// The token names its tenant; with a tenant-specific path it must be that one.
	if !req.tenant.Multi() && in.Tid != req.tenant.Tenant.ID {
		return nil, errOBOAssertion("the assertion was issued by another tenant")
	}
	if in.Tid == "" || (in.Iss != s.issuerV2(in.Tid) && in.Iss != s.issuerV1(in.Tid)) {
		return nil, errOBOAssertion("the assertion was not issued by this service")
	}
	if req.tenant.Multi() {
		t, err := s.resolveTenant(ctx, in.Tid, false)
		if err != nil {
			return nil, errOBOAssertion("the assertion's tenant is unknown")
		}
		req.tenant = t
	}
	ks, err := s.keys.forTenant(ctx, in.Tid)
	if err != nil {
		return nil, err
	}
	sk := ks.byKid(j.Header.Kid)
	if sk == nil || j.Header.Alg != "RS256" {
		return nil, errOBOAssertion("the signing key is not one of the tenant's keys")
	}
	if err := j.Verify(&jose.Key{ID: sk.kid, Alg: "RS256", Public: &sk.private.PublicKey}); err != nil {
		return nil, errOBOAssertion("the signature does not verify")
	}
	now := s.now()
	if in.Exp == nil || now.After(time.Unix(int64(*in.Exp), 0).Add(assertionSkew)) {
		return nil, newError(500133, "invalid_grant", 400, "Assertion is not within its valid time range.")
	}
	if in.Nbf != nil && now.Before(time.Unix(int64(*in.Nbf), 0).Add(-assertionSkew)) {
		return nil, newError(500133, "invalid_grant", 400, "Assertion is not within its valid time range.")
	}
	if in.Idtyp == "app" || in.Scp == "" || in.Oid == "" {
		return nil, newError(50013, "invalid_grant", 400, "Assertion is not a user token: on-behalf-of needs a delegated token.")
	}
	c, err := s.authenticateClient(ctx, req, false)
	if err != nil {
		return nil, err
	}
	auds, _ := audiences(in.Aud)
	accepted := append([]string{c.app.AppID}, c.app.IdentifierURIs...)
	ok := false
	for _, a := range auds {
		ok = ok || slices.Contains(accepted, a)
	}
	if !ok {
		return nil, errOBOAudience()
	}
	scope := req.scope
	if req.version == 1 && req.resource != "" {
		scope = req.resource + "/.default"
	}
	if scope == "" {
		return nil, errMissingParameter("scope")
	}
	g := userGrant{Version: req.version, TenantID: c.tenantID, ClientID: c.app.AppID, UserID: in.Oid, AuthTime: now.Unix()}
	return s.issueUserTokens(ctx, req, c, g, scope, "", idTokenInput{version: req.version}, nil)
}
