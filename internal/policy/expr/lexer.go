package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tReal
	tString
	tChar
	tInterp
	tPunct
)

// token is one lexeme; off is its byte offset in the expression source.
type token struct {
	kind tokKind
	text string // identifier, punctuation, or literal source
	off  int
	val  any          // literal value
	iter []interpPart // interpolated string parts
}

// interpPart is a literal run or a hole of an interpolated string; a hole's src starts at off.
type interpPart struct {
	lit    string
	hole   bool
	src    string
	off    int
	format string
	align  int
}

// syntaxError is a load error at a byte offset of the source; Compile turns it into a
// policy.Error with the line and column.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

func errAt(off int, format string, args ...any) *syntaxError {
	return &syntaxError{off: off, msg: fmt.Sprintf(format, args...)}
}

var puncts = []string{
	"??=", "?.", "?[", "??", "=>", "==", "!=", "<=", ">=", "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "<<",
	"(", ")", "{", "}", "[", "]", ".", ",", ";", ":", "?", "+", "-", "*", "/", "%", "!", "~", "<", ">", "=", "&", "|", "^",
}

// lex splits src (from offset base in the whole expression) into tokens.
func lex(src string, base int) ([]token, error) {
	var toks []token
	i := 0
	for {
		// skip white space and comments
		for i < len(src) {
			c := src[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				i++
				continue
			}
			if c >= 0x80 {
				r, n := utf8.DecodeRuneInString(src[i:])
				if unicode.IsSpace(r) {
					i += n
					continue
				}
			}
			if strings.HasPrefix(src[i:], "//") {
				j := strings.IndexByte(src[i:], '\n')
				if j < 0 {
					i = len(src)
				} else {
					i += j + 1
				}
				continue
			}
			if strings.HasPrefix(src[i:], "/*") {
				j := strings.Index(src[i+2:], "*/")
				if j < 0 {
					return nil, errAt(base+i, "comment is not closed")
				}
				i += j + 4
				continue
			}
			break
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, off: base + i})
			return toks, nil
		}
		start := i
		c := src[i]
		switch {
		case c == '$' || (c == '@' && i+1 < len(src) && (src[i+1] == '"' || src[i+1] == '$')):
			verbatim, interp := false, false
			j := i
			for j < len(src) && (src[j] == '$' || src[j] == '@') {
				if src[j] == '$' {
					interp = true
				} else {
					verbatim = true
				}
				j++
			}
			if j >= len(src) || src[j] != '"' || j-i > 2 {
				return nil, errAt(base+i, "unexpected character %q", c)
			}
			if !interp {
				s, n, err := lexVerbatim(src, j, base)
				if err != nil {
					return nil, err
				}
				toks = append(toks, token{kind: tString, text: src[start:n], off: base + start, val: s})
				i = n
				continue
			}
			parts, n, err := lexInterp(src, j, base, verbatim)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tInterp, text: src[start:n], off: base + start, iter: parts})
			i = n
		case c == '@' && i+1 < len(src) && isIdentStart(rune(src[i+1])):
			// @identifier escapes a keyword
			j := i + 1
			for j < len(src) && isIdentPart(rune(src[j])) {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: src[i+1 : j], off: base + start})
			i = j
		case c == '"':
			s, n, err := lexString(src, i, base)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, text: src[start:n], off: base + start, val: s})
			i = n
		case c == '\'':
			r, n, err := lexChar(src, i, base)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tChar, text: src[start:n], off: base + start, val: Char(r)})
			i = n
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9'):
			tk, n, err := lexNumber(src, i, base)
			if err != nil {
				return nil, err
			}
			toks = append(toks, tk)
			i = n
		case isIdentStart(rune(c)) || c >= 0x80:
			r, _ := utf8.DecodeRuneInString(src[i:])
			if !isIdentStart(r) {
				return nil, errAt(base+i, "unexpected character %q", r)
			}
			j := i
			for j < len(src) {
				r, n := utf8.DecodeRuneInString(src[j:])
				if !isIdentPart(r) {
					break
				}
				j += n
			}
			toks = append(toks, token{kind: tIdent, text: src[i:j], off: base + start})
			i = j
		default:
			found := ""
			for _, p := range puncts {
				if strings.HasPrefix(src[i:], p) {
					found = p
					break
				}
			}
			if found == "" {
				return nil, errAt(base+i, "unexpected character %q", c)
			}
			toks = append(toks, token{kind: tPunct, text: found, off: base + start})
			i += len(found)
		}
	}
}

