package jwt

import (
	"fmt"
	"strings"
	"time"

	"portcullis/internal/jose"
)

// Token is a decoded JWT: what validate-jwt's output-token-variable-name stores and what the
// expression language's Jwt type (AsJwt, TryParseJwt) exposes.
type Token struct {
	Raw    string
	Header jose.Header

	Algorithm string // header alg
	Type      string // header typ
	ID        string // jti
	Issuer    string
	Subject   string
	Audiences []string
	// Zero when the claim is absent.
	ExpiresAt, NotBefore, IssuedAt time.Time

	// Claims are APIM's Jwt.Claims: every claim as strings, arrays as several values, numbers
	// and booleans in their JSON text form. Names are exact (case-sensitive).
	Claims map[string][]string
	// Payload is the decoded claims JSON. Claims' strings share its bytes: it must not be
	// modified.
	Payload []byte
}

// claim returns the first value of the claim called name, or "".
func (t *Token) claim(name string) string {
	if v := t.Claims[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// newToken builds the Token of a parsed JWS; raw is the token as presented.
func newToken(raw string, jws *jose.JWS) (*Token, error) {
	t := &Token{
		Raw:       raw,
		Header:    jws.Header,
		Algorithm: jws.Header.Alg,
		Type:      jws.Header.Typ,
		Payload:   jws.Payload,
	}
	if err := parseClaims(jws.Payload, t); err != nil {
		return nil, err
	}
	return t, nil
}

// Decode decodes a token without validating it, for the expression language's AsJwt() and
// TryParseJwt(): a case-insensitive "Bearer " prefix is removed, and malformed input is an
// error. Nothing about the token is trusted.
func Decode(raw string) (*Token, error) {
	s := strings.TrimSpace(raw)
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	if s == "" {
		return nil, fmt.Errorf("%w: empty token", errClaims)
	}
	if jose.IsEncrypted(s) {
		return nil, fmt.Errorf("%w: the token is encrypted (JWE)", jose.ErrMalformed)
	}
	jws, err := jose.ParseCompact(s)
	if err != nil {
		return nil, err
	}
	return newToken(s, jws)
}
