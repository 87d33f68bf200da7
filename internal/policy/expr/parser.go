package expr

type parser struct {
	toks  []token
	p     int
	depth int
}

// maxNesting bounds how deeply expressions nest, so that a policy cannot exhaust the stack.
const maxNesting = 200

func (ps *parser) peek() token       { return ps.toks[ps.p] }
func (ps *parser) peekN(n int) token { return ps.toks[min(ps.p+n, len(ps.toks)-1)] }
func (ps *parser) next() token {
	t := ps.toks[ps.p]
	if ps.p < len(ps.toks)-1 {
		ps.p++
	}
	return t
}

func (ps *parser) is(text string) bool {
	t := ps.toks[ps.p]
	return (t.kind == tPunct || t.kind == tIdent) && t.text == text
}

func (ps *parser) isPunct(text string) bool {
	t := ps.toks[ps.p]
	return t.kind == tPunct && t.text == text
}

func (ps *parser) accept(text string) bool {
	if ps.isPunct(text) {
		ps.next()
		return true
	}
	return false
}

func (ps *parser) expect(text string) (token, error) {
	if !ps.isPunct(text) {
		return token{}, ps.unexpected("'" + text + "'")
	}
	return ps.next(), nil
}

func (ps *parser) unexpected(want string) error {
	t := ps.peek()
	if t.kind == tEOF {
		return errAt(t.off, "expected %s, found the end of the expression", want)
	}
	return errAt(t.off, "expected %s, found %s", want, describeToken(t))
}

// describeToken names a token for an error message. Literal text is left out: after named
// values are substituted it may hold a secret.
func describeToken(t token) string {
	switch t.kind {
	case tEOF:
		return "the end of the expression"
	case tString, tInterp:
		return "a string literal"
	case tChar:
		return "a character literal"
	}
	return strconvQuote(t.text)
}

func (ps *parser) ident() (token, error) {
	t := ps.peek()
	if t.kind != tIdent {
		return token{}, ps.unexpected("a name")
	}
	return ps.next(), nil
}

var predefined = map[string]bool{
	"string": true, "int": true, "bool": true, "object": true, "long": true, "double": true,
	"decimal": true, "float": true, "char": true, "byte": true, "short": true, "uint": true,
	"ulong": true, "sbyte": true, "ushort": true, "dynamic": true,
}

var reserved = map[string]bool{
	"if": true, "else": true, "return": true, "foreach": true, "for": true, "while": true, "do": true,
	"break": true, "continue": true, "switch": true, "case": true, "default": true, "try": true,
	"catch": true, "finally": true, "throw": true, "using": true, "new": true, "in": true,
	"is": true, "as": true, "out": true, "var": false, "true": true, "false": true, "null": true,
	"typeof": true, "this": true, "base": true,
}

// tryType parses a type at the current position without reporting errors; on failure the
// position is unchanged.
func (ps *parser) tryType() *typeRef {
	save := ps.p
	t := ps.parseTypeNoErr()
	if t == nil {
		ps.p = save
	}
	return t
}

func (ps *parser) parseTypeNoErr() *typeRef {
	tk := ps.peek()
	if tk.kind != tIdent || (reserved[tk.text] && !predefined[tk.text]) {
		return nil
	}
	ps.next()
	t := &typeRef{at: at{tk.off}, name: tk.text}
	for ps.isPunct(".") && ps.peekN(1).kind == tIdent {
		ps.next()
		t.name += "." + ps.next().text
	}
	if ps.isPunct("<") {
		save := ps.p
		ps.next()
		ok := true
		for {
			a := ps.parseTypeNoErr()
			if a == nil {
				ok = false
				break
			}
			t.args = append(t.args, a)
			if ps.accept(",") {
				continue
			}
			break
		}
		if !ok || !ps.accept(">") {
			ps.p = save
			return nil
		}
	}
	if ps.isPunct("?") {
		// T? only when what follows cannot continue a conditional expression
		n := ps.peekN(1)
		if n.kind == tIdent || (n.kind == tPunct && (n.text == ")" || n.text == "[" || n.text == ">" || n.text == ",")) {
			ps.next()
			t.nullable = true
		}
	}
	for ps.isPunct("[") && ps.peekN(1).kind == tPunct && ps.peekN(1).text == "]" {
		ps.next()
		ps.next()
		t.array++
	}
	return t
}

func (ps *parser) parseType() (*typeRef, error) {
	t := ps.tryType()
	if t == nil {
		return nil, ps.unexpected("a type")
	}
	return t, nil
}

// ---- statements