func strconvQuote(s string) string { return strconv.Quote(s) }

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func lexString(src string, i, base int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for {
		if j >= len(src) || src[j] == '\n' {
			return "", 0, errAt(base+i, "string literal is not closed")
		}
		c := src[j]
		if c == '"' {
			return b.String(), j + 1, nil
		}
		if c == '\\' {
			r, n, err := lexEscape(src, j, base)
			if err != nil {
				return "", 0, err
			}
			b.WriteRune(r)
			j = n
			continue
		}
		b.WriteByte(c)
		j++
	}
}

func lexVerbatim(src string, i, base int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for {
		if j >= len(src) {
			return "", 0, errAt(base+i, "string literal is not closed")
		}
		if src[j] == '"' {
			if j+1 < len(src) && src[j+1] == '"' {
				b.WriteByte('"')
				j += 2
				continue
			}
			return b.String(), j + 1, nil
		}
		b.WriteByte(src[j])
		j++
	}
}

func lexEscape(src string, j, base int) (rune, int, error) {
	if j+1 >= len(src) {
		return 0, 0, errAt(base+j, "escape sequence is not complete")
	}
	switch src[j+1] {
	case 'n':
		return '\n', j + 2, nil
	case 't':
		return '\t', j + 2, nil
	case 'r':
		return '\r', j + 2, nil
	case '0':
		return 0, j + 2, nil
	case '\\':
		return '\\', j + 2, nil
	case '"':
		return '"', j + 2, nil
	case '\'':
		return '\'', j + 2, nil
	case 'a':
		return 7, j + 2, nil
	case 'b':
		return 8, j + 2, nil
	case 'f':
		return 12, j + 2, nil
	case 'v':
		return 11, j + 2, nil
	case 'u', 'x', 'U':
		max := 4
		if src[j+1] == 'U' {
			max = 8
		}
		k := j + 2
		for k < len(src) && k < j+2+max && isHex(src[k]) {
			k++
		}
		if k == j+2 || (src[j+1] != 'x' && k != j+2+max) {
			return 0, 0, errAt(base+j, "bad escape sequence %q", src[j:k])
		}
		n, _ := strconv.ParseUint(src[j+2:k], 16, 32)
		return rune(n), k, nil
	}
	return 0, 0, errAt(base+j, "unknown escape sequence \\%c", src[j+1])
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func lexChar(src string, i, base int) (rune, int, error) {
	j := i + 1
	if j >= len(src) {
		return 0, 0, errAt(base+i, "character literal is not closed")
	}
	var r rune
	if src[j] == '\\' {
		var err error
		r, j, err = lexEscape(src, j, base)
		if err != nil {
			return 0, 0, err
		}
	} else {
		var n int
		r, n = utf8.DecodeRuneInString(src[j:])
		j += n
	}
	if j >= len(src) || src[j] != '\'' {
		return 0, 0, errAt(base+i, "character literal is not closed")
	}
	return r, j + 1, nil
}

func lexNumber(src string, i, base int) (token, int, error) {
	j := i
	if strings.HasPrefix(src[i:], "0x") || strings.HasPrefix(src[i:], "0X") {
		j += 2
		for j < len(src) && (isHex(src[j]) || src[j] == '_') {
			j++
		}
		digits := strings.ReplaceAll(src[i+2:j], "_", "")
		n, err := strconv.ParseUint(digits, 16, 64)
		if err != nil {
			return token{}, 0, errAt(base+i, "bad number %q", src[i:j])
		}
		long := false
		for j < len(src) && strings.ContainsRune("lLuU", rune(src[j])) {
			long = long || src[j] == 'l' || src[j] == 'L'
			j++
		}
		if !long && n <= 0x7fffffff {
			return token{kind: tInt, text: src[i:j], off: base + i, val: int(n)}, j, nil
		}
		return token{kind: tInt, text: src[i:j], off: base + i, val: int64(n)}, j, nil
	}
	real := false
	for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '_') {
		j++
	}
	if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
		real = true
		j++
		for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '_') {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && src[k] >= '0' && src[k] <= '9' {
			real = true
			j = k
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
		}
	}
	digits := strings.ReplaceAll(src[i:j], "_", "")
	if j < len(src) {
		switch src[j] {
		case 'f', 'F', 'd', 'D', 'm', 'M':
			real = true
			j++
		case 'l', 'L', 'u', 'U':
			for j < len(src) && strings.ContainsRune("lLuU", rune(src[j])) {
				j++
			}
			n, err := strconv.ParseInt(digits, 10, 64)
			if err != nil || real {
				return token{}, 0, errAt(base+i, "bad number %q", src[i:j])
			}
			return token{kind: tInt, text: src[i:j], off: base + i, val: n}, j, nil
		}
	}
	if j < len(src) && isIdentPart(rune(src[j])) {
		return token{}, 0, errAt(base+i, "bad number %q", src[i:j+1])
	}
	if real {
		f, err := strconv.ParseFloat(digits, 64)
		if err != nil {
			return token{}, 0, errAt(base+i, "bad number %q", src[i:j])
		}
		return token{kind: tReal, text: src[i:j], off: base + i, val: f}, j, nil
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return token{}, 0, errAt(base+i, "number %q is too large", src[i:j])
	}
	if n <= 0x7fffffff {
		return token{kind: tInt, text: src[i:j], off: base + i, val: int(n)}, j, nil
	}
	return token{kind: tInt, text: src[i:j], off: base + i, val: n}, j, nil
}

