package expr

import (
	"slices"
	"strings"
)

func (r *registry) buildJSON() {
	mk := func(name string, aliases ...string) *typeInfo {
		t := newType(name)
		r.alias(t, name)
		r.alias(t, aliases...)
		return t
	}
	r.jobject = mk("JObject", "Newtonsoft.Json.Linq.JObject")
	r.jarray = mk("JArray", "Newtonsoft.Json.Linq.JArray")
	r.jtoken = mk("JToken", "Newtonsoft.Json.Linq.JToken", "JValue", "Newtonsoft.Json.Linq.JValue", "JContainer")
	r.jproperty = mk("JProperty", "Newtonsoft.Json.Linq.JProperty")

	r.jobject.is = func(v any) bool { _, ok := v.(*JObject); return ok }
	r.jobject.convert = func(v any) (any, bool) { x, ok := v.(*JObject); return x, ok }
	r.jarray.is = func(v any) bool { _, ok := v.(*JArray); return ok }
	r.jarray.convert = func(v any) (any, bool) { x, ok := v.(*JArray); return x, ok }
	r.jtoken.is = func(v any) bool {
		switch v.(type) {
		case *JObject, *JArray, *JValue, *JProperty:
			return true
		}
		return false
	}
	r.jtoken.convert = func(v any) (any, bool) {
		if r.jtoken.is(v) {
			return v, true
		}
		switch v.(type) {
		case string, int, int64, float64, bool:
			t, _ := toJToken(nil, v)
			return t, true
		}
		return nil, false
	}
	r.jproperty.is = func(v any) bool { _, ok := v.(*JProperty); return ok }
	r.jproperty.convert = func(v any) (any, bool) { x, ok := v.(*JProperty); return x, ok }
	r.jobject.enumerable, r.jarray.enumerable, r.jtoken.enumerable = true, true, true
	r.jarray.elem = r.jtoken

	// members every JSON token has
	for _, t := range []*typeInfo{r.jobject, r.jarray, r.jtoken, r.jproperty} {
		t.prop("Type", nil, func(e *env, recv any) (any, error) {
			name := jtokenType(recv)
			return Enum{Type: "JTokenType", Name: name, N: slices.Index(jtokenTypeNames, name)}, nil
		})
		t.prop("HasValues", r.boolean, func(e *env, recv any) (any, error) {
			switch x := recv.(type) {
			case *JObject:
				return len(x.keys) > 0, nil
			case *JArray:
				return len(x.Items) > 0, nil
			case *JProperty:
				return true, nil
			}
			return false, nil
		})
		t.gmeth("Value", 0, 1, func(e *env, recv any, args []any, targs []*typeInfo) (any, error) {
			v := recv
			if len(args) > 0 {
				var err error
				if v, err = jsonChild(recv, args[0]); err != nil {
					return nil, err
				}
			}
			return jsonAs(e, v, targs)
		})
		t.gmeth("ToObject", 0, 0, func(e *env, recv any, args []any, targs []*typeInfo) (any, error) {
			return jsonAs(e, recv, targs)
		})
		t.meth("SelectToken", 1, 2, r.jtoken, func(e *env, recv any, args []any) (any, error) {
			p, err := sarg(args, 0)
			if err != nil {
				return nil, err
			}
			return selectToken(recv, p)
		})
		t.meth("DeepClone", 0, 0, t, func(e *env, recv any, args []any) (any, error) {
			return parseJSON(jsonText(recv, false))
		})
		t.meth("ToString", 0, 1, r.str, func(e *env, recv any, args []any) (any, error) {
			indent := true
			if len(args) == 1 {
				if en, ok := args[0].(Enum); ok && en.Name == "None" {
					indent = false
				}
			}
			s := jsonTokenString(recv, indent)
			return s, e.charge(len(s))
		})
		t.index = func(e *env, recv any, args []any) (any, error) {
			if len(args) != 1 {
				return nil, throw("ArgumentException", "a JSON token takes one index")
			}
			return jsonChild(recv, args[0])
		}
		t.indexRet = r.jtoken
		t.setIndex = func(e *env, recv any, args []any, v any) error {
			tok, err := toJToken(e, v)
			if err != nil {
				return err
			}
			switch x := recv.(type) {
			case *JObject:
				k, err := sarg(args, 0)
				if err != nil {
					return err
				}
				x.set(k, tok)
				return nil
			case *JArray:
				i, err := iarg(args, 0)
				if err != nil {
					return err
				}
				if i < 0 || i >= len(x.Items) {
					return throw("ArgumentOutOfRangeException", "index %d is outside the array of %d", i, len(x.Items))
				}
				x.Items[i] = tok
				return nil
			}
			return throw("InvalidOperationException", "cannot set a child of %s", jtokenType(recv))
		}
		t.prop("First", r.jtoken, func(e *env, recv any) (any, error) {
			switch x := recv.(type) {
			case *JObject:
				if len(x.keys) > 0 {
					return &JProperty{Name: x.keys[0], Value: x.vals[x.keys[0]], parent: x}, nil
				}
			case *JArray:
				if len(x.Items) > 0 {
					return x.Items[0], nil
				}
			}
			return nil, nil
		})
		t.prop("Last", r.jtoken, func(e *env, recv any) (any, error) {
			switch x := recv.(type) {
			case *JObject:
				if n := len(x.keys); n > 0 {
					return &JProperty{Name: x.keys[n-1], Value: x.vals[x.keys[n-1]], parent: x}, nil
				}
			case *JArray:
				if n := len(x.Items); n > 0 {
					return x.Items[n-1], nil
				}
			}
			return nil, nil
		})
		t.meth("Children", 0, 0, r.array, func(e *env, recv any, args []any) (any, error) {
			switch x := recv.(type) {
			case *JObject:
				out := make([]any, 0, len(x.keys))
				for _, k := range x.keys {
					out = append(out, &JProperty{Name: k, Value: x.vals[k], parent: x})
				}
				return out, nil
			case *JArray:
				return append([]any{}, x.Items...), nil
			}
			return []any{}, nil
		})
		t.gmeth("Values", 0, 0, func(e *env, recv any, args []any, targs []*typeInfo) (any, error) {
			var items []any
			switch x := recv.(type) {
			case *JObject:
				for _, k := range x.keys {
					items = append(items, x.vals[k])
				}
			case *JArray:
				items = x.Items
			}
			out := make([]any, len(items))
			for i, it := range items {
				v, err := jsonAs(e, it, targs)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return tidy(out), nil
		})
		t.prop("Path", r.str, func(e *env, recv any) (any, error) { return "", nil })
	}
	r.jtoken.prop("Value", nil, func(e *env, recv any) (any, error) {
		switch x := recv.(type) {
		case *JValue:
			return x.V, nil
		}
		return nil, errWrongRecv
	})
	r.jproperty.prop("Name", r.str, func(e *env, recv any) (any, error) {
		p, err := recvAs[*JProperty](recv)
		if err != nil {
			return nil, err
		}
		return p.Name, nil
	})
	r.jproperty.meth("Remove", 0, 0, nil, func(e *env, recv any, args []any) (any, error) {
		p, err := recvAs[*JProperty](recv)
		if err != nil {
			return nil, err
		}
		if p.parent == nil || !p.parent.remove(p.Name) {
			return nil, throw("InvalidOperationException", "The parent is missing.")
		}
		p.parent = nil
		return nil, nil
	})
	r.jproperty.prop("Value", r.jtoken, func(e *env, recv any) (any, error) {
		p, err := recvAs[*JProperty](recv)
		if err != nil {
			return nil, err
		}
		return p.Value, nil
	})
	r.jproperty.setProp["Value"] = func(e *env, recv any, v any) error {
		p, err := recvAs[*JProperty](recv)
		if err != nil {
			return err
		}
		tok, err := toJToken(e, v)
		if err != nil {
			return err
		}
		p.Value = tok
		return nil
	}
	r.jproperty.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		if len(args) < 1 {
			return nil, throw("ArgumentException", "JProperty needs a name")
		}
		name, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		var val any = &JValue{}
		if len(args) == 2 {
			if val, err = toJToken(e, args[1]); err != nil {
				return nil, err
			}
		} else if len(args) > 2 {
			a := &JArray{}
			for _, x := range args[1:] {
				t, err := toJToken(e, x)
				if err != nil {
					return nil, err
				}
				a.Items = append(a.Items, t)
			}
			val = a
		}
		return &JProperty{Name: name, Value: val}, nil
	}

	// JObject
	o := r.jobject
	obj := func(recv any) (*JObject, error) { return recvAs[*JObject](recv) }
	o.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		out := newJObject()
		for _, a := range flattenArgs(args) {
			switch x := a.(type) {
			case *JProperty:
				out.set(x.Name, x.Value)
			case *JObject:
				for _, k := range x.keys {
					out.set(k, x.vals[k])
				}
			case nil:
			default:
				return nil, throw("ArgumentException", "cannot add %s to a JObject", typeName(a))
			}
		}
		return out, nil
	}
	parse := func(t *typeInfo, want string) {
		t.smeth("Parse", 1, 2, t, func(e *env, args []any) (any, error) {
			s, err := sarg(args, 0)
			if err != nil {
				return nil, err
			}
			if err := e.charge(len(s)); err != nil {
				return nil, err
			}
			v, err := parseJSON(s)
			if err != nil {
				return nil, err
			}
			if want != "" && jtokenType(v) != want {
				return nil, throw("JsonReaderException", "the JSON is %s, not %s", jtokenType(v), want)
			}
			return v, nil
		})
		t.smeth("FromObject", 1, 1, t, func(e *env, args []any) (any, error) { return toJToken(e, args[0]) })
	}
	parse(r.jobject, "Object")
	parse(r.jarray, "Array")
	parse(r.jtoken, "")
	o.prop("Count", r.integer, func(e *env, recv any) (any, error) { x, err := obj(recv); return len(x.keys), err })
	o.meth("Property", 1, 2, r.jproperty, func(e *env, recv any, args []any) (any, error) {
		x, err := obj(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if v, ok := x.get(k); ok {
			return &JProperty{Name: k, Value: v, parent: x}, nil
		}
		if ignoreCase(args, 1) {
			for _, key := range x.keys {
				if strings.EqualFold(key, k) {
					return &JProperty{Name: key, Value: x.vals[key], parent: x}, nil
				}
			}
		}
		return nil, nil
	})
	o.meth("Properties", 0, 0, r.array, func(e *env, recv any, args []any) (any, error) {
		x, err := obj(recv)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(x.keys))
		for _, k := range x.keys {
			out = append(out, &JProperty{Name: k, Value: x.vals[k], parent: x})
		}
		return out, nil
	})
	o.meth("ContainsKey", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		x, err := obj(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		_, ok := x.vals[k]
		return ok, err
	})
	o.meth("TryGetValue", 2, 2, r.boolean, func(e *env, recv any, args []any) (any, error) {
		x, err := obj(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		out, _ := args[1].(*outRef)
		v, ok := x.vals[k]
		out.set(e, v)
		return ok, nil
	})
	o.meth("GetValue", 1, 2, r.jtoken, func(e *env, recv any, args []any) (any, error) {
		x, err := obj(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if v, ok := x.vals[k]; ok {
			return v, nil
		}
		if ignoreCase(args, 1) {
			for _, key := range x.keys {
				if strings.EqualFold(key, k) {
					return x.vals[key], nil
				}
			}
		}
		return nil, nil
	})
	o.meth("Add", 1, 2, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := obj(recv)
		if err != nil {
			return nil, err
		}
		if len(args) == 1 {
			p, ok := args[0].(*JProperty)
			if !ok {
				return nil, throw("ArgumentException", "JObject.Add needs a JProperty or a name and a value")
			}
			args = []any{p.Name, p.Value}
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if _, exists := x.vals[k]; exists {
			return nil, throw("ArgumentException", "the property '%s' already exists", k)
		}
		tok, err := toJToken(e, args[1])
		if err != nil {
			return nil, err
		}
		x.set(k, tok)
		return nil, e.charge(len(k) + 16)
	})
	o.meth("Remove", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		x, err := obj(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		return x.remove(k), nil
	})
	o.meth("Merge", 1, 2, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := obj(recv)
		if err != nil {
			return nil, err
		}
		src, ok := args[0].(*JObject)
		if !ok {
			return nil, nil
		}
		for _, k := range src.keys {
			x.set(k, src.vals[k])
		}
		return nil, nil
	})

	// JArray
	a := r.jarray
	arr := func(recv any) (*JArray, error) { return recvAs[*JArray](recv) }
	a.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		out := &JArray{}
		for _, x := range flattenArgs(args) {
			t, err := toJToken(e, x)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, t)
		}
		return out, nil
	}
	a.prop("Count", r.integer, func(e *env, recv any) (any, error) { x, err := arr(recv); return len(x.Items), err })
	a.meth("Add", 1, 1, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := arr(recv)
		if err != nil {
			return nil, err
		}
		t, err := toJToken(e, args[0])
		if err != nil {
			return nil, err
		}
		x.Items = append(x.Items, t)
		return nil, e.charge(16)
	})
	a.meth("RemoveAt", 1, 1, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := arr(recv)
		if err != nil {
			return nil, err
		}
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(x.Items) {
			return nil, throw("ArgumentOutOfRangeException", "index %d is outside the array of %d", i, len(x.Items))
		}
		x.Items = append(x.Items[:i:i], x.Items[i+1:]...)
		return nil, nil
	})
	a.meth("Insert", 2, 2, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := arr(recv)
		if err != nil {
			return nil, err
		}
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		if i < 0 || i > len(x.Items) {
			return nil, throw("ArgumentOutOfRangeException", "index %d is outside the array of %d", i, len(x.Items))
		}
		t, err := toJToken(e, args[1])
		if err != nil {
			return nil, err
		}
		x.Items = append(x.Items[:i:i], append([]any{t}, x.Items[i:]...)...)
		return nil, e.charge(16)
	})

	// JsonConvert
	jc := mk("JsonConvert", "Newtonsoft.Json.JsonConvert")
	jc.static = true
	jc.smeth("SerializeObject", 1, 3, r.str, func(e *env, args []any) (any, error) {
		indent := false
		for _, a := range args[1:] {
			if en, ok := a.(Enum); ok && en.Name == "Indented" {
				indent = true
			}
		}
		var s string
		switch x := args[0].(type) {
		case string:
			s = jsonText(&JValue{V: x}, false)
		default:
			t, err := toJToken(e, x)
			if err != nil {
				return nil, err
			}
			s = jsonText(t, indent)
		}
		return s, e.charge(len(s))
	})
	jc.gmeth("DeserializeObject", 1, 2, func(e *env, recv any, args []any, targs []*typeInfo) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if err := e.charge(len(s)); err != nil {
			return nil, err
		}
		v, err := parseJSON(s)
		if err != nil {
			return nil, err
		}
		return jsonAs(e, v, targs)
	})
	jc.smethods["DeserializeObject"] = jc.methods["DeserializeObject"]
	delete(jc.methods, "DeserializeObject")
	fmtT := mk("Formatting", "Newtonsoft.Json.Formatting")
	enumValues(fmtT, "Formatting", "None", "Indented")
	jt := mk("JTokenType", "Newtonsoft.Json.Linq.JTokenType")
	enumValues(jt, "JTokenType", jtokenTypeNames...)
}