func (ps *parser) parseBlock() (*blockStmt, error) {
	open, err := ps.expect("{")
	if err != nil {
		return nil, err
	}
	b := &blockStmt{at: at{open.off}}
	for !ps.isPunct("}") {
		if ps.peek().kind == tEOF {
			return nil, errAt(open.off, "'{' is not closed")
		}
		s, err := ps.parseStmt()
		if err != nil {
			return nil, err
		}
		b.stmts = append(b.stmts, s)
	}
	ps.next()
	return b, nil
}

func (ps *parser) parseEmbedded() (node, error) { return ps.parseStmt() }

func (ps *parser) parseStmt() (node, error) {
	t := ps.peek()
	if t.kind == tPunct {
		switch t.text {
		case "{":
			return ps.parseBlock()
		case ";":
			ps.next()
			return &emptyStmt{at{t.off}}, nil
		}
	}
	if t.kind == tIdent {
		switch t.text {
		case "if":
			ps.next()
			if _, err := ps.expect("("); err != nil {
				return nil, err
			}
			c, err := ps.parseExpr()
			if err != nil {
				return nil, err
			}
			if _, err := ps.expect(")"); err != nil {
				return nil, err
			}
			then, err := ps.parseEmbedded()
			if err != nil {
				return nil, err
			}
			s := &ifStmt{at: at{t.off}, c: c, then: then}
			if ps.is("else") {
				ps.next()
				if s.els_, err = ps.parseEmbedded(); err != nil {
					return nil, err
				}
			}
			return s, nil
		case "return":
			ps.next()
			s := &returnStmt{at: at{t.off}}
			if !ps.isPunct(";") {
				x, err := ps.parseExpr()
				if err != nil {
					return nil, err
				}
				s.x = x
			}
			_, err := ps.expect(";")
			return s, err
		case "throw":
			ps.next()
			s := &throwStmt{at: at{t.off}}
			if !ps.isPunct(";") {
				x, err := ps.parseExpr()
				if err != nil {
					return nil, err
				}
				s.x = x
			}
			_, err := ps.expect(";")
			return s, err
		case "break":
			ps.next()
			_, err := ps.expect(";")
			return &breakStmt{at{t.off}}, err
		case "continue":
			ps.next()
			_, err := ps.expect(";")
			return &continueStmt{at{t.off}}, err
		case "foreach":
			return ps.parseForeach()
		case "for":
			return ps.parseFor()
		case "while":
			ps.next()
			if _, err := ps.expect("("); err != nil {
				return nil, err
			}
			c, err := ps.parseExpr()
			if err != nil {
				return nil, err
			}
			if _, err := ps.expect(")"); err != nil {
				return nil, err
			}
			body, err := ps.parseEmbedded()
			if err != nil {
				return nil, err
			}
			return &whileStmt{at: at{t.off}, c: c, body: body}, nil
		case "do":
			ps.next()
			body, err := ps.parseEmbedded()
			if err != nil {
				return nil, err
			}
			if !ps.is("while") {
				return nil, ps.unexpected("'while'")
			}
			ps.next()
			if _, err := ps.expect("("); err != nil {
				return nil, err
			}
			c, err := ps.parseExpr()
			if err != nil {
				return nil, err
			}
			if _, err := ps.expect(")"); err != nil {
				return nil, err
			}
			_, err = ps.expect(";")
			return &whileStmt{at: at{t.off}, c: c, body: body, do: true}, err
		case "switch":
			return ps.parseSwitch()
		case "try":
			return ps.parseTry()
		case "using":
			return ps.parseUsing()
		case "const":
			ps.next()
			d, err := ps.tryDecl()
			if err != nil {
				return nil, err
			}
			if d == nil {
				return nil, ps.unexpected("a constant declaration")
			}
			_, err = ps.expect(";")
			return d, err
		case "checked", "unchecked":
			if n := ps.peekN(1); n.kind == tPunct && n.text == "{" {
				ps.next()
				return ps.parseBlock()
			}
		}
	}
	if f, err := ps.tryLocalFunc(); f != nil || err != nil {
		return f, err
	}
	if d, err := ps.tryDecl(); d != nil || err != nil {
		if err != nil {
			return nil, err
		}
		_, err := ps.expect(";")
		return d, err
	}
	x, err := ps.parseExpr()
	if err != nil {
		return nil, err
	}
	if _, err := ps.expect(";"); err != nil {
		return nil, err
	}
	return &exprStmt{at: at{t.off}, x: x}, nil
}