// lexInterp reads an interpolated string whose opening quote is at q.
func lexInterp(src string, q, base int, verbatim bool) ([]interpPart, int, error) {
	var parts []interpPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, interpPart{lit: lit.String()})
			lit.Reset()
		}
	}
	j := q + 1
	for {
		if j >= len(src) || (!verbatim && src[j] == '\n') {
			return nil, 0, errAt(base+q, "interpolated string is not closed")
		}
		c := src[j]
		switch {
		case c == '"':
			if verbatim && j+1 < len(src) && src[j+1] == '"' {
				lit.WriteByte('"')
				j += 2
				continue
			}
			flush()
			return parts, j + 1, nil
		case c == '\\' && !verbatim:
			r, n, err := lexEscape(src, j, base)
			if err != nil {
				return nil, 0, err
			}
			lit.WriteRune(r)
			j = n
		case c == '{':
			if j+1 < len(src) && src[j+1] == '{' {
				lit.WriteByte('{')
				j += 2
				continue
			}
			flush()
			end, colon, comma, err := holeEnd(src, j+1, base)
			if err != nil {
				return nil, 0, err
			}
			p := interpPart{hole: true, off: base + j + 1}
			exprEnd := end
			if colon >= 0 {
				p.format = src[colon+1 : end]
				exprEnd = colon
			}
			if comma >= 0 && comma < exprEnd {
				n, err := strconv.Atoi(strings.TrimSpace(src[comma+1 : exprEnd]))
				if err != nil || n > 1<<16 || n < -(1<<16) {
					return nil, 0, errAt(base+comma, "the alignment of an interpolation hole must be a number")
				}
				p.align = n
				exprEnd = comma
			}
			p.src = src[j+1 : exprEnd]
			if strings.TrimSpace(p.src) == "" {
				return nil, 0, errAt(base+j, "empty hole in interpolated string")
			}
			parts = append(parts, p)
			j = end + 1
		case c == '}':
			if j+1 < len(src) && src[j+1] == '}' {
				lit.WriteByte('}')
				j += 2
				continue
			}
			return nil, 0, errAt(base+j, "'}' in an interpolated string must be written '}}'")
		default:
			lit.WriteByte(c)
			j++
		}
	}
}

// holeEnd finds the '}' closing a hole that starts at i, skipping nested brackets and
// literals, and the positions of a top-level ':' that starts a format and of a top-level ','
// that starts an alignment (or -1).
func holeEnd(src string, i, base int) (end, colon, comma int, err error) {
	depth := 0
	colon, comma = -1, -1
	j := i
	for j < len(src) {
		c := src[j]
		switch c {
		case '(', '[', '{':
			depth++
		case ')', ']':
			depth--
		case '}':
			if depth == 0 {
				return j, colon, comma, nil
			}
			depth--
		case ':':
			if depth == 0 && colon < 0 {
				colon = j
			}
		case ',':
			if depth == 0 && colon < 0 && comma < 0 {
				comma = j
			}
		case '?':
			// "a ? b : c" needs parentheses in a hole; "?." and "??" are not formats
		case '"':
			_, n, err := lexString(src, j, base)
			if err != nil {
				return 0, 0, 0, err
			}
			j = n
			continue
		case '\'':
			_, n, err := lexChar(src, j, base)
			if err != nil {
				return 0, 0, 0, err
			}
			j = n
			continue
		case '$', '@':
			k := j
			interp, verb := false, false
			for k < len(src) && (src[k] == '$' || src[k] == '@') {
				interp = interp || src[k] == '$'
				verb = verb || src[k] == '@'
				k++
			}
			if k < len(src) && src[k] == '"' {
				var n int
				var err error
				if interp {
					_, n, err = lexInterp(src, k, base, verb)
				} else {
					_, n, err = lexVerbatim(src, k, base)
				}
				if err != nil {
					return 0, 0, 0, err
				}
				j = n
				continue
			}
		}
		j++
	}
	return 0, 0, 0, errAt(base+i-1, "hole in interpolated string is not closed")
}
