package directory

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are argon2id's cost parameters.
type PasswordParams struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     int
	KeyLen      uint32
}

// defaultPasswordParams follow OWASP's recommended argon2id floor (19 MiB, 2 passes, 1 lane):
// about 20 ms a sign-in on one core, and no more memory than a busy sign-in page can afford.
var defaultPasswordParams = PasswordParams{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// Bounds on the parameters of a hash read from the store or the configuration: a hash with
// absurd costs must not turn one sign-in into a denial of service.
const (
	maxPasswordMemoryKiB  = 256 << 10 // 256 MiB
	maxPasswordIterations = 16
	maxPasswordLanes      = 16
	maxPasswordKeyLen     = 128
	maxPasswordLen        = 1024
)

// ErrPasswordHash reports a password hash that is not an argon2id PHC string within bounds.
var ErrPasswordHash = errors.New("password hash must be an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)")

// ErrPasswordTooLong refuses passwords longer than 1024 bytes before any hashing.
var ErrPasswordTooLong = errors.New("password is longer than 1024 bytes")

// HashPassword returns password's argon2id PHC string with the default costs (19 MiB, 2 passes,
// 1 lane: OWASP's floor).
func HashPassword(password string) (string, error) {
	return defaultPasswordParams.Hash(password)
}

// Hash returns password's argon2id PHC string with p's costs and a new random salt.
func (p PasswordParams) Hash(password string) (string, error) {
	if len(password) > maxPasswordLen {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("directory: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// passwordHash is a parsed PHC string.
type passwordHash struct {
	params    PasswordParams
	salt, key []byte
}

func parsePasswordHash(phc string) (*passwordHash, error) {
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, ErrPasswordHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return nil, ErrPasswordHash
	}
	var h passwordHash
	var lanes uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.params.MemoryKiB, &h.params.Iterations, &lanes); err != nil || n != 3 {
		return nil, ErrPasswordHash
	}
	if fmt.Sprintf("m=%d,t=%d,p=%d", h.params.MemoryKiB, h.params.Iterations, lanes) != parts[3] {
		return nil, ErrPasswordHash // trailing garbage or leading zeros
	}
	if h.params.Iterations < 1 || h.params.Iterations > maxPasswordIterations ||
		lanes < 1 || lanes > maxPasswordLanes ||
		h.params.MemoryKiB < 8*lanes || h.params.MemoryKiB > maxPasswordMemoryKiB {
		return nil, ErrPasswordHash
	}
	h.params.Parallelism = uint8(lanes)
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, ErrPasswordHash
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > maxPasswordKeyLen {
		return nil, ErrPasswordHash
	}
	h.params.SaltLen, h.params.KeyLen = len(h.salt), uint32(len(h.key))
	return &h, nil
}

// CheckPasswordHash validates a PHC string (for configured password-hash values).
func CheckPasswordHash(phc string) error {
	_, err := parsePasswordHash(phc)
	return err
}

// VerifyPassword reports whether password matches the argon2id PHC string, comparing in
// constant time. A malformed hash is an error (wrapping ErrPasswordHash), never a match.
func VerifyPassword(phc, password string) (bool, error) {
	h, err := parsePasswordHash(phc)
	if err != nil {
		return false, err
	}
	if len(password) > maxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), h.salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, h.params.KeyLen)
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}
