package jose

// This file holds the package's types that other packages code against. The functions live
// beside it: ParseCompact (jws.go), Verify (verify.go), Sign and SignHMAC (sign.go), ParseJWKS
// and the key constructors (jwk.go), IsEncrypted, Decrypt and Encrypt (jwe.go).

import "crypto"

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
	// KeyOps is the JWK's key_ops; when set, Verify requires "verify" in it.
	KeyOps []string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey; Secret an HMAC or
	// content-encryption key; Private a decryption key (*rsa.PrivateKey, ...).
	Public  crypto.PublicKey
	Secret  []byte
	Private crypto.PrivateKey
}
