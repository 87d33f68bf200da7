package expr

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"portcullis/internal/jwt"
	"portcullis/internal/policy"
)

// Enum is a value of a .NET enum such as StringComparison.OrdinalIgnoreCase.
type Enum struct {
	Type, Name string
	N          int
}

func (e Enum) String() string { return e.Name }

// ---- argument helpers

func sarg(args []any, i int) (string, error) {
	if i >= len(args) {
		return "", throw("ArgumentException", "argument %d is missing", i+1)
	}
	switch x := args[i].(type) {
	case string:
		return x, nil
	case *JValue:
		if s, ok := x.V.(string); ok {
			return s, nil
		}
	case nil:
		return "", throw("ArgumentNullException", "argument %d is null", i+1)
	}
	return "", throw("ArgumentException", "argument %d is %s where a string is needed", i+1, typeName(args[i]))
}

// sargOrNull accepts null as an empty string, where .NET treats null like "".
func sargOrNull(args []any, i int) (string, error) {
	if i < len(args) && args[i] == nil {
		return "", nil
	}
	return sarg(args, i)
}

func iarg(args []any, i int) (int, error) {
	if i >= len(args) {
		return 0, throw("ArgumentException", "argument %d is missing", i+1)
	}
	switch x := args[i].(type) {
	case int:
		return x, nil
	case int64:
		if x > math.MaxInt32 || x < math.MinInt32 {
			return 0, throw("OverflowException", "argument %d is too large for an int", i+1)
		}
		return int(x), nil
	case Char:
		return int(x), nil
	case *JValue:
		if n, ok := x.V.(int64); ok {
			return int(n), nil
		}
	}
	return 0, throw("ArgumentException", "argument %d is %s where an int is needed", i+1, typeName(args[i]))
}

func farg(args []any, i int) (float64, error) {
	if i >= len(args) {
		return 0, throw("ArgumentException", "argument %d is missing", i+1)
	}
	if f, ok := toFloat(args[i]); ok {
		return f, nil
	}
	return 0, throw("ArgumentException", "argument %d is %s where a number is needed", i+1, typeName(args[i]))
}

func barg(args []any, i int) (bool, error) {
	if i >= len(args) {
		return false, throw("ArgumentException", "argument %d is missing", i+1)
	}
	return truthy(args[i], fmt.Sprintf("argument %d", i+1))
}

func bytesArg(args []any, i int) ([]byte, error) {
	if i >= len(args) {
		return nil, throw("ArgumentException", "argument %d is missing", i+1)
	}
	switch x := args[i].(type) {
	case []byte:
		return x, nil
	case nil:
		return nil, throw("ArgumentNullException", "argument %d is null", i+1)
	case []any:
		out := make([]byte, len(x))
		for j, v := range x {
			n, ok := toInt64(v)
			if !ok {
				return nil, invalidCast(v, "byte")
			}
			out[j] = byte(n)
		}
		return out, nil
	}
	return nil, throw("ArgumentException", "argument %d is %s where a byte[] is needed", i+1, typeName(args[i]))
}

