package expr

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"portcullis/internal/jwt"
	"portcullis/internal/policy"
)

var _ policy.ExpressionCompiler = Compile

// Expression is a compiled policy expression. It is safe for concurrent use.
type Expression struct {
	pos    policy.Pos
	fn     evalFn
	nslots int
	konst  bool
	val    any
	envs   sync.Pool
	// jwts memoizes AsJwt decodes of this expression in a small direct-mapped table: a client
	// presents the same bearer token on many requests, and decoding costs more than the rest
	// of a typical expression. Entries are immutable; a collision just replaces one.
	jwts    [jwtSlots]atomic.Pointer[jwtMemo]
	jwtSeed maphash.Seed
	// regexes caches compiled patterns; regexCount bounds how many are kept.
	regexes    sync.Map
	regexCount atomic.Int32
}

const jwtSlots = 16

type jwtMemo struct {
	raw string
	tok *jwt.Token
}

// EvalError is a run-time failure of an expression, with where the expression is.
type EvalError struct {
	Pos policy.Pos
	Err error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("%s: policy expression failed: %v", e.Pos, e.Err)
}
func (e *EvalError) Unwrap() error { return e.Err }

// Compile compiles one policy expression, src being "@(...)" or "@{...}" as written in the
// policy file (entities decoded) and pos where it starts.
func Compile(src string, pos policy.Pos) (policy.Expression, error) {
	x, err := compileSource(src, pos)
	if err != nil {
		return nil, err
	}
	return x, nil
}

func compileSource(src string, pos policy.Pos) (*Expression, error) {
	x, err := compile(src)
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			return nil, &policy.Error{Pos: offsetPos(src, pos, se.off), Msg: se.msg}
		}
		return nil, &policy.Error{Pos: pos, Msg: err.Error(), Err: err}
	}
	x.pos = pos
	x.jwtSeed = maphash.MakeSeed()
	return x, nil
}

// offsetPos is the file position of byte off of src, which starts at pos.
func offsetPos(src string, pos policy.Pos, off int) policy.Pos {
	off = min(max(off, 0), len(src))
	line, col := pos.Line, pos.Col
	for _, r := range src[:off] {
		if r == '\n' {
			line++
			col = 1
			continue
		}
		col++
	}
	return policy.Pos{File: pos.File, Line: line, Col: col}
}

func compile(src string) (*Expression, error) {
	if len(src) < 3 || src[0] != '@' || (src[1] != '(' && src[1] != '{') {
		return nil, errAt(0, "a policy expression starts with @( or @{")
	}
	toks, err := lex(src[1:], 1)
	if err != nil {
		return nil, err
	}
	ps := &parser{toks: toks}
	c := &compiler{r: builtins()}
	c.push()
	x := &Expression{}
	if src[1] == '(' {
		ps.next() // (
		n, err := ps.parseExpr()
		if err != nil {
			return nil, err
		}
		if _, err := ps.expect(")"); err != nil {
			if ps.peek().kind != tEOF {
				return nil, errAt(ps.peek().off, "expected ')' to close '@(', found %s", describeToken(ps.peek()))
			}
			return nil, err
		}
		if ps.peek().kind != tEOF {
			return nil, errAt(ps.peek().off, "unexpected %s after the expression", describeToken(ps.peek()))
		}
		v, err := c.value(n)
		if err != nil {
			return nil, err
		}
		x.fn, x.konst, x.val = v.fn, v.konst, v.val
	} else {
		b, err := ps.parseBlock()
		if err != nil {
			return nil, err
		}
		if ps.peek().kind != tEOF {
			return nil, errAt(ps.peek().off, "unexpected %s after the closing '}'", describeToken(ps.peek()))
		}
		if !returns(b) {
			end := len(src) - 1
			return nil, errAt(end, "not all code paths return a value: a @{...} block must end with return")
		}
		body, err := c.stmts(b.stmts)
		if err != nil {
			return nil, err
		}
		x.fn = func(e *env) (any, error) {
			k, err := body(e)
			if err != nil {
				return nil, err
			}
			if k != ctlReturn {
				return nil, throw("InvalidOperationException", "the expression ended without return")
			}
			return e.ret, nil
		}
	}
	x.nslots = c.nslots
	return x, nil
}

