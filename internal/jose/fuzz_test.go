package jose

import (
	"errors"
	"strings"
	"testing"
)

// sentinels are the failure reasons every error must wrap.
var sentinels = []error{ErrMalformed, ErrTokenTooLarge, ErrCriticalHeader, ErrUnencodedPayload, ErrUnsigned,
	ErrUnsupportedAlgorithm, ErrAlgorithmNotAllowed, ErrKeyTooSmall, ErrSignatureInvalid, ErrInvalidKey,
	ErrInvalidKeySet, ErrDecryption}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzParseCompact(f *testing.F) {
	secret := make32()
	for _, payload := range []string{`{"sub":"x"}`, ``, `[]`} {
		token, err := SignHMAC("HS256", secret, "kid-1", map[string]any{"typ": "JWT"}, []byte(payload))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(token)
	}
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	keys := []*Key{{Secret: secret}, {Public: &keysOnce().p256.PublicKey}, {Public: keysOnce().ed.Public()}}
	f.Fuzz(func(t *testing.T, token string) {
		j, err := ParseCompact(token)
		if err != nil {
			if j != nil || !wrapsSentinel(err) {
				t.Fatalf("ParseCompact(%q) = %v, %v", token, j, err)
			}
			return
		}
		// What parses is canonical: re-encoding the parts gives the token back.
		segments := strings.Split(token, ".")
		if len(segments) != 3 || b64url.EncodeToString(j.Header.Raw) != segments[0] ||
			b64url.EncodeToString(j.Payload) != segments[1] || b64url.EncodeToString(j.Signature) != segments[2] {
			t.Fatalf("non-canonical token accepted: %q", token)
		}
		if j.SigningInput != segments[0]+"."+segments[1] || j.Header.Alg == "" || j.Header.B64 != nil || j.Header.Crit != nil {
			t.Fatalf("inconsistent JWS from %q: %+v", token, j.Header)
		}
		for _, key := range keys {
			if err := j.Verify(key); err != nil && !wrapsSentinel(err) {
				t.Fatalf("Verify error without a reason: %v", err)
			}
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	k := keysOnce()
	f.Add(keySet(f, rsaJWK(&k.rsa2048.PublicKey, map[string]any{"kid": "a", "use": "sig"}), ecJWK(&k.p256.PublicKey, "P-256", map[string]any{"kid": "b"})))
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, skipped, err := ParseJWKS(data)
		if err != nil {
			if keys != nil || !wrapsSentinel(err) {
				t.Fatalf("ParseJWKS error %v with keys %v", err, keys)
			}
			return
		}
		for _, s := range skipped {
			if !wrapsSentinel(s) {
				t.Fatalf("skip reason without a sentinel: %v", s)
			}
		}
		seen := map[string]bool{}
		for _, key := range keys {
			if key.Secret != nil || key.Private != nil || key.Public == nil {
				t.Fatalf("published key set yielded %+v", key)
			}
			if key.ID != "" && seen[key.ID] {
				t.Fatalf("kid %q kept twice", key.ID)
			}
			seen[key.ID] = true
		}
		// A single key parses the same way through ParseJWK, which must not panic either.
		_, _ = ParseJWK(data)
	})
}

func FuzzDecrypt(f *testing.F) {
	kw := make([]byte, 16)
	dir := make([]byte, 32)
	for i := range kw {
		kw[i] = byte(i)
	}
	for i := range dir {
		dir[i] = byte(255 - i)
	}
	keys := []Key{{Secret: kw}, {Secret: dir}}
	for _, tc := range []struct {
		alg, enc string
		key      []byte
	}{{"A128KW", "A128GCM", kw}, {"A128KW", "A128CBC-HS256", kw}, {"dir", "A256GCM", dir}, {"dir", "A128CBC-HS256", dir}} {
		token, err := Encrypt([]byte(`eyJhbGciOiJub25lIn0.e30.`), tc.alg, tc.enc, &Key{Secret: tc.key}, map[string]any{"cty": "JWT"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		plain, err := Decrypt(token, keys)
		if err != nil {
			if plain != nil || !wrapsSentinel(err) {
				t.Fatalf("Decrypt error %v with plaintext", err)
			}
			return
		}
		if !IsEncrypted(token) {
			t.Fatalf("decrypted a token that is not five segments: %q", token)
		}
	})
}
