package expr

import (
	"crypto/aes"
	"crypto/cipher"
	"strings"
)

func (r *registry) buildCollections() {
	mk := func(name string, aliases ...string) *typeInfo {
		t := newType(name)
		r.alias(t, name)
		r.alias(t, aliases...)
		return t
	}
	r.bytes = mk("Byte[]")
	r.strings = mk("String[]")
	r.array = mk("Object[]", "Array", "System.Array", "IEnumerable", "IEnumerable`1", "IReadOnlyList`1",
		"IReadOnlyCollection`1")
	r.list = mk("List`1", "System.Collections.Generic.List`1", "IList`1", "ICollection`1")
	r.dict = mk("Dictionary`2", "IDictionary`2", "IReadOnlyDictionary`2", "SortedDictionary`2")
	r.kv = mk("KeyValuePair`2")
	r.types["HashSet`1"] = r.list

	r.bytes.is = func(v any) bool { _, ok := v.([]byte); return ok }
	r.bytes.convert = func(v any) (any, bool) { x, ok := v.([]byte); return x, ok }
	r.strings.is = func(v any) bool { _, ok := v.([]string); return ok }
	r.strings.convert = func(v any) (any, bool) {
		if s, ok := asStrings(v); ok {
			return s, true
		}
		if a, ok := v.(*JArray); ok {
			out := make([]string, len(a.Items))
			for i, it := range a.Items {
				out[i] = toStr(fromJValue(it))
			}
			return out, true
		}
		return nil, false
	}
	r.array.is = func(v any) bool { return isEnumerable(v) }
	r.array.convert = func(v any) (any, bool) { return v, isEnumerable(v) }
	r.list.is = func(v any) bool { _, ok := v.(*List); return ok }
	r.list.convert = func(v any) (any, bool) { x, ok := v.(*List); return x, ok }
	r.dict.is = func(v any) bool { _, ok := v.(*Dict); return ok }
	r.dict.convert = func(v any) (any, bool) {
		switch v.(type) {
		case *Dict, map[string]any, map[string]string:
			return v, true
		}
		return nil, false
	}
	r.strings.elem = r.str
	for _, t := range []*typeInfo{r.bytes, r.strings, r.array, r.list, r.dict} {
		t.enumerable = true
	}
	r.arrays = map[*typeInfo]*typeInfo{}
	defer func() {
		// after the array members exist: the typed arrays share them
		for _, el := range []*typeInfo{r.integer, r.long, r.double, r.boolean, r.char, r.dateTime, r.timeSpan, r.guid} {
			at := *r.array
			at.name, at.elem = el.name+"[]", el
			r.arrays[el] = &at
		}
	}()

	// arrays: Length, indexer, Encrypt/Decrypt on byte[]
	for _, t := range []*typeInfo{r.bytes, r.strings, r.array} {
		t.prop("Length", r.integer, func(e *env, recv any) (any, error) { return seqLen(recv) })
		t.index = func(e *env, recv any, args []any) (any, error) {
			i, err := iarg(args, 0)
			if err != nil {
				return nil, err
			}
			return seqAt(recv, i)
		}
		t.setIndex = func(e *env, recv any, args []any, v any) error {
			i, err := iarg(args, 0)
			if err != nil {
				return err
			}
			return seqSet(recv, i, v)
		}
	}
	r.strings.indexRet = r.str
	for _, name := range []string{"Encrypt", "Decrypt"} {
		decrypt := name == "Decrypt"
		r.bytes.meth(name, 3, 3, r.bytes, func(e *env, recv any, args []any) (any, error) {
			data, err := recvAs[[]byte](recv)
			if err != nil {
				return nil, err
			}
			alg, err := sarg(args, 0)
			if err != nil {
				return nil, err
			}
			key, err := bytesArg(args, 1)
			if err != nil {
				return nil, err
			}
			iv, err := bytesArg(args, 2)
			if err != nil {
				return nil, err
			}
			return aesCBC(alg, data, key, iv, decrypt)
		})
	}

	// List<T>
	l := r.list
	lst := func(recv any) (*List, error) { return recvAs[*List](recv) }
	l.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		out := &List{}
		if len(args) == 1 {
			if _, isInt := args[0].(int); !isInt && args[0] != nil {
				items, err := toSlice(e, args[0])
				if err != nil {
					return nil, err
				}
				out.Items = append(out.Items, items...)
			}
		}
		return out, nil
	}
	l.prop("Count", r.integer, func(e *env, recv any) (any, error) { x, err := lst(recv); return len(x.Items), err })
	l.index = func(e *env, recv any, args []any) (any, error) {
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		return seqAt(recv, i)
	}
	l.setIndex = func(e *env, recv any, args []any, v any) error {
		i, err := iarg(args, 0)
		if err != nil {
			return err
		}
		return seqSet(recv, i, v)
	}
	l.meth("Add", 1, 1, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := lst(recv)
		if err != nil {
			return nil, err
		}
		if err := e.charge(16); err != nil {
			return nil, err
		}
		x.Items = append(x.Items, args[0])
		return nil, nil
	})
	l.meth("AddRange", 1, 1, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := lst(recv)
		if err != nil {
			return nil, err
		}
		items, err := toSlice(e, args[0])
		if err != nil {
			return nil, err
		}
		if err := e.charge(16 * len(items)); err != nil {
			return nil, err
		}
		x.Items = append(x.Items, items...)
		return nil, nil
	})
	l.meth("Remove", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		x, err := lst(recv)
		if err != nil {
			return nil, err
		}
		for i, it := range x.Items {
			if equal(it, args[0]) {
				x.Items = append(x.Items[:i:i], x.Items[i+1:]...)
				return true, nil
			}
		}
		return false, nil
	})
	l.meth("RemoveAt", 1, 1, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := lst(recv)
		if err != nil {
			return nil, err
		}
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(x.Items) {
			return nil, throw("ArgumentOutOfRangeException", "index %d is outside the list of %d", i, len(x.Items))
		}
		x.Items = append(x.Items[:i:i], x.Items[i+1:]...)
		return nil, nil
	})
	l.meth("Clear", 0, 0, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := lst(recv)
		if err == nil {
			x.Items = nil
		}
		return nil, err
	})
	l.meth("Insert", 2, 2, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := lst(recv)
		if err != nil {
			return nil, err
		}
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		if i < 0 || i > len(x.Items) {
			return nil, throw("ArgumentOutOfRangeException", "index %d is outside the list", i)
		}
		x.Items = append(x.Items[:i:i], append([]any{args[1]}, x.Items[i:]...)...)
		return nil, e.charge(16)
	})
	l.meth("ForEach", 1, 1, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := lst(recv)
		if err != nil {
			return nil, err
		}
		fn, err := lambdaArg(args, 0)
		if err != nil {
			return nil, err
		}
		for _, it := range append([]any(nil), x.Items...) {
			if _, err := fn.call1(e, it); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	l.meth("Sort", 0, 0, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := lst(recv)
		if err != nil {
			return nil, err
		}
		return nil, sortAny(x.Items, nil, e, false)
	})

	// Dictionary<K,V>
	d := r.dict
	dict := func(recv any) (*Dict, error) { return recvAs[*Dict](recv) }
	d.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		out := newDict()
		if len(args) > 0 {
			if src, ok := args[0].(*Dict); ok {
				for _, k := range src.keys {
					out.set(k, src.vals[k])
				}
			}
		}
		return out, nil
	}
	d.prop("Count", r.integer, func(e *env, recv any) (any, error) { x, err := dict(recv); return len(x.keys), err })
	d.prop("Keys", r.array, func(e *env, recv any) (any, error) {
		x, err := dict(recv)
		if err != nil {
			return nil, err
		}
		return tidy(append([]any(nil), x.keys...)), nil
	})
	d.prop("Values", r.array, func(e *env, recv any) (any, error) {
		x, err := dict(recv)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(x.keys))
		for i, k := range x.keys {
			out[i] = x.vals[k]
		}
		return tidy(out), nil
	})
	d.index = func(e *env, recv any, args []any) (any, error) {
		x, err := dict(recv)
		if err != nil {
			return nil, err
		}
		k, err := dictKey(args[0])
		if err != nil {
			return nil, err
		}
		v, ok := x.vals[k]
		if !ok {
			return nil, throw("KeyNotFoundException", "the key is not present in the dictionary")
		}
		return v, nil
	}
	d.setIndex = func(e *env, recv any, args []any, v any) error {
		x, err := dict(recv)
		if err != nil {
			return err
		}
		k, err := dictKey(args[0])
		if err != nil {
			return err
		}
		x.set(k, v)
		return e.charge(32)
	}
	d.meth("Add", 2, 2, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := dict(recv)
		if err != nil {
			return nil, err
		}
		k, err := dictKey(args[0])
		if err != nil {
			return nil, err
		}
		if _, ok := x.vals[k]; ok {
			return nil, throw("ArgumentException", "an item with the same key has already been added")
		}
		x.set(k, args[1])
		return nil, e.charge(32)
	})
	d.meth("ContainsKey", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		x, err := dict(recv)
		if err != nil {
			return nil, err
		}
		k, err := dictKey(args[0])
		if err != nil {
			return nil, err
		}
		_, ok := x.vals[k]
		return ok, nil
	})
	d.meth("ContainsValue", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		x, err := dict(recv)
		if err != nil {
			return nil, err
		}
		for _, v := range x.vals {
			if equal(v, args[0]) {
				return true, nil
			}
		}
		return false, nil
	})
	d.meth("Remove", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		x, err := dict(recv)
		if err != nil {
			return nil, err
		}
		k, err := dictKey(args[0])
		if err != nil {
			return nil, err
		}
		return x.remove(k), nil
	})
	d.meth("TryGetValue", 2, 2, r.boolean, func(e *env, recv any, args []any) (any, error) {
		x, err := dict(recv)
		if err != nil {
			return nil, err
		}
		k, err := dictKey(args[0])
		if err != nil {
			return nil, err
		}
		out, _ := args[1].(*outRef)
		v, ok := x.vals[k]
		out.set(e, v)
		return ok, nil
	})
	d.meth("GetValueOrDefault", 1, 2, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := dict(recv)
		if err != nil {
			return nil, err
		}
		k, err := dictKey(args[0])
		if err != nil {
			return nil, err
		}
		if v, ok := x.vals[k]; ok {
			return v, nil
		}
		if len(args) > 1 {
			return args[1], nil
		}
		return nil, nil
	})

	kv := r.kv
	kv.prop("Key", nil, func(e *env, recv any) (any, error) {
		x, err := recvAs[*KeyValuePair](recv)
		if err != nil {
			return nil, err
		}
		return x.Key, nil
	})
	kv.prop("Value", nil, func(e *env, recv any) (any, error) {
		x, err := recvAs[*KeyValuePair](recv)
		if err != nil {
			return nil, err
		}
		return x.Value, nil
	})
	kv.prop("Name", r.str, func(e *env, recv any) (any, error) {
		x, err := recvAs[*KeyValuePair](recv)
		if err != nil {
			return nil, err
		}
		return toStr(x.Key), nil
	})
}

