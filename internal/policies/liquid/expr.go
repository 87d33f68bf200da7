package liquid

import (
	"fmt"
	"strconv"
	"strings"
)

type lexKind int

const (
	lexEOF lexKind = iota
	lexIdent
	lexString
	lexNumber
	lexPunct // . [ ] | : , ( ) ..
	lexOp    // == != <> < > <= >=
)

type lexTok struct {
	kind lexKind
	text string
}

type lexer struct {
	src  string
	i    int
	line int
	peek *lexTok
	err  error
}

func (l *lexer) next() lexTok {
	if l.peek != nil {
		t := *l.peek
		l.peek = nil
		return t
	}
	for l.i < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.i]) >= 0 {
		l.i++
	}
	if l.i >= len(l.src) {
		return lexTok{kind: lexEOF}
	}
	c := l.src[l.i]
	start := l.i
	switch {
	case c == '"' || c == '\'':
		j := strings.IndexByte(l.src[l.i+1:], c)
		if j < 0 {
			l.err = &SyntaxError{Line: l.line, Msg: "a string is never closed"}
			l.i = len(l.src)
			return lexTok{kind: lexEOF}
		}
		l.i += j + 2
		return lexTok{kind: lexString, text: l.src[start+1 : l.i-1]}
	case c >= '0' && c <= '9' || c == '-' && l.i+1 < len(l.src) && l.src[l.i+1] >= '0' && l.src[l.i+1] <= '9':
		l.i++
		for l.i < len(l.src) && (l.src[l.i] >= '0' && l.src[l.i] <= '9' || l.src[l.i] == '.' && !strings.HasPrefix(l.src[l.i:], "..")) {
			l.i++
		}
		return lexTok{kind: lexNumber, text: l.src[start:l.i]}
	case isIdentStart(c):
		for l.i < len(l.src) && (isIdentStart(l.src[l.i]) || l.src[l.i] >= '0' && l.src[l.i] <= '9' || l.src[l.i] == '-' || l.src[l.i] == '?') {
			l.i++
		}
		return lexTok{kind: lexIdent, text: l.src[start:l.i]}
	case strings.HasPrefix(l.src[l.i:], ".."):
		l.i += 2
		return lexTok{kind: lexPunct, text: ".."}
	}
	for _, op := range []string{"==", "!=", "<>", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(l.src[l.i:], op) {
			l.i += len(op)
			return lexTok{kind: lexOp, text: op}
		}
	}
	if strings.IndexByte(".[]|:,()", c) >= 0 {
		l.i++
		return lexTok{kind: lexPunct, text: string(c)}
	}
	l.err = &SyntaxError{Line: l.line, Msg: fmt.Sprintf("unexpected character %q", c)}
	l.i = len(l.src)
	return lexTok{kind: lexEOF}
}

func (l *lexer) unread(t lexTok) { l.peek = &t }

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isIdentStart(c) && !(c >= '0' && c <= '9') && c != '-' {
			return false
		}
	}
	return true
}

// expr is a value: a literal, a variable path or a range.
type expr interface {
	eval(r *renderer) (any, error)
}

type literal struct{ v any }

func (l literal) eval(*renderer) (any, error) { return l.v, nil }

type pathStep struct {
	name  string // .name
	index expr   // [index]
}

type path struct {
	root  string
	steps []pathStep
}

func (p *path) eval(r *renderer) (any, error) {
	v, ok := r.scope[p.root]
	if !ok {
		return nil, nil
	}
	for _, s := range p.steps {
		if v == nil {
			return nil, nil
		}
		if s.index != nil {
			k, err := s.index.eval(r)
			if err != nil {
				return nil, err
			}
			v = index(v, k)
		} else {
			v = member(v, s.name)
		}
	}
	return v, nil
}

type rangeExpr struct{ from, to expr }

func (e rangeExpr) eval(r *renderer) (any, error) {
	a, err := e.from.eval(r)
	if err != nil {
		return nil, err
	}
	b, err := e.to.eval(r)
	if err != nil {
		return nil, err
	}
	x, _ := toNumber(a)
	y, _ := toNumber(b)
	if y-x > 100_000 {
		return nil, fmt.Errorf("liquid: the range %v..%v is longer than 100000", x, y)
	}
	var out []any
	for i := int(x); i <= int(y); i++ {
		out = append(out, float64(i))
	}
	return out, nil
}

func parseRangeOrPrimary(l *lexer) (expr, error) {
	t := l.next()
	if t.kind == lexPunct && t.text == "(" {
		from, err := parsePrimary(l)
		if err != nil {
			return nil, err
		}
		if d := l.next(); d.text != ".." {
			return nil, &SyntaxError{Line: l.line, Msg: "a range is written (from..to)"}
		}
		to, err := parsePrimary(l)
		if err != nil {
			return nil, err
		}
		if c := l.next(); c.text != ")" {
			return nil, &SyntaxError{Line: l.line, Msg: "a range is written (from..to)"}
		}
		return rangeExpr{from, to}, nil
	}
	l.unread(t)
	return parsePrimary(l)
}

