package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"portcullis/internal/directory"
	"portcullis/internal/jose"
)

// idTokenLifetime is Entra's ID-token lifetime.
const idTokenLifetime = time.Hour

// backdate is how far Entra sets iat and nbf before the moment of issue.
const backdate = 5 * time.Minute

// accessClaims are an Entra access token's claims; the token version picks which are set.
type accessClaims struct {
	Aud               string   `json:"aud"`
	Iss               string   `json:"iss"`
	Iat               int64    `json:"iat"`
	Nbf               int64    `json:"nbf"`
	Exp               int64    `json:"exp"`
	Acr               string   `json:"acr,omitempty"`
	Aio               string   `json:"aio"`
	Amr               []string `json:"amr,omitempty"`
	AppID             string   `json:"appid,omitempty"`
	AppIDACR          string   `json:"appidacr,omitempty"`
	Azp               string   `json:"azp,omitempty"`
	AzpACR            string   `json:"azpacr,omitempty"`
	FamilyName        string   `json:"family_name,omitempty"`
	GivenName         string   `json:"given_name,omitempty"`
	Idp               string   `json:"idp"`
	Idtyp             string   `json:"idtyp"`
	Name              string   `json:"name,omitempty"`
	Oid               string   `json:"oid"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Rh                string   `json:"rh"`
	Roles             []string `json:"roles,omitempty"`
	Scp               string   `json:"scp,omitempty"`
	Sub               string   `json:"sub"`
	Tid               string   `json:"tid"`
	UniqueName        string   `json:"unique_name,omitempty"`
	Upn               string   `json:"upn,omitempty"`
	Uti               string   `json:"uti"`
	Ver               string   `json:"ver"`
}

// idClaims are an ID token's claims.
type idClaims struct {
	Aud               string   `json:"aud"`
	Iss               string   `json:"iss"`
	Iat               int64    `json:"iat"`
	Nbf               int64    `json:"nbf"`
	Exp               int64    `json:"exp"`
	Amr               []string `json:"amr,omitempty"`
	AtHash            string   `json:"at_hash,omitempty"`
	AuthTime          int64    `json:"auth_time,omitempty"`
	Aio               string   `json:"aio"`
	CHash             string   `json:"c_hash,omitempty"`
	Email             string   `json:"email,omitempty"`
	FamilyName        string   `json:"family_name,omitempty"`
	GivenName         string   `json:"given_name,omitempty"`
	Idp               string   `json:"idp"`
	Name              string   `json:"name,omitempty"`
	Nonce             string   `json:"nonce,omitempty"`
	Oid               string   `json:"oid"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Rh                string   `json:"rh"`
	Roles             []string `json:"roles,omitempty"`
	Sid               string   `json:"sid,omitempty"`
	Sub               string   `json:"sub"`
	Tid               string   `json:"tid"`
	UniqueName        string   `json:"unique_name,omitempty"`
	Upn               string   `json:"upn,omitempty"`
	Uti               string   `json:"uti"`
	Ver               string   `json:"ver"`
}

// grantSubject is who and what a token is issued for.
type grantSubject struct {
	client   *client
	resource *resource
	user     *directory.User // nil for app-only tokens
	scp      []string
	roles    []string
	authTime time.Time
}

// accessTokenLifetime is the configured lifetime, or Entra's random 60-90 minutes.
func (s *Server) accessTokenLifetime() time.Duration {
	if s.lifetime > 0 {
		return s.lifetime
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(30*time.Minute/time.Second)+1))
	if err != nil {
		return 75 * time.Minute
	}
	return time.Hour + time.Duration(n.Int64())*time.Second
}

