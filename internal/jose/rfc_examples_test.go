package jose

import (
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portcullis/internal/corpus"
)

func TestRFCExamples(t *testing.T) {
	dir := corpus.Dir(t, "jose/rfc-examples")
	var doc struct {
		Examples []struct {
			ID              string          `json:"id"`
			VerificationKey json.RawMessage `json:"verification_key"`
			PrivateKey      json.RawMessage `json:"private_key"`
			Compact         string          `json:"compact"`
			ProtectedHeader string          `json:"protected_header"`
			Payload         string          `json:"payload"`
			ExpectedJWS     string          `json:"expected_jws"`
		} `json:"examples"`
	}
	readCorpusJSON(t, filepath.Join(dir, "rfc_jws_examples.json"), &doc)
	if len(doc.Examples) == 0 {
		t.Fatal("no examples")
	}
	// What each refused example must fail with.
	refusals := map[string]error{
		"rfc7515-a5-none":                      ErrUnsigned,
		"rfc7520-4.5-hs256-detached":           ErrSignatureInvalid,
		"rfc7797-4.2-hs256-b64-false-detached": ErrUnencodedPayload,
	}
	for _, ex := range doc.Examples {
		t.Run(ex.ID, func(t *testing.T) {
			var key *Key
			if string(ex.VerificationKey) != "null" {
				var err error
				if key, err = ParseJWK(ex.VerificationKey); err != nil {
					t.Fatalf("ParseJWK: %v", err)
				}
			}
			accept := strings.HasPrefix(ex.ExpectedJWS, "accept")
			j, err := ParseCompact(ex.Compact)
			if err == nil {
				if string(j.Header.Raw) != ex.ProtectedHeader || string(j.Payload) != ex.Payload {
					t.Errorf("decoded header %q payload %q", j.Header.Raw, j.Payload)
				}
				err = j.Verify(key)
			}
			if accept {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
			} else if want := refusals[ex.ID]; !errors.Is(err, want) {
				t.Fatalf("got %v, want %v", err, want)
			}
			if accept && len(ex.PrivateKey) > 0 && string(ex.PrivateKey) != "null" {
				resignMatches(t, ex.PrivateKey, ex.Compact, key)
			}
		})
	}
}

// resignMatches signs the example's payload again with its private key (see resignWith).
func resignMatches(t *testing.T, privateJWK json.RawMessage, compact string, verify *Key) {
	t.Helper()
	priv, err := ParseJWK(privateJWK)
	if err != nil {
		t.Fatalf("private key: %v", err)
	}
	signer, ok := priv.Private.(crypto.Signer)
	if !ok {
		t.Fatalf("private key is %T", priv.Private)
	}
	resignWith(t, signer, compact, verify)
}

func TestJOSECookbook(t *testing.T) {
	dir := corpus.Dir(t, "jose/jose-cookbook")
	type example struct {
		Input struct {
			Key json.RawMessage `json:"key"`
		} `json:"input"`
		Output struct {
			Compact string `json:"compact"`
		} `json:"output"`
	}
	for _, tc := range []struct {
		file string
		want error // nil: verifies
	}{
		{"jws/4_1.rsa_v15_signature.json", nil},
		{"jws/4_2.rsa-pss_signature.json", nil},
		{"jws/4_3.ecdsa_signature.json", nil},
		{"jws/4_4.hmac-sha2_integrity_protection.json", nil},
		// Detached content: the compact form carries no payload, so the signature cannot match.
		{"jws/4_5.signature_with_detached_content.json", ErrSignatureInvalid},
		// The unencoded payload holds spaces, which no compact JWS may carry.
		{"rfc7797/hmac-sha2_b64_false.json", ErrMalformed},
		{"curve25519/jws.json", nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var ex example
			readCorpusJSON(t, filepath.Join(dir, tc.file), &ex)
			key, err := ParseJWK(ex.Input.Key)
			if err != nil {
				t.Fatalf("ParseJWK: %v", err)
			}
			j, err := ParseCompact(ex.Output.Compact)
			if err == nil {
				err = j.Verify(key)
			}
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				if signer, ok := key.Private.(crypto.Signer); ok {
					pub := &Key{Public: key.Public}
					resignWith(t, signer, ex.Output.Compact, pub)
				}
			}
		})
	}
	// The JSON-serialization-only examples have no compact form: nothing to accept.
	for _, name := range []string{"jws/4_6.protecting_specific_header_fields.json", "jws/4_7.protecting_content_only.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseCompact(string(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: JSON serialization parsed as compact: %v", name, err)
		}
	}
}

// resignWith signs the payload of compact again: the result must verify, and where the
// algorithm is deterministic (RS, EdDSA) and the header is one Sign writes, it must equal the
// published token byte for byte.
func resignWith(t *testing.T, signer crypto.Signer, compact string, verify *Key) {
	t.Helper()
	orig, err := ParseCompact(compact)
	if err != nil {
		t.Fatal(err)
	}
	token, err := Sign(orig.Header.Alg, signer, orig.Header.Kid, nil, orig.Payload)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	j, err := ParseCompact(token)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Verify(verify); err != nil {
		t.Fatalf("re-signed token does not verify: %v", err)
	}
	deterministic := strings.HasPrefix(orig.Header.Alg, "RS") || orig.Header.Alg == "EdDSA"
	if deterministic && string(j.Header.Raw) == string(orig.Header.Raw) && token != compact {
		t.Errorf("re-signed token differs from the cookbook's:\n got %s\nwant %s", token, compact)
	}
}
