package jose

// This file fixes the package's API that other packages code against. The bodies are
// placeholders until the implementation lands; the signatures are the contract.

import (
	"crypto"
	"errors"
)

// ErrNotImplemented marks a placeholder.
var ErrNotImplemented = errors.New("jose: not implemented yet")

// Header is a JWS or JWE protected header, with what the validator needs named.
type Header struct {
	Alg, Kid, Typ, Cty, X5t, X5tS256, Enc, Zip string
	Crit                                       []string
	// B64 is the RFC 7797 "b64" parameter; nil when absent.
	B64 *bool
	// Embedded key references; a validator never takes a key from the token, so it only
	// needs to know they were there.
	HasJWK, HasJKU, HasX5U, HasX5C bool
	// Raw is the decoded header JSON.
	Raw []byte
}

// JWS is a parsed compact JWS (a signed JWT).
type JWS struct {
	Header       Header
	Payload      []byte // decoded payload
	Signature    []byte
	SigningInput string // the header.payload part the signature covers
}

// Key is a verification or decryption key, as a JWKS or a policy gives it.
type Key struct {
	ID     string // kid
	Alg    string // the JWK's alg; when set the key verifies only that algorithm (RFC 8725)
	Use    string
	Issuer string // Entra's per-key issuer in a v2 JWKS
	X5t    string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey; Secret an HMAC or
	// content-encryption key; Private a decryption key (*rsa.PrivateKey, ...).
	Public  crypto.PublicKey
	Secret  []byte
	Private crypto.PrivateKey
}

// ParseCompact parses a compact JWS strictly (canonical base64url, three segments, JSON
// header). It checks nothing about the signature.
func ParseCompact(token string) (*JWS, error) { return nil, ErrNotImplemented }

// Verify checks the signature with key, refusing an algorithm the key cannot or must not use.
func (j *JWS) Verify(key *Key) error { return ErrNotImplemented }

// IsEncrypted reports whether token is in JWE compact form (five segments).
func IsEncrypted(token string) bool { return false }

// Decrypt decrypts a compact JWE with the first of keys that works and returns the plaintext
// (for a nested JWT, the inner compact JWS).
func Decrypt(token string, keys []Key) ([]byte, error) { return nil, ErrNotImplemented }

// ParseJWKS parses a JSON Web Key Set. Keys that cannot be used (unknown kty, bad parameters)
// are skipped and reported in skipped; err is for a document that is not a key set at all.
func ParseJWKS(data []byte) (keys []Key, skipped []error, err error) {
	return nil, nil, ErrNotImplemented
}

// Sign makes a compact JWS of payload with alg ("RS256", ...) and signer, putting kid and the
// extra header fields (e.g. "x5t", "typ") in the protected header.
func Sign(alg string, signer crypto.Signer, kid string, extra map[string]any, payload []byte) (string, error) {
	return "", ErrNotImplemented
}
