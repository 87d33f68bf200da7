package expr

import (
	"sort"
	"strings"
)

func lambdaArg(args []any, i int) (*lambda, error) {
	if i >= len(args) {
		return nil, nil
	}
	l, ok := args[i].(*lambda)
	if !ok {
		return nil, throw("ArgumentException", "argument %d must be a lambda such as x => ...", i+1)
	}
	return l, nil
}

func test(e *env, l *lambda, x any) (bool, error) {
	v, err := l.call1(e, x)
	if err != nil {
		return false, err
	}
	return truthy(v, "the lambda's result")
}

// sortAny sorts items (by keys when given) with a stable comparison; values that cannot be
// ordered against each other are an error, as in .NET.
func sortAny(items, keys []any, e *env, desc bool) error {
	if keys == nil {
		keys = items
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var bad error
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keys[idx[a]], keys[idx[b]]
		if ka == nil || kb == nil {
			if desc {
				return kb == nil && ka != nil
			}
			return ka == nil && kb != nil
		}
		c, ok := compare(ka, kb)
		if !ok {
			bad = throw("InvalidOperationException", "cannot order %s and %s", typeName(ka), typeName(kb))
			return false
		}
		if desc {
			return c > 0
		}
		return c < 0
	})
	if bad != nil {
		return bad
	}
	sorted := make([]any, len(items))
	for i, j := range idx {
		sorted[i] = items[j]
	}
	copy(items, sorted)
	return nil
}