func seqLen(v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		return len(x), nil
	case []string:
		return len(x), nil
	case []any:
		return len(x), nil
	case *List:
		return len(x.Items), nil
	}
	return nil, errWrongRecv
}

func seqAt(v any, i int) (any, error) {
	n, err := seqLen(v)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= n.(int) {
		return nil, throw("IndexOutOfRangeException", "index %d is outside the array of length %d", i, n)
	}
	switch x := v.(type) {
	case []byte:
		return int(x[i]), nil
	case []string:
		return x[i], nil
	case []any:
		return x[i], nil
	case *List:
		return x.Items[i], nil
	}
	return nil, errWrongRecv
}

func seqSet(v any, i int, val any) error {
	n, err := seqLen(v)
	if err != nil {
		return err
	}
	if i < 0 || i >= n.(int) {
		return throw("IndexOutOfRangeException", "index %d is outside the array of length %d", i, n)
	}
	switch x := v.(type) {
	case []byte:
		b, ok := toInt64(val)
		if !ok {
			return invalidCast(val, "byte")
		}
		x[i] = byte(b)
	case []string:
		s, ok := val.(string)
		if !ok && val != nil {
			return invalidCast(val, "string")
		}
		x[i] = s
	case []any:
		x[i] = val
	case *List:
		x.Items[i] = val
	}
	return nil
}