// ignoreCase reads a StringComparison or bool ignoreCase argument.
func ignoreCase(args []any, i int) bool {
	if i >= len(args) {
		return false
	}
	switch x := args[i].(type) {
	case Enum:
		return strings.HasSuffix(x.Name, "IgnoreCase")
	case bool:
		return x
	}
	return false
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// normalize turns values other policies may store in context.Variables into the types
// expressions use.
func normalize(v any) any {
	switch x := v.(type) {
	case time.Time:
		return DateTime{T: x}
	case time.Duration:
		return TimeSpan(x)
	case int32:
		return int(x)
	case float32:
		return float64(x)
	case uint:
		return int64(x)
	case []int:
		out := make([]any, len(x))
		for i, n := range x {
			out[i] = n
		}
		return out
	}
	return v
}

func (r *registry) typeOf(v any) *typeInfo {
	switch x := v.(type) {
	case string:
		return r.str
	case int:
		return r.integer
	case int64:
		return r.long
	case float64:
		return r.double
	case bool:
		return r.boolean
	case Char:
		return r.char
	case DateTime:
		return r.dateTime
	case TimeSpan:
		return r.timeSpan
	case Guid:
		return r.guid
	case *jwt.Token:
		return r.jwt
	case map[string][]string:
		return r.claims
	case *BasicCredentials:
		return r.basic
	case *policy.Context:
		return r.context
	case *policy.Request:
		return r.request
	case *policy.Response:
		return r.response
	case *policy.URL:
		return r.url
	case *policy.Header:
		return r.headers
	case *policy.Query:
		return r.query
	case *policy.Body:
		return r.body
	case map[string]any:
		return r.variables
	case *policy.LastError:
		return r.lastError
	case *policy.API:
		return r.api
	case *policy.Operation:
		return r.operation
	case *policy.Deployment:
		return r.deployment
	case map[string]string:
		return r.params
	case *JObject:
		return r.jobject
	case *JArray:
		return r.jarray
	case *JValue:
		return r.jtoken
	case *JProperty:
		return r.jproperty
	case []byte:
		return r.bytes
	case []string:
		return r.strings
	case []any:
		return r.array
	case *List:
		return r.list
	case *Dict:
		return r.dict
	case *KeyValuePair:
		return r.kv
	case *regexMatch:
		return r.match
	case *regexGroup:
		return r.group
	case *regexGroups:
		return r.groups
	case *regexMatches:
		return r.types["MatchCollection"]
	case *regexObj:
		return r.regex
	case *Uri:
		return r.uri
	case *rand.Rand:
		return r.random
	case *hasher:
		return r.hash
	case *encodingVal:
		return r.encoding
	case *certView:
		return r.cert
	case *lambda:
		return r.lambda
	case Enum:
		return r.types[x.Type]
	case *Exception:
		if t := r.types[x.Type]; t != nil {
			return t
		}
		return r.types["Exception"]
	case *stringBuilder:
		return r.types["StringBuilder"]
	case *gatewayInfo:
		return r.types["IGateway"]
	case *XElement:
		return r.types["XElement"]
	case *XDocument:
		return r.types["XDocument"]
	case *XAttribute:
		return r.types["XAttribute"]
	case *xName:
		return r.types["XName"]
	case XNamespace:
		return r.types["XNamespace"]
	case time.Time, time.Duration:
		return r.typeOf(normalize(v))
	case *XmlDocument, *xmlNode, *xmlAttrs:
		return r.xmlDOMType(v)
	case *xmlReader:
		return r.types["XmlReader"]
	case *stringReader:
		return r.types["StringReader"]
	}
	return nil
}

func (r *registry) buildCore() {
	mk := func(name string, aliases ...string) *typeInfo {
		t := newType(name)
		r.alias(t, name)
		r.alias(t, aliases...)
		return t
	}
	r.objMethods = map[string]*method{}
	r.str = mk("String", "string", "System.String")
	r.integer = mk("Int32", "int", "System.Int32", "short", "Int16", "ushort", "sbyte", "uint", "UInt32")
	r.long = mk("Int64", "long", "System.Int64", "ulong", "UInt64")
	r.double = mk("Double", "double", "System.Double", "decimal", "Decimal", "float", "Single")
	r.boolean = mk("Boolean", "bool", "System.Boolean")
	r.char = mk("Char", "char", "System.Char")
	r.types["byte"] = mk("Byte", "System.Byte")
	r.types["byte"].convert = func(v any) (any, bool) { n, ok := toInt64(v); return int(byte(n)), ok }
	r.types["byte"].valueType, r.types["byte"].zero = true, 0
	r.objMethods = map[string]*method{}
	obj := mk("Object", "object", "System.Object", "dynamic")
	r.types["object"] = obj
	r.obj = obj
	r.objectType(obj)
	r.lambda = mk("Func", "Func`1", "Func`2", "Func`3", "Predicate`1", "Action`1")
	r.jwt = mk("Jwt")
	r.claims = newType("Claims")
	r.basic = mk("BasicAuthCredentials")

	r.str.is = func(v any) bool { _, ok := v.(string); return ok }
	r.str.convert = func(v any) (any, bool) {
		switch x := v.(type) {
		case string:
			return x, true
		case *JValue:
			if x.V == nil {
				return nil, true
			}
			return toStr(x.V), true
		}
		return nil, false
	}
	r.str.enumerable, r.str.elem = true, r.char
	r.integer.valueType, r.integer.zero = true, 0
	r.integer.is = func(v any) bool { _, ok := v.(int); return ok }
	r.integer.convert = func(v any) (any, bool) {
		if f, ok := v.(float64); ok {
			return int(int32(f)), true
		}
		if j, ok := v.(*JValue); ok {
			if s, ok := j.V.(string); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
				return int(n), err == nil
			}
			if f, ok := j.V.(float64); ok {
				return int(int32(f)), true
			}
		}
		n, ok := toInt64(v)
		return int(int32(n)), ok
	}
	r.long.valueType, r.long.zero = true, int64(0)
	r.long.is = func(v any) bool { _, ok := v.(int64); return ok }
	r.long.convert = func(v any) (any, bool) {
		if f, ok := v.(float64); ok {
			return int64(f), true
		}
		if j, ok := v.(*JValue); ok {
			if s, ok := j.V.(string); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				return n, err == nil
			}
			if f, ok := j.V.(float64); ok {
				return int64(f), true
			}
		}
		n, ok := toInt64(v)
		return n, ok
	}
	r.double.valueType, r.double.zero = true, 0.0
	r.double.is = func(v any) bool { _, ok := v.(float64); return ok }
	r.double.convert = func(v any) (any, bool) {
		if j, ok := v.(*JValue); ok {
			if s, ok := j.V.(string); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
				return f, err == nil
			}
		}
		f, ok := toFloat(v)
		return f, ok
	}
	r.boolean.valueType, r.boolean.zero = true, false
	r.boolean.is = func(v any) bool { _, ok := v.(bool); return ok }
	r.boolean.convert = func(v any) (any, bool) {
		switch x := v.(type) {
		case bool:
			return x, true
		case *JValue:
			switch y := x.V.(type) {
			case bool:
				return y, true
			case string:
				b, err := strconv.ParseBool(y)
				return b, err == nil
			}
		}
		return nil, false
	}
	r.char.valueType, r.char.zero = true, Char(0)
	r.char.is = func(v any) bool { _, ok := v.(Char); return ok }
	r.char.convert = func(v any) (any, bool) {
		switch x := v.(type) {
		case Char:
			return x, true
		case int:
			return Char(x), true
		case int64:
			return Char(x), true
		}
		return nil, false
	}
	r.jwt.is = func(v any) bool { _, ok := v.(*jwt.Token); return ok }
	r.jwt.convert = func(v any) (any, bool) { t, ok := v.(*jwt.Token); return t, ok }

	r.buildString()
	r.buildNumbers()
	r.buildTime()
	// Nullable<T>: a null never reaches these (HasValue on null is handled by member access)
	for _, t := range []*typeInfo{r.integer, r.long, r.double, r.boolean, r.char, r.dateTime, r.timeSpan, r.guid} {
		t.prop("HasValue", r.boolean, func(e *env, recv any) (any, error) { return true, nil })
		t.prop("Value", t, func(e *env, recv any) (any, error) { return recv, nil })
		t.meth("GetValueOrDefault", 0, 1, t, func(e *env, recv any, args []any) (any, error) { return recv, nil })
	}
}

