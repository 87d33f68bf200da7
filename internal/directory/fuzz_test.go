package directory_test

import (
	"strings"
	"testing"

	"portcullis/internal/directory"
)

func FuzzPasswordHash(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", "$2a$10$x", "", "$$$$$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, phc string) {
		checked := directory.CheckPasswordHash(phc)
		// Verifying runs argon2 at the hash's own cost: only cheap ones here.
		if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
			return
		}
		ok, err := directory.VerifyPassword(phc, "password")
		if err != nil && ok {
			t.Fatal("a malformed hash matched")
		}
		if (err == nil) != (checked == nil) {
			t.Fatal("CheckPasswordHash and VerifyPassword disagree")
		}
	})
}

func FuzzSecretHash(f *testing.F) {
	for _, s := range []string{directory.HashSecret("x"), "sha256:", "sha256:AAAA", "md5:x", ""} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, hash, secret string) {
		canon, err := directory.ParseSecretHash(hash)
		if err != nil {
			if directory.VerifySecret(hash, secret) {
				t.Fatal("a malformed hash matched")
			}
			return
		}
		if directory.VerifySecret(hash, secret) != directory.VerifySecret(canon, secret) {
			t.Fatal("a hash and its canonical form disagree")
		}
	})
}