func (r *registry) buildLinq() {
	def := func(name string, min, max int, ret *typeInfo, f func(e *env, src any, args []any) (any, error)) {
		r.linq[name] = &method{min: min, max: max, ret: ret, call: func(e *env, recv any, args []any, _ []*typeInfo) (any, error) {
			if recv == nil {
				return nil, throw("ArgumentNullException", "the sequence is null")
			}
			if !isEnumerable(recv) {
				return nil, errWrongRecv
			}
			return f(e, recv, args)
		}}
	}
	def("Any", 0, 1, r.boolean, func(e *env, src any, args []any) (any, error) {
		l, err := lambdaArg(args, 0)
		if err != nil {
			return nil, err
		}
		found := false
		err = each(e, src, func(x any) (bool, error) {
			if l == nil {
				found = true
				return false, nil
			}
			ok, err := test(e, l, x)
			found = ok
			return !ok, err
		})
		return found, err
	})
	def("All", 1, 1, r.boolean, func(e *env, src any, args []any) (any, error) {
		l, err := lambdaArg(args, 0)
		if err != nil {
			return nil, err
		}
		all := true
		err = each(e, src, func(x any) (bool, error) {
			ok, err := test(e, l, x)
			all = ok
			return ok, err
		})
		return all, err
	})
	def("Where", 1, 1, r.array, func(e *env, src any, args []any) (any, error) {
		l, err := lambdaArg(args, 0)
		if err != nil {
			return nil, err
		}
		var out []any
		err = each(e, src, func(x any) (bool, error) {
			ok, err := test(e, l, x)
			if ok {
				out = append(out, x)
			}
			return true, err
		})
		if err != nil {
			return nil, err
		}
		return tidy(out), e.charge(16 * len(out))
	})
	def("Select", 1, 1, r.array, func(e *env, src any, args []any) (any, error) {
		l, err := lambdaArg(args, 0)
		if err != nil {
			return nil, err
		}
		var out []any
		i := 0
		err = each(e, src, func(x any) (bool, error) {
			v, err := l.call(e, x, i)
			i++
			out = append(out, v)
			return true, err
		})
		if err != nil {
			return nil, err
		}
		return tidy(out), e.charge(16 * len(out))
	})
	def("SelectMany", 1, 1, r.array, func(e *env, src any, args []any) (any, error) {
		l, err := lambdaArg(args, 0)
		if err != nil {
			return nil, err
		}
		var out []any
		err = each(e, src, func(x any) (bool, error) {
			v, err := l.call1(e, x)
			if err != nil {
				return false, err
			}
			items, err := toSlice(e, v)
			out = append(out, items...)
			return true, err
		})
		if err != nil {
			return nil, err
		}
		return tidy(out), e.charge(16 * len(out))
	})
	first := func(name string, last, orDefault, single bool) {
		def(name, 0, 1, nil, func(e *env, src any, args []any) (any, error) {
			var l *lambda
			var dflt any
			if len(args) == 1 {
				if x, ok := args[0].(*lambda); ok {
					l = x
				} else {
					dflt = args[0]
				}
			}
			var found any
			n := 0
			err := each(e, src, func(x any) (bool, error) {
				if l != nil {
					ok, err := test(e, l, x)
					if err != nil || !ok {
						return true, err
					}
				}
				n++
				found = x
				return last || single, nil
			})
			if err != nil {
				return nil, err
			}
			if single && n > 1 {
				return nil, throw("InvalidOperationException", "the sequence contains more than one matching element")
			}
			if n == 0 {
				if orDefault {
					return dflt, nil
				}
				return nil, throw("InvalidOperationException", "the sequence contains no matching element")
			}
			return found, nil
		})
	}
	first("First", false, false, false)
	first("FirstOrDefault", false, true, false)
	first("Last", true, false, false)
	first("LastOrDefault", true, true, false)
	first("Single", false, false, true)
	first("SingleOrDefault", false, true, true)
	def("Contains", 1, 2, r.boolean, func(e *env, src any, args []any) (any, error) {
		fold := false
		if len(args) == 2 {
			if en, ok := args[1].(Enum); ok {
				fold = strings.HasSuffix(en.Name, "IgnoreCase")
			}
		}
		found := false
		err := each(e, src, func(x any) (bool, error) {
			if fold {
				a, aok := x.(string)
				b, bok := args[0].(string)
				found = aok && bok && strings.EqualFold(a, b)
			} else {
				found = equal(x, args[0])
			}
			return !found, nil
		})
		return found, err
	})
	def("Count", 0, 1, r.integer, func(e *env, src any, args []any) (any, error) {
		l, err := lambdaArg(args, 0)
		if err != nil {
			return nil, err
		}
		n := 0
		err = each(e, src, func(x any) (bool, error) {
			if l != nil {
				ok, err := test(e, l, x)
				if err != nil || !ok {
					return true, err
				}
			}
			n++
			return true, nil
		})
		return n, err
	})
	agg := func(name string) {
		def(name, 0, 1, nil, func(e *env, src any, args []any) (any, error) {
			l, err := lambdaArg(args, 0)
			if err != nil {
				return nil, err
			}
			var acc any
			n := 0
			err = each(e, src, func(x any) (bool, error) {
				v := x
				if l != nil {
					var err error
					if v, err = l.call1(e, x); err != nil {
						return false, err
					}
				}
				v = fromJValue(v)
				if v == nil {
					return true, nil
				}
				n++
				if acc == nil {
					acc = v
					if name == "Sum" || name == "Average" {
						acc = 0
					} else {
						return true, nil
					}
				}
				switch name {
				case "Sum", "Average":
					var err error
					acc, err = arith("+", acc, v)
					return err == nil, err
				case "Min", "Max":
					c, ok := compare(v, acc)
					if !ok {
						return false, throw("InvalidOperationException", "cannot compare %s and %s", typeName(v), typeName(acc))
					}
					if (name == "Min" && c < 0) || (name == "Max" && c > 0) {
						acc = v
					}
				}
				return true, nil
			})
			if err != nil {
				return nil, err
			}
			switch name {
			case "Sum":
				if acc == nil {
					return 0, nil
				}
			case "Average":
				if n == 0 {
					return nil, throw("InvalidOperationException", "the sequence contains no elements")
				}
				f, _ := toFloat(acc)
				return f / float64(n), nil
			default:
				if n == 0 {
					return nil, throw("InvalidOperationException", "the sequence contains no elements")
				}
			}
			return acc, nil
		})
	}
	agg("Sum")
	agg("Min")
	agg("Max")
	agg("Average")
	def("ToArray", 0, 0, r.array, func(e *env, src any, args []any) (any, error) {
		switch x := src.(type) {
		case []string:
			return append([]string{}, x...), e.charge(16 * len(x))
		case []byte:
			return append([]byte{}, x...), e.charge(len(x))
		}
		items, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		return tidy(append([]any{}, items...)), nil
	})
	def("ToList", 0, 0, r.list, func(e *env, src any, args []any) (any, error) {
		items, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		return &List{Items: append([]any{}, items...)}, nil
	})
	def("ToDictionary", 1, 2, r.dict, func(e *env, src any, args []any) (any, error) {
		kl, err := lambdaArg(args, 0)
		if err != nil {
			return nil, err
		}
		vl, err := lambdaArg(args, 1)
		if err != nil {
			return nil, err
		}
		d := newDict()
		err = each(e, src, func(x any) (bool, error) {
			k, err := kl.call1(e, x)
			if err != nil {
				return false, err
			}
			key, err := dictKey(k)
			if err != nil {
				return false, err
			}
			if _, dup := d.vals[key]; dup {
				return false, throw("ArgumentException", "an item with the same key has already been added")
			}
			v := x
			if vl != nil {
				if v, err = vl.call1(e, x); err != nil {
					return false, err
				}
			}
			d.set(key, v)
			return true, nil
		})
		return d, err
	})
	order := func(name string, desc bool) {
		def(name, 0, 1, r.array, func(e *env, src any, args []any) (any, error) {
			l, err := lambdaArg(args, 0)
			if err != nil {
				return nil, err
			}
			items, err := toSlice(e, src)
			if err != nil {
				return nil, err
			}
			items = append([]any{}, items...)
			var keys []any
			if l != nil {
				keys = make([]any, len(items))
				for i, it := range items {
					if keys[i], err = l.call1(e, it); err != nil {
						return nil, err
					}
				}
			}
			if err := sortAny(items, keys, e, desc); err != nil {
				return nil, err
			}
			return tidy(items), nil
		})
	}
	order("OrderBy", false)
	order("OrderByDescending", true)
	order("Order", false)
	order("OrderDescending", true)
	def("Distinct", 0, 0, r.array, func(e *env, src any, args []any) (any, error) {
		var out []any
		err := each(e, src, func(x any) (bool, error) {
			for _, o := range out {
				if err := e.step(); err != nil {
					return false, err
				}
				if equal(o, x) {
					return true, nil
				}
			}
			out = append(out, x)
			return true, nil
		})
		return tidy(out), err
	})
	skipTake := func(name string, skip bool) {
		def(name, 1, 1, r.array, func(e *env, src any, args []any) (any, error) {
			n, err := iarg(args, 0)
			if err != nil {
				return nil, err
			}
			items, err := toSlice(e, src)
			if err != nil {
				return nil, err
			}
			n = max(0, min(n, len(items)))
			if skip {
				return tidy(append([]any{}, items[n:]...)), nil
			}
			return tidy(append([]any{}, items[:n]...)), nil
		})
	}
	skipTake("Skip", true)
	skipTake("Take", false)
	def("Reverse", 0, 0, r.array, func(e *env, src any, args []any) (any, error) {
		items, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, it := range items {
			out[len(items)-1-i] = it
		}
		return tidy(out), nil
	})
	def("Concat", 1, 1, r.array, func(e *env, src any, args []any) (any, error) {
		a, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		if args[0] == nil {
			return nil, throw("ArgumentNullException", "the second sequence is null")
		}
		b, err := toSlice(e, args[0])
		if err != nil {
			return nil, err
		}
		return tidy(append(append([]any{}, a...), b...)), e.charge(16 * (len(a) + len(b)))
	})
	setOp := func(name string, keep func(inA, inB bool) bool) {
		def(name, 1, 1, r.array, func(e *env, src any, args []any) (any, error) {
			a, err := toSlice(e, src)
			if err != nil {
				return nil, err
			}
			if args[0] == nil {
				return nil, throw("ArgumentNullException", "the second sequence is null")
			}
			b, err := toSlice(e, args[0])
			if err != nil {
				return nil, err
			}
			if err := e.charge(len(a) * len(b)); err != nil {
				return nil, err
			}
			contains := func(list []any, x any) bool {
				for _, y := range list {
					if equal(x, y) {
						return true
					}
				}
				return false
			}
			var out []any
			for _, x := range append(append([]any{}, a...), b...) {
				if contains(out, x) {
					continue
				}
				if keep(contains(a, x), contains(b, x)) {
					out = append(out, x)
				}
			}
			return tidy(out), nil
		})
	}
	setOp("Union", func(inA, inB bool) bool { return true })
	setOp("Intersect", func(inA, inB bool) bool { return inA && inB })
	setOp("Except", func(inA, inB bool) bool { return inA && !inB })
	def("ElementAt", 1, 1, nil, func(e *env, src any, args []any) (any, error) {
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		items, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(items) {
			return nil, throw("ArgumentOutOfRangeException", "index %d is outside the sequence of %d", i, len(items))
		}
		return items[i], nil
	})
	def("ElementAtOrDefault", 1, 1, nil, func(e *env, src any, args []any) (any, error) {
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		items, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(items) {
			return nil, nil
		}
		return items[i], nil
	})
	def("SequenceEqual", 1, 1, r.boolean, func(e *env, src any, args []any) (any, error) {
		a, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		b, err := toSlice(e, args[0])
		if err != nil || len(a) != len(b) {
			return false, err
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false, nil
			}
		}
		return true, nil
	})
	def("Aggregate", 1, 2, nil, func(e *env, src any, args []any) (any, error) {
		items, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		var acc any
		fn := args[len(args)-1]
		l, ok := fn.(*lambda)
		if !ok {
			return nil, throw("ArgumentException", "Aggregate needs a lambda")
		}
		if len(args) == 2 {
			acc = args[0]
		} else {
			if len(items) == 0 {
				return nil, throw("InvalidOperationException", "the sequence contains no elements")
			}
			acc, items = items[0], items[1:]
		}
		for _, it := range items {
			if acc, err = l.call(e, acc, it); err != nil {
				return nil, err
			}
		}
		return acc, nil
	})
	def("DefaultIfEmpty", 0, 1, r.array, func(e *env, src any, args []any) (any, error) {
		items, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			var d any
			if len(args) == 1 {
				d = args[0]
			}
			return []any{d}, nil
		}
		return src, nil
	})
	typed := func(name string, strict bool) {
		r.linq[name] = &method{min: 0, max: 0, generic: true, ret: r.array, call: func(e *env, recv any, args []any, targs []*typeInfo) (any, error) {
			if recv == nil {
				return nil, throw("ArgumentNullException", "the sequence is null")
			}
			var out []any
			err := each(e, recv, func(x any) (bool, error) {
				if len(targs) == 0 || targs[0].is == nil || targs[0].is(x) {
					out = append(out, x)
					return true, nil
				}
				if strict {
					v, err := castValue(targs[0], x, true, targs[0].name)
					out = append(out, v)
					return err == nil, err
				}
				return true, nil
			})
			return tidy(out), err
		}}
	}
	typed("Cast", true)
	typed("OfType", false)
	def("IndexOf", 1, 1, r.integer, func(e *env, src any, args []any) (any, error) {
		items, err := toSlice(e, src)
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			if equal(it, args[0]) {
				return i, nil
			}
		}
		return -1, nil
	})

	cmp := newType("StringComparer")
	cmp.static = true
	r.alias(cmp, "StringComparer", "System.StringComparer")
	for _, n := range []string{"Ordinal", "OrdinalIgnoreCase", "InvariantCulture", "InvariantCultureIgnoreCase",
		"CurrentCulture", "CurrentCultureIgnoreCase"} {
		v := Enum{Type: "StringComparer", Name: n}
		cmp.sprop(n, cmp, func(*env) (any, error) { return v, nil })
	}
}