func (r *registry) objectType(obj *typeInfo) {
	obj.convert = func(v any) (any, bool) { return v, true }
	obj.is = func(any) bool { return true }
	r.objMethods["ToString"] = &method{min: 0, max: 1, ret: nil, call: func(e *env, recv any, args []any, _ []*typeInfo) (any, error) {
		if len(args) == 1 && args[0] != nil {
			if f, ok := args[0].(string); ok {
				return formatValue(recv, f)
			}
			if en, ok := args[0].(Enum); ok && en.Type == "Formatting" {
				switch x := recv.(type) {
				case *JObject, *JArray, *JProperty:
					return jsonText(x, en.Name != "None"), nil
				}
			}
		}
		return toStr(recv), nil
	}}
	r.objMethods["ToString"].ret = r.str
	r.objMethods["Equals"] = &method{min: 1, max: 2, call: func(e *env, recv any, args []any, _ []*typeInfo) (any, error) {
		if s, ok := recv.(string); ok {
			o, isStr := args[0].(string)
			if !isStr {
				return false, nil
			}
			if ignoreCase(args, 1) {
				return strings.EqualFold(s, o), nil
			}
			return s == o, nil
		}
		return equal(recv, args[0]), nil
	}}
	r.objMethods["GetHashCode"] = &method{call: func(e *env, recv any, args []any, _ []*typeInfo) (any, error) {
		h := uint32(2166136261)
		for _, c := range []byte(toStr(recv)) {
			h = (h ^ uint32(c)) * 16777619
		}
		return int(int32(h)), nil
	}}
	r.objMethods["CompareTo"] = &method{min: 1, max: 1, call: func(e *env, recv any, args []any, _ []*typeInfo) (any, error) {
		if args[0] == nil {
			return 1, nil
		}
		c, ok := compare(recv, args[0])
		if !ok {
			return nil, throw("ArgumentException", "cannot compare %s with %s", typeName(recv), typeName(args[0]))
		}
		return c, nil
	}}
}

func (r *registry) buildString() {
	s := r.str
	str := func(recv any) (string, error) { return recvAs[string](recv) }
	s.prop("Length", r.integer, func(e *env, recv any) (any, error) {
		v, err := str(recv)
		return utf16Len(v), err
	})
	s.index = func(e *env, recv any, args []any) (any, error) {
		v, err := str(recv)
		if err != nil {
			return nil, err
		}
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		u := []rune(v)
		if i < 0 || i >= len(u) {
			return nil, throw("IndexOutOfRangeException", "index %d is outside the string of length %d", i, len(u))
		}
		return Char(u[i]), nil
	}
	s.indexRet = r.char
	find := func(name string, f func(v, arg string, fold bool) any, ret *typeInfo) {
		s.meth(name, 1, 3, ret, func(e *env, recv any, args []any) (any, error) {
			v, err := str(recv)
			if err != nil {
				return nil, err
			}
			var arg string
			switch x := args[0].(type) {
			case Char:
				arg = string(rune(x))
			default:
				if arg, err = sarg(args, 0); err != nil {
					return nil, err
				}
			}
			fold := ignoreCase(args, len(args)-1)
			return f(v, arg, fold), nil
		})
	}
	find("Contains", func(v, a string, fold bool) any {
		if fold {
			return strings.Contains(strings.ToLower(v), strings.ToLower(a))
		}
		return strings.Contains(v, a)
	}, r.boolean)
	find("StartsWith", func(v, a string, fold bool) any {
		if fold {
			return len(v) >= len(a) && strings.EqualFold(v[:len(a)], a)
		}
		return strings.HasPrefix(v, a)
	}, r.boolean)
	find("EndsWith", func(v, a string, fold bool) any {
		if fold {
			return len(v) >= len(a) && strings.EqualFold(v[len(v)-len(a):], a)
		}
		return strings.HasSuffix(v, a)
	}, r.boolean)
	indexOf := func(last bool) func(e *env, recv any, args []any) (any, error) {
		return func(e *env, recv any, args []any) (any, error) {
			v, err := str(recv)
			if err != nil {
				return nil, err
			}
			var needle string
			switch x := args[0].(type) {
			case Char:
				needle = string(rune(x))
			default:
				if needle, err = sarg(args, 0); err != nil {
					return nil, err
				}
			}
			start := 0
			if len(args) > 1 {
				if _, isInt := args[1].(int); isInt {
					start, _ = iarg(args, 1)
				}
			}
			u := utf16Units(v)
			if start < 0 || start > len(u) {
				return nil, throw("ArgumentOutOfRangeException", "start index %d is outside the string", start)
			}
			hay, nd := v, needle
			if ignoreCase(args, len(args)-1) {
				hay, nd = strings.ToLower(v), strings.ToLower(needle)
			}
			prefix := string(utf16ToRunes(u[:start]))
			if last {
				i := strings.LastIndex(hay, nd)
				if i < 0 {
					return -1, nil
				}
				return utf16Len(hay[:i]), nil
			}
			i := strings.Index(hay[len(prefix):], nd)
			if i < 0 {
				return -1, nil
			}
			return start + utf16Len(hay[len(prefix):len(prefix)+i]), nil
		}
	}
	s.meth("IndexOf", 1, 3, r.integer, indexOf(false))
	s.meth("LastIndexOf", 1, 3, r.integer, indexOf(true))
	s.meth("IndexOfAny", 1, 2, r.integer, func(e *env, recv any, args []any) (any, error) {
		v, err := str(recv)
		if err != nil {
			return nil, err
		}
		set, err := charSet(args[0])
		if err != nil {
			return nil, err
		}
		for i, c := range []rune(v) {
			if strings.ContainsRune(set, c) {
				return i, nil
			}
		}
		return -1, nil
	})
	s.meth("Substring", 1, 2, r.str, func(e *env, recv any, args []any) (any, error) {
		v, err := str(recv)
		if err != nil {
			return nil, err
		}
		u := utf16Units(v)
		start, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		end := len(u)
		if len(args) > 1 {
			n, err := iarg(args, 1)
			if err != nil {
				return nil, err
			}
			end = start + n
			if n < 0 {
				end = -1
			}
		}
		if start < 0 || start > len(u) || end < start || end > len(u) {
			return nil, throw("ArgumentOutOfRangeException", "Substring(%d) is outside the string of length %d", start, len(u))
		}
		return string(utf16ToRunes(u[start:end])), nil
	})
	s.meth("Replace", 2, 3, r.str, func(e *env, recv any, args []any) (any, error) {
		v, err := str(recv)
		if err != nil {
			return nil, err
		}
		var from, to string
		if c, ok := args[0].(Char); ok {
			from = string(rune(c))
			if t, ok := args[1].(Char); ok {
				to = string(rune(t))
			}
		} else {
			if from, err = sarg(args, 0); err != nil {
				return nil, err
			}
			if to, err = sargOrNull(args, 1); err != nil {
				return nil, err
			}
		}
		if from == "" {
			return nil, throw("ArgumentException", "Replace needs a non-empty string to replace")
		}
		n := strings.Count(v, from)
		if err := e.charge(len(v) + n*len(to)); err != nil {
			return nil, err
		}
		if ignoreCase(args, 2) {
			return replaceFold(v, from, to), nil
		}
		return strings.ReplaceAll(v, from, to), nil
	})
	for _, name := range []string{"ToLower", "ToLowerInvariant"} {
		s.meth(name, 0, 1, r.str, func(e *env, recv any, args []any) (any, error) {
			v, err := str(recv)
			return strings.ToLower(v), err
		})
	}
	for _, name := range []string{"ToUpper", "ToUpperInvariant"} {
		s.meth(name, 0, 1, r.str, func(e *env, recv any, args []any) (any, error) {
			v, err := str(recv)
			return strings.ToUpper(v), err
		})
	}
	trim := func(mode int) func(e *env, recv any, args []any) (any, error) {
		return func(e *env, recv any, args []any) (any, error) {
			v, err := str(recv)
			if err != nil {
				return nil, err
			}
			var set string
			for _, a := range args {
				cs, err := charSet(a)
				if err != nil {
					return nil, err
				}
				set += cs
			}
			cut := func(r rune) bool {
				if set == "" {
					return unicode.IsSpace(r)
				}
				return strings.ContainsRune(set, r)
			}
			switch mode {
			case 0:
				return strings.TrimFunc(v, cut), nil
			case 1:
				return strings.TrimLeftFunc(v, cut), nil
			}
			return strings.TrimRightFunc(v, cut), nil
		}
	}
	s.meth("Trim", 0, -1, r.str, trim(0))
	s.meth("TrimStart", 0, -1, r.str, trim(1))
	s.meth("TrimEnd", 0, -1, r.str, trim(2))
	s.meth("Split", 0, -1, r.strings, func(e *env, recv any, args []any) (any, error) {
		v, err := str(recv)
		if err != nil {
			return nil, err
		}
		return splitString(e, v, args)
	})
	s.meth("PadLeft", 1, 2, r.str, pad(true))
	s.meth("PadRight", 1, 2, r.str, pad(false))
	s.meth("Insert", 2, 2, r.str, func(e *env, recv any, args []any) (any, error) {
		v, err := str(recv)
		if err != nil {
			return nil, err
		}
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		ins, err := sarg(args, 1)
		if err != nil {
			return nil, err
		}
		u := []rune(v)
		if i < 0 || i > len(u) {
			return nil, throw("ArgumentOutOfRangeException", "Insert index %d is outside the string", i)
		}
		return string(u[:i]) + ins + string(u[i:]), nil
	})
	s.meth("Remove", 1, 2, r.str, func(e *env, recv any, args []any) (any, error) {
		v, err := str(recv)
		if err != nil {
			return nil, err
		}
		u := []rune(v)
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		end := len(u)
		if len(args) > 1 {
			n, err := iarg(args, 1)
			if err != nil {
				return nil, err
			}
			end = i + n
		}
		if i < 0 || i > len(u) || end < i || end > len(u) {
			return nil, throw("ArgumentOutOfRangeException", "Remove(%d) is outside the string", i)
		}
		return string(u[:i]) + string(u[end:]), nil
	})
	s.meth("ToCharArray", 0, 0, r.array, func(e *env, recv any, args []any) (any, error) {
		v, err := str(recv)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(v))
		for _, c := range v {
			out = append(out, Char(c))
		}
		return out, e.charge(len(out) * 16)
	})
	s.meth("Normalize", 0, 1, r.str, func(e *env, recv any, args []any) (any, error) { return str(recv) })
	s.meth("CompareTo", 1, 1, r.integer, func(e *env, recv any, args []any) (any, error) {
		v, err := str(recv)
		if err != nil {
			return nil, err
		}
		o, err := sargOrNull(args, 0)
		return strings.Compare(v, o), err
	})
	r.buildJwtExtensions(s)
}

