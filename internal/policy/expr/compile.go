package expr

import (
	"strconv"
	"strings"
)

// cx is a compiled expression: a closure and what is known about it at load time.
type cx struct {
	fn    evalFn
	t     *typeInfo // static type; nil when only known at run time
	konst bool      // fn always returns val
	val   any
	// a name that denotes a type or a namespace instead of a value
	typ *typeInfo
	ns  string
}

type scope struct {
	names  map[string]int
	types  map[string]*typeInfo
	funcs  map[string]*localFunc
	parent *scope
}

type compiler struct {
	r      *registry
	sc     *scope
	nslots int
}

func (c *compiler) push() {
	c.sc = &scope{names: map[string]int{}, types: map[string]*typeInfo{}, parent: c.sc}
}
func (c *compiler) pop() { c.sc = c.sc.parent }

func (c *compiler) declare(name string, t *typeInfo) int {
	slot := c.nslots
	c.nslots++
	c.sc.names[name] = slot
	c.sc.types[name] = t
	return slot
}

func (c *compiler) lookup(name string) (int, *typeInfo, bool) {
	for s := c.sc; s != nil; s = s.parent {
		if slot, ok := s.names[name]; ok {
			return slot, s.types[name], true
		}
	}
	return 0, nil, false
}

func konst(v any, t *typeInfo) cx {
	return cx{fn: func(*env) (any, error) { return v, nil }, t: t, konst: true, val: v}
}

func (c *compiler) staticType(v any) *typeInfo {
	switch v.(type) {
	case string:
		return c.r.str
	case int:
		return c.r.integer
	case int64:
		return c.r.long
	case float64:
		return c.r.double
	case bool:
		return c.r.boolean
	case Char:
		return c.r.char
	}
	return nil
}

// value compiles n as an expression that yields a value (not a type or namespace name).
func (c *compiler) value(n node) (cx, error) {
	x, err := c.expr(n)
	if err != nil {
		return cx{}, err
	}
	if x.typ != nil {
		return cx{}, errAt(n.offset(), "%s is a type, not a value", x.typ.name)
	}
	if x.ns != "" {
		return cx{}, errAt(n.offset(), "%s is a namespace, not a value", x.ns)
	}
	return x, nil
}

// expr compiles n; a null-conditional chain ends here.
func (c *compiler) expr(n node) (cx, error) {
	x, err := c.chain(n)
	if err != nil {
		return x, err
	}
	if hasCond(n) && x.fn != nil {
		f := x.fn
		x.fn = func(e *env) (any, error) {
			v, err := f(e)
			if err == errShort {
				return nil, nil
			}
			return v, err
		}
	}
	return x, nil
}

// writtenType is a type's name as the expression wrote it (Array rather than Object[]).
func writtenType(n node, t *typeInfo) string {
	switch x := n.(type) {
	case *identExpr:
		return x.name
	case *memberExpr:
		return x.name
	}
	return t.name
}

// chainStart is where a dotted name such as System.IO.File, or any expression, begins.
func chainStart(n node) int {
	for {
		switch x := n.(type) {
		case *memberExpr:
			if x.x == nil {
				return x.off
			}
			n = x.x
		case *indexExpr:
			n = x.x
		case *callExpr:
			n = x.fn
		case *binaryExpr:
			n = x.x
		case *condExpr:
			n = x.c
		case *assignExpr:
			n = x.target
		default:
			return n.offset()
		}
	}
}

func hasCond(n node) bool {
	for {
		switch x := n.(type) {
		case *memberExpr:
			if x.cond {
				return true
			}
			n = x.x
		case *indexExpr:
			if x.cond {
				return true
			}
			n = x.x
		case *callExpr:
			n = x.fn
		default:
			return false
		}
		if n == nil {
			return false
		}
	}
}

func (c *compiler) chain(n node) (cx, error) {
	switch x := n.(type) {
	case *litExpr:
		return konst(x.val, c.staticType(x.val)), nil
	case *identExpr:
		return c.ident(x)
	case *memberExpr:
		return c.member(x)
	case *callExpr:
		return c.call(x)
	case *indexExpr:
		return c.index(x)
	case *unaryExpr:
		return c.unary(x)
	case *binaryExpr:
		return c.binary(x)
	case *condExpr:
		return c.conditional(x)
	case *castExpr:
		return c.cast(x)
	case *asExpr:
		return c.as(x)
	case *isExpr:
		return c.isOp(x)
	case *lambdaExpr:
		return c.lambda(x)
	case *newExpr:
		return c.newObj(x)
	case *interpExpr:
		return c.interp(x)
	case *assignExpr:
		return c.assign(x)
	case *incDecExpr:
		return c.incDec(x)
	case *defaultExpr:
		if x.t == nil {
			return konst(nil, nil), nil
		}
		t, err := c.lookupType(x.t)
		if err != nil {
			return cx{}, err
		}
		return konst(t.zero, t), nil
	case *throwExpr:
		v, err := c.value(x.x)
		if err != nil {
			return cx{}, err
		}
		f := v.fn
		return cx{fn: func(e *env) (any, error) {
			ex, err := f(e)
			if err != nil {
				return nil, err
			}
			return nil, asThrown(ex)
		}}, nil
	case *typeofExpr:
		return cx{}, errAt(x.off, "typeof is not available in policy expressions (reflection)")
	}
	return cx{}, errAt(n.offset(), "this construct is not available in policy expressions")
}