// tryDecl parses "var x = e" or "T x [= e][, y = e]" when the tokens form one.
func (ps *parser) tryDecl() (*declStmt, error) {
	start := ps.peek()
	if start.kind != tIdent {
		return nil, nil
	}
	save := ps.p
	var t *typeRef
	if start.text == "var" && ps.peekN(1).kind == tIdent {
		ps.next()
	} else {
		t = ps.tryType()
		if t == nil {
			return nil, nil
		}
	}
	n := ps.peek()
	after := ps.peekN(1)
	if t != nil && n.kind == tIdent && !reserved[n.text] && after.kind == tPunct && after.text == "(" {
		return nil, errAt(start.off, "local functions are not available in policy expressions")
	}
	if n.kind != tIdent || reserved[n.text] || !(after.kind == tPunct && (after.text == "=" || after.text == ";" || after.text == ",")) {
		ps.p = save
		return nil, nil
	}
	d := &declStmt{at: at{start.off}, t: t}
	for {
		name, err := ps.ident()
		if err != nil {
			return nil, err
		}
		d.names = append(d.names, name.text)
		d.offs = append(d.offs, name.off)
		var init node
		if ps.accept("=") {
			if ps.isPunct("{") && t != nil && t.array > 0 {
				// string[] a = { "x", "y" };
				elems, err := ps.parseElems()
				if err != nil {
					return nil, err
				}
				init = &newExpr{at: at{name.off}, t: t, array: true, elems: elems}
			} else if init, err = ps.parseExpr(); err != nil {
				return nil, err
			}
		}
		d.inits = append(d.inits, init)
		if !ps.accept(",") {
			return d, nil
		}
	}
}

func (ps *parser) parseForeach() (node, error) {
	t := ps.next()
	if _, err := ps.expect("("); err != nil {
		return nil, err
	}
	s := &foreachStmt{at: at{t.off}}
	if ps.is("var") {
		ps.next()
	} else {
		ty, err := ps.parseType()
		if err != nil {
			return nil, err
		}
		s.t = ty
	}
	name, err := ps.ident()
	if err != nil {
		return nil, err
	}
	s.name = name.text
	if !ps.is("in") {
		return nil, ps.unexpected("'in'")
	}
	ps.next()
	if s.coll, err = ps.parseExpr(); err != nil {
		return nil, err
	}
	if _, err := ps.expect(")"); err != nil {
		return nil, err
	}
	s.body, err = ps.parseEmbedded()
	return s, err
}

func (ps *parser) parseFor() (node, error) {
	t := ps.next()
	if _, err := ps.expect("("); err != nil {
		return nil, err
	}
	s := &forStmt{at: at{t.off}}
	if !ps.isPunct(";") {
		if d, err := ps.tryDecl(); d != nil || err != nil {
			if err != nil {
				return nil, err
			}
			s.init = append(s.init, d)
		} else {
			for {
				x, err := ps.parseExpr()
				if err != nil {
					return nil, err
				}
				s.init = append(s.init, &exprStmt{at: at{x.offset()}, x: x})
				if !ps.accept(",") {
					break
				}
			}
		}
	}
	if _, err := ps.expect(";"); err != nil {
		return nil, err
	}
	if !ps.isPunct(";") {
		c, err := ps.parseExpr()
		if err != nil {
			return nil, err
		}
		s.c = c
	}
	if _, err := ps.expect(";"); err != nil {
		return nil, err
	}
	for !ps.isPunct(")") {
		x, err := ps.parseExpr()
		if err != nil {
			return nil, err
		}
		s.post = append(s.post, &exprStmt{at: at{x.offset()}, x: x})
		if !ps.accept(",") {
			break
		}
	}
	if _, err := ps.expect(")"); err != nil {
		return nil, err
	}
	var err error
	s.body, err = ps.parseEmbedded()
	return s, err
}

func (ps *parser) parseSwitch() (node, error) {
	t := ps.next()
	if _, err := ps.expect("("); err != nil {
		return nil, err
	}
	x, err := ps.parseExpr()
	if err != nil {
		return nil, err
	}
	if _, err := ps.expect(")"); err != nil {
		return nil, err
	}
	if _, err := ps.expect("{"); err != nil {
		return nil, err
	}
	s := &switchStmt{at: at{t.off}, x: x}
	for !ps.accept("}") {
		sec := &switchSection{}
		for ps.is("case") || ps.is("default") {
			if ps.next().text == "default" {
				sec.labels = append(sec.labels, nil)
			} else {
				v, err := ps.parseExpr()
				if err != nil {
					return nil, err
				}
				sec.labels = append(sec.labels, v)
			}
			if _, err := ps.expect(":"); err != nil {
				return nil, err
			}
		}
		if len(sec.labels) == 0 {
			return nil, ps.unexpected("'case' or 'default'")
		}
		for !ps.is("case") && !ps.is("default") && !ps.isPunct("}") {
			if ps.peek().kind == tEOF {
				return nil, ps.unexpected("'}'")
			}
			st, err := ps.parseStmt()
			if err != nil {
				return nil, err
			}
			sec.body = append(sec.body, st)
		}
		s.sections = append(s.sections, sec)
	}
	return s, nil
}

