package policy

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// DefaultMaxDocumentSize bounds one policy or fragment file.
const DefaultMaxDocumentSize = 4 << 20

// maxDepth bounds element nesting, so a hostile document cannot make later tree walks costly.
const maxDepth = 256

// xmlParser reads APIM policy XML. It is XML 1.0 for everything but policy expressions: a
// value or text that begins with @( or @{ runs until its parenthesis or brace closes, read as
// C# source (strings, characters, comments), so the unescaped quotes, < > and && that APIM
// accepts there need no escaping. It keeps positions and substitutes named values as it
// decodes, so an undefined one is reported where it is written.
type xmlParser struct {
	file      string
	src       string
	lines     []int // offset where each line starts
	nv        *namedValues
	errs      ErrorList // errors that do not stop parsing (undefined named values)
	last      struct{ off, line, col int }
	count     int // elements read
	exprDepth int // interpolated strings being read, one inside another
	// attrSet holds the attribute names of the element being read, once it has many.
	attrSet struct {
		owner *Element
		names map[string]bool
	}
}

func newXMLParser(file string, src []byte, nv *namedValues) *xmlParser {
	s := string(src)
	s = strings.TrimPrefix(s, "\uFEFF")
	p := &xmlParser{file: file, src: s, nv: nv, lines: []int{0}}
	p.last.line = -1
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	return p
}

// pos converts a byte offset to a 1-based line and column (in characters). Offsets mostly
// come in increasing order, so it counts on from the last one on the same line: a document
// that is one long line costs linear time, not quadratic.
func (p *xmlParser) pos(off int) Pos {
	if off > len(p.src) {
		off = len(p.src)
	}
	line := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off }) - 1
	from, col := p.lines[line], 1
	if p.last.line == line && p.last.off <= off && p.last.off >= from {
		from, col = p.last.off, p.last.col
	}
	col += utf8.RuneCountInString(p.src[from:off])
	p.last.off, p.last.line, p.last.col = off, line, col
	return Pos{File: p.file, Line: line + 1, Col: col}
}

func (p *xmlParser) errorf(off int, format string, args ...any) *Error {
	return Errorf(p.pos(off), format, args...)
}

// parse reads a document. With many, it accepts several top-level elements (a bare snippet);
// otherwise exactly one root.
func (p *xmlParser) parse(many bool) ([]*Element, error) {
	var roots []*Element
	i := 0
	for {
		i = skipSpace(p.src, i)
		if i >= len(p.src) {
			break
		}
		switch {
		case strings.HasPrefix(p.src[i:], "<?"):
			end, err := p.skipPI(i)
			if err != nil {
				return nil, err
			}
			i = end
		case strings.HasPrefix(p.src[i:], "<!--"):
			end, err := p.skipComment(i)
			if err != nil {
				return nil, err
			}
			i = end
		case strings.HasPrefix(p.src[i:], "<!"):
			return nil, p.errorf(i, "%s is not allowed in a policy document", declName(p.src[i:]))
		case p.src[i] == '<':
			if len(roots) == 1 && !many {
				name := readName(p.src, i+1)
				return nil, p.errorf(i, "a second top-level element <%s> after <%s>: a policy document has one root element (<policies> or <fragment>)", name, roots[0].Name)
			}
			el, end, err := p.element(i)
			if err != nil {
				return nil, err
			}
			roots = append(roots, el)
			i = end
		default:
			return nil, p.errorf(i, "text outside the root element: %q", excerpt(p.src[i:]))
		}
	}
	if len(roots) == 0 {
		return nil, p.errorf(len(p.src), "the document has no root element")
	}
	return roots, nil
}

// open is an element whose end tag has not been read yet.
type open struct {
	el         *Element
	innerStart int
	text       strings.Builder
	textSet    bool
	liquid     bool
}