func pad(left bool) func(e *env, recv any, args []any) (any, error) {
	return func(e *env, recv any, args []any) (any, error) {
		v, err := recvAs[string](recv)
		if err != nil {
			return nil, err
		}
		n, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		if err := e.charge(n); err != nil {
			return nil, err
		}
		c := " "
		if len(args) > 1 {
			ch, ok := args[1].(Char)
			if !ok {
				return nil, invalidCast(args[1], "char")
			}
			c = string(rune(ch))
		}
		k := n - utf16Len(v)
		if k <= 0 {
			return v, nil
		}
		if left {
			return strings.Repeat(c, k) + v, nil
		}
		return v + strings.Repeat(c, k), nil
	}
}

func replaceFold(s, from, to string) string {
	var b strings.Builder
	ls, lf := strings.ToLower(s), strings.ToLower(from)
	for {
		i := strings.Index(ls, lf)
		if i < 0 || len(ls) != len(s) {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(to)
		s, ls = s[i+len(from):], ls[i+len(from):]
	}
}

// charSet reads a char, string, or char[] argument as a set of characters.
func charSet(v any) (string, error) {
	switch x := v.(type) {
	case Char:
		return string(rune(x)), nil
	case string:
		return x, nil
	case []any:
		var b strings.Builder
		for _, it := range x {
			c, ok := it.(Char)
			if !ok {
				return "", invalidCast(it, "char")
			}
			b.WriteRune(rune(c))
		}
		return b.String(), nil
	case nil:
		return "", nil
	}
	return "", invalidCast(v, "char[]")
}

// splitString implements the String.Split overloads.
func splitString(e *env, v string, args []any) (any, error) {
	var seps []string
	count := -1
	remove, trimEntries := false, false
	for i, a := range args {
		switch x := a.(type) {
		case Char:
			seps = append(seps, string(rune(x)))
		case string:
			seps = append(seps, x)
		case []string:
			seps = append(seps, x...)
		case []any:
			for _, it := range x {
				switch c := it.(type) {
				case Char:
					seps = append(seps, string(rune(c)))
				case string:
					seps = append(seps, c)
				default:
					return nil, invalidCast(it, "char")
				}
			}
		case int:
			count = x
		case Enum:
			remove = x.N&1 != 0
			trimEntries = x.N&2 != 0
		case nil:
		default:
			return nil, throw("ArgumentException", "Split argument %d is %s", i+1, typeName(a))
		}
	}
	var parts []string
	if len(seps) == 0 {
		parts = strings.FieldsFunc(v, unicode.IsSpace)
		if !remove {
			parts = splitFunc(v, unicode.IsSpace)
		}
	} else {
		parts = splitAny(v, seps, count)
	}
	out := parts[:0:0]
	for _, p := range parts {
		if trimEntries {
			p = strings.TrimSpace(p)
		}
		if remove && p == "" {
			continue
		}
		out = append(out, p)
	}
	if count >= 0 && len(out) > count {
		if count == 0 {
			return []string{}, nil
		}
		// the last element keeps the rest of the string
		rest := strings.Join(out[count-1:], seps[0])
		out = append(out[:count-1], rest)
	}
	return out, e.charge(len(v) + len(out)*16)
}

func splitFunc(s string, f func(rune) bool) []string {
	var out []string
	start := 0
	for i, r := range s {
		if f(r) {
			out = append(out, s[start:i])
			start = i + utf8.RuneLen(r)
		}
	}
	return append(out, s[start:])
}

func splitAny(s string, seps []string, count int) []string {
	var out []string
	for {
		if count >= 0 && len(out) == count-1 {
			return append(out, s)
		}
		best, bestLen := -1, 0
		for _, sep := range seps {
			if sep == "" {
				continue
			}
			if i := strings.Index(s, sep); i >= 0 && (best < 0 || i < best) {
				best, bestLen = i, len(sep)
			}
		}
		if best < 0 {
			return append(out, s)
		}
		out = append(out, s[:best])
		s = s[best+bestLen:]
	}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func utf16Units(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16Surrogates(r)
			out = append(out, r1, r2)
			continue
		}
		out = append(out, r)
	}
	return out
}

