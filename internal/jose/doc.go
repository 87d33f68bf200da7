// Package jose holds the JOSE primitives: strict compact JWS parsing, verification and
// signing on the standard library's crypto, JWE decryption and encryption (wrapping jwx, whose
// types never leave this package) and JWK/JWKS parsing. It knows nothing of claims: token
// semantics (lifetime, issuer, audience) live in package jwt.
package jose
