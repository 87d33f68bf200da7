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

// splitCompact splits a three-segment compact JWS. The base64 decoder refuses every byte
// outside the alphabet except CR and LF, which it skips silently, so those two are looked for
// here; describeInvalid turns a decoder error into a precise message.
func splitCompact(token string) (h, p, s string, err error) {
	if token == "" {
		return "", "", "", fmt.Errorf("%w: empty token", ErrMalformed)
	}
	if dots := strings.Count(token, "."); dots != 2 {
		if err := firstInvalidChar(token); err != nil {
			return "", "", "", err
		}
		hint := ""
		if dots == 4 {
			hint = " (five segments is an encrypted token, JWE)"
		}
		return "", "", "", fmt.Errorf("%w: expected three dot-separated segments, found %d%s", ErrMalformed, dots+1, hint)
	}
	if strings.IndexByte(token, '\n') >= 0 || strings.IndexByte(token, '\r') >= 0 {
		return "", "", "", firstInvalidChar(token)
	}
	i := strings.IndexByte(token, '.')
	j := i + 1 + strings.IndexByte(token[i+1:], '.')
	return token[:i], token[i+1 : j], token[j+1:], nil
}

// firstInvalidChar reports the first byte of token that is neither base64url nor a dot.
func firstInvalidChar(token string) error {
	for i := 0; i < len(token); i++ {
		if c := token[i]; c != '.' && !isBase64URL(c) {
			return fmt.Errorf("%w: character %d (%s) is not base64url", ErrMalformed, i, describeByte(c))
		}
	}
	return nil
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
		if bad := firstInvalidChar(seg); bad != nil {
			return nil, nil, fmt.Errorf("%s segment: %w", name, bad)
		}
		return nil, nil, fmt.Errorf("%w: %s segment is not canonical base64url (length or trailing bits)", ErrMalformed, name)
	}
	return dst[:n:n], dst[n:], nil
}

// maxHeaderMembers bounds the protected header; real ones have fewer than ten.
const maxHeaderMembers = 64

// parseHeader decodes a protected header: a JSON object in valid UTF-8 without duplicate
// member names, with the registered parameters of the right JSON types. It walks the object
// itself instead of decoding into a map: this runs for every token.
func parseHeader(raw []byte) (Header, error) {
	if !utf8.Valid(raw) {
		return Header{}, fmt.Errorf("%w: header: not valid UTF-8", ErrMalformed)
	}
	if !json.Valid(raw) || firstNonSpace(raw) != '{' {
		return Header{}, fmt.Errorf("%w: header: not a JSON object", ErrMalformed)
	}
	h := Header{Raw: raw}
	var seenBuf [16][]byte
	seen := seenBuf[:0]
	var critRaw []byte
	sc := objectScanner{b: raw}
	for {
		name, value, ok := sc.next()
		if !ok {
			break
		}
		for _, prev := range seen {
			if string(prev) == string(name) {
				return Header{}, fmt.Errorf("%w: header: duplicate member names", ErrMalformed)
			}
		}
		if len(seen) == maxHeaderMembers {
			return Header{}, fmt.Errorf("%w: header: more than %d parameters", ErrMalformed, maxHeaderMembers)
		}
		seen = append(seen, name)
		var dst *string
		switch string(name) {
		case "alg":
			dst = &h.Alg
		case "kid":
			dst = &h.Kid
		case "typ":
			dst = &h.Typ
		case "cty":
			dst = &h.Cty
		case "x5t":
			dst = &h.X5t
		case "x5t#S256":
			dst = &h.X5tS256
		case "enc":
			dst = &h.Enc
		case "zip":
			dst = &h.Zip
		case "jwk":
			h.HasJWK = true
		case "jku":
			h.HasJKU = true
		case "x5u":
			h.HasX5U = true
		case "x5c":
			h.HasX5C = true
		case "crit":
			critRaw = value
		case "b64":
			b := string(value) == "true"
			if !b && string(value) != "false" {
				return Header{}, fmt.Errorf("%w: header: b64 must be a boolean", ErrMalformed)
			}
			h.B64 = &b
		}
		if dst != nil {
			v, err := jsonString(value)
			if err != nil {
				return Header{}, fmt.Errorf("%w: header: %s must be a string", ErrMalformed, name)
			}
			*dst = v
		}
	}
	if h.Alg == "" {
		return Header{}, fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	if critRaw != nil {
		crit, err := parseCrit(critRaw, func(name string) bool {
			for _, n := range seen {
				if string(n) == name {
					return true
				}
			}
			return false
		})
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

// objectScanner walks the members of a JSON object already known to be valid JSON. Member
// names come back raw (without quotes) unless they hold escapes, in which case decoded.
type objectScanner struct {
	b []byte
	i int
}

func (sc *objectScanner) skipSpace() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\r', '\n':
			sc.i++
		default:
			return
		}
	}
}

// next returns the next member's name and raw value.
func (sc *objectScanner) next() (name, value []byte, ok bool) {
	sc.skipSpace()
	if sc.i < len(sc.b) && (sc.b[sc.i] == '{' || sc.b[sc.i] == ',') {
		sc.i++
		sc.skipSpace()
	}
	if sc.i >= len(sc.b) || sc.b[sc.i] != '"' {
		return nil, nil, false // '}' or the end
	}
	start := sc.i
	sc.i = skipString(sc.b, sc.i)
	name = sc.b[start+1 : sc.i-1]
	if bytesHasBackslash(name) {
		var s string
		if json.Unmarshal(sc.b[start:sc.i], &s) == nil {
			name = []byte(s)
		}
	}
	sc.skipSpace()
	sc.i++ // ':'
	sc.skipSpace()
	vstart := sc.i
	sc.i = skipValue(sc.b, sc.i)
	return name, sc.b[vstart:sc.i], true
}

// skipString returns the index after the JSON string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i
			}
			i++
		}
		return i
	}
}

func bytesHasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// jsonString decodes a raw JSON string value; anything else is an error.
func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", fmt.Errorf("not a string")
	}
	if inner := raw[1 : len(raw)-1]; !bytesHasBackslash(inner) {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// parseCrit checks crit per RFC 7515 §4.1.11. No extension is implemented here, so any
// well-formed crit is refused: a name we do not understand must make the token invalid.
func parseCrit(raw []byte, present func(string) bool) ([]string, error) {
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
		if !present(name) {
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
