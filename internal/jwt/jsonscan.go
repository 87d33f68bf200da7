package jwt

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A strict, allocation-lean JSON reader for claim sets. encoding/json's Decoder costs as much
// as the RSA verification it follows; this reads the payload once, in place: names and values
// without escapes are substrings of the payload, not copies.

var errSyntax = errors.New("invalid JSON")

func skipSpace(b string, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString reads the string starting at b[i] == '"' and returns its decoded value and the
// index after the closing quote.
func scanString(b string, i int) (string, int, error) {
	i++
	start := i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return b[start:i], i + 1, nil
		case c == '\\':
			return scanEscapedString(b, start)
		case c < 0x20:
			return "", 0, fmt.Errorf("%w: control character in a string", errSyntax)
		}
		i++
	}
	return "", 0, fmt.Errorf("%w: unterminated string", errSyntax)
}

func scanEscapedString(b string, start int) (string, int, error) {
	out := make([]byte, 0, 64)
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return string(out), i + 1, nil
		case c < 0x20:
			return "", 0, fmt.Errorf("%w: control character in a string", errSyntax)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			break
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b, i+2)
			if !ok {
				return "", 0, fmt.Errorf("%w: bad \\u escape", errSyntax)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(b, i+2); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						out = utf8.AppendRune(out, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", 0, fmt.Errorf("%w: bad escape \\%c", errSyntax, e)
		}
		i += 2
	}
	return "", 0, fmt.Errorf("%w: unterminated string", errSyntax)
}

func hex4(b string, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for j := i; j < i+4; j++ {
		c := b[j]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// scanNumber checks the JSON number grammar from b[i] and returns the index after it.
func scanNumber(b string, i int) (int, error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, fmt.Errorf("%w: bad number", errSyntax)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return 0, fmt.Errorf("%w: bad number", errSyntax)
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, fmt.Errorf("%w: bad number", errSyntax)
		}
	}
	if _, err := strconv.ParseFloat(b[start:i], 64); err != nil {
		return 0, fmt.Errorf("number %s is out of range", clip(b[start:i]))
	}
	return i, nil
}

// skipValue validates the value at b[i] (nesting at most maxDepth) and returns its end.
func skipValue(b string, i, depth int) (int, error) {
	if depth > maxClaimsDepth {
		return 0, fmt.Errorf("%w: nested deeper than %d levels", errClaims, maxClaimsDepth)
	}
	if i >= len(b) {
		return 0, fmt.Errorf("%w: unexpected end", errSyntax)
	}
	switch c := b[i]; {
	case c == '"':
		_, end, err := scanString(b, i)
		return end, err
	case c == '{' || c == '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == close {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, fmt.Errorf("%w: expected a member name", errSyntax)
				}
				if _, i, err = scanString(b, i); err != nil {
					return 0, err
				}
				i = skipSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return 0, fmt.Errorf("%w: expected ':'", errSyntax)
				}
				i = skipSpace(b, i+1)
			}
			if i, err = skipValue(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == close {
				return i + 1, nil
			}
			return 0, fmt.Errorf("%w: expected ',' or '%c'", errSyntax, close)
		}
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	default:
		return scanNumber(b, i)
	}
}

func literal(b string, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && b[i:i+len(lit)] == lit {
		return i + len(lit), nil
	}
	return 0, fmt.Errorf("%w: unexpected character", errSyntax)
}
