package expr

// localFuncStmt is a C# local function declared inside @{ ... }: a typed signature and a
// block or expression body.
type localFuncStmt struct {
	at
	ret    *typeRef // nil: void
	name   string
	params []localParam
	body   *blockStmt
	expr   node // => expression body
}

type localParam struct {
	t    *typeRef
	name string
	off  int
}

// tryLocalFunc parses "[static] T Name(T a, ...) { ... }" or "... => e;" when the tokens form
// one; otherwise the position is unchanged.
func (ps *parser) tryLocalFunc() (node, error) {
	start := ps.peek()
	if start.kind != tIdent {
		return nil, nil
	}
	save := ps.p
	if start.text == "static" && ps.peekN(1).kind == tIdent {
		ps.next()
	}
	var ret *typeRef
	if ps.is("void") {
		ps.next()
	} else if ret = ps.tryType(); ret == nil {
		ps.p = save
		return nil, nil
	}
	n, after := ps.peek(), ps.peekN(1)
	if n.kind != tIdent || reserved[n.text] || ret != nil && ret.name == "var" || !(after.kind == tPunct && after.text == "(") {
		ps.p = save
		return nil, nil
	}
	ps.next()
	ps.next()
	f := &localFuncStmt{at: at{start.off}, ret: ret, name: n.text}
	for !ps.isPunct(")") {
		if len(f.params) > 0 {
			if _, err := ps.expect(","); err != nil {
				return nil, err
			}
		}
		if ps.is("ref") || ps.is("out") || ps.is("params") || ps.is("this") {
			return nil, errAt(ps.peek().off, "%s parameters of local functions are not available in policy expressions", ps.peek().text)
		}
		t, err := ps.parseType()
		if err != nil {
			return nil, err
		}
		name, err := ps.ident()
		if err != nil {
			return nil, err
		}
		if ps.isPunct("=") {
			return nil, errAt(ps.peek().off, "default parameter values of local functions are not available in policy expressions")
		}
		f.params = append(f.params, localParam{t: t, name: name.text, off: name.off})
	}
	ps.next()
	if ps.accept("=>") {
		x, err := ps.parseExpr()
		if err != nil {
			return nil, err
		}
		f.expr = x
		_, err = ps.expect(";")
		return f, err
	}
	if !ps.isPunct("{") {
		return nil, ps.unexpected("the body of local function " + f.name)
	}
	b, err := ps.parseBlock()
	if err != nil {
		return nil, err
	}
	f.body = b
	return f, nil
}
