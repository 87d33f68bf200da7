package jose

import (
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
)

// The JWE algorithms validate-jwt's decryption-keys accept. Everything else (RSA1_5's padding
// oracle, PBES2's attacker-chosen work factor, ECDH-ES, ...) is refused before any key is tried.
var (
	keyAlgorithms = map[string]jwa.KeyEncryptionAlgorithm{
		"RSA-OAEP":     jwa.RSA_OAEP(),
		"RSA-OAEP-256": jwa.RSA_OAEP_256(),
		"A128KW":       jwa.A128KW(),
		"A256KW":       jwa.A256KW(),
		"dir":          jwa.DIRECT(),
	}
	contentEncryptions = map[string]struct {
		alg    jwa.ContentEncryptionAlgorithm
		keyLen int // bytes of the content-encryption key (the "dir" key)
	}{
		"A128CBC-HS256": {jwa.A128CBC_HS256(), 32},
		"A256CBC-HS512": {jwa.A256CBC_HS512(), 64},
		"A128GCM":       {jwa.A128GCM(), 16},
		"A256GCM":       {jwa.A256GCM(), 32},
	}
	kwKeyLen = map[string]int{"A128KW": 16, "A256KW": 32}
)

// IsEncrypted reports whether token is in JWE compact form (five segments).
func IsEncrypted(token string) bool {
	return strings.Count(token, ".") == 4
}

// ParseEncryptedHeader parses the protected header of a compact JWE strictly and checks its
// algorithms are ones Decrypt accepts.
func ParseEncryptedHeader(token string) (Header, error) {
	if len(token) > MaxTokenSize {
		return Header{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTokenTooLarge, len(token), MaxTokenSize)
	}
	dots := 0
	for i := 0; i < len(token); i++ {
		if c := token[i]; c == '.' {
			dots++
		} else if !isBase64URL(c) {
			return Header{}, fmt.Errorf("%w: character %d (%s) is not base64url", ErrMalformed, i, describeByte(c))
		}
	}
	if dots != 4 {
		return Header{}, fmt.Errorf("%w: a JWE has five dot-separated segments, found %d", ErrMalformed, dots+1)
	}
	seg := token[:strings.IndexByte(token, '.')]
	if seg == "" {
		return Header{}, fmt.Errorf("%w: the header segment is empty", ErrMalformed)
	}
	raw, err := b64url.DecodeString(seg)
	if err != nil {
		return Header{}, fmt.Errorf("%w: header segment is not canonical base64url: %v", ErrMalformed, err)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return Header{}, err
	}
	if _, ok := keyAlgorithms[h.Alg]; !ok {
		return Header{}, fmt.Errorf("%w: JWE key algorithm %q (accepted: RSA-OAEP, RSA-OAEP-256, A128KW, A256KW, dir)", ErrUnsupportedAlgorithm, h.Alg)
	}
	if _, ok := contentEncryptions[h.Enc]; !ok {
		return Header{}, fmt.Errorf("%w: JWE content encryption %q (accepted: A128CBC-HS256, A256CBC-HS512, A128GCM, A256GCM)", ErrUnsupportedAlgorithm, h.Enc)
	}
	if h.Zip != "" {
		return Header{}, fmt.Errorf("%w: compressed JWE (zip %q) is not accepted", ErrUnsupportedAlgorithm, h.Zip)
	}
	return h, nil
}

// Decrypt decrypts a compact JWE with the first of keys that works and returns the plaintext
// (for a nested JWT, the inner compact JWS).
func Decrypt(token string, keys []Key) ([]byte, error) {
	h, err := ParseEncryptedHeader(token)
	if err != nil {
		return nil, err
	}
	alg := keyAlgorithms[h.Alg]
	tried := 0
	var firstRefusal error
	for i := range keys {
		material, err := decryptionMaterial(&keys[i], h.Alg, h.Enc)
		if err != nil {
			if firstRefusal == nil {
				firstRefusal = err
			}
			continue
		}
		tried++
		plaintext, err := jwe.Decrypt([]byte(token), jwe.WithKey(alg, material), jwe.WithCritValidation(true))
		if err == nil {
			return plaintext, nil
		}
	}
	if tried == 0 {
		if firstRefusal != nil {
			return nil, fmt.Errorf("%w: no key can decrypt %s/%s: %w", ErrDecryption, h.Alg, h.Enc, firstRefusal)
		}
		return nil, fmt.Errorf("%w: no decryption key configured", ErrDecryption)
	}
	// One message whatever failed (wrong key, bad tag, bad padding): telling them apart would
	// hand an attacker an oracle.
	return nil, fmt.Errorf("%w: %s/%s: none of %d keys decrypted the token", ErrDecryption, h.Alg, h.Enc, tried)
}