// element reads the element whose start tag begins at start and returns the offset after its
// end tag. It keeps its own stack, so nesting costs no Go stack.
func (p *xmlParser) element(start int) (*Element, int, error) {
	root, i, selfClosed, err := p.startTag(start, false)
	if err != nil {
		return nil, 0, err
	}
	if selfClosed {
		return root, i, nil
	}
	stack := []*open{{el: root, innerStart: i, liquid: isLiquid(root)}}
	for {
		top := stack[len(stack)-1]
		if i >= len(p.src) {
			return nil, 0, p.errorf(len(p.src), "unclosed <%s> (opened at %d:%d): the document ends before </%s>",
				top.el.Name, top.el.Pos.Line, top.el.Pos.Col, top.el.Name)
		}
		if p.src[i] != '<' {
			end, err := p.text(top, i)
			if err != nil {
				return nil, 0, err
			}
			i = end
			continue
		}
		rest := p.src[i:]
		switch {
		case strings.HasPrefix(rest, "</"):
			name := readName(p.src, i+2)
			j := skipSpace(p.src, i+2+len(name))
			if name == "" || j >= len(p.src) || p.src[j] != '>' {
				return nil, 0, p.errorf(i, "malformed end tag: expected </%s>", top.el.Name)
			}
			if name != top.el.Name {
				return nil, 0, p.errorf(i, "end tag </%s> does not match <%s> opened at %d:%d", name, top.el.Name, top.el.Pos.Line, top.el.Pos.Col)
			}
			p.finish(top, i)
			i = j + 1
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return root, i, nil
			}
		case strings.HasPrefix(rest, "<!--"):
			end, err := p.skipComment(i)
			if err != nil {
				return nil, 0, err
			}
			i = end
		case strings.HasPrefix(rest, "<![CDATA["):
			end := strings.Index(p.src[i+9:], "]]>")
			if end < 0 {
				return nil, 0, p.errorf(i, "unclosed CDATA section: no ]]> before the end of the document")
			}
			body := i + 9
			p.noteText(top, body, body+end)
			p.decode(&top.text, body, body+end, modeRaw, top.liquid)
			i = body + end + 3
		case strings.HasPrefix(rest, "<?"):
			end, err := p.skipPI(i)
			if err != nil {
				return nil, 0, err
			}
			i = end
		case strings.HasPrefix(rest, "<!"):
			return nil, 0, p.errorf(i, "%s is not allowed in a policy document", declName(rest))
		default:
			if len(stack) >= maxDepth {
				return nil, 0, p.errorf(i, "elements are nested more than %d deep", maxDepth)
			}
			child, end, selfClosed, err := p.startTag(i, top.liquid)
			if err != nil {
				return nil, 0, err
			}
			top.el.Children = append(top.el.Children, child)
			i = end
			if !selfClosed {
				stack = append(stack, &open{el: child, innerStart: end, liquid: top.liquid || isLiquid(child)})
			}
		}
	}
}

// isLiquid reports a Liquid set-body, whose {{…}} that names no named value is Liquid output.
func isLiquid(el *Element) bool {
	if el.Name != "set-body" {
		return false
	}
	a, ok := el.Attr("template")
	return ok && strings.EqualFold(strings.TrimSpace(a.Value), "liquid")
}

// finish completes an element at the offset of its end tag.
func (p *xmlParser) finish(o *open, end int) {
	o.el.Text = o.text.String()
	raw := p.src[o.innerStart:end]
	if p.nv != nil && strings.Contains(raw, "{{") {
		var b strings.Builder
		p.nv.substituteKnown(&b, raw)
		raw = b.String()
	}
	o.el.Inner = raw
	if !o.textSet {
		o.el.TextPos = o.el.Pos
	}
}

// noteText records where an element's first non-blank text starts.
func (p *xmlParser) noteText(o *open, start, end int) {
	if o.textSet {
		return
	}
	j := skipSpace(p.src[:end], start)
	if j < end {
		o.el.TextPos = p.pos(j)
		o.textSet = true
	}
}

// text reads character data from i up to the next markup. A run whose first non-blank
// characters are @( or @{ is a policy expression and is read as C# until it closes.
func (p *xmlParser) text(o *open, i int) (int, error) {
	j := skipSpace(p.src, i)
	if isExprStart(p.src, j) {
		end, err := p.scanExpr(j)
		if err != nil {
			return 0, err
		}
		p.noteText(o, i, end)
		p.decode(&o.text, i, end, modeExpr, o.liquid)
		return end, nil
	}
	end := strings.IndexByte(p.src[i:], '<')
	if end < 0 {
		end = len(p.src)
	} else {
		end += i
	}
	p.noteText(o, i, end)
	if err := p.decode(&o.text, i, end, modeText, o.liquid); err != nil {
		return 0, err
	}
	return end, nil
}

func isExprStart(s string, i int) bool {
	return i+1 < len(s) && s[i] == '@' && (s[i+1] == '(' || s[i+1] == '{')
}

