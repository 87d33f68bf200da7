package inspect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrNotJWT: the text is not a compact JWT that can be shown.
var ErrNotJWT = errors.New("not a JWT")

// MaxTokenSize bounds what Parse reads; real access tokens are a few kilobytes.
const MaxTokenSize = 256 << 10

// Token is a JWT taken apart, unverified.
type Token struct {
	// Header and Claims are the decoded JSON, in the token's own key order.
	Header, Claims json.RawMessage
	header         map[string]any
	claims         map[string]any
	// SignatureBytes is the length of the decoded signature (0 for an unsigned token).
	SignatureBytes int
	// Encrypted is true for a compact JWE: only its header can be shown.
	Encrypted bool
}

// Parse takes apart a compact JWS (three segments) or JWE (five). Surrounding space and a
// "Bearer " prefix, as copied from an Authorization header, are ignored.
func Parse(raw string) (*Token, error) {
	s := strings.TrimSpace(raw)
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	if s == "" {
		return nil, fmt.Errorf("%w: the input is empty", ErrNotJWT)
	}
	if len(s) > MaxTokenSize {
		return nil, fmt.Errorf("%w: the input is %d bytes, more than the %d a token can be", ErrNotJWT, len(s), MaxTokenSize)
	}
	segs := strings.Split(s, ".")
	switch len(segs) {
	case 3, 5:
	default:
		return nil, fmt.Errorf("%w: expected header.payload.signature (three base64url parts separated by dots), found %d part(s)", ErrNotJWT, len(segs))
	}
	t := &Token{Encrypted: len(segs) == 5}
	var err error
	if t.Header, t.header, err = decodeObject(segs[0], "header"); err != nil {
		return nil, err
	}
	if _, ok := t.header["alg"].(string); !ok {
		return nil, fmt.Errorf("%w: the header has no \"alg\" (a JOSE header always names its algorithm)", ErrNotJWT)
	}
	if t.Encrypted {
		return t, nil
	}
	if t.Claims, t.claims, err = decodeObject(segs[1], "payload"); err != nil {
		return nil, err
	}
	sig, err := decodeSegment(segs[2])
	if err != nil {
		return nil, fmt.Errorf("%w: the signature is not base64url: %w", ErrNotJWT, err)
	}
	t.SignatureBytes = len(sig)
	return t, nil
}

func decodeSegment(seg string) ([]byte, error) {
	// Padding is not part of JWS base64url, but pasted tokens sometimes carry it.
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
}

func decodeObject(seg, what string) (json.RawMessage, map[string]any, error) {
	b, err := decodeSegment(seg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the %s is not base64url: %w", ErrNotJWT, what, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, nil, fmt.Errorf("%w: the %s is not a JSON object", ErrNotJWT, what)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("%w: the %s has data after its JSON object", ErrNotJWT, what)
	}
	return json.RawMessage(b), m, nil
}

// Claim returns a claim's value as decoded (numbers as json.Number), or nil.
func (t *Token) Claim(name string) any { return t.claims[name] }

// HeaderParam returns a header parameter's value, or nil.
func (t *Token) HeaderParam(name string) any { return t.header[name] }

func (t *Token) str(name string) string {
	s, _ := t.claims[name].(string)
	return s
}
