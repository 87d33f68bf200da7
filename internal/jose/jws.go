package jose

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// MaxTokenSize bounds the compact form ParseCompact and Decrypt accept. Entra's largest tokens
// (many groups, roles) stay well under it; anything bigger is refused before decoding.
const MaxTokenSize = 64 << 10

// b64url is the only decoder for token segments: unpadded, and Strict so that non-zero
// trailing bits (two spellings of the same bytes) are refused.
var b64url = base64.RawURLEncoding.Strict()

// registeredHeaders are the names RFC 7515/7516 define; crit must not list them.
var registeredHeaders = map[string]bool{
	"alg": true, "jku": true, "jwk": true, "kid": true, "x5u": true, "x5c": true, "x5t": true,
	"x5t#S256": true, "typ": true, "cty": true, "crit": true, "enc": true, "zip": true,
}

// ParseCompact parses a compact JWS strictly (canonical base64url, three segments, JSON
// header). It checks nothing about the signature.
func ParseCompact(token string) (*JWS, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTokenTooLarge, len(token), MaxTokenSize)
	}
	h, p, s, err := splitCompact(token)
	if err != nil {
		return nil, err
	}
	if h == "" {
		return nil, fmt.Errorf("%w: the header segment is empty", ErrMalformed)
	}
	// One allocation holds the decoded header, payload and signature.
	buf := make([]byte, b64url.DecodedLen(len(h))+b64url.DecodedLen(len(p))+b64url.DecodedLen(len(s)))
	header, rest, err := decodeSegment("header", h, buf)
	if err != nil {
		return nil, err
	}
	payload, rest, err := decodeSegment("payload", p, rest)
	if err != nil {
		return nil, err
	}
	sig, _, err := decodeSegment("signature", s, rest)
	if err != nil {
		return nil, err
	}
	hdr, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	if hdr.Alg == "none" && len(sig) != 0 {
		return nil, fmt.Errorf("%w: alg none with a non-empty signature", ErrMalformed)
	}
	return &JWS{
		Header:       hdr,
		Payload:      payload,
		Signature:    sig,
		SigningInput: token[:len(h)+1+len(p)],
	}, nil
}

// splitCompact splits a three-segment compact JWS and checks every character is base64url,
// so that whitespace, padding, '+' and '/' get a precise error (the base64 package would
// silently skip CR and LF).
func splitCompact(token string) (h, p, s string, err error) {
	if token == "" {
		return "", "", "", fmt.Errorf("%w: empty token", ErrMalformed)
	}
	dots := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		if c == '.' {
			dots++
			continue
		}
		if !isBase64URL(c) {
			return "", "", "", fmt.Errorf("%w: character %d (%s) is not base64url", ErrMalformed, i, describeByte(c))
		}
	}
	if dots != 2 {
		hint := ""
		if dots == 4 {
			hint = " (five segments is an encrypted token, JWE)"
		}
		return "", "", "", fmt.Errorf("%w: expected three dot-separated segments, found %d%s", ErrMalformed, dots+1, hint)
	}
	i := strings.IndexByte(token, '.')
	j := i + 1 + strings.IndexByte(token[i+1:], '.')
	return token[:i], token[i+1 : j], token[j+1:], nil
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func describeByte(c byte) string {
	switch {
	case c == '=':
		return "padding '='"
	case c == '+' || c == '/':
		return fmt.Sprintf("%q from standard base64", c)
	case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		return "whitespace"
	case c < 0x20 || c >= 0x7f:
		return fmt.Sprintf("byte 0x%02x", c)
	default:
		return fmt.Sprintf("%q", c)
	}
}

// decodeSegment decodes seg into the front of dst and returns the decoded bytes and the rest.
func decodeSegment(name, seg string, dst []byte) (decoded, rest []byte, err error) {
	if seg == "" {
		return dst[:0:0], dst, nil
	}
	// The decoder only reads src, so a view of the string's bytes avoids copying the token.
	src := unsafe.Slice(unsafe.StringData(seg), len(seg))
	n, err := b64url.Decode(dst, src)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s segment is not canonical base64url: %v", ErrMalformed, name, err)
	}
	return dst[:n:n], dst[n:], nil
}