// jtokenTypeNames are Newtonsoft's JTokenType values in order.
var jtokenTypeNames = []string{"None", "Object", "Array", "Constructor", "Property", "Comment", "Integer", "Float",
	"String", "Boolean", "Null", "Undefined", "Date", "Raw", "Bytes", "Guid", "Uri", "TimeSpan"}

// flattenArgs expands a single enumerable argument (params object[] / IEnumerable).
func flattenArgs(args []any) []any {
	if len(args) == 1 {
		switch x := args[0].(type) {
		case []any:
			return x
		case *List:
			return x.Items
		case []string:
			out := make([]any, len(x))
			for i, s := range x {
				out[i] = s
			}
			return out
		}
	}
	return args
}

func enumValues(t *typeInfo, typ string, names ...string) {
	t.static = true
	t.valueType = true
	t.is = func(v any) bool { en, ok := v.(Enum); return ok && en.Type == typ }
	t.convert = func(v any) (any, bool) {
		if en, ok := v.(Enum); ok && en.Type == typ {
			return en, true
		}
		if n, ok := toInt64(v); ok && int(n) < len(names) && n >= 0 {
			return Enum{Type: typ, Name: names[n], N: int(n)}, true
		}
		return nil, false
	}
	for i, n := range names {
		v := Enum{Type: typ, Name: n, N: i}
		t.sprop(n, t, func(*env) (any, error) { return v, nil })
	}
	if len(names) > 0 {
		t.zero = Enum{Type: typ, Name: names[0]}
	}
}

