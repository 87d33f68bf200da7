package policy

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeMode says how raw source becomes a value.
type decodeMode int

const (
	modeText decodeMode = iota // character data: entities decoded, a bare '&' is an error
	modeAttr                   // attribute value: as text
	modeExpr                   // policy expression: entities decoded, a bare '&' (C#'s &&) kept
	modeRaw                    // CDATA: nothing decoded
)

// decode appends src[start:end] to b: entities decoded (per mode), line ends normalised to
// \n as XML does, and named values substituted. An undefined named value is recorded in
// p.errs (it does not stop parsing) unless liquid says {{…}} may be Liquid output.
func (p *xmlParser) decode(b *strings.Builder, start, end int, mode decodeMode, liquid bool) error {
	s := p.src[start:end]
	if !strings.ContainsAny(s, "&{\r") {
		b.WriteString(s)
		return nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '&' && mode != modeRaw:
			r, n := entityAt(s[i:])
			if n == 0 {
				if mode == modeExpr {
					b.WriteByte('&')
					i++
					continue
				}
				return p.entityError(start+i, s[i:])
			}
			b.WriteRune(r)
			i += n
		case c == '{' && p.nv != nil && strings.HasPrefix(s[i:], "{{"):
			name, n := namedValueRef(s[i:])
			if n == 0 {
				b.WriteByte('{')
				i++
				continue
			}
			if v, ok := p.nv.lookup(name); ok {
				b.WriteString(v)
			} else {
				if !liquid {
					p.errs = append(p.errs, p.nv.undefined(p.pos(start+i), name))
				}
				b.WriteString(s[i : i+n])
			}
			i += n
		case c == '\r':
			b.WriteByte('\n')
			i++
			if i < len(s) && s[i] == '\n' {
				i++
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return nil
}

func (p *xmlParser) entityError(off int, s string) *Error {
	if semi := strings.IndexByte(s[:min(len(s), 12)], ';'); semi > 1 && readName(s, 1) == s[1:semi] {
		return p.errorf(off, "unknown entity %s: XML defines only &lt; &gt; &amp; &quot; &apos; and numeric references such as &#38;", s[:semi+1])
	}
	if strings.HasPrefix(s, "&#") {
		return p.errorf(off, "malformed character reference %q", excerpt(s))
	}
	return p.errorf(off, "a literal '&' must be written &amp; (outside a policy expression)")
}

// entityAt decodes the entity or character reference at the start of s, returning the
// character and the length consumed, or 0 when s does not start with a valid one.
func entityAt(s string) (rune, int) {
	if len(s) > 12 {
		s = s[:12] // the longest reference, &#x10FFFF;, is 10 bytes: never scan further
	}
	semi := strings.IndexByte(s, ';')
	if semi < 2 || semi > 10 {
		return 0, 0
	}
	name := s[1:semi]
	switch name {
	case "lt":
		return '<', semi + 1
	case "gt":
		return '>', semi + 1
	case "amp":
		return '&', semi + 1
	case "quot":
		return '"', semi + 1
	case "apos":
		return '\'', semi + 1
	}
	if name[0] != '#' || len(name) < 2 {
		return 0, 0
	}
	var n uint64
	var err error
	if name[1] == 'x' {
		if len(name) < 3 {
			return 0, 0
		}
		n, err = strconv.ParseUint(name[2:], 16, 32)
	} else {
		n, err = strconv.ParseUint(name[1:], 10, 32)
	}
	r := rune(n)
	if err != nil || n == 0 || !utf8.ValidRune(r) {
		return 0, 0
	}
	return r, semi + 1
}

// namedValueRef reads {{name}} at the start of s. Names are what APIM allows for named
// values (letters, digits, '.', '-', '_'); anything else, e.g. C#'s {{"a", 1}} or Liquid's
// {{ body.x }}, is not a reference.
func namedValueRef(s string) (string, int) {
	i := 2
	for i < len(s) && isNamedValueChar(s[i]) {
		i++
	}
	if i == 2 || !strings.HasPrefix(s[i:], "}}") {
		return "", 0
	}
	return s[2:i], i + 2
}

func isNamedValueChar(c byte) bool {
	return c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// namedValues are the gateway's {{name}} replacements.
type namedValues struct {
	values map[string]string
}

func (nv *namedValues) lookup(name string) (string, bool) {
	v, ok := nv.values[name]
	return v, ok
}

func (nv *namedValues) undefined(pos Pos, name string) *Error {
	var near []string
	for k := range nv.values {
		if strings.EqualFold(k, name) {
			near = append(near, k)
		}
	}
	if len(near) > 0 {
		sort.Strings(near)
		return Errorf(pos, "named value {{%s}} is not defined (names are case-sensitive: did you mean {{%s}}?)", name, near[0])
	}
	return Errorf(pos, "named value {{%s}} is not defined in gateway.named-values", name)
}

// substituteKnown replaces the defined named values in raw source, leaving the rest as
// written (undefined ones are reported where their text or attribute is decoded).
func (nv *namedValues) substituteKnown(b *strings.Builder, raw string) {
	for {
		i := strings.Index(raw, "{{")
		if i < 0 {
			b.WriteString(raw)
			return
		}
		b.WriteString(raw[:i])
		raw = raw[i:]
		name, n := namedValueRef(raw)
		if n == 0 {
			b.WriteByte('{')
			raw = raw[1:]
			continue
		}
		if v, ok := nv.lookup(name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(raw[:n])
		}
		raw = raw[n:]
	}
}
