package expr

import "fmt"

// maxCallDepth bounds the nesting of local function calls: recursion is also bounded by the
// step limit, but each level costs Go stack, so depth is capped well before that matters.
const maxCallDepth = 256

// localFunc is a compiled local function. It shares the frame of the expression that
// declares it (so it sees and changes the enclosing variables, as C# closures do); its own
// parameters and locals live in slots [lo, hi), saved and restored around each call so that
// recursive calls each get their own.
type localFunc struct {
	name   string
	params []*typeInfo // nil: object
	slots  []int
	ret    *typeInfo // nil with void: no value; nil otherwise: object
	void   bool
	lo, hi int
	body   execFn // nil until the declaration is compiled
}

func (f *localFunc) invoke(e *env, args []any) (any, error) {
	if err := e.step(); err != nil {
		return nil, err
	}
	if f.body == nil {
		return nil, throw("InvalidOperationException", "local function %s is used before its body is available", f.name)
	}
	if e.depth >= maxCallDepth {
		return nil, fmt.Errorf("%w: local function calls nested more than %d deep", ErrLimit, maxCallDepth)
	}
	n := f.hi - f.lo
	var saved []any
	if n > 0 {
		if err := e.charge(16 * n); err != nil {
			return nil, err
		}
		saved = make([]any, n)
		copy(saved, e.locals[f.lo:f.hi])
		clear(e.locals[f.lo:f.hi])
	}
	for i, s := range f.slots {
		v := args[i]
		if t := f.params[i]; t != nil && t.valueType {
			cv, err := castValue(t, v, false, t.name)
			if err != nil {
				return nil, err
			}
			v = cv
		}
		e.locals[s] = v
	}
	e.depth++
	k, err := f.body(e)
	e.depth--
	var out any
	if err == nil && k == ctlReturn && !f.void {
		out = e.ret
		if t := f.ret; t != nil && t.valueType {
			out, err = castValue(t, out, false, t.name)
		}
	}
	if n > 0 {
		copy(e.locals[f.lo:f.hi], saved)
	}
	if err == nil && k != ctlReturn && !f.void {
		err = throw("InvalidOperationException", "local function %s ended without returning a value", f.name)
	}
	return out, err
}

// lookupFunc finds a local function visible from the current scope.
func (c *compiler) lookupFunc(name string) *localFunc {
	for s := c.sc; s != nil; s = s.parent {
		if f := s.funcs[name]; f != nil {
			return f
		}
	}
	return nil
}

// declareFuncs makes the local functions of a block callable from anywhere in it, as C#
// does: a function may call one declared further down.
func (c *compiler) declareFuncs(list []node) error {
	for _, n := range list {
		d, ok := n.(*localFuncStmt)
		if !ok {
			continue
		}
		if c.sc.funcs == nil {
			c.sc.funcs = map[string]*localFunc{}
		}
		if c.sc.funcs[d.name] != nil {
			return errAt(d.off, "the local function '%s' is declared twice", d.name)
		}
		if _, _, ok := c.lookup(d.name); ok {
			return errAt(d.off, "the local function '%s' has the name of a variable", d.name)
		}
		f := &localFunc{name: d.name, void: d.ret == nil}
		if d.ret != nil {
			t, err := c.lookupType(d.ret)
			if err != nil {
				return err
			}
			f.ret = t
		}
		for _, p := range d.params {
			t, err := c.lookupType(p.t)
			if err != nil {
				return err
			}
			f.params = append(f.params, t)
		}
		c.sc.funcs[d.name] = f
	}
	return nil
}

// localFuncDecl compiles the body of a local function declared by declareFuncs.
func (c *compiler) localFuncDecl(d *localFuncStmt) (execFn, error) {
	f := c.sc.funcs[d.name]
	if f == nil || f.body != nil {
		return nil, errAt(d.off, "a local function must be declared directly in a block")
	}
	c.push()
	defer c.pop()
	f.lo = c.nslots
	for i, p := range d.params {
		for _, q := range d.params[:i] {
			if q.name == p.name {
				return nil, errAt(p.off, "the parameter '%s' is declared twice", p.name)
			}
		}
		f.slots = append(f.slots, c.declare(p.name, f.params[i]))
	}
	var body execFn
	if d.expr != nil {
		x, err := c.value(d.expr)
		if err != nil {
			return nil, err
		}
		xf, void := x.fn, f.void
		body = func(e *env) (ctl, error) {
			v, err := xf(e)
			if err != nil {
				return ctlNormal, err
			}
			if void {
				return ctlNormal, nil
			}
			e.ret = v
			return ctlReturn, nil
		}
	} else {
		b, err := c.block(d.body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	f.hi = c.nslots
	f.body = body
	return nil, nil
}

// callLocal compiles a call of a local function.
func (c *compiler) callLocal(f *localFunc, x *callExpr, off int) (cx, error) {
	if len(x.args) != len(f.params) {
		return cx{}, errAt(off, "local function %s takes %d arguments, not %d", f.name, len(f.params), len(x.args))
	}
	for _, a := range x.args {
		if a.out || a.name != "" {
			return cx{}, errAt(a.off, "out and named arguments of local functions are not available in policy expressions")
		}
	}
	argv, err := c.args(x.args)
	if err != nil {
		return cx{}, err
	}
	eval := argsFn(argv)
	return cx{fn: func(e *env) (any, error) {
		args, err := eval(e)
		if err != nil {
			return nil, err
		}
		return f.invoke(e, args)
	}, t: f.ret}, nil
}

// narrowInts are the integer types narrower than int: a cast to one truncates, while the
// value stays an int as C# arithmetic promotes it.
var narrowInts = map[string]func(int64) int{
	"short": func(n int64) int { return int(int16(n)) }, "Int16": func(n int64) int { return int(int16(n)) },
	"System.Int16": func(n int64) int { return int(int16(n)) },
	"ushort":       func(n int64) int { return int(uint16(n)) }, "UInt16": func(n int64) int { return int(uint16(n)) },
	"System.UInt16": func(n int64) int { return int(uint16(n)) },
	"sbyte":         func(n int64) int { return int(int8(n)) }, "SByte": func(n int64) int { return int(int8(n)) },
	"System.SByte": func(n int64) int { return int(int8(n)) },
}

// narrowCast wraps a cast to int's alias types with the truncation of the named type.
func narrowCast(tr *typeRef, f evalFn) evalFn {
	trunc := narrowInts[tr.name]
	if trunc == nil || tr.nullable || tr.array > 0 {
		return f
	}
	return func(e *env) (any, error) {
		v, err := f(e)
		if err != nil || v == nil {
			return v, err
		}
		n, ok := toInt64(v)
		if !ok {
			return nil, invalidCast(v, tr.name)
		}
		return trunc(n), nil
	}
}