func (c *compiler) ident(x *identExpr) (cx, error) {
	if slot, t, ok := c.lookup(x.name); ok {
		return cx{fn: func(e *env) (any, error) { return e.locals[slot], nil }, t: t}, nil
	}
	if c.lookupFunc(x.name) != nil {
		return cx{}, errAt(x.off, "the local function '%s' can only be called, not used as a value", x.name)
	}
	if x.name == "context" {
		return cx{fn: func(e *env) (any, error) {
			if e.ctx == nil {
				return nil, nullRef("context")
			}
			return e.ctx, nil
		}, t: c.r.context}, nil
	}
	if t := c.r.types[x.name]; t != nil {
		return cx{typ: t}, nil
	}
	if c.r.namespaces[x.name] {
		return cx{ns: x.name}, nil
	}
	if reason, ok := c.r.denied[x.name]; ok {
		return cx{}, errAt(x.off, "%s %s", x.name, reason)
	}
	if reason, ok := c.r.denied["System."+x.name]; ok {
		return cx{}, errAt(x.off, "System.%s %s", x.name, reason)
	}
	if r := []rune(x.name); len(r) > 0 && r[0] >= 'A' && r[0] <= 'Z' {
		return cx{}, errAt(x.off, "%s is not available in policy expressions", x.name)
	}
	return cx{}, errAt(x.off, "the name '%s' does not exist in policy expressions", x.name)
}

// qualified resolves ns.name to a namespace or a type.
func (c *compiler) qualified(ns, name string, off int) (cx, error) {
	full := ns + "." + name
	if reason, ok := c.r.denied[full]; ok {
		return cx{}, errAt(off, "%s %s", full, reason)
	}
	if c.r.namespaces[full] {
		return cx{ns: full}, nil
	}
	if t := c.r.types[full]; t != nil {
		return cx{typ: t}, nil
	}
	if t := c.r.types[name]; t != nil && t.static {
		return cx{typ: t}, nil
	}
	if t := c.r.types[name]; t != nil {
		return cx{typ: t}, nil
	}
	return cx{}, errAt(off, "%s is not available in policy expressions", full)
}

func (c *compiler) member(x *memberExpr) (cx, error) {
	if x.x == nil {
		return cx{}, errAt(x.off, "the method '%s' does not exist in policy expressions", x.name)
	}
	recv, err := c.chain(x.x)
	if err != nil {
		return cx{}, err
	}
	if recv.ns != "" {
		return c.qualified(recv.ns, x.name, chainStart(x))
	}
	if recv.typ != nil {
		p := recv.typ.sprops[x.name]
		if p == nil {
			if nested := c.r.types[recv.typ.name+"."+x.name]; nested != nil {
				return cx{typ: nested}, nil
			}
			if m := recv.typ.smethods[x.name]; m != nil && m.min <= 1 && (m.max < 0 || m.max >= 1) {
				// a method group such as char.IsDigit passed where a lambda goes
				slot := c.declare("\x00"+x.name, nil)
				call := m.call
				l := &lambda{slots: []int{slot}, body: func(e *env) (any, error) {
					return call(e, nil, []any{e.locals[slot]}, nil)
				}}
				return konst(l, c.r.lambda), nil
			}
			return cx{}, errAt(x.off, "%s.%s is not available in policy expressions", writtenType(x.x, recv.typ), x.name)
		}
		get := p.get
		return cx{fn: func(e *env) (any, error) { return get(e, nil) }, t: p.ret}, nil
	}
	var bound *prop
	if recv.t != nil {
		bound = recv.t.props[x.name]
		if bound == nil {
			if c.r.findMethod(recv.t, x.name) != nil {
				return cx{}, errAt(x.off, "%s.%s is a method: call it with ()", recv.t.name, x.name)
			}
			if recv.t != c.r.obj {
				return cx{}, errAt(x.off, "%s.%s is not available in policy expressions", recv.t.name, x.name)
			}
		}
	}
	if bound == nil && !c.r.memberNames[x.name] {
		return cx{}, errAt(x.off, "the member '%s' is not available in policy expressions", x.name)
	}
	name, cond, rf := x.name, x.cond, recv.fn
	var ret *typeInfo
	if bound != nil {
		ret = bound.ret
	}
	return cx{fn: func(e *env) (any, error) {
		v, err := rf(e)
		if err != nil {
			return nil, err
		}
		if v == nil {
			if cond {
				return nil, errShort
			}
			if name == "HasValue" {
				return false, nil
			}
			return nil, throw("NullReferenceException", "cannot read %s of null", name)
		}
		if bound != nil {
			out, err := bound.get(e, v)
			if err != errWrongRecv {
				return out, err
			}
		}
		return getProp(e, v, name)
	}, t: ret}, nil
}

func getProp(e *env, v any, name string) (any, error) {
	t := typeOfValue(v)
	if t != nil {
		if p := t.props[name]; p != nil {
			out, err := p.get(e, v)
			if err == errWrongRecv {
				return nil, throw("InvalidCastException", "%s has no property %s", typeName(v), name)
			}
			return out, err
		}
	}
	return nil, throw("MissingMemberException", "%s has no property %s", typeName(v), name)
}

