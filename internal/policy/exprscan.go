package policy

// This file finds where a policy expression ends without parsing it: it reads C# lexically
// (regular, verbatim and interpolated strings, character literals, comments) and counts
// brackets outside them. Entities are decoded as it goes, so &quot; and a raw " are the same
// quote, as they are once the XML is decoded.

// maxInterpolationDepth bounds strings nested in interpolation holes, $"{$"{…}"}".
const maxInterpolationDepth = 32

// scanExpr returns the offset just after the expression that starts at start with @( or @{.
func (p *xmlParser) scanExpr(start int) (int, error) {
	return p.scanCode(start + 1)
}

// ch returns the character at i as C# sees it (an entity decoded; non-ASCII as 0x80) and the
// number of source bytes it takes; 0, 0 at the end of the document.
func (p *xmlParser) ch(i int) (byte, int) {
	if i >= len(p.src) {
		return 0, 0
	}
	c := p.src[i]
	if c == '&' {
		if r, n := entityAt(p.src[i:]); n > 0 {
			if r < 0x80 {
				return byte(r), n
			}
			return 0x80, n
		}
	}
	return c, 1
}

// scanCode reads C# from the bracket at open to the bracket that closes it and returns the
// offset after that.
func (p *xmlParser) scanCode(open int) (int, error) {
	// Interpolated strings nest code in strings in code: bound the recursion.
	if p.exprDepth++; p.exprDepth > maxInterpolationDepth {
		return 0, p.errorf(open, "interpolated strings nest more than %d deep in this policy expression", maxInterpolationDepth)
	}
	defer func() { p.exprDepth-- }()
	stack := []int{open}
	_, n := p.ch(open)
	i := open + n
	var err error
	for i < len(p.src) {
		c, n := p.ch(i)
		switch c {
		case '"':
			i, err = p.skipString(i, i+n, false)
		case '\'':
			i = p.skipChar(i + n)
		case '@', '$':
			i, err = p.skipPrefixedString(i, c, n)
		case '/':
			i = p.skipCSharpComment(i, n)
		case '(', '[', '{':
			stack = append(stack, i)
			i += n
		case ')', ']', '}':
			top := stack[len(stack)-1]
			oc, _ := p.ch(top)
			if closer(oc) != c {
				return 0, p.errorf(i, "'%c' does not close the '%c' at %d:%d in this policy expression (expected '%c')",
					c, oc, p.pos(top).Line, p.pos(top).Col, closer(oc))
			}
			stack = stack[:len(stack)-1]
			i += n
			if len(stack) == 0 {
				return i, nil
			}
		default:
			i += n
		}
		if err != nil {
			return 0, err
		}
	}
	top := stack[len(stack)-1]
	oc, _ := p.ch(top)
	if top == open {
		return 0, p.errorf(open-1, "the policy expression @%c never closes: no matching '%c' before the end of the document", oc, closer(oc))
	}
	return 0, p.errorf(top, "'%c' in the policy expression at %d:%d never closes: no matching '%c' before the end of the document",
		oc, p.pos(open).Line, p.pos(open).Col, closer(oc))
}

func closer(open byte) byte {
	switch open {
	case '(':
		return ')'
	case '[':
		return ']'
	default:
		return '}'
	}
}

// skipPrefixedString handles @"…", $"…", $@"…" and @$"…" at i; any other '@' or '$' is one
// character.
func (p *xmlParser) skipPrefixedString(i int, c byte, n int) (int, error) {
	c2, n2 := p.ch(i + n)
	switch {
	case c2 == '"':
		if c == '@' {
			return p.skipString(i, i+n+n2, true)
		}
		return p.skipInterpolated(i, i+n+n2, false)
	case (c == '@' && c2 == '$') || (c == '$' && c2 == '@'):
		if c3, n3 := p.ch(i + n + n2); c3 == '"' {
			return p.skipInterpolated(i, i+n+n2+n3, true)
		}
	}
	return i + n, nil
}

// skipString skips a string literal whose body starts at i (the literal itself starts at
// lit). A regular string also ends at a line break, where C# would reject it anyway, so one
// missing quote cannot swallow the rest of the document.
func (p *xmlParser) skipString(lit, i int, verbatim bool) (int, error) {
	for i < len(p.src) {
		c, n := p.ch(i)
		switch {
		case c == '"':
			if verbatim {
				if c2, n2 := p.ch(i + n); c2 == '"' {
					i += n + n2
					continue
				}
			}
			return i + n, nil
		case c == '\\' && !verbatim:
			_, n2 := p.ch(i + n)
			i += n + n2
		case c == '\n' && !verbatim:
			return i, nil
		default:
			i += n
		}
	}
	return 0, p.errorf(lit, "string literal in a policy expression never ends: no closing '\"' before the end of the document")
}

// skipInterpolated skips an interpolated string whose body starts at i; each {hole} is C#.
func (p *xmlParser) skipInterpolated(lit, i int, verbatim bool) (int, error) {
	for i < len(p.src) {
		c, n := p.ch(i)
		switch {
		case c == '{':
			if c2, n2 := p.ch(i + n); c2 == '{' {
				i += n + n2
				continue
			}
			end, err := p.scanCode(i)
			if err != nil {
				return 0, err
			}
			i = end
		case c == '"':
			if verbatim {
				if c2, n2 := p.ch(i + n); c2 == '"' {
					i += n + n2
					continue
				}
			}
			return i + n, nil
		case c == '\\' && !verbatim:
			_, n2 := p.ch(i + n)
			i += n + n2
		case c == '\n' && !verbatim:
			return i, nil
		default:
			i += n
		}
	}
	return 0, p.errorf(lit, "interpolated string in a policy expression never ends: no closing '\"' before the end of the document")
}

// skipChar skips a character literal whose body starts at i. A quote with no partner within
// a character literal's length ('\U0001F600' is the longest) is taken as a lone character.
func (p *xmlParser) skipChar(i int) int {
	for j := i; j < len(p.src) && j < i+16; {
		c, n := p.ch(j)
		switch c {
		case '\'':
			return j + n
		case '\\':
			_, n2 := p.ch(j + n)
			j += n + n2
		case '\n':
			return i
		default:
			j += n
		}
	}
	return i
}

// skipCSharpComment skips // to the end of the line or /* to */ at i; a lone '/' is division.
func (p *xmlParser) skipCSharpComment(i, n int) int {
	c2, n2 := p.ch(i + n)
	switch c2 {
	case '/':
		for j := i + n + n2; j < len(p.src); j++ {
			if p.src[j] == '\n' {
				return j
			}
		}
		return len(p.src)
	case '*':
		for j := i + n + n2; j+1 < len(p.src); j++ {
			if p.src[j] == '*' && p.src[j+1] == '/' {
				return j + 2
			}
		}
		return len(p.src)
	}
	return i + n
}
