package expr

import (
	"errors"
)

type ctl uint8

const (
	ctlNormal ctl = iota
	ctlReturn
	ctlBreak
	ctlContinue
)

type execFn func(e *env) (ctl, error)

func (c *compiler) block(b *blockStmt) (execFn, error) {
	c.push()
	defer c.pop()
	return c.stmts(b.stmts)
}

func (c *compiler) stmts(list []node) (execFn, error) {
	if err := c.declareFuncs(list); err != nil {
		return nil, err
	}
	var fns []execFn
	for _, s := range list {
		f, err := c.stmt(s)
		if err != nil {
			return nil, err
		}
		if f != nil {
			fns = append(fns, f)
		}
	}
	return func(e *env) (ctl, error) {
		for _, f := range fns {
			k, err := f(e)
			if err != nil || k != ctlNormal {
				return k, err
			}
		}
		return ctlNormal, nil
	}, nil
}

func (c *compiler) embedded(n node) (execFn, error) {
	c.push()
	defer c.pop()
	f, err := c.stmt(n)
	if f == nil && err == nil {
		f = func(*env) (ctl, error) { return ctlNormal, nil }
	}
	return f, err
}

func (c *compiler) stmt(n node) (execFn, error) {
	switch s := n.(type) {
	case *blockStmt:
		return c.block(s)
	case *emptyStmt:
		return nil, nil
	case *exprStmt:
		x, err := c.value(s.x)
		if err != nil {
			return nil, err
		}
		f := x.fn
		return func(e *env) (ctl, error) {
			_, err := f(e)
			return ctlNormal, err
		}, nil
	case *declStmt:
		return c.decl(s)
	case *localFuncStmt:
		return c.localFuncDecl(s)
	case *returnStmt:
		if s.x == nil {
			return func(e *env) (ctl, error) { e.ret = nil; return ctlReturn, nil }, nil
		}
		x, err := c.value(s.x)
		if err != nil {
			return nil, err
		}
		f := x.fn
		return func(e *env) (ctl, error) {
			v, err := f(e)
			if err != nil {
				return ctlNormal, err
			}
			e.ret = v
			return ctlReturn, nil
		}, nil
	case *ifStmt:
		cond, err := c.value(s.c)
		if err != nil {
			return nil, err
		}
		if err := c.wantBool(cond, s.c, "the condition of if"); err != nil {
			return nil, err
		}
		then, err := c.embedded(s.then)
		if err != nil {
			return nil, err
		}
		var els execFn
		if s.els_ != nil {
			if els, err = c.embedded(s.els_); err != nil {
				return nil, err
			}
		}
		fc := cond.fn
		return func(e *env) (ctl, error) {
			v, err := fc(e)
			if err != nil {
				return ctlNormal, err
			}
			ok, err := truthy(v, "the condition of if")
			if err != nil {
				return ctlNormal, err
			}
			if ok {
				return then(e)
			}
			if els != nil {
				return els(e)
			}
			return ctlNormal, nil
		}, nil
	case *whileStmt:
		cond, err := c.value(s.c)
		if err != nil {
			return nil, err
		}
		if err := c.wantBool(cond, s.c, "the condition of while"); err != nil {
			return nil, err
		}
		body, err := c.embedded(s.body)
		if err != nil {
			return nil, err
		}
		fc, do := cond.fn, s.do
		return func(e *env) (ctl, error) {
			first := true
			for {
				if err := e.step(); err != nil {
					return ctlNormal, err
				}
				if !(do && first) {
					v, err := fc(e)
					if err != nil {
						return ctlNormal, err
					}
					ok, err := truthy(v, "the condition of while")
					if err != nil || !ok {
						return ctlNormal, err
					}
				}
				first = false
				k, err := body(e)
				if err != nil || k == ctlReturn {
					return k, err
				}
				if k == ctlBreak {
					return ctlNormal, nil
				}
			}
		}, nil
	case *forStmt:
		return c.forLoop(s)
	case *foreachStmt:
		return c.foreach(s)
	case *breakStmt:
		return func(*env) (ctl, error) { return ctlBreak, nil }, nil
	case *continueStmt:
		return func(*env) (ctl, error) { return ctlContinue, nil }, nil
	case *switchStmt:
		return c.switchStmt(s)
	case *tryStmt:
		return c.try(s)
	case *throwStmt:
		if s.x == nil {
			return func(e *env) (ctl, error) {
				return ctlNormal, throw("Exception", "rethrown")
			}, nil
		}
		x, err := c.value(s.x)
		if err != nil {
			return nil, err
		}
		f := x.fn
		return func(e *env) (ctl, error) {
			v, err := f(e)
			if err != nil {
				return ctlNormal, err
			}
			return ctlNormal, asThrown(v)
		}, nil
	case *usingStmt:
		c.push()
		defer c.pop()
		var init execFn
		if d, ok := s.decl.(*declStmt); ok {
			f, err := c.decl(d)
			if err != nil {
				return nil, err
			}
			init = f
		} else {
			x, err := c.value(s.decl)
			if err != nil {
				return nil, err
			}
			f := x.fn
			init = func(e *env) (ctl, error) { _, err := f(e); return ctlNormal, err }
		}
		body, err := c.embedded(s.body)
		if err != nil {
			return nil, err
		}
		return func(e *env) (ctl, error) {
			if _, err := init(e); err != nil {
				return ctlNormal, err
			}
			return body(e)
		}, nil
	}
	return nil, errAt(n.offset(), "this statement is not available in policy expressions")
}