// lambda is a compiled lambda expression; it runs in the frame of the expression that
// defines it, its parameters in their own slots.
type lambda struct {
	slots []int
	body  evalFn
}

func (l *lambda) call(e *env, args ...any) (any, error) {
	if err := e.step(); err != nil {
		return nil, err
	}
	for i, s := range l.slots {
		if i < len(args) {
			e.locals[s] = args[i]
		}
	}
	return l.body(e)
}

func (l *lambda) call1(e *env, a any) (any, error) {
	if err := e.step(); err != nil {
		return nil, err
	}
	if len(l.slots) > 0 {
		e.locals[l.slots[0]] = a
	}
	return l.body(e)
}

func (c *compiler) lambda(x *lambdaExpr) (cx, error) {
	c.push()
	defer c.pop()
	l := &lambda{}
	for _, p := range x.params {
		l.slots = append(l.slots, c.declare(p, nil))
	}
	if x.block != nil {
		body, err := c.block(x.block)
		if err != nil {
			return cx{}, err
		}
		l.body = func(e *env) (any, error) {
			ctl, err := body(e)
			if err != nil {
				return nil, err
			}
			if ctl == ctlReturn {
				return e.ret, nil
			}
			return nil, nil
		}
	} else {
		b, err := c.value(x.body)
		if err != nil {
			return cx{}, err
		}
		l.body = b.fn
	}
	return konst(l, c.r.lambda), nil
}

// outRef is an out argument: the slot the callee writes.
type outRef struct{ slot int }

func (o *outRef) set(e *env, v any) {
	if o != nil && o.slot >= 0 {
		e.locals[o.slot] = v
	}
}

