package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"unsafe"
)

// MinRSABits is the smallest RSA modulus accepted for signatures (RFC 7518 §3.3 and §3.5).
const MinRSABits = 2048

type family uint8

const (
	familyNone family = iota
	familyRSA
	familyPSS
	familyECDSA
	familyEdDSA
	familyHMAC
)

// algorithm describes one JWS algorithm.
type algorithm struct {
	family family
	hash   crypto.Hash
	curve  elliptic.Curve // ECDSA only
	size   int            // ECDSA only: bytes of r and of s
}

// lookupAlgorithm maps a JWS alg name to its description; names are case-sensitive (RFC 7515).
func lookupAlgorithm(alg string) (algorithm, bool) {
	switch alg {
	case "RS256":
		return algorithm{family: familyRSA, hash: crypto.SHA256}, true
	case "RS384":
		return algorithm{family: familyRSA, hash: crypto.SHA384}, true
	case "RS512":
		return algorithm{family: familyRSA, hash: crypto.SHA512}, true
	case "PS256":
		return algorithm{family: familyPSS, hash: crypto.SHA256}, true
	case "PS384":
		return algorithm{family: familyPSS, hash: crypto.SHA384}, true
	case "PS512":
		return algorithm{family: familyPSS, hash: crypto.SHA512}, true
	case "ES256":
		return algorithm{family: familyECDSA, hash: crypto.SHA256, curve: elliptic.P256(), size: 32}, true
	case "ES384":
		return algorithm{family: familyECDSA, hash: crypto.SHA384, curve: elliptic.P384(), size: 48}, true
	case "ES512":
		return algorithm{family: familyECDSA, hash: crypto.SHA512, curve: elliptic.P521(), size: 66}, true
	case "EdDSA", "Ed25519": // Ed25519 is RFC 9864's fully specified name
		return algorithm{family: familyEdDSA}, true
	case "HS256":
		return algorithm{family: familyHMAC, hash: crypto.SHA256}, true
	case "HS384":
		return algorithm{family: familyHMAC, hash: crypto.SHA384}, true
	case "HS512":
		return algorithm{family: familyHMAC, hash: crypto.SHA512}, true
	}
	return algorithm{}, false
}

// SignatureAlgorithms lists the JWS algorithms Verify and Sign implement.
func SignatureAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}
}

// digest hashes msg with h into out and returns the used part. msg is a string so the token
// is never copied: the hash functions only read it.
func digest(h crypto.Hash, msg string, out *[64]byte) []byte {
	b := unsafe.Slice(unsafe.StringData(msg), len(msg))
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(b)
		return out[:copy(out[:], d[:])]
	case crypto.SHA384:
		d := sha512.Sum384(b)
		return out[:copy(out[:], d[:])]
	default:
		d := sha512.Sum512(b)
		return out[:copy(out[:], d[:])]
	}
}