// Eval runs the expression against one request.
func (x *Expression) Eval(ctx *policy.Context) (v any, err error) {
	if x.konst {
		return x.val, nil
	}
	e, _ := x.envs.Get().(*env)
	if e == nil {
		e = &env{locals: make([]any, x.nslots)}
	}
	e.ctx, e.expr = ctx, x
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &EvalError{Pos: x.pos, Err: throw("InvalidOperationException", "internal error: %v", r)}
		}
		clear(e.locals)
		*e = env{locals: e.locals}
		x.envs.Put(e)
	}()
	v, err = x.fn(e)
	if err == errShort {
		return nil, nil
	}
	if err != nil {
		return nil, &EvalError{Pos: x.pos, Err: err}
	}
	return v, nil
}

// String describes the expression for logs.
// EvalText evaluates the expression and converts the result as .NET's ToString would
// (policy.TextExpression), so that attribute values read 1000000, not 1E+06.
func (x *Expression) EvalText(ctx *policy.Context) (string, error) {
	v, err := x.Eval(ctx)
	if err != nil {
		return "", err
	}
	return Text(v), nil
}

var _ policy.TextExpression = (*Expression)(nil)

func (x *Expression) String() string {
	return "policy expression at " + x.pos.String()
}

// staticElem is the static type every element shares, or nil.
func (c *compiler) staticElem(elems []node) *typeInfo {
	var t *typeInfo
	for i, el := range elems {
		l, ok := el.(*litExpr)
		if !ok {
			return nil
		}
		lt := c.staticType(l.val)
		if i > 0 && lt != t {
			return nil
		}
		t = lt
	}
	return t
}

// Text converts an expression result to text as .NET's ToString does in the invariant
// culture: doubles, DateTime, arrays and JSON tokens print as they do in APIM.
func Text(v any) string { return toStr(v) }

// IsConstant reports whether the expression's value was computed at load.
func (x *Expression) IsConstant() bool { return x.konst }