func (c *compiler) args(list []*argExpr) ([]cx, error) {
	out := make([]cx, 0, len(list))
	for _, a := range list {
		if a.out {
			if a.outName == "_" {
				out = append(out, konst(&outRef{slot: -1}, nil))
				continue
			}
			var slot int
			if a.outType != nil {
				var t *typeInfo
				if a.outType.name != "var" {
					var err error
					if t, err = c.lookupType(a.outType); err != nil {
						return nil, err
					}
				}
				slot = c.declare(a.outName, t)
			} else {
				s, _, ok := c.lookup(a.outName)
				if !ok {
					return nil, errAt(a.off, "the name '%s' does not exist in policy expressions", a.outName)
				}
				slot = s
			}
			out = append(out, konst(&outRef{slot: slot}, nil))
			continue
		}
		v, err := c.value(a.x)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// argsFn evaluates arguments; when all are constant the slice is built once at load.
func argsFn(list []cx) func(e *env) ([]any, error) {
	allConst := true
	for _, a := range list {
		allConst = allConst && a.konst
	}
	if allConst {
		vals := make([]any, len(list))
		for i, a := range list {
			vals[i] = a.val
		}
		return func(*env) ([]any, error) { return vals, nil }
	}
	return func(e *env) ([]any, error) {
		vals := make([]any, len(list))
		for i, a := range list {
			v, err := a.fn(e)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		return vals, nil
	}
}

func checkArity(m *method, n int, off int, what string) error {
	if n < m.min || (m.max >= 0 && n > m.max) {
		return errAt(off, "%s does not take %d arguments", what, n)
	}
	return nil
}

func (c *compiler) targs(list []*typeRef) ([]*typeInfo, error) {
	var out []*typeInfo
	for _, t := range list {
		ti, err := c.lookupType(t)
		if err != nil {
			return nil, err
		}
		out = append(out, ti)
	}
	return out, nil
}

func (c *compiler) call(x *callExpr) (cx, error) {
	var mx *memberExpr
	switch f := x.fn.(type) {
	case *memberExpr:
		mx = f
	case *identExpr:
		if lf := c.lookupFunc(f.name); lf != nil {
			return c.callLocal(lf, x, f.off)
		}
		return cx{}, errAt(f.off, "the method '%s' does not exist in policy expressions", f.name)
	default:
		return cx{}, errAt(x.off, "this expression cannot be called")
	}
	if mx.x == nil {
		return cx{}, errAt(mx.off, "the method '%s' does not exist in policy expressions", mx.name)
	}
	recv, err := c.chain(mx.x)
	if err != nil {
		return cx{}, err
	}
	targs, err := c.targs(mx.typeArgs)
	if err != nil {
		return cx{}, err
	}
	if recv.ns != "" {
		return cx{}, errAt(mx.off, "%s.%s is not available in policy expressions", recv.ns, mx.name)
	}
	argv, err := c.args(x.args)
	if err != nil {
		return cx{}, err
	}
	eval := argsFn(argv)
	if recv.typ != nil {
		m := recv.typ.smethods[mx.name]
		what := writtenType(mx.x, recv.typ) + "." + mx.name
		if m == nil {
			return cx{}, errAt(mx.off, "%s is not available in policy expressions", what)
		}
		if err := checkArity(m, len(argv), mx.off, what); err != nil {
			return cx{}, err
		}
		ret := m.ret
		if m.retTArg && len(targs) > 0 {
			ret = targs[0]
		}
		call := m.call
		return cx{fn: func(e *env) (any, error) {
			if err := e.step(); err != nil {
				return nil, err
			}
			args, err := eval(e)
			if err != nil {
				return nil, err
			}
			return call(e, nil, args, targs)
		}, t: ret}, nil
	}
	var bound *method
	if recv.t != nil {
		bound = c.r.findMethod(recv.t, mx.name)
		if bound == nil && recv.t.props[mx.name] != nil {
			return cx{}, errAt(mx.off, "%s.%s is a property, not a method", recv.t.name, mx.name)
		}
		if bound == nil && recv.t != c.r.obj && !recv.t.enumerable {
			return cx{}, errAt(mx.off, "%s.%s is not available in policy expressions", recv.t.name, mx.name)
		}
	}
	var ret *typeInfo
	var zero any // the default of a value-type sequence, for ...OrDefault
	if bound != nil {
		if err := checkArity(bound, len(argv), mx.off, recv.t.name+"."+mx.name); err != nil {
			return cx{}, err
		}
		ret = bound.ret
		if bound.retTArg && len(targs) > 0 {
			ret = targs[0]
		}
		if el := recv.t.elem; el != nil && el.valueType && c.r.arrays[el] == recv.t {
			switch mx.name {
			case "Where", "Skip", "Take", "OrderBy", "OrderByDescending", "Order", "OrderDescending",
				"Distinct", "Reverse", "ToArray", "Concat", "Union", "Intersect", "Except", "DefaultIfEmpty":
				ret = recv.t
			case "First", "Last", "Single", "ElementAt", "Min", "Max":
				ret = el
			case "FirstOrDefault", "LastOrDefault", "SingleOrDefault", "ElementAtOrDefault":
				ret = el
				if mx.name == "ElementAtOrDefault" || len(argv) == 0 || argv[0].t == c.r.lambda {
					zero = el.zero
				}
			}
		}
	} else if !c.r.memberNames[mx.name] {
		return cx{}, errAt(mx.off, "the method '%s' is not available in policy expressions", mx.name)
	}
	name, cond, rf := mx.name, mx.cond, recv.fn
	// a null receiver is fine for extension methods such as AsJwt
	nullOK := (bound != nil && bound.nullRecv) || (bound == nil && c.r.nullRecv[name])
	return cx{fn: func(e *env) (any, error) {
		v, err := rf(e)
		if err != nil {
			return nil, err
		}
		if v == nil {
			if cond {
				return nil, errShort
			}
			if !nullOK {
				return nil, throw("NullReferenceException", "cannot call %s on null", name)
			}
		}
		if err := e.step(); err != nil {
			return nil, err
		}
		args, err := eval(e)
		if err != nil {
			return nil, err
		}
		if bound != nil {
			out, err := bound.call(e, v, args, targs)
			if err != errWrongRecv {
				if out == nil && err == nil {
					out = zero
				}
				return out, err
			}
		}
		return callMethod(e, v, name, args, targs)
	}, t: ret}, nil
}

func callMethod(e *env, v any, name string, args []any, targs []*typeInfo) (any, error) {
	r := builtins()
	var t *typeInfo
	if v == nil {
		// extension methods on null: string's
		t = r.str
	} else {
		t = r.typeOf(v)
	}
	m := r.findMethod(t, name)
	if m == nil && v != nil && isEnumerable(v) {
		m = r.linq[name]
	}
	if m == nil || (m.max >= 0 && len(args) > m.max) || len(args) < m.min {
		return nil, throw("MissingMethodException", "%s has no method %s taking %d arguments", typeName(v), name, len(args))
	}
	out, err := m.call(e, v, args, targs)
	if err == errWrongRecv {
		return nil, throw("InvalidCastException", "%s cannot be used with %s", typeName(v), name)
	}
	return out, err
}

func (c *compiler) index(x *indexExpr) (cx, error) {
	recv, err := c.chain(x.x)
	if err != nil {
		return cx{}, err
	}
	if recv.typ != nil || recv.ns != "" {
		return cx{}, errAt(x.off, "a type cannot be indexed")
	}
	var argv []cx
	for _, a := range x.args {
		v, err := c.value(a)
		if err != nil {
			return cx{}, err
		}
		argv = append(argv, v)
	}
	eval := argsFn(argv)
	var ret *typeInfo
	var bound func(e *env, recv any, args []any) (any, error)
	if recv.t != nil {
		if recv.t.index == nil && recv.t != c.r.obj {
			return cx{}, errAt(x.off, "%s cannot be indexed", recv.t.name)
		}
		bound, ret = recv.t.index, recv.t.indexRet
	}
	cond, rf := x.cond, recv.fn
	return cx{fn: func(e *env) (any, error) {
		v, err := rf(e)
		if err != nil {
			return nil, err
		}
		if v == nil {
			if cond {
				return nil, errShort
			}
			return nil, throw("NullReferenceException", "cannot index null")
		}
		args, err := eval(e)
		if err != nil {
			return nil, err
		}
		if bound != nil {
			out, err := bound(e, v, args)
			if err != errWrongRecv {
				return out, err
			}
		}
		return indexValue(e, v, args)
	}, t: ret}, nil
}

func indexValue(e *env, v any, args []any) (any, error) {
	t := typeOfValue(v)
	if t == nil || t.index == nil {
		return nil, throw("InvalidOperationException", "%s cannot be indexed", typeName(v))
	}
	out, err := t.index(e, v, args)
	if err == errWrongRecv {
		return nil, throw("InvalidCastException", "%s cannot be indexed", typeName(v))
	}
	return out, err
}

func (c *compiler) unary(x *unaryExpr) (cx, error) {
	a, err := c.value(x.x)
	if err != nil {
		return cx{}, err
	}
	f := a.fn
	var out cx
	if x.op == "!" {
		if err := c.wantBool(a, x.x, "the operand of !"); err != nil {
			return cx{}, err
		}
	} else if c.isText(a.t) {
		return cx{}, errAt(x.off, "operator %s cannot be applied to %s", x.op, a.t.name)
	}
	switch x.op {
	case "!":
		out = cx{fn: func(e *env) (any, error) {
			v, err := f(e)
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, nil
			}
			b, err := truthy(v, "the operand of !")
			return !b, err
		}, t: c.r.boolean}
	case "-":
		out = cx{fn: func(e *env) (any, error) {
			v, err := f(e)
			if err != nil {
				return nil, err
			}
			switch n := v.(type) {
			case TimeSpan:
				return -n, nil
			case Char:
				return -int(n), nil
			}
			return arith("-", 0, v)
		}, t: a.t}
	case "+":
		return a, nil
	case "~":
		out = cx{fn: func(e *env) (any, error) {
			v, err := f(e)
			if err != nil {
				return nil, err
			}
			return arith("^", v, -1)
		}, t: a.t}
	default:
		return cx{}, errAt(x.off, "operator %s is not available", x.op)
	}
	return fold(out, a)
}

// notBool reports whether t is a type that can never be a bool, for load-time type errors.
func (c *compiler) notBool(t *typeInfo) bool {
	switch t {
	case c.r.str, c.r.integer, c.r.long, c.r.double, c.r.char, c.r.dateTime, c.r.timeSpan, c.r.strings, c.r.jwt:
		return true
	}
	return false
}

// wantBool refuses at load a condition whose type cannot be a bool.
func (c *compiler) wantBool(x cx, n node, what string) error {
	if c.notBool(x.t) {
		return errAt(chainStart(n), "%s must be a bool, not %s", what, x.t.name)
	}
	return nil
}

func (c *compiler) isText(t *typeInfo) bool { return t == c.r.str || t == c.r.boolean }

// fold evaluates an operator on constants once at load.
func fold(out cx, operands ...cx) (cx, error) {
	for _, o := range operands {
		if !o.konst {
			return out, nil
		}
	}
	v, err := out.fn(&env{})
	if err != nil {
		return out, nil // keep the run-time error for run time
	}
	k := konst(v, out.t)
	return k, nil
}

func (c *compiler) binary(x *binaryExpr) (cx, error) {
	a, err := c.value(x.x)
	if err != nil {
		return cx{}, err
	}
	b, err := c.value(x.y)
	if err != nil {
		return cx{}, err
	}
	fa, fb := a.fn, b.fn
	var out cx
	switch x.op {
	case "&&", "||":
		if err := c.wantBool(a, x.x, "the left side of "+x.op); err != nil {
			return cx{}, err
		}
		if err := c.wantBool(b, x.y, "the right side of "+x.op); err != nil {
			return cx{}, err
		}
	case "-", "*", "/", "%", "<<", ">>":
		if c.isText(a.t) || c.isText(b.t) {
			bad := a.t
			if !c.isText(bad) {
				bad = b.t
			}
			return cx{}, errAt(x.off, "operator %s cannot be applied to %s", x.op, bad.name)
		}
	case "<", ">", "<=", ">=":
		if a.t == c.r.boolean || b.t == c.r.boolean {
			return cx{}, errAt(x.off, "operator %s cannot be applied to Boolean", x.op)
		}
	}
	switch x.op {
	case "&&", "||":
		and := x.op == "&&"
		left, right := "the left side of "+x.op, "the right side of "+x.op
		out = cx{fn: func(e *env) (any, error) {
			v, err := fa(e)
			if err != nil {
				return nil, err
			}
			l, err := truthy(v, left)
			if err != nil {
				return nil, err
			}
			if l != and {
				return l, nil
			}
			v, err = fb(e)
			if err != nil {
				return nil, err
			}
			return truthy(v, right)
		}, t: c.r.boolean}
	case "??":
		out = cx{fn: func(e *env) (any, error) {
			v, err := fa(e)
			if err != nil || v != nil {
				return v, err
			}
			return fb(e)
		}, t: a.t}
		if a.t == nil {
			out.t = b.t
		}
	case "==", "!=":
		neg := x.op == "!="
		out = cx{fn: func(e *env) (any, error) {
			v, err := fa(e)
			if err != nil {
				return nil, err
			}
			w, err := fb(e)
			if err != nil {
				return nil, err
			}
			return equal(v, w) != neg, nil
		}, t: c.r.boolean}
	case "<", ">", "<=", ">=":
		op := x.op
		out = cx{fn: func(e *env) (any, error) {
			v, err := fa(e)
			if err != nil {
				return nil, err
			}
			w, err := fb(e)
			if err != nil {
				return nil, err
			}
			if v == nil || w == nil {
				return false, nil
			}
			r, ok := compare(v, w)
			if !ok {
				return nil, throw("InvalidOperationException", "operator %s cannot compare %s and %s", op, typeName(v), typeName(w))
			}
			switch op {
			case "<":
				return r < 0, nil
			case ">":
				return r > 0, nil
			case "<=":
				return r <= 0, nil
			}
			return r >= 0, nil
		}, t: c.r.boolean}
	case "+":
		strs := a.t == c.r.str || b.t == c.r.str
		out = cx{fn: func(e *env) (any, error) {
			v, err := fa(e)
			if err != nil {
				return nil, err
			}
			w, err := fb(e)
			if err != nil {
				return nil, err
			}
			if ns, ok := v.(XNamespace); ok {
				if local, ok := w.(string); ok {
					return &xName{space: ns.URI, local: local}, nil
				}
			}
			_, vs := v.(string)
			_, ws := w.(string)
			if strs || vs || ws {
				return concat(e, toStr(v), toStr(w))
			}
			return arith("+", v, w)
		}, t: numType(c.r, a.t, b.t)}
		if strs {
			out.t = c.r.str
		}
	case "&", "|", "^":
		op := x.op
		right := "the right side of " + op
		out = cx{fn: func(e *env) (any, error) {
			v, err := fa(e)
			if err != nil {
				return nil, err
			}
			w, err := fb(e)
			if err != nil {
				return nil, err
			}
			if bv, ok := v.(bool); ok {
				bw, err := truthy(w, right)
				if err != nil {
					return nil, err
				}
				switch op {
				case "&":
					return bv && bw, nil
				case "|":
					return bv || bw, nil
				}
				return bv != bw, nil
			}
			if ea, ok := v.(Enum); ok {
				if eb, ok := w.(Enum); ok && ea.Type == eb.Type {
					return combineFlags(op, ea, eb), nil
				}
			}
			return arith(op, v, w)
		}, t: a.t}
	default:
		op := x.op
		out = cx{fn: func(e *env) (any, error) {
			v, err := fa(e)
			if err != nil {
				return nil, err
			}
			w, err := fb(e)
			if err != nil {
				return nil, err
			}
			return arith(op, v, w)
		}, t: numType(c.r, a.t, b.t)}
	}
	return fold(out, a, b)
}

// combineFlags is |, & and ^ on [Flags] enums such as RegexOptions.
func combineFlags(op string, a, b Enum) Enum {
	out := Enum{Type: a.Type}
	switch op {
	case "|":
		out.N, out.Name = a.N|b.N, a.Name+", "+b.Name
	case "&":
		out.N = a.N & b.N
	default:
		out.N = a.N ^ b.N
	}
	if out.Name == "" {
		out.Name = strconv.Itoa(out.N)
	}
	return out
}

func numType(r *registry, a, b *typeInfo) *typeInfo {
	switch {
	case a == r.double || b == r.double:
		return r.double
	case a == r.long || b == r.long:
		return r.long
	case (a == r.integer || a == r.char) && (b == r.integer || b == r.char):
		return r.integer
	}
	return nil
}

func concat(e *env, a, b string) (any, error) {
	if err := e.charge(len(a) + len(b)); err != nil {
		return nil, err
	}
	return a + b, nil
}

func (c *compiler) conditional(x *condExpr) (cx, error) {
	cond, err := c.value(x.c)
	if err != nil {
		return cx{}, err
	}
	a, err := c.value(x.a)
	if err != nil {
		return cx{}, err
	}
	b, err := c.value(x.b)
	if err != nil {
		return cx{}, err
	}
	if err := c.wantBool(cond, x.c, "the condition of ?:"); err != nil {
		return cx{}, err
	}
	fc, fa, fb := cond.fn, a.fn, b.fn
	t := a.t
	if t == nil || (b.t != nil && b.t != t) {
		t = numType(c.r, a.t, b.t)
		if a.t == b.t {
			t = a.t
		}
	}
	out := cx{fn: func(e *env) (any, error) {
		v, err := fc(e)
		if err != nil {
			return nil, err
		}
		ok, err := truthy(v, "the condition of ?:")
		if err != nil {
			return nil, err
		}
		if ok {
			return fa(e)
		}
		return fb(e)
	}, t: t}
	if cond.konst {
		if ok, isBool := cond.val.(bool); isBool {
			if ok {
				return a, nil
			}
			return b, nil
		}
	}
	return out, nil
}

func (c *compiler) cast(x *castExpr) (cx, error) {
	t, err := c.lookupType(x.t)
	if err != nil {
		return cx{}, err
	}
	a, err := c.value(x.x)
	if err != nil {
		return cx{}, err
	}
	if narrowInts[x.t.name] != nil && !x.t.nullable && x.t.array == 0 {
		return fold(cx{fn: narrowCast(x.t, a.fn), t: t}, a)
	}
	if a.t == t {
		return a, nil
	}
	f := a.fn
	nullable := x.t.nullable || !t.valueType
	name := x.t.String()
	out := cx{fn: func(e *env) (any, error) {
		v, err := f(e)
		if err != nil {
			return nil, err
		}
		return castValue(t, v, nullable, name)
	}, t: t}
	return fold(out, a)
}

func castValue(t *typeInfo, v any, nullable bool, name string) (any, error) {
	if v == nil {
		if nullable {
			return nil, nil
		}
		return nil, throw("NullReferenceException", "cannot convert null to %s", name)
	}
	if jv, ok := v.(*JValue); ok && jv.V == nil && nullable && t != builtins().jtoken {
		return nil, nil
	}
	if t.convert == nil {
		return v, nil
	}
	out, ok := t.convert(v)
	if !ok {
		return nil, invalidCast(v, name)
	}
	return out, nil
}

func (c *compiler) as(x *asExpr) (cx, error) {
	t, err := c.lookupType(x.t)
	if err != nil {
		return cx{}, err
	}
	a, err := c.value(x.x)
	if err != nil {
		return cx{}, err
	}
	f := a.fn
	return cx{fn: func(e *env) (any, error) {
		v, err := f(e)
		if err != nil || v == nil {
			return nil, err
		}
		if t.is != nil && t.is(v) {
			return v, nil
		}
		return nil, nil
	}, t: t}, nil
}

func (c *compiler) isOp(x *isExpr) (cx, error) {
	a, err := c.value(x.x)
	if err != nil {
		return cx{}, err
	}
	f, not := a.fn, x.not
	if x.t == nil {
		v, err := c.value(x.val)
		if err != nil {
			return cx{}, err
		}
		want := v.val
		return cx{fn: func(e *env) (any, error) {
			got, err := f(e)
			if err != nil {
				return nil, err
			}
			return equal(got, want) != not, nil
		}, t: c.r.boolean}, nil
	}
	t, err := c.lookupType(x.t)
	if err != nil {
		return cx{}, err
	}
	slot := -1
	if x.name != "" {
		slot = c.declare(x.name, t)
	}
	return cx{fn: func(e *env) (any, error) {
		v, err := f(e)
		if err != nil {
			return nil, err
		}
		ok := v != nil && (t.is == nil || t.is(v))
		if ok && slot >= 0 {
			e.locals[slot] = v
		}
		return ok != not, nil
	}, t: c.r.boolean}, nil
}

func (c *compiler) interp(x *interpExpr) (cx, error) {
	type part struct {
		lit    string
		fn     evalFn
		format string
		align  int
	}
	var parts []part
	allConst := true
	for _, p := range x.parts {
		if p.x == nil {
			parts = append(parts, part{lit: p.lit})
			continue
		}
		v, err := c.value(p.x)
		if err != nil {
			return cx{}, err
		}
		if v.konst {
			s, err := formatValue(v.val, p.format)
			if err == nil {
				parts = append(parts, part{lit: alignText(s, p.align)})
				continue
			}
		}
		allConst = false
		parts = append(parts, part{fn: v.fn, format: p.format, align: p.align})
	}
	if allConst {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.lit)
		}
		return konst(b.String(), c.r.str), nil
	}
	return cx{fn: func(e *env) (any, error) {
		var b strings.Builder
		for _, p := range parts {
			if p.fn == nil {
				b.WriteString(p.lit)
				continue
			}
			v, err := p.fn(e)
			if err != nil {
				return nil, err
			}
			s, err := formatValue(v, p.format)
			if err != nil {
				return nil, err
			}
			s = alignText(s, p.align)
			if err := e.charge(len(s)); err != nil {
				return nil, err
			}
			b.WriteString(s)
		}
		return b.String(), nil
	}, t: c.r.str}, nil
}

