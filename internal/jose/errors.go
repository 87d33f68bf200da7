package jose

import "errors"

// Failure reasons. Every error the package returns wraps exactly one of these, so a caller maps
// it to its own reason (APIM's TokenSignatureInvalid, JwtInvalid, ...) with errors.Is; the
// wrapping text says what was expected and what was found, never a key or a token.
var (
	// ErrMalformed: the token is not a well-formed compact JWS/JWE (segments, base64url, JSON).
	ErrMalformed = errors.New("jose: malformed token")
	// ErrTokenTooLarge: the token exceeds MaxTokenSize.
	ErrTokenTooLarge = errors.New("jose: token too large")
	// ErrCriticalHeader: the header's crit names an extension this package does not implement.
	ErrCriticalHeader = errors.New("jose: unsupported critical header parameter")
	// ErrUnencodedPayload: the header carries RFC 7797 "b64", which is never accepted.
	ErrUnencodedPayload = errors.New("jose: unencoded payload (b64) not accepted")
	// ErrUnsigned: the token is alg "none"; it never verifies.
	ErrUnsigned = errors.New("jose: token is not signed (alg none)")
	// ErrUnsupportedAlgorithm: the algorithm is unknown or not implemented.
	ErrUnsupportedAlgorithm = errors.New("jose: unsupported algorithm")
	// ErrAlgorithmNotAllowed: the key may not be used with the token's algorithm (the key's alg,
	// use or key_ops say otherwise, or the key type does not fit the algorithm).
	ErrAlgorithmNotAllowed = errors.New("jose: algorithm not allowed for this key")
	// ErrKeyTooSmall: an RSA key under 2048 bits or an HMAC secret shorter than the hash.
	ErrKeyTooSmall = errors.New("jose: key too small")
	// ErrSignatureInvalid: the signature does not verify with the key.
	ErrSignatureInvalid = errors.New("jose: signature invalid")
	// ErrInvalidKey: a key (JWK, PEM, DER) is malformed or unusable.
	ErrInvalidKey = errors.New("jose: invalid key")
	// ErrInvalidKeySet: a document is not a JSON Web Key Set at all.
	ErrInvalidKeySet = errors.New("jose: invalid key set")
	// ErrDecryption: no key decrypted the JWE.
	ErrDecryption = errors.New("jose: decryption failed")
)