func (ps *parser) parseTry() (node, error) {
	t := ps.next()
	body, err := ps.parseBlock()
	if err != nil {
		return nil, err
	}
	s := &tryStmt{at: at{t.off}, body: body}
	for ps.is("catch") {
		ps.next()
		c := &catchClause{}
		if ps.accept("(") {
			if c.t, err = ps.parseType(); err != nil {
				return nil, err
			}
			if ps.peek().kind == tIdent {
				c.name = ps.next().text
			}
			if _, err := ps.expect(")"); err != nil {
				return nil, err
			}
		}
		if ps.is("when") {
			ps.next()
			if _, err := ps.expect("("); err != nil {
				return nil, err
			}
			if c.when, err = ps.parseExpr(); err != nil {
				return nil, err
			}
			if _, err := ps.expect(")"); err != nil {
				return nil, err
			}
		}
		if c.body, err = ps.parseBlock(); err != nil {
			return nil, err
		}
		s.catches = append(s.catches, c)
	}
	if ps.is("finally") {
		ps.next()
		if s.finally, err = ps.parseBlock(); err != nil {
			return nil, err
		}
	}
	if len(s.catches) == 0 && s.finally == nil {
		return nil, ps.unexpected("'catch' or 'finally'")
	}
	return s, nil
}

func (ps *parser) parseUsing() (node, error) {
	t := ps.next()
	if _, err := ps.expect("("); err != nil {
		return nil, err
	}
	s := &usingStmt{at: at{t.off}}
	d, err := ps.tryDecl()
	if err != nil {
		return nil, err
	}
	if d != nil {
		s.decl = d
	} else if s.decl, err = ps.parseExpr(); err != nil {
		return nil, err
	}
	if _, err := ps.expect(")"); err != nil {
		return nil, err
	}
	s.body, err = ps.parseEmbedded()
	return s, err
}

// ---- expressions

func (ps *parser) parseExpr() (node, error) {
	ps.depth++
	defer func() { ps.depth-- }()
	if ps.depth > maxNesting {
		return nil, errAt(ps.peek().off, "the expression is nested more than %d levels deep", maxNesting)
	}
	if l, err := ps.tryLambda(); l != nil || err != nil {
		return l, err
	}
	x, err := ps.parseConditional()
	if err != nil {
		return nil, err
	}
	t := ps.peek()
	if t.kind == tPunct {
		switch t.text {
		case "=", "+=", "-=", "*=", "/=", "%=", "??=", "|=", "&=":
			switch x.(type) {
			case *identExpr, *memberExpr, *indexExpr:
			default:
				return nil, errAt(t.off, "the left side of %s must be a variable, property or indexer", t.text)
			}
			ps.next()
			v, err := ps.parseExpr()
			if err != nil {
				return nil, err
			}
			return &assignExpr{at: at{x.offset()}, op: t.text, target: x, val: v}, nil
		}
	}
	return x, nil
}