// alignText pads s to width characters: right-aligned when width is positive, left-aligned
// when negative, as .NET's composite formatting does.
func alignText(s string, width int) string {
	n := utf16Len(s)
	switch {
	case width > n:
		return strings.Repeat(" ", width-n) + s
	case -width > n:
		return s + strings.Repeat(" ", -width-n)
	}
	return s
}

func (c *compiler) assign(x *assignExpr) (cx, error) {
	val, err := c.value(x.val)
	if err != nil {
		return cx{}, err
	}
	set, get, t, err := c.lvalue(x.target)
	if err != nil {
		return cx{}, err
	}
	vf := val.fn
	if x.op == "=" {
		return cx{fn: func(e *env) (any, error) {
			v, err := vf(e)
			if err != nil {
				return nil, err
			}
			return v, set(e, v)
		}, t: val.t}, nil
	}
	op := strings.TrimSuffix(x.op, "=")
	strs := t == c.r.str || val.t == c.r.str
	return cx{fn: func(e *env) (any, error) {
		cur, err := get(e)
		if err != nil {
			return nil, err
		}
		var v any
		if op == "??" {
			if cur != nil {
				return cur, nil
			}
			if v, err = vf(e); err != nil {
				return nil, err
			}
			return v, set(e, v)
		}
		w, err := vf(e)
		if err != nil {
			return nil, err
		}
		_, cs := cur.(string)
		_, ws := w.(string)
		if op == "+" && (strs || cs || ws) {
			v, err = concat(e, toStr(cur), toStr(w))
		} else {
			v, err = arith(op, cur, w)
		}
		if err != nil {
			return nil, err
		}
		return v, set(e, v)
	}, t: t}, nil
}