// decryptionMaterial returns what jwx needs to unwrap with key, or why key cannot serve.
func decryptionMaterial(key *Key, alg, enc string) (any, error) {
	if key.Alg != "" && key.Alg != alg && !(alg == "dir" && key.Alg == enc) {
		return nil, fmt.Errorf("%w: the key is for %s, the token uses %s", ErrAlgorithmNotAllowed, key.Alg, alg)
	}
	if key.Use != "" && key.Use != "enc" {
		return nil, fmt.Errorf("%w: the key's use is %q, not \"enc\"", ErrAlgorithmNotAllowed, key.Use)
	}
	switch alg {
	case "RSA-OAEP", "RSA-OAEP-256":
		priv, ok := key.Private.(*rsa.PrivateKey)
		if !ok || priv == nil {
			return nil, fmt.Errorf("%w: %s needs an RSA private key", ErrAlgorithmNotAllowed, alg)
		}
		if bits := priv.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits, at least %d required", ErrKeyTooSmall, bits, MinRSABits)
		}
		return priv, nil
	case "A128KW", "A256KW":
		if len(key.Secret) != kwKeyLen[alg] {
			return nil, fmt.Errorf("%w: %s needs a %d-byte secret, the key has %d", ErrAlgorithmNotAllowed, alg, kwKeyLen[alg], len(key.Secret))
		}
		return key.Secret, nil
	case "dir":
		if want := contentEncryptions[enc].keyLen; len(key.Secret) != want {
			return nil, fmt.Errorf("%w: dir with %s needs a %d-byte secret, the key has %d", ErrAlgorithmNotAllowed, enc, want, len(key.Secret))
		}
		return key.Secret, nil
	}
	return nil, fmt.Errorf("%w: JWE key algorithm %q", ErrUnsupportedAlgorithm, alg)
}

// reservedEncryptHeaders are the names Encrypt owns.
var reservedEncryptHeaders = map[string]bool{"alg": true, "enc": true, "zip": true, "crit": true, "b64": true}

// Encrypt makes a compact JWE of plaintext for key with keyAlg (RSA-OAEP, RSA-OAEP-256,
// A128KW, A256KW, dir) and contentEnc (A128CBC-HS256, A256CBC-HS512, A128GCM, A256GCM).
// extra goes into the protected header; set "cty": "JWT" for a nested token.
func Encrypt(plaintext []byte, keyAlg, contentEnc string, key *Key, extra map[string]any) (string, error) {
	alg, ok := keyAlgorithms[keyAlg]
	if !ok {
		return "", fmt.Errorf("%w: JWE key algorithm %q", ErrUnsupportedAlgorithm, keyAlg)
	}
	ce, ok := contentEncryptions[contentEnc]
	if !ok {
		return "", fmt.Errorf("%w: JWE content encryption %q", ErrUnsupportedAlgorithm, contentEnc)
	}
	if key == nil {
		return "", fmt.Errorf("%w: no key", ErrInvalidKey)
	}
	var material any
	switch keyAlg {
	case "RSA-OAEP", "RSA-OAEP-256":
		pub, _ := key.Public.(*rsa.PublicKey)
		if pub == nil {
			if priv, ok := key.Private.(*rsa.PrivateKey); ok {
				pub = &priv.PublicKey
			}
		}
		if pub == nil {
			return "", fmt.Errorf("%w: %s needs an RSA public key", ErrAlgorithmNotAllowed, keyAlg)
		}
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return "", fmt.Errorf("%w: RSA key of %d bits, at least %d required", ErrKeyTooSmall, bits, MinRSABits)
		}
		material = pub
	default:
		m, err := decryptionMaterial(&Key{Secret: key.Secret}, keyAlg, contentEnc)
		if err != nil {
			return "", err
		}
		material = m
	}
	h := jwe.NewHeaders()
	if key.ID != "" {
		if err := h.Set("kid", key.ID); err != nil {
			return "", fmt.Errorf("jose: header kid: %w", err)
		}
	}
	for name, v := range extra {
		if reservedEncryptHeaders[name] {
			return "", fmt.Errorf("jose: header parameter %q cannot be set through extra", name)
		}
		if err := h.Set(name, v); err != nil {
			return "", fmt.Errorf("jose: header parameter %q: %w", name, err)
		}
	}
	out, err := jwe.Encrypt(plaintext, jwe.WithKey(alg, material), jwe.WithContentEncryption(ce.alg), jwe.WithProtectedHeaders(h), jwe.WithCompact())
	if err != nil {
		return "", fmt.Errorf("jose: encrypting with %s/%s: %w", keyAlg, contentEnc, err)
	}
	return string(out), nil
}