func utf16Surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

func utf16ToRunes(u []rune) []rune {
	out := make([]rune, 0, len(u))
	for i := 0; i < len(u); i++ {
		if u[i] >= 0xd800 && u[i] < 0xdc00 && i+1 < len(u) && u[i+1] >= 0xdc00 && u[i+1] < 0xe000 {
			out = append(out, 0x10000+(u[i]-0xd800)<<10+(u[i+1]-0xdc00))
			i++
			continue
		}
		out = append(out, u[i])
	}
	return out
}

func (r *registry) buildNumbers() {
	parse := func(t *typeInfo, bits int) {
		p := func(s string) (any, bool) {
			s = strings.TrimSpace(s)
			switch t {
			case r.double:
				f, err := strconv.ParseFloat(s, 64)
				return f, err == nil && !strings.ContainsAny(s, "xXpP_") && !strings.EqualFold(s, "inf") && !strings.EqualFold(s, "infinity")
			case r.boolean:
				switch strings.ToLower(s) {
				case "true":
					return true, true
				case "false":
					return false, true
				}
				return nil, false
			}
			n, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), 10, bits)
			if err != nil {
				return nil, false
			}
			if bits == 32 {
				return int(n), true
			}
			return n, true
		}
		t.smeth("Parse", 1, 3, t, func(e *env, args []any) (any, error) {
			s, err := sarg(args, 0)
			if err != nil {
				return nil, err
			}
			v, ok := p(s)
			if !ok {
				return nil, throw("FormatException", "the input string was not in a correct format for %s", t.name)
			}
			return v, nil
		})
		t.smeth("TryParse", 2, 4, r.boolean, func(e *env, args []any) (any, error) {
			out, _ := args[len(args)-1].(*outRef)
			s, ok := args[0].(string)
			var v any
			if ok {
				v, ok = p(s)
			}
			if !ok {
				out.set(e, t.zero)
				return false, nil
			}
			out.set(e, v)
			return true, nil
		})
	}
	parse(r.integer, 32)
	parse(r.long, 64)
	parse(r.double, 64)
	parse(r.boolean, 1)
	r.integer.sprop("MaxValue", r.integer, func(*env) (any, error) { return math.MaxInt32, nil })
	r.integer.sprop("MinValue", r.integer, func(*env) (any, error) { return math.MinInt32, nil })
	r.long.sprop("MaxValue", r.long, func(*env) (any, error) { return int64(math.MaxInt64), nil })
	r.long.sprop("MinValue", r.long, func(*env) (any, error) { return int64(math.MinInt64), nil })
	r.double.sprop("MaxValue", r.double, func(*env) (any, error) { return math.MaxFloat64, nil })
	r.double.sprop("NaN", r.double, func(*env) (any, error) { return math.NaN(), nil })
	r.double.smeth("IsNaN", 1, 1, r.boolean, func(e *env, args []any) (any, error) {
		f, err := farg(args, 0)
		return math.IsNaN(f), err
	})
	r.boolean.sprop("TrueString", r.str, func(*env) (any, error) { return "True", nil })
	r.boolean.sprop("FalseString", r.str, func(*env) (any, error) { return "False", nil })
	charTest := func(name string, f func(rune) bool) {
		r.char.smeth(name, 1, 2, r.boolean, func(e *env, args []any) (any, error) {
			switch x := args[0].(type) {
			case Char:
				return f(rune(x)), nil
			case string:
				i, err := iarg(args, 1)
				if err != nil {
					return nil, err
				}
				u := []rune(x)
				if i < 0 || i >= len(u) {
					return nil, throw("ArgumentOutOfRangeException", "index %d is outside the string", i)
				}
				return f(u[i]), nil
			}
			return nil, invalidCast(args[0], "char")
		})
	}
	charTest("IsDigit", unicode.IsDigit)
	charTest("IsLetter", unicode.IsLetter)
	charTest("IsLetterOrDigit", func(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) })
	charTest("IsWhiteSpace", unicode.IsSpace)
	charTest("IsUpper", unicode.IsUpper)
	charTest("IsLower", unicode.IsLower)
	charTest("IsPunctuation", unicode.IsPunct)
	r.char.smeth("ToUpper", 1, 1, r.char, func(e *env, args []any) (any, error) {
		c, _ := args[0].(Char)
		return Char(unicode.ToUpper(rune(c))), nil
	})
	r.char.smeth("ToLower", 1, 1, r.char, func(e *env, args []any) (any, error) {
		c, _ := args[0].(Char)
		return Char(unicode.ToLower(rune(c))), nil
	})
}