func flagValues(t *typeInfo, typ string, values map[string]int) {
	t.static = true
	t.valueType = true
	t.is = func(v any) bool { en, ok := v.(Enum); return ok && en.Type == typ }
	for n, i := range values {
		v := Enum{Type: typ, Name: n, N: i}
		t.sprop(n, t, func(*env) (any, error) { return v, nil })
	}
	t.zero = Enum{Type: typ, Name: "None"}
}

// jsonChild is token[key]: a property of an object or an element of an array.
func jsonChild(recv any, key any) (any, error) {
	switch x := recv.(type) {
	case *JObject:
		k, ok := key.(string)
		if !ok {
			if jv, isJ := key.(*JValue); isJ {
				k, ok = jv.V.(string)
			}
		}
		if !ok {
			return nil, throw("ArgumentException", "a JObject is indexed by a property name, not %s", typeName(key))
		}
		v, _ := x.get(k)
		return v, nil
	case *JArray:
		i, ok := toInt64(key)
		if !ok {
			return nil, throw("ArgumentException", "a JArray is indexed by a number, not %s", typeName(key))
		}
		if i < 0 || int(i) >= len(x.Items) {
			return nil, throw("ArgumentOutOfRangeException", "index %d is outside the array of %d", i, len(x.Items))
		}
		return x.Items[i], nil
	case *JProperty:
		return jsonChild(x.Value, key)
	}
	return nil, throw("InvalidOperationException", "cannot access child value on %s", jtokenType(recv))
}