func (c *compiler) decl(s *declStmt) (execFn, error) {
	var t *typeInfo
	if s.t != nil {
		var err error
		if t, err = c.lookupType(s.t); err != nil {
			return nil, err
		}
	}
	type one struct {
		slot int
		init evalFn
	}
	var list []one
	for i, name := range s.names {
		var init evalFn
		vt := t
		if s.inits[i] != nil {
			x, err := c.value(s.inits[i])
			if err != nil {
				return nil, err
			}
			init = x.fn
			if t == nil {
				vt = x.t
			} else if t.valueType && t != x.t && t.convert != nil {
				conv, f := t, x.fn
				init = func(e *env) (any, error) {
					v, err := f(e)
					if err != nil || v == nil {
						return v, err
					}
					return castValue(conv, v, true, conv.name)
				}
			}
		} else if t == nil {
			return nil, errAt(s.offs[i], "an implicitly typed variable needs an initial value")
		}
		if _, _, exists := c.lookupLocal(name); exists {
			return nil, errAt(s.offs[i], "a local variable named '%s' is already defined in this scope", name)
		}
		var zero any
		if t != nil {
			zero = t.zero
		}
		slot := c.declare(name, vt)
		if init == nil {
			z := zero
			init = func(*env) (any, error) { return z, nil }
		}
		list = append(list, one{slot, init})
	}
	return func(e *env) (ctl, error) {
		for _, o := range list {
			v, err := o.init(e)
			if err != nil {
				return ctlNormal, err
			}
			e.locals[o.slot] = v
		}
		return ctlNormal, nil
	}, nil
}

// lookupLocal finds a name in the current scope only.
func (c *compiler) lookupLocal(name string) (int, *typeInfo, bool) {
	slot, ok := c.sc.names[name]
	return slot, c.sc.types[name], ok
}

func (c *compiler) forLoop(s *forStmt) (execFn, error) {
	c.push()
	defer c.pop()
	init, err := c.stmts(s.init)
	if err != nil {
		return nil, err
	}
	var cond evalFn
	if s.c != nil {
		x, err := c.value(s.c)
		if err != nil {
			return nil, err
		}
		cond = x.fn
	}
	post, err := c.stmts(s.post)
	if err != nil {
		return nil, err
	}
	body, err := c.embedded(s.body)
	if err != nil {
		return nil, err
	}
	return func(e *env) (ctl, error) {
		if _, err := init(e); err != nil {
			return ctlNormal, err
		}
		for {
			if err := e.step(); err != nil {
				return ctlNormal, err
			}
			if cond != nil {
				v, err := cond(e)
				if err != nil {
					return ctlNormal, err
				}
				ok, err := truthy(v, "the condition of for")
				if err != nil || !ok {
					return ctlNormal, err
				}
			}
			k, err := body(e)
			if err != nil || k == ctlReturn {
				return k, err
			}
			if k == ctlBreak {
				return ctlNormal, nil
			}
			if _, err := post(e); err != nil {
				return ctlNormal, err
			}
		}
	}, nil
}

func (c *compiler) foreach(s *foreachStmt) (execFn, error) {
	coll, err := c.value(s.coll)
	if err != nil {
		return nil, err
	}
	c.push()
	defer c.pop()
	var t *typeInfo
	if s.t != nil {
		if t, err = c.lookupType(s.t); err != nil {
			return nil, err
		}
	} else if coll.t != nil {
		t = coll.t.elem
	}
	slot := c.declare(s.name, t)
	body, err := c.embedded(s.body)
	if err != nil {
		return nil, err
	}
	fc := coll.fn
	return func(e *env) (ctl, error) {
		v, err := fc(e)
		if err != nil {
			return ctlNormal, err
		}
		if v == nil {
			return ctlNormal, throw("NullReferenceException", "foreach over null")
		}
		result := ctlNormal
		err = each(e, v, func(item any) (bool, error) {
			e.locals[slot] = item
			k, err := body(e)
			if err != nil {
				return false, err
			}
			switch k {
			case ctlReturn:
				result = ctlReturn
				return false, nil
			case ctlBreak:
				return false, nil
			}
			return true, nil
		})
		return result, err
	}, nil
}

