// Package jose holds the JOSE primitives: compact JWS parsing, verification and signing, JWE
// decryption and JWK/JWKS parsing. It is the only package that imports the JOSE library; the
// compact-JWS verification path uses the standard library's crypto directly for speed. It
// knows nothing of claims: token semantics live in package jwt.
package jose