// parseHeader decodes a protected header: a JSON object in valid UTF-8 without duplicate
// member names, with the registered parameters of the right JSON types.
func parseHeader(raw []byte) (Header, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return Header{}, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	h := Header{Raw: raw}
	strs := [...]struct {
		name string
		dst  *string
	}{
		{"alg", &h.Alg}, {"kid", &h.Kid}, {"typ", &h.Typ}, {"cty", &h.Cty}, {"x5t", &h.X5t},
		{"x5t#S256", &h.X5tS256}, {"enc", &h.Enc}, {"zip", &h.Zip},
	}
	for _, f := range strs {
		v, ok, err := stringMember(m, f.name)
		if err != nil {
			return Header{}, fmt.Errorf("%w: header: %w", ErrMalformed, err)
		}
		if ok {
			*f.dst = v
		}
	}
	if h.Alg == "" {
		return Header{}, fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	_, h.HasJWK = m["jwk"]
	_, h.HasJKU = m["jku"]
	_, h.HasX5U = m["x5u"]
	_, h.HasX5C = m["x5c"]
	if raw, ok := m["b64"]; ok {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil || !isJSONBool(raw) {
			return Header{}, fmt.Errorf("%w: header: b64 must be a boolean", ErrMalformed)
		}
		h.B64 = &b
	}
	if raw, ok := m["crit"]; ok {
		crit, err := parseCrit(raw, m)
		if err != nil {
			return Header{}, err
		}
		h.Crit = crit
	}
	if h.B64 != nil {
		return Header{}, fmt.Errorf("%w: the header sets b64 to %t", ErrUnencodedPayload, *h.B64)
	}
	return h, nil
}

// parseCrit checks crit per RFC 7515 §4.1.11. No extension is implemented here, so any
// well-formed crit is refused: a name we do not understand must make the token invalid.
func parseCrit(raw json.RawMessage, m map[string]json.RawMessage) ([]string, error) {
	var crit []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &crit) != nil {
		return nil, fmt.Errorf("%w: header: crit must be an array of strings", ErrMalformed)
	}
	if len(crit) == 0 {
		return nil, fmt.Errorf("%w: header: crit must not be empty", ErrMalformed)
	}
	seen := make(map[string]bool, len(crit))
	for _, name := range crit {
		switch {
		case seen[name]:
			return nil, fmt.Errorf("%w: header: crit lists %q twice", ErrMalformed, name)
		case registeredHeaders[name]:
			return nil, fmt.Errorf("%w: header: crit lists the registered parameter %q", ErrMalformed, name)
		}
		seen[name] = true
		if _, ok := m[name]; !ok {
			return nil, fmt.Errorf("%w: header: crit lists %q, which the header does not carry", ErrMalformed, name)
		}
	}
	for _, name := range crit {
		if name == "b64" {
			return nil, fmt.Errorf("%w: crit lists b64", ErrUnencodedPayload)
		}
	}
	return nil, fmt.Errorf("%w: crit lists %q; no critical extension is supported", ErrCriticalHeader, crit)
}

// decodeObject decodes a JSON object into its members, refusing invalid UTF-8 and duplicate
// member names (encoding/json would keep the last one silently; RFC 7515 §4 requires a
// parser either to reject or to use the last, and rejecting is the safe choice).
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("not valid UTF-8")
	}
	first := firstNonSpace(raw)
	if first != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if n := countMembers(raw); n != len(m) {
		return nil, fmt.Errorf("duplicate member names")
	}
	return m, nil
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
	}
	return 0
}

// countMembers counts the members of the top-level object in valid JSON text.
func countMembers(b []byte) int {
	depth, n := 0, 0
	inString, escaped, expectName := false, false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			if depth == 1 && expectName {
				n++
				expectName = false
			}
		case '{', '[':
			depth++
			if depth == 1 {
				expectName = true
			}
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				expectName = true
			}
		}
	}
	return n
}

// stringMember returns the member name as a string; present but not a JSON string is an error.
func stringMember(m map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := m[name]
	if !ok {
		return "", false, nil
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", true, fmt.Errorf("%s must be a string", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, fmt.Errorf("%s must be a string", name)
	}
	return s, true, nil
}

func isJSONBool(raw []byte) bool {
	s := string(raw)
	return s == "true" || s == "false"
}