func (c *compiler) switchStmt(s *switchStmt) (execFn, error) {
	x, err := c.value(s.x)
	if err != nil {
		return nil, err
	}
	type section struct {
		labels []evalFn
		dflt   bool
		body   execFn
	}
	var secs []section
	for _, sec := range s.sections {
		var one section
		for _, l := range sec.labels {
			if l == nil {
				one.dflt = true
				continue
			}
			v, err := c.value(l)
			if err != nil {
				return nil, err
			}
			one.labels = append(one.labels, v.fn)
		}
		c.push()
		body, err := c.stmts(sec.body)
		c.pop()
		if err != nil {
			return nil, err
		}
		one.body = body
		secs = append(secs, one)
	}
	fx := x.fn
	return func(e *env) (ctl, error) {
		v, err := fx(e)
		if err != nil {
			return ctlNormal, err
		}
		chosen := -1
		for i, sec := range secs {
			for _, l := range sec.labels {
				w, err := l(e)
				if err != nil {
					return ctlNormal, err
				}
				if equal(v, w) {
					chosen = i
					break
				}
			}
			if chosen >= 0 {
				break
			}
		}
		if chosen < 0 {
			for i, sec := range secs {
				if sec.dflt {
					chosen = i
				}
			}
		}
		if chosen < 0 {
			return ctlNormal, nil
		}
		k, err := secs[chosen].body(e)
		if k == ctlBreak {
			k = ctlNormal
		}
		return k, err
	}, nil
}

func (c *compiler) try(s *tryStmt) (execFn, error) {
	body, err := c.block(s.body)
	if err != nil {
		return nil, err
	}
	type catch struct {
		typ  string
		slot int
		when evalFn
		body execFn
	}
	var catches []catch
	for _, cc := range s.catches {
		c.push()
		one := catch{slot: -1, typ: "Exception"}
		if cc.t != nil {
			one.typ = cc.t.name
			if i := lastDot(one.typ); i >= 0 {
				one.typ = one.typ[i+1:]
			}
		}
		if cc.name != "" {
			one.slot = c.declare(cc.name, c.r.types["Exception"])
		}
		if cc.when != nil {
			w, err := c.value(cc.when)
			if err != nil {
				c.pop()
				return nil, err
			}
			one.when = w.fn
		}
		b, err := c.block(cc.body)
		c.pop()
		if err != nil {
			return nil, err
		}
		one.body = b
		catches = append(catches, one)
	}
	var fin execFn
	if s.finally != nil {
		if fin, err = c.block(s.finally); err != nil {
			return nil, err
		}
	}
	return func(e *env) (k ctl, err error) {
		k, err = body(e)
		var ex *Exception
		if err != nil && errors.As(err, &ex) {
			for _, cc := range catches {
				if cc.typ != "Exception" && cc.typ != ex.Type {
					continue
				}
				if cc.slot >= 0 {
					e.locals[cc.slot] = ex
				}
				if cc.when != nil {
					v, werr := cc.when(e)
					if werr != nil {
						return ctlNormal, werr
					}
					if ok, _ := v.(bool); !ok {
						continue
					}
				}
				k, err = cc.body(e)
				break
			}
		}
		if fin != nil {
			fk, ferr := fin(e)
			if ferr != nil {
				return fk, ferr
			}
			if fk != ctlNormal {
				return fk, nil
			}
		}
		return k, err
	}, nil
}

// asThrown is the error a throw raises for value v.
func asThrown(v any) error {
	if ex, ok := v.(*Exception); ok {
		return ex
	}
	return throw("Exception", "an expression threw %s", typeName(v))
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// returns reports whether a statement always ends in return or throw.
func returns(n node) bool {
	switch s := n.(type) {
	case *returnStmt, *throwStmt:
		return true
	case *blockStmt:
		for _, st := range s.stmts {
			if returns(st) {
				return true
			}
		}
		return false
	case *ifStmt:
		return s.els_ != nil && returns(s.then) && returns(s.els_)
	case *tryStmt:
		if s.finally != nil && returns(s.finally) {
			return true
		}
		if !returns(s.body) {
			return false
		}
		for _, cc := range s.catches {
			if !returns(cc.body) {
				return false
			}
		}
		return true
	case *usingStmt:
		return returns(s.body)
	case *switchStmt:
		hasDefault := false
		for _, sec := range s.sections {
			for _, l := range sec.labels {
				hasDefault = hasDefault || l == nil
			}
			ok := false
			for _, st := range sec.body {
				if returns(st) {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		return hasDefault
	case *whileStmt:
		if l, ok := s.c.(*litExpr); ok && l.val == true {
			return true
		}
	case *forStmt:
		return s.c == nil
	}
	return false
}
