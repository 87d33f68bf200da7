package jose

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portcullis/internal/corpus"
)

// nonStandardKeySet is the 2014 IdentityModel test key set: "n" in standard base64 (with '+'
// and '/'), "alg":"SHA256" and "key_ops":["signing"]. Every entry breaks RFC 7517/7518, so a
// strict parser refuses them all; Entra's published key sets since are standard.
const nonStandardKeySet = "identitymodel-JsonWebKeySet-2014.json"

// TestEntraKeySets parses every real Microsoft key set: all keys must be usable, and where a
// key carries x5c the parser has checked its x5t is the certificate's thumbprint.
func TestEntraKeySets(t *testing.T) {
	dir := corpus.Dir(t, "entra/jwks")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no key sets in %s (%v)", dir, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			keys, skipped, err := ParseJWKS(data)
			if err != nil {
				t.Fatalf("ParseJWKS: %v", err)
			}
			if filepath.Base(file) == nonStandardKeySet {
				if len(keys) != 0 || len(skipped) != 2 {
					t.Fatalf("non-standard set: %d keys, skipped %v; want none and two reasons", len(keys), skipped)
				}
				for _, err := range skipped {
					if !errors.Is(err, ErrInvalidKey) && !errors.Is(err, ErrAlgorithmNotAllowed) {
						t.Errorf("skip reason %v", err)
					}
				}
				return
			}
			if len(skipped) != 0 {
				t.Errorf("skipped keys: %v", skipped)
			}
			if len(keys) == 0 {
				t.Fatal("no keys")
			}
			for _, k := range keys {
				if k.Public == nil {
					t.Errorf("key %q has no public key", k.ID)
				}
			}
		})
	}
}

// TestEntraTokens verifies the real Microsoft tokens against the key their manifest names.
func TestEntraTokens(t *testing.T) {
	dir := corpus.Dir(t, "entra")
	var manifest []struct {
		File              string `json:"file"`
		KeyFile           string `json:"key_file"`
		SignatureVerified bool   `json:"signature_verified"`
		Verification      string `json:"verification"`
	}
	readCorpusJSON(t, filepath.Join(dir, "tokens.json"), &manifest)
	checked := 0
	for _, m := range manifest {
		if m.KeyFile == "" {
			continue // no published key for this token
		}
		t.Run(filepath.Base(m.File), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, m.File))
			if err != nil {
				t.Fatal(err)
			}
			keys := loadEntraKeys(t, filepath.Join(dir, m.KeyFile))
			j, err := ParseCompact(strings.TrimSpace(string(raw)))
			if err != nil {
				// The test suites' wrong-signature tokens altered the signature segment so
				// that it is not even canonical base64url.
				if !m.SignatureVerified && errors.Is(err, ErrMalformed) {
					checked++
					return
				}
				t.Fatalf("ParseCompact: %v", err)
			}
			key := selectKey(keys, j.Header)
			if filepath.Base(m.KeyFile) == nonStandardKeySet {
				if key != nil {
					t.Fatalf("a key of the non-standard set was accepted")
				}
				return
			}
			if key == nil {
				t.Fatalf("no key for kid %q / x5t %q", j.Header.Kid, j.Header.X5t)
			}
			err = j.Verify(key)
			// Graph access tokens carry a header nonce that Graph rewrites before verifying;
			// as given they do not verify anywhere else, and must be refused here.
			want := m.SignatureVerified && strings.HasPrefix(m.Verification, "RS256 over the token as given")
			switch {
			case want && err != nil:
				t.Errorf("rejected: %v", err)
			case !want && !errors.Is(err, ErrSignatureInvalid):
				t.Errorf("got %v, want ErrSignatureInvalid", err)
			}
			checked++
		})
	}
	if checked < 16 {
		t.Errorf("only %d tokens checked", checked)
	}
}

func loadEntraKeys(t *testing.T, path string) []Key {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".pem") {
		k, err := KeyFromPEM(data)
		if err != nil {
			t.Fatal(err)
		}
		return []Key{*k}
	}
	keys, _, err := ParseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// selectKey picks the key the header names, by kid or (Entra v1 tokens) by x5t.
func selectKey(keys []Key, h Header) *Key {
	for i := range keys {
		k := &keys[i]
		if h.Kid != "" && k.ID == h.Kid {
			return k
		}
		if h.Kid == "" && h.X5t != "" && (k.X5t == h.X5t || k.ID == h.X5t) {
			return k
		}
	}
	return nil
}
