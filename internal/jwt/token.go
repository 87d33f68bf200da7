package jwt

import (
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
	// Payload is the decoded claims JSON.
	Payload []byte
}