// startTag reads <name attr="v" ...> or <name .../> at start.
func (p *xmlParser) startTag(start int, liquid bool) (*Element, int, bool, error) {
	name := readName(p.src, start+1)
	if name == "" {
		return nil, 0, false, p.errorf(start, "expected an element name after '<', found %q", excerpt(p.src[start+1:]))
	}
	if p.count++; p.count > maxElements {
		return nil, 0, false, p.errorf(start, "the document has more than %d elements", maxElements)
	}
	el := &Element{Name: name, Pos: p.pos(start)}
	i := start + 1 + len(name)
	for {
		j := skipSpace(p.src, i)
		if j >= len(p.src) {
			return nil, 0, false, p.errorf(start, "unclosed start tag <%s>: the document ends before '>'", name)
		}
		switch {
		case p.src[j] == '>':
			return el, j + 1, false, nil
		case strings.HasPrefix(p.src[j:], "/>"):
			el.TextPos = el.Pos
			return el, j + 2, true, nil
		}
		if j == i {
			return nil, 0, false, p.errorf(j, "expected whitespace, '>' or '/>' in <%s>, found %q", name, excerpt(p.src[j:]))
		}
		attr := readName(p.src, j)
		if attr == "" {
			return nil, 0, false, p.errorf(j, "expected an attribute name, '>' or '/>' in <%s>, found %q", name, excerpt(p.src[j:]))
		}
		k := skipSpace(p.src, j+len(attr))
		if k >= len(p.src) || p.src[k] != '=' {
			return nil, 0, false, p.errorf(j, "attribute %s of <%s> has no value: expected '=' after its name", attr, name)
		}
		k = skipSpace(p.src, k+1)
		if k >= len(p.src) || (p.src[k] != '"' && p.src[k] != '\'') {
			return nil, 0, false, p.errorf(k, "the value of attribute %s of <%s> must be in quotes", attr, name)
		}
		if p.hasAttr(el, attr) {
			return nil, 0, false, p.errorf(j, "attribute %s appears twice in <%s>", attr, name)
		}
		value, end, err := p.attrValue(k, attr, name, liquid)
		if err != nil {
			return nil, 0, false, err
		}
		el.Attrs = append(el.Attrs, Attr{Name: attr, Value: value, Pos: p.pos(k + 1)})
		i = end
	}
}

// hasAttr reports whether el already has the attribute; past a few attributes it keeps a
// set, so an element with thousands of attributes costs linear time.
func (p *xmlParser) hasAttr(el *Element, name string) bool {
	if len(el.Attrs) < 16 {
		_, ok := el.Attr(name)
		return ok
	}
	if p.attrSet.owner != el {
		p.attrSet.owner = el
		p.attrSet.names = make(map[string]bool, 2*len(el.Attrs))
		for _, a := range el.Attrs {
			p.attrSet.names[a.Name] = true
		}
	}
	if p.attrSet.names[name] {
		return true
	}
	p.attrSet.names[name] = true
	return false
}

// attrValue reads a quoted value whose opening quote is at q and returns the offset after the
// closing quote.
func (p *xmlParser) attrValue(q int, attr, elem string, liquid bool) (string, int, error) {
	quote := p.src[q]
	start := q + 1
	var b strings.Builder
	i := start
	if j := skipSpace(p.src, i); isExprStart(p.src, j) {
		end, err := p.scanExpr(j)
		if err != nil {
			return "", 0, err
		}
		p.decode(&b, i, end, modeExpr, liquid)
		i = end
	}
	for k := i; ; k++ {
		if k >= len(p.src) {
			return "", 0, p.errorf(q, "the value of attribute %s of <%s> has no closing %c", attr, elem, quote)
		}
		switch p.src[k] {
		case quote:
			if err := p.decode(&b, i, k, modeAttr, liquid); err != nil {
				return "", 0, err
			}
			return b.String(), k + 1, nil
		case '<':
			return "", 0, p.errorf(k, "'<' in the value of attribute %s of <%s> must be written &lt; (outside a policy expression)", attr, elem)
		}
	}
}

// skipComment skips <!-- ... --> at i. A "--" inside is tolerated, as editors produce it.
func (p *xmlParser) skipComment(i int) (int, error) {
	end := strings.Index(p.src[i+4:], "-->")
	if end < 0 {
		return 0, p.errorf(i, "unclosed comment: no --> before the end of the document")
	}
	return i + 4 + end + 3, nil
}

// skipPI skips the XML declaration or a processing instruction at i.
func (p *xmlParser) skipPI(i int) (int, error) {
	end := strings.Index(p.src[i+2:], "?>")
	if end < 0 {
		return 0, p.errorf(i, "unclosed <? ... ?>: no ?> before the end of the document")
	}
	return i + 2 + end + 2, nil
}

func declName(s string) string {
	if strings.HasPrefix(s, "<!DOCTYPE") {
		return "a DOCTYPE declaration"
	}
	return "a <! declaration"
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// readName reads an XML name at i (letters, digits, '-', '_', '.', ':' and any non-ASCII
// character; not starting with a digit, '-' or '.').
func readName(s string, i int) string {
	j := i
	for j < len(s) {
		c := s[j]
		ok := c >= 0x80 || c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z')
		if j > i {
			ok = ok || c == '-' || c == '.' || (c >= '0' && c <= '9')
		}
		if !ok {
			break
		}
		j++
	}
	return s[i:j]
}

// excerpt is a short quote of s for error messages.
func excerpt(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 20 {
		n := 20
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
