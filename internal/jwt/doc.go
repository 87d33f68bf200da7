// Package jwt owns token validation semantics: which key may verify a token, its lifetime,
// issuer, audience and required claims, the nine failure reasons APIM reports, and the cache
// of tokens already validated. It does not parse or verify JOSE structures itself (package
// jose does) nor fetch keys (package keys does).
package jwt