func (r *registry) buildTime() {
	r.dateTime = newType("DateTime")
	r.alias(r.dateTime, "DateTime", "System.DateTime", "DateTimeOffset", "System.DateTimeOffset")
	r.timeSpan = newType("TimeSpan")
	r.alias(r.timeSpan, "TimeSpan", "System.TimeSpan")
	r.guid = newType("Guid")
	r.alias(r.guid, "Guid", "System.Guid")
	r.random = newType("Random")
	r.alias(r.random, "Random", "System.Random")

	dt, ts := r.dateTime, r.timeSpan
	dt.valueType, dt.zero = true, DateTime{T: time.Time{}.UTC()}
	dt.is = func(v any) bool { _, ok := v.(DateTime); return ok }
	dt.convert = func(v any) (any, bool) {
		switch x := v.(type) {
		case DateTime:
			return x, true
		case time.Time:
			return DateTime{T: x}, true
		case *JValue:
			if s, ok := x.V.(string); ok {
				d, err := parseDateTime(s)
				return d, err == nil
			}
		}
		return nil, false
	}
	ts.valueType, ts.zero = true, TimeSpan(0)
	ts.is = func(v any) bool { _, ok := v.(TimeSpan); return ok }
	ts.convert = func(v any) (any, bool) {
		switch x := v.(type) {
		case TimeSpan:
			return x, true
		case time.Duration:
			return TimeSpan(x), true
		}
		return nil, false
	}
	now := func(e *env) time.Time {
		return time.Now().UTC()
	}
	dt.sprop("UtcNow", dt, func(e *env) (any, error) { return DateTime{T: now(e)}, nil })
	dt.sprop("Now", dt, func(e *env) (any, error) { return DateTime{T: now(e), Local: true}, nil })
	dt.sprop("Today", dt, func(e *env) (any, error) { return DateTime{T: now(e).Truncate(24 * time.Hour), Local: true}, nil })
	dt.sprop("MinValue", dt, func(e *env) (any, error) { return DateTime{T: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}, nil })
	dt.sprop("MaxValue", dt, func(e *env) (any, error) {
		return DateTime{T: time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)}, nil
	})
	dt.sprop("UnixEpoch", dt, func(e *env) (any, error) { return DateTime{T: time.Unix(0, 0).UTC()}, nil })
	dt.smeth("Parse", 1, 3, dt, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		return parseDateTime(s)
	})
	dt.smeth("ParseExact", 2, 4, dt, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		return parseDateTime(s)
	})
	dt.smeth("TryParse", 2, 4, r.boolean, func(e *env, args []any) (any, error) {
		out, _ := args[len(args)-1].(*outRef)
		s, _ := args[0].(string)
		d, err := parseDateTime(s)
		if err != nil {
			out.set(e, dt.zero)
			return false, nil
		}
		out.set(e, d)
		return true, nil
	})
	dt.smeth("FromUnixTimeSeconds", 1, 1, dt, func(e *env, args []any) (any, error) {
		n, ok := toInt64(args[0])
		if !ok {
			return nil, invalidCast(args[0], "long")
		}
		return DateTime{T: time.Unix(n, 0).UTC()}, nil
	})
	dt.smeth("FromUnixTimeMilliseconds", 1, 1, dt, func(e *env, args []any) (any, error) {
		n, ok := toInt64(args[0])
		if !ok {
			return nil, invalidCast(args[0], "long")
		}
		return DateTime{T: time.UnixMilli(n).UTC()}, nil
	})
	dt.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		if len(args) >= 1 {
			if d, ok := args[0].(DateTime); ok {
				// new DateTimeOffset(dateTime[, offset])
				return d, nil
			}
		}
		var n [7]int
		for i := range min(len(args), 7) {
			if en, ok := args[i].(Enum); ok && en.Type == "DateTimeKind" {
				break
			}
			v, err := iarg(args, i)
			if err != nil {
				return nil, err
			}
			n[i] = v
		}
		if len(args) == 1 {
			ticks, _ := toInt64(args[0])
			return DateTime{T: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(ticks) * 100)}, nil
		}
		if n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 {
			return nil, throw("ArgumentOutOfRangeException", "year, month and day describe an unrepresentable DateTime")
		}
		return DateTime{T: time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], n[6]*1e6, time.UTC)}, nil
	}
	d := func(recv any) (DateTime, error) { return recvAs[DateTime](recv) }
	part := func(name string, f func(t time.Time) any, ret *typeInfo) {
		dt.prop(name, ret, func(e *env, recv any) (any, error) {
			v, err := d(recv)
			if err != nil {
				return nil, err
			}
			return f(v.T), nil
		})
	}
	part("Year", func(t time.Time) any { return t.Year() }, r.integer)
	part("Month", func(t time.Time) any { return int(t.Month()) }, r.integer)
	part("Day", func(t time.Time) any { return t.Day() }, r.integer)
	part("Hour", func(t time.Time) any { return t.Hour() }, r.integer)
	part("Minute", func(t time.Time) any { return t.Minute() }, r.integer)
	part("Second", func(t time.Time) any { return t.Second() }, r.integer)
	part("Millisecond", func(t time.Time) any { return t.Nanosecond() / 1e6 }, r.integer)
	part("DayOfYear", func(t time.Time) any { return t.YearDay() }, r.integer)
	part("Ticks", func(t time.Time) any {
		return t.Sub(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)).Nanoseconds()/100 + 0
	}, r.long)
	part("DayOfWeek", func(t time.Time) any { return Enum{Type: "DayOfWeek", Name: t.Weekday().String(), N: int(t.Weekday())} }, nil)
	part("Date", func(t time.Time) any {
		return DateTime{T: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())}
	}, dt)
	part("TimeOfDay", func(t time.Time) any {
		return TimeSpan(t.Sub(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())))
	}, ts)
	part("UtcDateTime", func(t time.Time) any { return DateTime{T: t.UTC()} }, dt)
	part("DateTime", func(t time.Time) any { return DateTime{T: t} }, dt)
	part("LocalDateTime", func(t time.Time) any { return DateTime{T: t, Local: true} }, dt)
	part("Offset", func(t time.Time) any { _, off := t.Zone(); return TimeSpan(time.Duration(off) * time.Second) }, ts)
	dt.prop("Kind", nil, func(e *env, recv any) (any, error) {
		v, err := d(recv)
		if err != nil {
			return nil, err
		}
		if v.Local {
			return Enum{Type: "DateTimeKind", Name: "Local", N: 2}, nil
		}
		return Enum{Type: "DateTimeKind", Name: "Utc", N: 1}, nil
	})
	add := func(name string, unit time.Duration) {
		dt.meth(name, 1, 1, dt, func(e *env, recv any, args []any) (any, error) {
			v, err := d(recv)
			if err != nil {
				return nil, err
			}
			f, err := farg(args, 0)
			if err != nil {
				return nil, err
			}
			return DateTime{T: v.T.Add(time.Duration(f * float64(unit))), Local: v.Local}, nil
		})
	}
	add("AddMilliseconds", time.Millisecond)
	add("AddSeconds", time.Second)
	add("AddMinutes", time.Minute)
	add("AddHours", time.Hour)
	add("AddDays", 24*time.Hour)
	add("AddTicks", 100)
	dt.meth("AddMonths", 1, 1, dt, func(e *env, recv any, args []any) (any, error) {
		v, err := d(recv)
		if err != nil {
			return nil, err
		}
		n, err := iarg(args, 0)
		return DateTime{T: v.T.AddDate(0, n, 0), Local: v.Local}, err
	})
	dt.meth("AddYears", 1, 1, dt, func(e *env, recv any, args []any) (any, error) {
		v, err := d(recv)
		if err != nil {
			return nil, err
		}
		n, err := iarg(args, 0)
		return DateTime{T: v.T.AddDate(n, 0, 0), Local: v.Local}, err
	})
	dt.meth("Add", 1, 1, dt, func(e *env, recv any, args []any) (any, error) { return arith("+", recv, args[0]) })
	dt.meth("Subtract", 1, 1, nil, func(e *env, recv any, args []any) (any, error) { return arith("-", recv, args[0]) })
	dt.meth("ToUniversalTime", 0, 0, dt, func(e *env, recv any, args []any) (any, error) {
		v, err := d(recv)
		return DateTime{T: v.T.UTC()}, err
	})
	dt.meth("ToLocalTime", 0, 0, dt, func(e *env, recv any, args []any) (any, error) {
		v, err := d(recv)
		return DateTime{T: v.T, Local: true}, err
	})
	dt.meth("ToUnixTimeSeconds", 0, 0, r.long, func(e *env, recv any, args []any) (any, error) {
		v, err := d(recv)
		return v.T.Unix(), err
	})
	dt.meth("ToUnixTimeMilliseconds", 0, 0, r.long, func(e *env, recv any, args []any) (any, error) {
		v, err := d(recv)
		return v.T.UnixMilli(), err
	})
	dt.meth("ToString", 0, 2, r.str, func(e *env, recv any, args []any) (any, error) {
		v, err := d(recv)
		if err != nil {
			return nil, err
		}
		f := "G"
		if len(args) > 0 {
			if s, ok := args[0].(string); ok {
				f = s
			}
		}
		return formatDateTime(v, f), nil
	})
	for _, n := range []string{"ToShortDateString", "ToLongDateString", "ToShortTimeString", "ToLongTimeString", "ToFileTimeUtc"} {
		f := map[string]string{"ToShortDateString": "d", "ToLongDateString": "D", "ToShortTimeString": "t", "ToLongTimeString": "T"}[n]
		if f == "" {
			continue
		}
		dt.meth(n, 0, 0, r.str, func(e *env, recv any, args []any) (any, error) {
			v, err := d(recv)
			return formatDateTime(v, f), err
		})
	}

	// TimeSpan
	from := func(name string, unit time.Duration) {
		ts.smeth(name, 1, 1, ts, func(e *env, args []any) (any, error) {
			f, err := farg(args, 0)
			return TimeSpan(time.Duration(f * float64(unit))), err
		})
	}
	from("FromMilliseconds", time.Millisecond)
	from("FromSeconds", time.Second)
	from("FromMinutes", time.Minute)
	from("FromHours", time.Hour)
	from("FromDays", 24*time.Hour)
	from("FromTicks", 100)
	ts.sprop("Zero", ts, func(*env) (any, error) { return TimeSpan(0), nil })
	ts.smeth("Parse", 1, 2, ts, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		return parseTimeSpan(s)
	})
	ts.smeth("TryParse", 2, 3, r.boolean, func(e *env, args []any) (any, error) {
		out, _ := args[len(args)-1].(*outRef)
		s, _ := args[0].(string)
		v, err := parseTimeSpan(s)
		if err != nil {
			out.set(e, TimeSpan(0))
			return false, nil
		}
		out.set(e, v)
		return true, nil
	})
	ts.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		var n []int64
		for _, a := range args {
			v, ok := toInt64(a)
			if !ok {
				return nil, invalidCast(a, "int")
			}
			n = append(n, v)
		}
		switch len(n) {
		case 1:
			return TimeSpan(time.Duration(n[0]) * 100), nil
		case 3:
			return TimeSpan(time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second), nil
		case 4, 5:
			d := time.Duration(n[0])*24*time.Hour + time.Duration(n[1])*time.Hour + time.Duration(n[2])*time.Minute + time.Duration(n[3])*time.Second
			if len(n) == 5 {
				d += time.Duration(n[4]) * time.Millisecond
			}
			return TimeSpan(d), nil
		}
		return nil, throw("ArgumentException", "TimeSpan has no constructor taking %d arguments", len(args))
	}
	tsv := func(recv any) (time.Duration, error) { v, err := recvAs[TimeSpan](recv); return time.Duration(v), err }
	tpart := func(name string, ret *typeInfo, f func(d time.Duration) any) {
		ts.prop(name, ret, func(e *env, recv any) (any, error) {
			v, err := tsv(recv)
			if err != nil {
				return nil, err
			}
			return f(v), nil
		})
	}
	tpart("TotalMilliseconds", r.double, func(d time.Duration) any { return float64(d) / float64(time.Millisecond) })
	tpart("TotalSeconds", r.double, func(d time.Duration) any { return d.Seconds() })
	tpart("TotalMinutes", r.double, func(d time.Duration) any { return d.Minutes() })
	tpart("TotalHours", r.double, func(d time.Duration) any { return d.Hours() })
	tpart("TotalDays", r.double, func(d time.Duration) any { return d.Hours() / 24 })
	tpart("Milliseconds", r.integer, func(d time.Duration) any { return int(d/time.Millisecond) % 1000 })
	tpart("Seconds", r.integer, func(d time.Duration) any { return int(d/time.Second) % 60 })
	tpart("Minutes", r.integer, func(d time.Duration) any { return int(d/time.Minute) % 60 })
	tpart("Hours", r.integer, func(d time.Duration) any { return int(d/time.Hour) % 24 })
	tpart("Days", r.integer, func(d time.Duration) any { return int(d / (24 * time.Hour)) })
	tpart("Ticks", r.long, func(d time.Duration) any { return int64(d / 100) })
	ts.meth("Add", 1, 1, ts, func(e *env, recv any, args []any) (any, error) { return arith("+", recv, args[0]) })
	ts.meth("Subtract", 1, 1, ts, func(e *env, recv any, args []any) (any, error) { return arith("-", recv, args[0]) })
	ts.meth("Negate", 0, 0, ts, func(e *env, recv any, args []any) (any, error) { v, err := tsv(recv); return TimeSpan(-v), err })
	ts.meth("Duration", 0, 0, ts, func(e *env, recv any, args []any) (any, error) {
		v, err := tsv(recv)
		if v < 0 {
			v = -v
		}
		return TimeSpan(v), err
	})

	// Guid
	g := r.guid
	g.valueType, g.zero = true, Guid{}
	g.is = func(v any) bool { _, ok := v.(Guid); return ok }
	g.convert = func(v any) (any, bool) { x, ok := v.(Guid); return x, ok }
	g.smeth("NewGuid", 0, 0, g, func(e *env, args []any) (any, error) {
		var b Guid
		for i := 0; i < 16; i += 8 {
			n := rand.Uint64()
			for j := range 8 {
				b[i+j] = byte(n >> (8 * j))
			}
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return b, nil
	})
	g.sprop("Empty", g, func(*env) (any, error) { return Guid{}, nil })
	parseGuid := func(s string) (Guid, bool) {
		s = strings.Trim(strings.TrimSpace(s), "{}()")
		s = strings.ReplaceAll(s, "-", "")
		var out Guid
		if len(s) != 32 {
			return out, false
		}
		for i := range 16 {
			n, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
			if err != nil {
				return out, false
			}
			out[i] = byte(n)
		}
		return out, true
	}
	g.smeth("Parse", 1, 1, g, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		v, ok := parseGuid(s)
		if !ok {
			return nil, throw("FormatException", "the string is not a GUID")
		}
		return v, nil
	})
	g.smeth("TryParse", 2, 2, r.boolean, func(e *env, args []any) (any, error) {
		out, _ := args[1].(*outRef)
		s, _ := args[0].(string)
		v, ok := parseGuid(s)
		out.set(e, v)
		return ok, nil
	})
	g.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		if len(args) == 0 {
			return Guid{}, nil
		}
		if b, ok := args[0].([]byte); ok {
			if len(b) != 16 {
				return nil, throw("ArgumentException", "a Guid needs 16 bytes")
			}
			// the inverse of ToByteArray: the first three groups are little-endian
			var v Guid
			copy(v[:], b)
			v[0], v[1], v[2], v[3] = b[3], b[2], b[1], b[0]
			v[4], v[5] = b[5], b[4]
			v[6], v[7] = b[7], b[6]
			return v, nil
		}
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		v, ok := parseGuid(s)
		if !ok {
			return nil, throw("FormatException", "the string is not a GUID")
		}
		return v, nil
	}
	g.meth("ToByteArray", 0, 0, r.bytes, func(e *env, recv any, args []any) (any, error) {
		v, err := recvAs[Guid](recv)
		if err != nil {
			return nil, err
		}
		// .NET stores the first three groups little-endian
		b := v
		b[0], b[1], b[2], b[3] = v[3], v[2], v[1], v[0]
		b[4], b[5] = v[5], v[4]
		b[6], b[7] = v[7], v[6]
		return b[:], nil
	})

	// Random
	rnd := r.random
	rnd.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		if len(args) > 0 {
			seed, ok := toInt64(args[0])
			if !ok {
				return nil, invalidCast(args[0], "int")
			}
			return rand.New(rand.NewPCG(uint64(seed), 0)), nil
		}
		return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), nil
	}
	rnd.meth("Next", 0, 2, r.integer, func(e *env, recv any, args []any) (any, error) {
		rg, err := recvAs[*rand.Rand](recv)
		if err != nil {
			return nil, err
		}
		lo, hi := 0, math.MaxInt32
		switch len(args) {
		case 1:
			if hi, err = iarg(args, 0); err != nil {
				return nil, err
			}
		case 2:
			if lo, err = iarg(args, 0); err != nil {
				return nil, err
			}
			if hi, err = iarg(args, 1); err != nil {
				return nil, err
			}
		}
		if hi < lo {
			return nil, throw("ArgumentOutOfRangeException", "minValue is greater than maxValue")
		}
		if hi == lo {
			return lo, nil
		}
		return lo + rg.IntN(hi-lo), nil
	})
	rnd.meth("NextDouble", 0, 0, r.double, func(e *env, recv any, args []any) (any, error) {
		rg, err := recvAs[*rand.Rand](recv)
		if err != nil {
			return nil, err
		}
		return rg.Float64(), nil
	})
}