func (ps *parser) tryLambda() (node, error) {
	t := ps.peek()
	var params []string
	switch {
	case t.kind == tIdent && !reserved[t.text] && ps.peekN(1).kind == tPunct && ps.peekN(1).text == "=>":
		ps.next()
		params = []string{t.text}
	case t.kind == tPunct && t.text == "(":
		// find the matching ')' and check for '=>'
		depth, i := 0, ps.p
		for ; i < len(ps.toks); i++ {
			k := ps.toks[i]
			if k.kind == tEOF {
				return nil, nil
			}
			if k.kind == tPunct && k.text == "(" {
				depth++
			} else if k.kind == tPunct && k.text == ")" {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if i+1 >= len(ps.toks) || ps.toks[i+1].kind != tPunct || ps.toks[i+1].text != "=>" {
			return nil, nil
		}
		ps.next()
		for !ps.isPunct(")") {
			// (x, y) or (T x, U y)
			if ps.peekN(1).kind == tIdent {
				if _, err := ps.parseType(); err != nil {
					return nil, err
				}
			}
			n, err := ps.ident()
			if err != nil {
				return nil, err
			}
			params = append(params, n.text)
			if !ps.accept(",") {
				break
			}
		}
		if _, err := ps.expect(")"); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	ps.next() // =>
	l := &lambdaExpr{at: at{t.off}, params: params}
	if ps.isPunct("{") {
		b, err := ps.parseBlock()
		if err != nil {
			return nil, err
		}
		l.block = b
		return l, nil
	}
	body, err := ps.parseExpr()
	if err != nil {
		return nil, err
	}
	l.body = body
	return l, nil
}

func (ps *parser) parseConditional() (node, error) {
	c, err := ps.parseCoalesce()
	if err != nil {
		return nil, err
	}
	if !ps.isPunct("?") {
		return c, nil
	}
	ps.next()
	a, err := ps.parseExpr()
	if err != nil {
		return nil, err
	}
	if _, err := ps.expect(":"); err != nil {
		return nil, err
	}
	b, err := ps.parseExpr()
	if err != nil {
		return nil, err
	}
	return &condExpr{at: at{c.offset()}, c: c, a: a, b: b}, nil
}

func (ps *parser) parseCoalesce() (node, error) {
	x, err := ps.parseBinary(0)
	if err != nil {
		return nil, err
	}
	if ps.isPunct("??") {
		ps.next()
		y, err := ps.parseCoalesce()
		if err != nil {
			return nil, err
		}
		return &binaryExpr{at: at{x.offset()}, op: "??", x: x, y: y}, nil
	}
	return x, nil
}

var binLevels = [][]string{
	{"||"},
	{"&&"},
	{"|"},
	{"^"},
	{"&"},
	{"==", "!="},
	{"<", ">", "<=", ">=", "is", "as"},
	{"<<", ">>"},
	{"+", "-"},
	{"*", "/", "%"},
}

func (ps *parser) parseBinary(level int) (node, error) {
	if level == len(binLevels) {
		return ps.parseUnary()
	}
	x, err := ps.parseBinary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := ps.peek()
		op := ""
		for _, o := range binLevels[level] {
			if (t.kind == tPunct || (t.kind == tIdent && (o == "is" || o == "as"))) && t.text == o {
				op = o
			}
		}
		if binLevels[level][0] == "<<" && t.kind == tPunct && t.text == ">" {
			// ">>" is two '>' tokens so that List<List<T>> parses
			if n := ps.peekN(1); n.kind == tPunct && n.text == ">" && n.off == t.off+1 {
				ps.next()
				op = ">>"
			}
		}
		if binLevels[level][0] == "<" && t.kind == tPunct && t.text == ">" {
			if n := ps.peekN(1); n.kind == tPunct && n.text == ">" && n.off == t.off+1 {
				return x, nil
			}
		}
		if op == "" {
			return x, nil
		}
		ps.next()
		switch op {
		case "as":
			ty, err := ps.parseType()
			if err != nil {
				return nil, err
			}
			x = &asExpr{at: at{x.offset()}, x: x, t: ty}
			continue
		case "is":
			ie := &isExpr{at: at{x.offset()}, x: x}
			if ps.is("not") {
				ps.next()
				ie.not = true
			}
			n := ps.peek()
			switch {
			case n.kind == tIdent && (n.text == "null" || n.text == "true" || n.text == "false"),
				n.kind == tString || n.kind == tInt || n.kind == tReal || n.kind == tChar:
				v, err := ps.parseUnary()
				if err != nil {
					return nil, err
				}
				ie.val = v
			default:
				ty, err := ps.parseType()
				if err != nil {
					return nil, err
				}
				ie.t = ty
				if k := ps.peek(); k.kind == tIdent && !reserved[k.text] {
					ie.name = ps.next().text
				}
			}
			x = ie
			continue
		}
		y, err := ps.parseBinary(level + 1)
		if err != nil {
			return nil, err
		}
		x = &binaryExpr{at: at{t.off}, op: op, x: x, y: y}
	}
}

func (ps *parser) parseUnary() (node, error) {
	ps.depth++
	defer func() { ps.depth-- }()
	if ps.depth > maxNesting {
		return nil, errAt(ps.peek().off, "the expression is nested more than %d levels deep", maxNesting)
	}
	t := ps.peek()
	if t.kind == tPunct {
		switch t.text {
		case "!", "-", "+", "~":
			ps.next()
			x, err := ps.parseUnary()
			if err != nil {
				return nil, err
			}
			if l, ok := x.(*litExpr); ok && t.text == "-" {
				switch v := l.val.(type) {
				case int:
					return &litExpr{at: at{t.off}, val: -v}, nil
				case int64:
					if v == 2147483648 {
						return &litExpr{at: at{t.off}, val: int(-v)}, nil
					}
					return &litExpr{at: at{t.off}, val: -v}, nil
				case float64:
					return &litExpr{at: at{t.off}, val: -v}, nil
				}
			}
			return &unaryExpr{at: at{t.off}, op: t.text, x: x}, nil
		case "++", "--":
			ps.next()
			x, err := ps.parseUnary()
			if err != nil {
				return nil, err
			}
			return &incDecExpr{at: at{t.off}, op: t.text, prefix: true, target: x}, nil
		case "(":
			if c, err := ps.tryCast(); c != nil || err != nil {
				return c, err
			}
		}
	}
	return ps.parsePostfix()
}

func (ps *parser) tryCast() (node, error) {
	save := ps.p
	open := ps.next()
	ty := ps.tryType()
	if ty == nil || !ps.isPunct(")") {
		ps.p = save
		return nil, nil
	}
	ps.next()
	n := ps.peek()
	isCast := false
	if predefined[ty.name] || ty.array > 0 {
		isCast = !(n.kind == tPunct && n.text != "(" && n.text != "!" && n.text != "-" && n.text != "~" && n.text != "+") &&
			!(n.kind == tIdent && (n.text == "is" || n.text == "as")) && n.kind != tEOF
	} else {
		switch n.kind {
		case tIdent:
			isCast = n.text != "is" && n.text != "as" && n.text != "in"
		case tString, tInt, tReal, tChar, tInterp:
			isCast = true
		case tPunct:
			isCast = n.text == "(" || n.text == "!" || n.text == "~"
		}
	}
	if !isCast {
		ps.p = save
		return nil, nil
	}
	x, err := ps.parseUnary()
	if err != nil {
		return nil, err
	}
	return &castExpr{at: at{open.off}, t: ty, x: x}, nil
}

func (ps *parser) parseArgs(close string) ([]*argExpr, error) {
	var args []*argExpr
	for !ps.isPunct(close) {
		t := ps.peek()
		a := &argExpr{at: at{t.off}}
		if t.kind == tIdent && ps.peekN(1).kind == tPunct && ps.peekN(1).text == ":" && !reserved[t.text] {
			ps.next()
			ps.next()
			a.name = t.text
		}
		if ps.is("out") || ps.is("ref") {
			ps.next()
			a.out = true
			if ps.is("var") && ps.peekN(1).kind == tIdent {
				ps.next()
				a.outType = &typeRef{at: at{t.off}, name: "var"}
			} else if ps.peekN(1).kind == tIdent || (ps.peekN(1).kind == tPunct && (ps.peekN(1).text == "[" || ps.peekN(1).text == "<")) {
				ty := ps.tryType()
				if ty != nil && ps.peek().kind == tIdent {
					a.outType = ty
				} else if ty != nil {
					// "out x": the "type" was the variable itself
					a.outName = ty.name
					args = append(args, a)
					if !ps.accept(",") {
						break
					}
					continue
				}
			}
			n, err := ps.ident()
			if err != nil {
				return nil, err
			}
			a.outName = n.text
		} else {
			x, err := ps.parseExpr()
			if err != nil {
				return nil, err
			}
			a.x = x
		}
		args = append(args, a)
		if !ps.accept(",") {
			break
		}
	}
	if _, err := ps.expect(close); err != nil {
		return nil, err
	}
	return args, nil
}

func (ps *parser) parsePostfix() (node, error) {
	x, err := ps.parsePrimary()
	if err != nil {
		return nil, err
	}
	for {
		t := ps.peek()
		if t.kind != tPunct {
			return x, nil
		}
		switch t.text {
		case ".", "?.":
			ps.next()
			n, err := ps.ident()
			if err != nil {
				return nil, err
			}
			m := &memberExpr{at: at{n.off}, x: x, name: n.text, cond: t.text == "?."}
			m.typeArgs = ps.tryTypeArgs()
			x = m
		case "(":
			ps.next()
			args, err := ps.parseArgs(")")
			if err != nil {
				return nil, err
			}
			x = &callExpr{at: at{x.offset()}, fn: x, args: args}
		case "[", "?[":
			ps.next()
			args, err := ps.parseArgs("]")
			if err != nil {
				return nil, err
			}
			if len(args) == 0 {
				return nil, errAt(t.off, "an indexer needs an index")
			}
			ix := &indexExpr{at: at{t.off}, x: x, cond: t.text == "?["}
			for _, a := range args {
				if a.x == nil {
					return nil, errAt(a.off, "an index must be an expression")
				}
				ix.args = append(ix.args, a.x)
			}
			x = ix
		case "++", "--":
			ps.next()
			x = &incDecExpr{at: at{x.offset()}, op: t.text, target: x}
		case "!":
			// null-forgiving operator x!
			n := ps.peekN(1)
			if n.kind == tPunct && (n.text == "." || n.text == ")" || n.text == ";" || n.text == "[") {
				ps.next()
				continue
			}
			return x, nil
		default:
			return x, nil
		}
	}
}

// tryTypeArgs reads "<T, U>" when it is followed by '(' (a generic method call).
func (ps *parser) tryTypeArgs() []*typeRef {
	if !ps.isPunct("<") {
		return nil
	}
	save := ps.p
	ps.next()
	var args []*typeRef
	for {
		a := ps.parseTypeNoErr()
		if a == nil {
			ps.p = save
			return nil
		}
		args = append(args, a)
		if !ps.accept(",") {
			break
		}
	}
	if !ps.accept(">") || !ps.isPunct("(") {
		ps.p = save
		return nil
	}
	return args
}

func (ps *parser) parsePrimary() (node, error) {
	t := ps.peek()
	switch t.kind {
	case tInt, tReal, tString, tChar:
		ps.next()
		return &litExpr{at: at{t.off}, val: t.val}, nil
	case tInterp:
		ps.next()
		ie := &interpExpr{at: at{t.off}}
		for _, p := range t.iter {
			if !p.hole {
				ie.parts = append(ie.parts, interpNode{lit: p.lit})
				continue
			}
			x, err := parseExprSource(p.src, p.off)
			if err != nil {
				return nil, err
			}
			ie.parts = append(ie.parts, interpNode{x: x, format: p.format, align: p.align})
		}
		return ie, nil
	case tPunct:
		if t.text == "(" {
			ps.next()
			x, err := ps.parseExpr()
			if err != nil {
				return nil, err
			}
			if _, err := ps.expect(")"); err != nil {
				return nil, err
			}
			return x, nil
		}
		return nil, ps.unexpected("an expression")
	case tIdent:
		switch t.text {
		case "true", "false":
			ps.next()
			return &litExpr{at: at{t.off}, val: t.text == "true"}, nil
		case "null":
			ps.next()
			return &litExpr{at: at{t.off}}, nil
		case "new":
			return ps.parseNew()
		case "throw":
			// a throw expression: x ?? throw new Exception("...")
			ps.next()
			x, err := ps.parseExpr()
			if err != nil {
				return nil, err
			}
			return &throwExpr{at: at{t.off}, x: x}, nil
		case "default":
			ps.next()
			d := &defaultExpr{at: at{t.off}}
			if ps.accept("(") {
				ty, err := ps.parseType()
				if err != nil {
					return nil, err
				}
				d.t = ty
				if _, err := ps.expect(")"); err != nil {
					return nil, err
				}
			}
			return d, nil
		case "typeof":
			ps.next()
			if _, err := ps.expect("("); err != nil {
				return nil, err
			}
			ty, err := ps.parseType()
			if err != nil {
				return nil, err
			}
			if _, err := ps.expect(")"); err != nil {
				return nil, err
			}
			return &typeofExpr{at: at{t.off}, t: ty}, nil
		}
		if reserved[t.text] {
			return nil, ps.unexpected("an expression")
		}
		ps.next()
		id := &identExpr{at: at{t.off}, name: t.text}
		if targs := ps.tryTypeArgs(); targs != nil {
			return &memberExpr{at: at{t.off}, name: t.text, typeArgs: targs}, nil
		}
		return id, nil
	}
	return nil, ps.unexpected("an expression")
}

func (ps *parser) parseElems() ([]node, error) {
	if _, err := ps.expect("{"); err != nil {
		return nil, err
	}
	var elems []node
	for !ps.isPunct("}") {
		var x node
		var err error
		if ps.isPunct("{") {
			sub, err := ps.parseElems()
			if err != nil {
				return nil, err
			}
			x = &newExpr{at: at{ps.peek().off}, array: true, elems: sub}
		} else if x, err = ps.parseExpr(); err != nil {
			return nil, err
		}
		elems = append(elems, x)
		if !ps.accept(",") {
			break
		}
	}
	_, err := ps.expect("}")
	return elems, err
}

func (ps *parser) parseNew() (node, error) {
	t := ps.next()
	n := &newExpr{at: at{t.off}}
	if ps.isPunct("[") {
		// new[] { ... }
		ps.next()
		if _, err := ps.expect("]"); err != nil {
			return nil, err
		}
		elems, err := ps.parseElems()
		if err != nil {
			return nil, err
		}
		n.array, n.elems = true, elems
		return n, nil
	}
	if ps.isPunct("{") {
		// anonymous object
		ps.next()
		n.anon = true
		for !ps.isPunct("}") {
			k := ps.peek()
			in := &initExpr{at: at{k.off}}
			if k.kind == tIdent && ps.peekN(1).kind == tPunct && ps.peekN(1).text == "=" {
				ps.next()
				ps.next()
				in.name = k.text
				v, err := ps.parseExpr()
				if err != nil {
					return nil, err
				}
				in.val = v
			} else {
				v, err := ps.parseExpr()
				if err != nil {
					return nil, err
				}
				switch e := v.(type) {
				case *identExpr:
					in.name = e.name
				case *memberExpr:
					in.name = e.name
				default:
					return nil, errAt(k.off, "a member of an anonymous object needs a name")
				}
				in.val = v
			}
			n.inits = append(n.inits, in)
			if !ps.accept(",") {
				break
			}
		}
		_, err := ps.expect("}")
		return n, err
	}
	ty := ps.parseTypeNoArray()
	if ty == nil {
		return nil, ps.unexpected("a type")
	}
	n.t = ty
	if ps.isPunct("[") {
		ps.next()
		n.array = true
		if !ps.isPunct("]") {
			size, err := ps.parseExpr()
			if err != nil {
				return nil, err
			}
			n.size = size
		}
		if _, err := ps.expect("]"); err != nil {
			return nil, err
		}
		for ps.isPunct("[") && ps.peekN(1).kind == tPunct && ps.peekN(1).text == "]" {
			ps.next()
			ps.next()
			ty.array++
		}
		if ps.isPunct("{") {
			elems, err := ps.parseElems()
			if err != nil {
				return nil, err
			}
			n.elems = elems
		}
		return n, nil
	}
	hasArgs := false
	if ps.accept("(") {
		args, err := ps.parseArgs(")")
		if err != nil {
			return nil, err
		}
		n.args, hasArgs = args, true
	}
	if ps.isPunct("{") {
		ps.next()
		n.hasInits = true
		for !ps.isPunct("}") {
			k := ps.peek()
			in := &initExpr{at: at{k.off}}
			switch {
			case k.kind == tPunct && k.text == "[":
				ps.next()
				args, err := ps.parseArgs("]")
				if err != nil {
					return nil, err
				}
				if len(args) == 0 {
					return nil, errAt(k.off, "an indexer needs an index")
				}
				for _, a := range args {
					if a.x == nil {
						return nil, errAt(a.off, "an index must be an expression")
					}
					in.index = append(in.index, a.x)
				}
				if _, err := ps.expect("="); err != nil {
					return nil, err
				}
			case k.kind == tPunct && k.text == "{":
				elems, err := ps.parseElems()
				if err != nil {
					return nil, err
				}
				in.keyed = elems
			case k.kind == tIdent && ps.peekN(1).kind == tPunct && ps.peekN(1).text == "=":
				ps.next()
				ps.next()
				in.name = k.text
			}
			if in.keyed == nil {
				v, err := ps.parseExpr()
				if err != nil {
					return nil, err
				}
				in.val = v
			}
			n.inits = append(n.inits, in)
			if !ps.accept(",") {
				break
			}
		}
		if _, err := ps.expect("}"); err != nil {
			return nil, err
		}
	}
	if !hasArgs && !n.hasInits {
		return nil, ps.unexpected("'(' or '{' after the type")
	}
	return n, nil
}

// parseTypeNoArray reads a type name with type arguments but leaves "[...]" for new T[n].
func (ps *parser) parseTypeNoArray() *typeRef {
	tk := ps.peek()
	if tk.kind != tIdent {
		return nil
	}
	ps.next()
	t := &typeRef{at: at{tk.off}, name: tk.text}
	for ps.isPunct(".") && ps.peekN(1).kind == tIdent {
		ps.next()
		t.name += "." + ps.next().text
	}
	if ps.isPunct("<") {
		save := ps.p
		ps.next()
		for {
			a := ps.parseTypeNoErr()
			if a == nil {
				ps.p = save
				return t
			}
			t.args = append(t.args, a)
			if !ps.accept(",") {
				break
			}
		}
		if !ps.accept(">") {
			ps.p = save
		}
	}
	return t
}

// parseExprSource parses a whole expression from a piece of source at offset base.
func parseExprSource(src string, base int) (node, error) {
	toks, err := lex(src, base)
	if err != nil {
		return nil, err
	}
	ps := &parser{toks: toks}
	x, err := ps.parseExpr()
	if err != nil {
		return nil, err
	}
	if ps.peek().kind != tEOF {
		return nil, ps.unexpected("the end of the expression")
	}
	return x, nil
}