// jsonAs converts a token to T for Value<T>() and ToObject<T>().
func jsonAs(e *env, v any, targs []*typeInfo) (any, error) {
	if v == nil {
		return nil, nil
	}
	r := builtins()
	if len(targs) == 0 {
		return fromJValue(v), nil
	}
	t := targs[0]
	switch t {
	case r.obj:
		return fromJValue(v), nil
	case r.jtoken, r.jobject, r.jarray:
		if t.is(v) {
			return v, nil
		}
		return nil, invalidCast(v, t.name)
	case r.strings:
		a, ok := v.(*JArray)
		if !ok {
			return nil, invalidCast(v, "string[]")
		}
		out := make([]string, len(a.Items))
		for i, it := range a.Items {
			out[i] = toStr(fromJValue(it))
		}
		return out, nil
	case r.dict:
		o, ok := v.(*JObject)
		if !ok {
			return nil, invalidCast(v, "Dictionary")
		}
		d := newDict()
		for _, k := range o.keys {
			d.set(k, fromJValue(o.vals[k]))
		}
		return d, nil
	case r.list, r.array:
		a, ok := v.(*JArray)
		if !ok {
			return nil, invalidCast(v, t.name)
		}
		items := make([]any, len(a.Items))
		for i, it := range a.Items {
			items[i] = fromJValue(it)
		}
		if t == r.list {
			return &List{Items: items}, nil
		}
		return items, nil
	}
	if jv, ok := v.(*JValue); ok && jv.V == nil {
		return t.zero, nil
	}
	return castValue(t, v, !t.valueType, t.name)
}

// jsonTokenString is JToken.ToString(): JSON text, except a string value is its raw text.
func jsonTokenString(v any, indent bool) string {
	if jv, ok := v.(*JValue); ok {
		return jv.String()
	}
	return jsonText(v, indent)
}
