package jwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"portcullis/internal/corpus"
	"portcullis/internal/jose"
)

// TestWycheproofSignatures runs Project Wycheproof's JWS vectors through the validator with
// each group's key configured as a signing key. Their payloads are not JWT claim sets, so
// every vector is refused; what matters is why: an invalid vector must fail on its signature
// or its form, never get as far as the claims, and a valid one must pass the signature check
// and fail only on its payload.
func TestWycheproofSignatures(t *testing.T) {
	dir := corpus.Dir(t, filepath.Join("jose", "wycheproof"))
	data, err := os.ReadFile(filepath.Join(dir, "json_web_signature_test.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		TestGroups []struct {
			Comment string          `json:"comment"`
			Private json.RawMessage `json:"private"`
			Public  json.RawMessage `json:"public"`
			Tests   []struct {
				TcID    int             `json:"tcId"`
				Comment string          `json:"comment"`
				JWS     json.RawMessage `json:"jws"`
				Result  string          `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	// Labels the corpus README shows to be wrong upstream, and how a strict verifier treats them.
	override := map[int]string{367: "skip", 370: "skip", 372: "invalid", 373: "invalid", 346: "either", 350: "either", 347: "either", 351: "either"}
	ran := 0
	for _, g := range file.TestGroups {
		keyDoc := g.Public
		if len(keyDoc) == 0 {
			keyDoc = g.Private
		}
		key, err := wycheproofKey(keyDoc)
		if err != nil {
			t.Logf("group %q: key refused (%v); its vectors must all fail", g.Comment, err)
		}
		cfg := Config{Checks: Checks{AllowNoExpiration: true}}
		if key != nil {
			cfg.SigningKeys = []jose.Key{*key}
		}
		v := mustValidator(t, cfg)
		for _, tc := range g.Tests {
			var compact string
			if json.Unmarshal(tc.JWS, &compact) != nil {
				continue // JSON serialization: not a bearer token
			}
			want := tc.Result
			if o, ok := override[tc.TcID]; ok {
				want = o
			}
			if want == "skip" {
				continue
			}
			ran++
			t.Run(fmt.Sprintf("%d-%s", tc.TcID, tc.Comment), func(t *testing.T) {
				tok, err := v.Validate(compact)
				if err == nil {
					t.Fatalf("accepted a token whose payload is %q", tok.Payload)
				}
				f := failureOf(t, err)
				signatureStage := f.Reason == TokenSignatureInvalid || f.Reason == TokenSignatureKeyNotFound ||
					f.Reason == TokenNotPresent || (f.Reason == JwtInvalid && !errors.Is(f, errClaims))
				switch {
				case want == "invalid" && !signatureStage:
					t.Fatalf("an invalid vector got past the signature check: %s %s", f.Reason, f.Detail)
				case want == "valid" && key != nil && signatureStage:
					t.Fatalf("a valid signature was refused: %s %s", f.Reason, f.Detail)
				}
			})
		}
	}
	if ran < 300 {
		t.Fatalf("only %d vectors ran", ran)
	}
}

// wycheproofKey reads a group's JWK; oct (HMAC) keys come from the trusted-set parser, as a
// configured secret would.
func wycheproofKey(doc json.RawMessage) (*jose.Key, error) {
	if k, err := jose.ParseJWK(doc); err == nil {
		return k, nil
	}
	ks, _, err := jose.ParseTrustedJWKS([]byte(`{"keys":[` + string(doc) + `]}`))
	if err != nil {
		return nil, err
	}
	if len(ks) != 1 {
		return nil, fmt.Errorf("no usable key")
	}
	return &ks[0], nil
}
