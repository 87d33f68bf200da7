package directory_test

import (
	"errors"
	"strings"
	"testing"

	"portcullis/internal/directory"
)

func TestGenerateSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s, err := directory.GenerateSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 46 {
			t.Fatalf("secret %d characters long, want 46 (43 random × 6 bits ≥ 256)", len(s))
		}
		if s[3:6] != "8Q~" {
			t.Fatalf("secret %q lacks Entra's version marker at 3..6", s[:6]+"…")
		}
		for _, c := range s[:3] + s[6:] {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", c) {
				t.Fatalf("secret has %q outside the alphabet", c)
			}
		}
		if seen[s] {
			t.Fatal("GenerateSecret repeated a secret")
		}
		seen[s] = true
	}
}

func TestSecretHashing(t *testing.T) {
	const secret = "abc8Q~0123456789abcdefghijklmnopqrstuvwxyzABCD"
	hash := directory.HashSecret(secret)
	// SHA-256 of the secret, standard base64 with padding.
	if !strings.HasPrefix(hash, "sha256:") || len(hash) != len("sha256:")+44 {
		t.Fatalf("hash %q is not sha256:<base64 of 32 bytes>", hash)
	}
	if strings.Contains(hash, secret[6:20]) {
		t.Fatal("the hash contains the secret")
	}
	unpadded := strings.TrimRight(hash, "=")
	tests := []struct {
		name   string
		hash   string
		secret string
		want   bool
	}{
		{"right secret", hash, secret, true},
		{"unpadded hash", unpadded, secret, true},
		{"wrong secret", hash, secret + "x", false},
		{"empty secret", hash, "", false},
		{"other prefix", strings.Replace(hash, "sha256:", "sha1:", 1), secret, false},
		{"truncated digest", hash[:30], secret, false},
		{"not base64", "sha256:!!!!", secret, false},
		{"empty hash", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := directory.VerifySecret(tc.hash, tc.secret); got != tc.want {
				t.Fatalf("VerifySecret = %v, want %v", got, tc.want)
			}
		})
	}
	canon, err := directory.ParseSecretHash(unpadded)
	if err != nil || canon != hash {
		t.Fatalf("ParseSecretHash(unpadded) = %q, %v; want %q", canon, err, hash)
	}
	for _, bad := range []string{"", "sha256:", "sha256:AAAA", "md5:" + hash[7:], hash + "AAAA"} {
		if _, err := directory.ParseSecretHash(bad); !errors.Is(err, directory.ErrSecretHash) {
			t.Errorf("ParseSecretHash(%q) = %v, want ErrSecretHash", bad, err)
		}
	}
	if h := directory.SecretHint(secret); h != "abc" {
		t.Fatalf("hint %q, want the first three characters", h)
	}
}

func TestPasswordHashing(t *testing.T) {
	cheap := directory.PasswordParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	phc, err := cheap.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("PHC string %q", phc)
	}
	again, _ := cheap.Hash("correct horse")
	if again == phc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	def, err := directory.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(def, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default parameters: %q", def)
	}
	parts := strings.Split(phc, "$")
	tests := []struct {
		name     string
		phc      string
		password string
		want     bool
		wantErr  error
	}{
		{"right password", phc, "correct horse", true, nil},
		{"default costs", def, "pw", true, nil},
		{"wrong password", phc, "correct horse ", false, nil},
		{"empty password", phc, "", false, nil},
		{"too long password", phc, strings.Repeat("x", 1025), false, nil},
		{"argon2i", strings.Replace(phc, "argon2id", "argon2i", 1), "correct horse", false, directory.ErrPasswordHash},
		{"old version", strings.Replace(phc, "v=19", "v=16", 1), "correct horse", false, directory.ErrPasswordHash},
		{"huge memory", strings.Replace(phc, "m=64", "m=99999999", 1), "correct horse", false, directory.ErrPasswordHash},
		{"zero passes", strings.Replace(phc, "t=1", "t=0", 1), "correct horse", false, directory.ErrPasswordHash},
		{"trailing garbage in params", strings.Replace(phc, "p=1", "p=1x", 1), "correct horse", false, directory.ErrPasswordHash},
		{"short salt", strings.Join([]string{"", parts[1], parts[2], parts[3], "c2FsdA", parts[5]}, "$"), "correct horse", false, directory.ErrPasswordHash},
		{"missing hash", strings.Join(parts[:5], "$"), "correct horse", false, directory.ErrPasswordHash},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuu", "x", false, directory.ErrPasswordHash},
		{"empty", "", "x", false, directory.ErrPasswordHash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := directory.VerifyPassword(tc.phc, tc.password)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("VerifyPassword = %v, want %v", got, tc.want)
			}
			if err == nil && directory.CheckPasswordHash(tc.phc) != nil {
				t.Fatal("CheckPasswordHash refuses a hash VerifyPassword accepts")
			}
		})
	}
	if _, err := cheap.Hash(strings.Repeat("x", 1025)); !errors.Is(err, directory.ErrPasswordTooLong) {
		t.Fatalf("hashing a 1025-byte password: %v", err)
	}
}

func BenchmarkVerifySecret(b *testing.B) {
	hash := directory.HashSecret("abc8Q~0123456789abcdefghijklmnopqrstuvwxyzABCD")
	for b.Loop() {
		directory.VerifySecret(hash, "abc8Q~0123456789abcdefghijklmnopqrstuvwxyzABCD")
	}
}

func BenchmarkVerifyPassword(b *testing.B) {
	phc, _ := directory.HashPassword("correct horse")
	for b.Loop() {
		directory.VerifyPassword(phc, "correct horse")
	}
}
