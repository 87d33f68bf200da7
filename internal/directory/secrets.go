package directory

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Client secrets are generated with at least 256 bits of entropy, so SHA-256 is enough to protect
// them at rest and a token request pays one hash, not a slow KDF (CONTRACT.md §2).

// secretAlphabet has 64 characters, so each random byte's low six bits pick one without bias.
// It is Entra's secret alphabet less '~' and '.', which need quoting in some shells.
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// secretRandomChars is how many random characters a secret carries: 43 × 6 = 258 bits.
const secretRandomChars = 43

// secretHashPrefix marks the only hash format stored for client secrets.
const secretHashPrefix = "sha256:"

// ErrSecretHash reports a stored or configured secret hash that is not "sha256:<base64 of 32 bytes>".
var ErrSecretHash = errors.New(`secret hash must be "sha256:" followed by the base64 of 32 bytes`)

// GenerateSecret returns a new client secret in Entra's shape (three characters, the version
// marker "8Q~", then the rest: 46 characters, 258 bits of entropy). Entra's own are 40
// characters long; six more are what 256 bits need in this alphabet.
func GenerateSecret() (string, error) {
	buf := make([]byte, secretRandomChars)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("directory: generate secret: %w", err)
	}
	var b strings.Builder
	b.Grow(secretRandomChars + 3)
	for i, c := range buf {
		if i == 3 {
			b.WriteString("8Q~")
		}
		b.WriteByte(secretAlphabet[c&63])
	}
	return b.String(), nil
}

// HashSecret returns the stored form of a client secret: "sha256:<base64>".
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return secretHashPrefix + base64.StdEncoding.EncodeToString(sum[:])
}

// ParseSecretHash checks a "sha256:<base64>" hash (padded or not) and returns it in the
// canonical padded form HashSecret produces.
func ParseSecretHash(hash string) (string, error) {
	digest, err := secretDigest(hash)
	if err != nil {
		return "", err
	}
	return secretHashPrefix + base64.StdEncoding.EncodeToString(digest), nil
}

func secretDigest(hash string) ([]byte, error) {
	rest, ok := strings.CutPrefix(hash, secretHashPrefix)
	if !ok {
		return nil, ErrSecretHash
	}
	digest, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		if digest, err = base64.RawStdEncoding.DecodeString(rest); err != nil {
			return nil, ErrSecretHash
		}
	}
	if len(digest) != sha256.Size {
		return nil, ErrSecretHash
	}
	return digest, nil
}

// VerifySecret reports whether secret hashes to hash, comparing in constant time. A malformed
// hash matches nothing.
func VerifySecret(hash, secret string) bool {
	want, err := secretDigest(hash)
	if err != nil {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// SecretHint is what Graph shows of a secret: its first three characters.
func SecretHint(secret string) string {
	if len(secret) < 3 {
		return ""
	}
	return secret[:3]
}