// aesCBC is APIM's byte[].Encrypt/Decrypt("Aes", key, iv): AES-CBC with PKCS#7 padding.
func aesCBC(alg string, data, key, iv []byte, decrypt bool) (any, error) {
	if !strings.EqualFold(alg, "Aes") && !strings.EqualFold(alg, "Rijndael") && !strings.EqualFold(alg, "AesManaged") {
		return nil, throw("ArgumentException", "the algorithm '%s' is not available; use Aes", alg)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, throw("CryptographicException", "the key must be 16, 24 or 32 bytes")
	}
	if len(iv) != aes.BlockSize {
		return nil, throw("CryptographicException", "the IV must be 16 bytes")
	}
	if decrypt {
		if len(data) == 0 || len(data)%aes.BlockSize != 0 {
			return nil, throw("CryptographicException", "the input is not a whole number of blocks")
		}
		out := make([]byte, len(data))
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
		pad := int(out[len(out)-1])
		if pad == 0 || pad > aes.BlockSize || pad > len(out) {
			return nil, throw("CryptographicException", "padding is invalid")
		}
		for _, b := range out[len(out)-pad:] {
			if int(b) != pad {
				return nil, throw("CryptographicException", "padding is invalid")
			}
		}
		return out[:len(out)-pad], nil
	}
	pad := aes.BlockSize - len(data)%aes.BlockSize
	in := make([]byte, len(data)+pad)
	copy(in, data)
	for i := len(data); i < len(in); i++ {
		in[i] = byte(pad)
	}
	out := make([]byte, len(in))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, in)
	return out, nil
}