func (c *compiler) incDec(x *incDecExpr) (cx, error) {
	set, get, t, err := c.lvalue(x.target)
	if err != nil {
		return cx{}, err
	}
	op := x.op[:1]
	prefix := x.prefix
	return cx{fn: func(e *env) (any, error) {
		cur, err := get(e)
		if err != nil {
			return nil, err
		}
		v, err := arith(op, cur, 1)
		if err != nil {
			return nil, err
		}
		if err := set(e, v); err != nil {
			return nil, err
		}
		if prefix {
			return v, nil
		}
		return cur, nil
	}, t: t}, nil
}

// lvalue compiles an assignment target into a setter and a getter.
func (c *compiler) lvalue(n node) (set func(e *env, v any) error, get evalFn, t *typeInfo, err error) {
	switch x := n.(type) {
	case *identExpr:
		slot, st, ok := c.lookup(x.name)
		if !ok {
			return nil, nil, nil, errAt(x.off, "the name '%s' does not exist in policy expressions", x.name)
		}
		return func(e *env, v any) error { e.locals[slot] = v; return nil },
			func(e *env) (any, error) { return e.locals[slot], nil }, st, nil
	case *indexExpr:
		recv, err := c.value(x.x)
		if err != nil {
			return nil, nil, nil, err
		}
		if recv.t != nil && recv.t != c.r.obj && recv.t.setIndex == nil {
			return nil, nil, nil, errAt(x.off, "%s is read-only: its elements cannot be assigned", recv.t.name)
		}
		var argv []cx
		for _, a := range x.args {
			v, err := c.value(a)
			if err != nil {
				return nil, nil, nil, err
			}
			argv = append(argv, v)
		}
		eval, rf := argsFn(argv), recv.fn
		set = func(e *env, v any) error {
			r, err := rf(e)
			if err != nil {
				return err
			}
			if r == nil {
				return throw("NullReferenceException", "cannot index null")
			}
			args, err := eval(e)
			if err != nil {
				return err
			}
			t := typeOfValue(r)
			if t == nil || t.setIndex == nil {
				return throw("InvalidOperationException", "%s cannot be assigned by index", typeName(r))
			}
			return t.setIndex(e, r, args, v)
		}
		get = func(e *env) (any, error) {
			r, err := rf(e)
			if err != nil {
				return nil, err
			}
			if r == nil {
				return nil, throw("NullReferenceException", "cannot index null")
			}
			args, err := eval(e)
			if err != nil {
				return nil, err
			}
			return indexValue(e, r, args)
		}
		return set, get, nil, nil
	case *memberExpr:
		recv, err := c.value(x.x)
		if err != nil {
			return nil, nil, nil, err
		}
		if recv.t != nil && recv.t != c.r.obj && recv.t.setProp[x.name] == nil {
			return nil, nil, nil, errAt(x.off, "%s.%s is read-only", recv.t.name, x.name)
		}
		g, err := c.value(x)
		if err != nil {
			return nil, nil, nil, err
		}
		rf, name := recv.fn, x.name
		set = func(e *env, v any) error {
			r, err := rf(e)
			if err != nil {
				return err
			}
			if r == nil {
				return throw("NullReferenceException", "cannot set %s of null", name)
			}
			t := typeOfValue(r)
			if t == nil || t.setProp[name] == nil {
				return throw("InvalidOperationException", "%s.%s cannot be assigned", typeName(r), name)
			}
			return t.setProp[name](e, r, v)
		}
		return set, g.fn, g.t, nil
	}
	return nil, nil, nil, errAt(n.offset(), "this expression cannot be assigned")
}

