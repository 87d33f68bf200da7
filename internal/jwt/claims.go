package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// maxClaimsDepth bounds JSON nesting in a payload; real tokens nest two or three levels.
const maxClaimsDepth = 32

// maxNumericDate is 9999-12-31T23:59:59Z: beyond it a NumericDate is not a date anyone means.
const maxNumericDate = 253402300799

var errClaims = errors.New("malformed claims")

// parseClaims decodes a JWT payload strictly: a JSON object in valid UTF-8, member names
// matched exactly (encoding/json's struct decoding would let "AUD" stand for "aud"), no
// duplicate names, bounded nesting, and the registered claims of the right JSON types.
func parseClaims(data []byte, t *Token) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: the payload is not valid UTF-8", errClaims)
	}
	// Every unescaped name and value is a substring of the payload, which shares data's bytes
	// rather than copying them: data is the token's own decoded payload (Token.Payload), which
	// nothing writes to once decoded. A cached token then holds its payload once, not twice.
	payload := unsafe.String(unsafe.SliceData(data), len(data))
	i := skipSpace(payload, 0)
	if i >= len(payload) || payload[i] != '{' {
		return fmt.Errorf("%w: the payload is not a JSON object", errClaims)
	}
	t.Claims = make(map[string][]string, 24)
	slab := make([]string, 0, 32) // backing store of the single-valued claims
	var nulls map[string]bool     // null claims have no values but still count as names
	i = skipSpace(payload, i+1)
	if i < len(payload) && payload[i] == '}' {
		return trailing(payload, i+1)
	}
	for {
		if i >= len(payload) || payload[i] != '"' {
			return fmt.Errorf("%w: expected a claim name", errClaims)
		}
		name, next, err := scanString(payload, i)
		if err != nil {
			return fmt.Errorf("%w: %v", errClaims, err)
		}
		i = skipSpace(payload, next)
		if i >= len(payload) || payload[i] != ':' {
			return fmt.Errorf("%w: expected ':' after %q", errClaims, clip(name))
		}
		i = skipSpace(payload, i+1)
		end, err := skipValue(payload, i, 1)
		if err != nil {
			return fmt.Errorf("%w: claim %q: %v", errClaims, clip(name), err)
		}
		if _, dup := t.Claims[name]; dup || nulls[name] {
			return fmt.Errorf("%w: the claim %q appears twice", errClaims, clip(name))
		}
		raw := payload[i:end]
		if raw[0] == 'n' {
			if nulls == nil {
				nulls = make(map[string]bool)
			}
			nulls[name] = true
		}
		if err := setClaim(t, name, raw, &slab); err != nil {
			return err
		}
		i = skipSpace(payload, end)
		if i < len(payload) && payload[i] == ',' {
			i = skipSpace(payload, i+1)
			continue
		}
		if i < len(payload) && payload[i] == '}' {
			return trailing(payload, i+1)
		}
		return fmt.Errorf("%w: expected ',' or '}' after claim %q", errClaims, clip(name))
	}
}

func trailing(b string, i int) error {
	if skipSpace(b, i) != len(b) {
		return fmt.Errorf("%w: text follows the payload's JSON object", errClaims)
	}
	return nil
}

func setClaim(t *Token, name, raw string, slab *[]string) error {
	switch name {
	case "exp", "nbf", "iat":
		tm, err := numericDate(raw)
		if err != nil {
			return fmt.Errorf("%w: claim %q: %v", errClaims, name, err)
		}
		switch name {
		case "exp":
			t.ExpiresAt = tm
		case "nbf":
			t.NotBefore = tm
		default:
			t.IssuedAt = tm
		}
	case "aud":
		if raw[0] != '"' && raw[0] != '[' {
			return fmt.Errorf("%w: claim \"aud\" must be a string or an array of strings", errClaims)
		}
	case "iss", "sub", "jti", "tid":
		if raw[0] != '"' {
			return fmt.Errorf("%w: claim %q must be a string", errClaims, name)
		}
	}
	vals, err := claimValues(raw, slab)
	if err != nil {
		return fmt.Errorf("%w: claim %q: %v", errClaims, clip(name), err)
	}
	switch name {
	case "aud":
		if len(vals) == 0 {
			return fmt.Errorf("%w: claim \"aud\" must not be an empty array", errClaims)
		}
		if raw[0] == '[' && !allStrings(raw) {
			return fmt.Errorf("%w: claim \"aud\" must be a string or an array of strings", errClaims)
		}
		t.Audiences = vals
	case "iss":
		t.Issuer = vals[0]
	case "sub":
		t.Subject = vals[0]
	case "jti":
		t.ID = vals[0]
	}
	if vals != nil {
		t.Claims[name] = vals
	}
	return nil
}

// allStrings reports whether every element of the (valid) JSON array raw is a string.
func allStrings(raw string) bool {
	i := skipSpace(raw, 1)
	for i < len(raw) && raw[i] != ']' {
		if raw[i] != '"' {
			return false
		}
		end, err := skipValue(raw, i, 1)
		if err != nil {
			return false
		}
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return true
}

// numericDate accepts a JSON number of whole seconds between 0 and the year 9999. A string,
// a fraction or an exponent is refused: lenient date parsing is how "exp": "never" passes.
func numericDate(s string) (time.Time, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return time.Time{}, fmt.Errorf("must be a non-negative JSON integer, found %s", clip(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, fmt.Errorf("must be a whole number of seconds, found %s", clip(s))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxNumericDate {
		return time.Time{}, fmt.Errorf("is out of range: %s", clip(s))
	}
	return time.Unix(n, 0).UTC(), nil
}

// claimValues turns a (valid) claim value into APIM's Jwt.Claims values: strings as they
// are, arrays as several values, other JSON values in their JSON text. A null claim has no
// values.
func claimValues(raw string, slab *[]string) ([]string, error) {
	one := func(v string) []string {
		*slab = append(*slab, v)
		n := len(*slab)
		return (*slab)[n-1 : n : n]
	}
	switch raw[0] {
	case 'n':
		return nil, nil
	case '"':
		s, _, err := scanString(raw, 0)
		if err != nil {
			return nil, err
		}
		return one(s), nil
	case '[':
		out := make([]string, 0, 4)
		i := skipSpace(raw, 1)
		for i < len(raw) && raw[i] != ']' {
			end, err := skipValue(raw, i, 1)
			if err != nil {
				return nil, err
			}
			if raw[i] == '"' {
				s, _, err := scanString(raw, i)
				if err != nil {
					return nil, err
				}
				out = append(out, s)
			} else {
				out = append(out, compact(raw[i:end]))
			}
			i = skipSpace(raw, end)
			if i < len(raw) && raw[i] == ',' {
				i = skipSpace(raw, i+1)
			}
		}
		return out, nil
	case '{':
		return one(compact(raw)), nil
	default:
		return one(raw), nil
	}
}

func compact(raw string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(raw)) != nil {
		return raw
	}
	return b.String()
}