// mintAccessToken signs an access token shaped by the resource's token version.
func (s *Server) mintAccessToken(ctx context.Context, g *grantSubject) (*issuedTokens, error) {
	tid := g.client.tenantID
	ks, err := s.keys.forTenant(ctx, tid)
	if err != nil {
		return nil, err
	}
	now := s.now()
	exp := now.Add(s.accessTokenLifetime())
	v2 := g.resource.app.AccessTokenVersion == 2
	c := accessClaims{
		Iat: now.Add(-backdate).Unix(),
		Nbf: now.Add(-backdate).Unix(),
		Exp: exp.Unix(),
		Aio: opaque(48),
		Rh:  "0." + opaque(32) + ".",
		Tid: tid,
		Uti: opaque(16),
	}
	if v2 {
		c.Aud, c.Iss, c.Ver = g.resource.app.AppID, s.issuerV2(tid), "2.0"
		c.Azp, c.AzpACR = g.client.app.AppID, g.client.acr
	} else {
		c.Aud, c.Iss, c.Ver = g.resource.audience, s.issuerV1(tid), "1.0"
		c.AppID, c.AppIDACR = g.client.app.AppID, g.client.acr
	}
	c.Idp = c.Iss
	c.Roles = g.roles
	if g.user == nil {
		c.Idtyp = "app"
		c.Oid, c.Sub = g.client.sp.ID, g.client.sp.ID
	} else {
		u := g.user
		c.Idtyp = "user"
		c.Oid = u.ID
		c.Sub = pairwiseSubject(tid, u.ID, g.client.app.AppID)
		c.Scp = strings.Join(g.scp, " ")
		c.Name = u.DisplayName
		if v2 {
			c.PreferredUsername = u.UserPrincipalName
		} else {
			c.Acr, c.Amr = "1", []string{"pwd"}
			c.GivenName, c.FamilyName = u.GivenName, u.Surname
			c.UniqueName, c.Upn = u.UserPrincipalName, u.UserPrincipalName
		}
	}
	payload, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode access token: %w", err)
	}
	header := map[string]any{"typ": "JWT"}
	if !v2 {
		header["x5t"] = ks.current.kid
	}
	token, err := jose.Sign("RS256", ks.current.private, ks.current.kid, header, payload)
	if err != nil {
		return nil, fmt.Errorf("sign access token: %w", err)
	}
	out := &issuedTokens{
		accessToken: token,
		expires:     exp,
		issuedAt:    now,
		notBefore:   now.Add(-backdate),
		resource:    g.resource.audience,
	}
	return out, nil
}

// idTokenInput is what an ID token needs beyond the grant.
type idTokenInput struct {
	version     int // endpoint version: ID tokens follow the endpoint, not the resource
	nonce       string
	accessToken string // for at_hash
	code        string // for c_hash
	sessionID   string
}

// mintIDToken signs an OpenID Connect ID token for the client.
func (s *Server) mintIDToken(ctx context.Context, g *grantSubject, in idTokenInput) (string, error) {
	tid := g.client.tenantID
	ks, err := s.keys.forTenant(ctx, tid)
	if err != nil {
		return "", err
	}
	now := s.now()
	u := g.user
	c := idClaims{
		Aud:      g.client.app.AppID,
		Iat:      now.Add(-backdate).Unix(),
		Nbf:      now.Add(-backdate).Unix(),
		Exp:      now.Add(idTokenLifetime).Unix(),
		Aio:      opaque(48),
		Nonce:    in.nonce,
		Oid:      u.ID,
		Rh:       "0." + opaque(32) + ".",
		Sid:      in.sessionID,
		Sub:      pairwiseSubject(tid, u.ID, g.client.app.AppID),
		Tid:      tid,
		Uti:      opaque(16),
		Name:     u.DisplayName,
		Email:    u.Mail,
		Roles:    nil,
		AtHash:   halfHash(in.accessToken),
		CHash:    halfHash(in.code),
		AuthTime: unixOrZero(g.authTime),
	}
	header := map[string]any{"typ": "JWT"}
	if in.version == 2 {
		c.Iss, c.Ver = s.issuerV2(tid), "2.0"
		c.PreferredUsername = u.UserPrincipalName
	} else {
		c.Iss, c.Ver = s.issuerV1(tid), "1.0"
		c.Amr = []string{"pwd"}
		c.GivenName, c.FamilyName = u.GivenName, u.Surname
		c.UniqueName, c.Upn = u.UserPrincipalName, u.UserPrincipalName
		header["x5t"] = ks.current.kid
	}
	c.Idp = c.Iss
	payload, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("encode ID token: %w", err)
	}
	token, err := jose.Sign("RS256", ks.current.private, ks.current.kid, header, payload)
	if err != nil {
		return "", fmt.Errorf("sign ID token: %w", err)
	}
	return token, nil
}

// pairwiseSubject is Entra's sub for users: stable per user and client app, different
// between apps (43 base64url characters).
func pairwiseSubject(tid, oid, appID string) string {
	sum := sha256.Sum256([]byte(tid + "|" + oid + "|" + appID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// halfHash is OpenID Connect's at_hash / c_hash for RS256: the left half of the SHA-256.
func halfHash(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// clientInfo is MSAL's client_info: base64url {"uid":oid,"utid":tid}.
func clientInfo(oid, tid string) string {
	b, _ := json.Marshal(map[string]string{"uid": oid, "utid": tid})
	return base64.RawURLEncoding.EncodeToString(b)
}

// opaque returns n random bytes in base64url: Entra's aio, rh and uti are opaque values.
func opaque(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomToken is a secret handed to a client (code, refresh token, device code): 32 random
// bytes. Only its hash is stored.
func randomToken() string { return opaque(32) }

// grantKey is the stored key of a secret value.
func grantKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