// lookupType resolves a written type.
func (c *compiler) lookupType(tr *typeRef) (*typeInfo, error) {
	if tr.array > 0 {
		el, err := c.lookupType(&typeRef{at: tr.at, name: tr.name, args: tr.args, array: tr.array - 1})
		if err != nil {
			return nil, err
		}
		switch el {
		case c.r.str:
			return c.r.strings, nil
		case c.r.types["byte"]:
			return c.r.bytes, nil
		}
		if at := c.r.arrays[el]; at != nil && tr.array == 1 {
			return at, nil
		}
		return c.r.array, nil
	}
	name := tr.name
	if reason, ok := c.r.denied[name]; ok {
		return nil, errAt(tr.off, "%s %s", name, reason)
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		ns := name[:i]
		if !c.r.namespaces[ns] && c.r.types[name] == nil {
			return nil, errAt(tr.off, "%s is not available in policy expressions", name)
		}
		if t := c.r.types[name]; t != nil {
			return t, nil
		}
		name = name[i+1:]
		if reason, ok := c.r.denied["System."+name]; ok {
			return nil, errAt(tr.off, "%s %s", tr.name, reason)
		}
	}
	if len(tr.args) > 0 {
		generic := name + "`" + string(rune('0'+len(tr.args)))
		if t := c.r.types[generic]; t != nil {
			if name == "Nullable" {
				return c.lookupType(tr.args[0])
			}
			for _, a := range tr.args {
				if _, err := c.lookupType(a); err != nil {
					return nil, err
				}
			}
			return t, nil
		}
		return nil, errAt(tr.off, "%s is not available in policy expressions", tr.String())
	}
	if reason, ok := c.r.denied["System."+name]; ok {
		return nil, errAt(tr.off, "System.%s %s", name, reason)
	}
	if t := c.r.types[name]; t != nil {
		return t, nil
	}
	return nil, errAt(tr.off, "%s is not available in policy expressions", tr.String())
}