// Verify checks the signature with key, refusing an algorithm the key cannot or must not use.
func (j *JWS) Verify(key *Key) error {
	alg := j.Header.Alg
	if strings.EqualFold(alg, "none") {
		return fmt.Errorf("%w: alg %q", ErrUnsigned, alg)
	}
	if key == nil {
		return fmt.Errorf("%w: no key", ErrInvalidKey)
	}
	if j.Header.B64 != nil {
		return fmt.Errorf("%w", ErrUnencodedPayload)
	}
	a, ok := lookupAlgorithm(alg)
	if !ok {
		return fmt.Errorf("%w: alg %q", ErrUnsupportedAlgorithm, alg)
	}
	if key.Alg != "" && key.Alg != alg {
		return fmt.Errorf("%w: the key is for %s, the token uses %s", ErrAlgorithmNotAllowed, key.Alg, alg)
	}
	if key.Use != "" && key.Use != "sig" {
		return fmt.Errorf("%w: the key's use is %q, not \"sig\"", ErrAlgorithmNotAllowed, key.Use)
	}
	if key.KeyOps != nil && !contains(key.KeyOps, "verify") {
		return fmt.Errorf("%w: the key's key_ops do not include \"verify\"", ErrAlgorithmNotAllowed)
	}
	if len(j.Signature) == 0 {
		return fmt.Errorf("%w: the signature is empty", ErrSignatureInvalid)
	}
	if a.family == familyHMAC {
		return verifyHMAC(a, j, key)
	}
	if key.Secret != nil {
		return fmt.Errorf("%w: %s needs a public key, the key is a shared secret", ErrAlgorithmNotAllowed, alg)
	}
	var buf [64]byte
	switch a.family {
	case familyRSA, familyPSS:
		pub, ok := key.Public.(*rsa.PublicKey)
		if !ok || pub == nil {
			return fmt.Errorf("%w: %s needs an RSA key, the key is %s", ErrAlgorithmNotAllowed, alg, keyKind(key))
		}
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return fmt.Errorf("%w: RSA key of %d bits, at least %d required", ErrKeyTooSmall, bits, MinRSABits)
		}
		d := digest(a.hash, j.SigningInput, &buf)
		var err error
		if a.family == familyRSA {
			err = rsa.VerifyPKCS1v15(pub, a.hash, d, j.Signature)
		} else {
			err = rsa.VerifyPSS(pub, a.hash, d, j.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash})
		}
		if err != nil {
			return fmt.Errorf("%w: %s", ErrSignatureInvalid, alg)
		}
		return nil
	case familyECDSA:
		pub, ok := key.Public.(*ecdsa.PublicKey)
		if !ok || pub == nil {
			return fmt.Errorf("%w: %s needs an EC key, the key is %s", ErrAlgorithmNotAllowed, alg, keyKind(key))
		}
		if pub.Curve != a.curve {
			return fmt.Errorf("%w: %s needs curve %s, the key is on %s", ErrAlgorithmNotAllowed, alg, a.curve.Params().Name, pub.Curve.Params().Name)
		}
		if len(j.Signature) != 2*a.size {
			return fmt.Errorf("%w: %s signature must be %d bytes (r||s), found %d", ErrSignatureInvalid, alg, 2*a.size, len(j.Signature))
		}
		r := new(big.Int).SetBytes(j.Signature[:a.size])
		s := new(big.Int).SetBytes(j.Signature[a.size:])
		n := a.curve.Params().N
		if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
			return fmt.Errorf("%w: %s signature values out of range", ErrSignatureInvalid, alg)
		}
		if !ecdsa.Verify(pub, digest(a.hash, j.SigningInput, &buf), r, s) {
			return fmt.Errorf("%w: %s", ErrSignatureInvalid, alg)
		}
		return nil
	case familyEdDSA:
		pub, ok := key.Public.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: %s needs an Ed25519 key, the key is %s", ErrAlgorithmNotAllowed, alg, keyKind(key))
		}
		if len(j.Signature) != ed25519.SignatureSize {
			return fmt.Errorf("%w: EdDSA signature must be %d bytes, found %d", ErrSignatureInvalid, ed25519.SignatureSize, len(j.Signature))
		}
		msg := unsafe.Slice(unsafe.StringData(j.SigningInput), len(j.SigningInput))
		if !ed25519.Verify(pub, msg, j.Signature) {
			return fmt.Errorf("%w: %s", ErrSignatureInvalid, alg)
		}
		return nil
	}
	return fmt.Errorf("%w: alg %q", ErrUnsupportedAlgorithm, alg)
}

func verifyHMAC(a algorithm, j *JWS, key *Key) error {
	if err := checkHMACKey(a, key); err != nil {
		return fmt.Errorf("%s: %w", j.Header.Alg, err)
	}
	mac := hmac.New(a.hash.New, key.Secret)
	mac.Write(unsafe.Slice(unsafe.StringData(j.SigningInput), len(j.SigningInput)))
	var buf [64]byte
	if !hmac.Equal(mac.Sum(buf[:0]), j.Signature) {
		return fmt.Errorf("%w: %s", ErrSignatureInvalid, j.Header.Alg)
	}
	return nil
}

// checkHMACKey refuses every way an asymmetric key could end up as an HMAC secret: a key that
// carries a public or private key, and a secret that is itself the encoding of a public key
// (PEM, DER, JWK). The latter is the classic RS256-to-HS256 confusion: the attacker knows the
// public key, so a MAC keyed with it proves nothing.
func checkHMACKey(a algorithm, key *Key) error {
	if key.Public != nil || key.Private != nil {
		return fmt.Errorf("%w: HMAC needs a shared secret, the key is %s", ErrAlgorithmNotAllowed, keyKind(key))
	}
	if len(key.Secret) == 0 {
		return fmt.Errorf("%w: HMAC needs a shared secret, the key has none", ErrAlgorithmNotAllowed)
	}
	if len(key.Secret) < a.hash.Size() {
		return fmt.Errorf("%w: HMAC secret of %d bytes, at least %d required", ErrKeyTooSmall, len(key.Secret), a.hash.Size())
	}
	if looksLikePublicKey(key.Secret) {
		return fmt.Errorf("%w: the HMAC secret is an encoded public key or certificate", ErrAlgorithmNotAllowed)
	}
	return nil
}

func looksLikePublicKey(secret []byte) bool {
	trimmed := bytes.TrimSpace(secret)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		if block, _ := pem.Decode(trimmed); block != nil {
			return true
		}
	}
	if len(trimmed) > 0 && trimmed[0] == '{' && bytes.Contains(trimmed, []byte(`"kty"`)) {
		return true
	}
	if len(secret) > 0 && secret[0] == 0x30 { // an ASN.1 SEQUENCE: try the DER forms
		if _, err := x509.ParsePKIXPublicKey(secret); err == nil {
			return true
		}
		if _, err := x509.ParsePKCS1PublicKey(secret); err == nil {
			return true
		}
		if _, err := x509.ParseCertificate(secret); err == nil {
			return true
		}
	}
	return false
}

func keyKind(key *Key) string {
	switch pub := key.Public.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC " + pub.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case nil:
		if key.Secret != nil {
			return "a shared secret"
		}
		if key.Private != nil {
			return "a private key only"
		}
		return "empty"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