func parsePrimary(l *lexer) (expr, error) {
	t := l.next()
	if l.err != nil {
		return nil, l.err
	}
	switch t.kind {
	case lexString:
		return literal{t.text}, nil
	case lexNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, &SyntaxError{Line: l.line, Msg: fmt.Sprintf("%q is not a number", t.text)}
		}
		return literal{f}, nil
	case lexIdent:
		switch t.text {
		case "true":
			return literal{true}, nil
		case "false":
			return literal{false}, nil
		case "nil", "null":
			return literal{nil}, nil
		case "empty", "blank":
			return literal{emptyValue{}}, nil
		}
		p := &path{root: t.text}
		for {
			n := l.next()
			switch {
			case n.kind == lexPunct && n.text == ".":
				id := l.next()
				if id.kind != lexIdent {
					return nil, &SyntaxError{Line: l.line, Msg: "a name must follow '.'"}
				}
				p.steps = append(p.steps, pathStep{name: id.text})
			case n.kind == lexPunct && n.text == "[":
				k, err := parsePrimary(l)
				if err != nil {
					return nil, err
				}
				if c := l.next(); c.text != "]" {
					return nil, &SyntaxError{Line: l.line, Msg: "'[' is never closed"}
				}
				p.steps = append(p.steps, pathStep{index: k})
			default:
				l.unread(n)
				return p, nil
			}
		}
	case lexEOF:
		return nil, &SyntaxError{Line: l.line, Msg: "a value is missing"}
	}
	return nil, &SyntaxError{Line: l.line, Msg: fmt.Sprintf("unexpected %q", t.text)}
}

// filtered is a value passed through filters: {{ v | f: a, b | g }}.
type filtered struct {
	v       expr
	filters []filterCall
}

type filterCall struct {
	name string
	fn   filterFunc
	args []expr
}

func parseFiltered(src string, line int) (*filtered, error) {
	l := &lexer{src: src, line: line}
	v, err := parsePrimary(l)
	if err != nil {
		return nil, err
	}
	f := &filtered{v: v}
	for {
		t := l.next()
		if l.err != nil {
			return nil, l.err
		}
		if t.kind == lexEOF {
			return f, nil
		}
		if t.text != "|" {
			return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("unexpected %q after a value (filters are written | name: arg)", t.text)}
		}
		name := l.next()
		if name.kind != lexIdent {
			return nil, &SyntaxError{Line: line, Msg: "a filter name must follow '|'"}
		}
		fn, ok := filters[filterKey(name.text)]
		if !ok {
			return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("the filter %s is not supported", name.text)}
		}
		call := filterCall{name: name.text, fn: fn}
		if c := l.next(); c.text == ":" {
			for {
				a, err := parsePrimary(l)
				if err != nil {
					return nil, err
				}
				call.args = append(call.args, a)
				if c := l.next(); c.text != "," {
					l.unread(c)
					break
				}
			}
		} else {
			l.unread(c)
		}
		f.filters = append(f.filters, call)
	}
}

func (f *filtered) eval(r *renderer) (any, error) {
	v, err := f.v.eval(r)
	if err != nil {
		return nil, err
	}
	for _, c := range f.filters {
		args := make([]any, len(c.args))
		for i, a := range c.args {
			if args[i], err = a.eval(r); err != nil {
				return nil, err
			}
		}
		if v, err = c.fn(v, args); err != nil {
			return nil, fmt.Errorf("liquid filter %s: %w", c.name, err)
		}
	}
	return v, nil
}

// cond is a condition of if, elsif and unless.
type cond interface {
	test(r *renderer) (bool, error)
}

type notCond struct{ c cond }

func (n notCond) test(r *renderer) (bool, error) {
	v, err := n.c.test(r)
	return !v, err
}

type logicCond struct {
	and         bool
	left, right cond
}

func (c logicCond) test(r *renderer) (bool, error) {
	a, err := c.left.test(r)
	if err != nil {
		return false, err
	}
	if c.and && !a || !c.and && a {
		return a, nil
	}
	return c.right.test(r)
}

type cmpCond struct {
	op          string // "" for a lone value
	left, right expr
}

func (c cmpCond) test(r *renderer) (bool, error) {
	a, err := c.left.eval(r)
	if err != nil {
		return false, err
	}
	if c.op == "" {
		if _, ok := a.(emptyValue); ok {
			return true, nil
		}
		return truthy(a), nil
	}
	b, err := c.right.eval(r)
	if err != nil {
		return false, err
	}
	switch c.op {
	case "==":
		return equal(a, b), nil
	case "!=", "<>":
		return !equal(a, b), nil
	case "contains":
		return contains(a, b), nil
	}
	n, ok := compare(a, b)
	if !ok {
		return false, nil
	}
	switch c.op {
	case "<":
		return n < 0, nil
	case ">":
		return n > 0, nil
	case "<=":
		return n <= 0, nil
	}
	return n >= 0, nil
}

// parseCond reads a condition; and/or group from the right, as Liquid does.
func parseCond(src string, line int) (cond, error) {
	l := &lexer{src: src, line: line}
	c, err := parseCondLexer(l)
	if err != nil {
		return nil, err
	}
	if t := l.next(); t.kind != lexEOF {
		return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("unexpected %q in a condition", t.text)}
	}
	return c, nil
}

func parseCondLexer(l *lexer) (cond, error) {
	left, err := parsePrimary(l)
	if err != nil {
		return nil, err
	}
	c := cmpCond{left: left}
	t := l.next()
	if t.kind == lexOp || t.kind == lexIdent && t.text == "contains" {
		c.op = t.text
		if c.right, err = parsePrimary(l); err != nil {
			return nil, err
		}
		t = l.next()
	}
	if l.err != nil {
		return nil, l.err
	}
	if t.kind == lexIdent && (t.text == "and" || t.text == "or") {
		right, err := parseCondLexer(l)
		if err != nil {
			return nil, err
		}
		return logicCond{and: t.text == "and", left: c, right: right}, nil
	}
	l.unread(t)
	return c, nil
}