func (c *compiler) newObj(x *newExpr) (cx, error) {
	if x.anon {
		type field struct {
			name string
			fn   evalFn
		}
		var fields []field
		for _, in := range x.inits {
			v, err := c.value(in.val)
			if err != nil {
				return cx{}, err
			}
			fields = append(fields, field{in.name, v.fn})
		}
		return cx{fn: func(e *env) (any, error) {
			o := newJObject()
			for _, f := range fields {
				v, err := f.fn(e)
				if err != nil {
					return nil, err
				}
				tok, err := toJToken(e, v)
				if err != nil {
					return nil, err
				}
				o.set(f.name, tok)
			}
			return o, nil
		}, t: c.r.jobject}, nil
	}
	if x.array {
		var elt *typeInfo
		t := c.r.array
		if x.t != nil {
			var err error
			if elt, err = c.lookupType(x.t); err != nil {
				return cx{}, err
			}
			if t, err = c.lookupType(&typeRef{at: x.t.at, name: x.t.name, args: x.t.args, array: x.t.array + 1}); err != nil {
				return cx{}, err
			}
		}
		var elems []evalFn
		allStr := x.t == nil
		for _, el := range x.elems {
			v, err := c.value(el)
			if err != nil {
				return cx{}, err
			}
			if v.t != c.r.str {
				allStr = false
			}
			elems = append(elems, v.fn)
		}
		if allStr && len(elems) > 0 {
			t = c.r.strings
		}
		if x.t == nil && len(elems) > 0 {
			// new[] { 1, 2 }: an int[] when every element is statically an int
			same := c.staticElem(x.elems)
			if at := c.r.arrays[same]; at != nil {
				t = at
			}
		}
		var size evalFn
		if x.size != nil {
			v, err := c.value(x.size)
			if err != nil {
				return cx{}, err
			}
			size = v.fn
		}
		return cx{fn: func(e *env) (any, error) {
			n := len(elems)
			if size != nil {
				v, err := size(e)
				if err != nil {
					return nil, err
				}
				k, ok := toInt64(v)
				if !ok || k < 0 {
					return nil, throw("OverflowException", "array size must be a non-negative integer")
				}
				if err := e.charge(int(min(k, maxAlloc+1)) * 8); err != nil {
					return nil, err
				}
				n = int(k)
			}
			vals := make([]any, n)
			for i, f := range elems {
				v, err := f(e)
				if err != nil {
					return nil, err
				}
				vals[i] = v
			}
			switch t {
			case c.r.strings:
				out := make([]string, n)
				for i, v := range vals {
					if v != nil {
						s, ok := v.(string)
						if !ok {
							return nil, invalidCast(v, "string")
						}
						out[i] = s
					}
				}
				return out, nil
			case c.r.bytes:
				out := make([]byte, n)
				for i, v := range vals {
					if v != nil {
						k, ok := toInt64(v)
						if !ok {
							return nil, invalidCast(v, "byte")
						}
						out[i] = byte(k)
					}
				}
				return out, nil
			}
			if elt != nil && elt.zero != nil && size != nil {
				for i := range vals {
					vals[i] = elt.zero
				}
			}
			return vals, nil
		}, t: t}, nil
	}
	t, err := c.lookupType(x.t)
	if err != nil {
		return cx{}, err
	}
	if t.ctor == nil {
		return cx{}, errAt(x.t.off, "new %s is not available in policy expressions", x.t.String())
	}
	targs, err := c.targs(x.t.args)
	if err != nil {
		return cx{}, err
	}
	argv, err := c.args(x.args)
	if err != nil {
		return cx{}, err
	}
	eval := argsFn(argv)
	type init struct {
		name  string
		index []evalFn
		keyed []evalFn
		val   evalFn
	}
	var inits []init
	for _, in := range x.inits {
		one := init{name: in.name}
		for _, k := range in.index {
			v, err := c.value(k)
			if err != nil {
				return cx{}, err
			}
			one.index = append(one.index, v.fn)
		}
		for _, k := range in.keyed {
			v, err := c.value(k)
			if err != nil {
				return cx{}, err
			}
			one.keyed = append(one.keyed, v.fn)
		}
		if in.val != nil {
			v, err := c.value(in.val)
			if err != nil {
				return cx{}, err
			}
			one.val = v.fn
		}
		if one.name != "" && t.setProp[one.name] == nil {
			return cx{}, errAt(in.off, "%s.%s cannot be set in policy expressions", t.name, one.name)
		}
		inits = append(inits, one)
	}
	ctor := t.ctor
	return cx{fn: func(e *env) (any, error) {
		if err := e.step(); err != nil {
			return nil, err
		}
		args, err := eval(e)
		if err != nil {
			return nil, err
		}
		obj, err := ctor(e, targs, args)
		if err != nil {
			return nil, err
		}
		for _, in := range inits {
			evalAll := func(fs []evalFn) ([]any, error) {
				out := make([]any, len(fs))
				for i, f := range fs {
					v, err := f(e)
					if err != nil {
						return nil, err
					}
					out[i] = v
				}
				return out, nil
			}
			switch {
			case in.name != "":
				v, err := in.val(e)
				if err != nil {
					return nil, err
				}
				if err := t.setProp[in.name](e, obj, v); err != nil {
					return nil, err
				}
			case in.index != nil:
				keys, err := evalAll(in.index)
				if err != nil {
					return nil, err
				}
				v, err := in.val(e)
				if err != nil {
					return nil, err
				}
				if t.setIndex == nil {
					return nil, throw("InvalidOperationException", "%s cannot be initialised by index", t.name)
				}
				if err := t.setIndex(e, obj, keys, v); err != nil {
					return nil, err
				}
			default:
				var vals []any
				if in.keyed != nil {
					if vals, err = evalAll(in.keyed); err != nil {
						return nil, err
					}
				} else {
					v, err := in.val(e)
					if err != nil {
						return nil, err
					}
					vals = []any{v}
				}
				if _, err := callMethod(e, obj, "Add", vals, nil); err != nil {
					return nil, err
				}
			}
		}
		return obj, nil
	}, t: t}, nil
}
