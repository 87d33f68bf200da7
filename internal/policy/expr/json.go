package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JObject is Newtonsoft's JObject: properties in document order.
type JObject struct {
	keys []string
	vals map[string]any // values are JSON tokens (*JObject, *JArray, *JValue)
}

// JArray is Newtonsoft's JArray.
type JArray struct {
	Items []any
}

// JValue is a JSON primitive: string, int64, float64, bool or nil.
type JValue struct {
	V any
}

// JProperty is a name and a JSON token.
type JProperty struct {
	Name  string
	Value any
	// parent is the object the property was read from, so that Remove can take it out; nil
	// for a property made with new JProperty(...).
	parent *JObject
}

func newJObject() *JObject { return &JObject{vals: map[string]any{}} }

func (o *JObject) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

func (o *JObject) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *JObject) remove(k string) bool {
	if _, ok := o.vals[k]; !ok {
		return false
	}
	delete(o.vals, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
			break
		}
	}
	return true
}

func (o *JObject) String() string   { return jsonText(o, true) }
func (a *JArray) String() string    { return jsonText(a, true) }
func (p *JProperty) String() string { return jsonText(p, true) }
func (v *JValue) String() string {
	if s, ok := v.V.(string); ok {
		return s
	}
	return toStr(v.V)
}

// toJToken converts an expression value to a JSON token, as JToken.FromObject does.
func toJToken(e *env, v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return &JValue{}, nil
	case *JObject, *JArray, *JValue:
		return x, nil
	case *JProperty:
		o := newJObject()
		o.set(x.Name, x.Value)
		return o, nil
	case string:
		return &JValue{V: x}, nil
	case bool:
		return &JValue{V: x}, nil
	case int:
		return &JValue{V: int64(x)}, nil
	case int64:
		return &JValue{V: x}, nil
	case float64:
		return &JValue{V: x}, nil
	case Char:
		return &JValue{V: string(rune(x))}, nil
	case DateTime:
		return &JValue{V: formatDateTime(x, "o")}, nil
	case TimeSpan, Guid:
		return &JValue{V: toStr(x)}, nil
	case []string:
		a := &JArray{Items: make([]any, len(x))}
		for i, s := range x {
			a.Items[i] = &JValue{V: s}
		}
		return a, nil
	case []byte:
		return &JValue{V: base64Std(x)}, nil
	case map[string]any:
		o := newJObject()
		for _, k := range sortedKeys(x) {
			t, err := toJToken(e, x[k])
			if err != nil {
				return nil, err
			}
			o.set(k, t)
		}
		return o, nil
	case *Dict:
		o := newJObject()
		for _, k := range x.keys {
			t, err := toJToken(e, x.vals[k])
			if err != nil {
				return nil, err
			}
			o.set(toStr(k), t)
		}
		return o, nil
	}
	if isEnumerable(v) {
		a := &JArray{}
		err := each(e, v, func(item any) (bool, error) {
			t, err := toJToken(e, item)
			if err != nil {
				return false, err
			}
			a.Items = append(a.Items, t)
			return true, nil
		})
		return a, err
	}
	return &JValue{V: toStr(v)}, nil
}

// fromJValue unwraps a JSON primitive to the expression value it stands for.
func fromJValue(v any) any {
	if j, ok := v.(*JValue); ok {
		return j.V
	}
	return v
}

// ---- parsing

type jsonParser struct {
	s     string
	i     int
	depth int
}

func (p *jsonParser) fail(format string, args ...any) error {
	return throw("JsonReaderException", "%s at position %d", fmt.Sprintf(format, args...), p.i)
}

func parseJSON(s string) (any, error) {
	p := &jsonParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i < len(p.s) {
		return nil, p.fail("additional text after the JSON value")
	}
	return v, nil
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, error) {
	p.ws()
	if p.i >= len(p.s) {
		return nil, p.fail("unexpected end of JSON")
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 128 {
		return nil, p.fail("JSON nested too deeply")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		o := newJObject()
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return o, nil
		}
		for {
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != '"' {
				return nil, p.fail("expected a property name")
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, p.fail("expected ':'")
			}
			p.i++
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			o.set(k, v)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return o, nil
			}
			return nil, p.fail("expected ',' or '}'")
		}
	case c == '[':
		p.i++
		a := &JArray{}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return a, nil
		}
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			a.Items = append(a.Items, v)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == ']' {
				p.i++
				return a, nil
			}
			return nil, p.fail("expected ',' or ']'")
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &JValue{V: s}, nil
	case c == 't' && strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		return &JValue{V: true}, nil
	case c == 'f' && strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		return &JValue{V: false}, nil
	case c == 'n' && strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		return &JValue{}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		j := p.i
		if p.s[j] == '-' {
			j++
		}
		isFloat := false
		for j < len(p.s) && strings.IndexByte("0123456789.eE+-", p.s[j]) >= 0 {
			if p.s[j] == '.' || p.s[j] == 'e' || p.s[j] == 'E' {
				isFloat = true
			}
			j++
		}
		text := p.s[p.i:j]
		if !isFloat {
			if n, err := strconv.ParseInt(text, 10, 64); err == nil {
				p.i = j
				return &JValue{V: n}, nil
			}
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, p.fail("bad number")
		}
		p.i = j
		return &JValue{V: f}, nil
	}
	return nil, p.fail("unexpected character %q", p.s[p.i])
}

func (p *jsonParser) str() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", p.fail("bad escape")
			}
			p.i++
			switch e := p.s[p.i]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if p.i+4 >= len(p.s) {
					return "", p.fail("bad escape")
				}
				n, err := strconv.ParseUint(p.s[p.i+1:p.i+5], 16, 32)
				if err != nil {
					return "", p.fail("bad escape")
				}
				p.i += 4
				r := rune(n)
				if utf16.IsSurrogate(r) && p.i+6 < len(p.s) && p.s[p.i+1] == '\\' && p.s[p.i+2] == 'u' {
					if m, err := strconv.ParseUint(p.s[p.i+3:p.i+7], 16, 32); err == nil {
						r = utf16.DecodeRune(r, rune(m))
						p.i += 6
					}
				}
				b.WriteRune(r)
			default:
				return "", p.fail("bad escape")
			}
			p.i++
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.fail("string is not closed")
}

// ---- writing, as Newtonsoft does (indented: two spaces, "name": value)

func jsonText(v any, indent bool) string {
	var b strings.Builder
	writeJSON(&b, v, indent, 0)
	return b.String()
}

func writeJSON(b *strings.Builder, v any, indent bool, depth int) {
	nl := func(d int) {
		if indent {
			b.WriteByte('\n')
			for range d {
				b.WriteString("  ")
			}
		}
	}
	switch x := v.(type) {
	case *JObject:
		if len(x.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(depth + 1)
			writeJSONString(b, k)
			b.WriteByte(':')
			if indent {
				b.WriteByte(' ')
			}
			writeJSON(b, x.vals[k], indent, depth+1)
		}
		nl(depth)
		b.WriteByte('}')
	case *JArray:
		if len(x.Items) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		for i, it := range x.Items {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(depth + 1)
			writeJSON(b, it, indent, depth+1)
		}
		nl(depth)
		b.WriteByte(']')
	case *JProperty:
		writeJSONString(b, x.Name)
		b.WriteByte(':')
		if indent {
			b.WriteByte(' ')
		}
		writeJSON(b, x.Value, indent, depth)
	case *JValue:
		writeJSON(b, x.V, indent, depth)
	case nil:
		b.WriteString("null")
	case string:
		writeJSONString(b, x)
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			writeJSONString(b, formatDouble(x))
			return
		}
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if math.Abs(x) >= 1e15 || (x != 0 && math.Abs(x) < 1e-5) {
			s = strconv.FormatFloat(x, 'E', -1, 64)
		} else if !strings.Contains(s, ".") {
			s += ".0"
		}
		b.WriteString(s)
	default:
		writeJSONString(b, toStr(x))
	}
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x85 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	b.WriteByte('"')
}

// selectToken follows a simple JSONPath ("a.b[0].c", "$.a", "['a b']").
func selectToken(root any, path string) (any, error) {
	cur := root
	p := strings.TrimPrefix(path, "$")
	for len(p) > 0 {
		switch {
		case p[0] == '.':
			p = p[1:]
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, throw("JsonException", "bad path %q", path)
			}
			key := p[1:end]
			p = p[end+1:]
			if len(key) >= 2 && (key[0] == '\'' || key[0] == '"') {
				o, ok := cur.(*JObject)
				if !ok {
					return nil, nil
				}
				cur, _ = o.get(key[1 : len(key)-1])
				continue
			}
			n, err := strconv.Atoi(key)
			if err != nil {
				return nil, throw("JsonException", "bad path %q", path)
			}
			a, ok := cur.(*JArray)
			if !ok || n < 0 || n >= len(a.Items) {
				return nil, nil
			}
			cur = a.Items[n]
			continue
		}
		end := strings.IndexAny(p, ".[")
		if end < 0 {
			end = len(p)
		}
		key := p[:end]
		p = p[end:]
		o, ok := cur.(*JObject)
		if !ok {
			return nil, nil
		}
		var found bool
		if cur, found = o.get(key); !found {
			return nil, nil
		}
	}
	return cur, nil
}

// jtokenType is Newtonsoft's JTokenType.
func jtokenType(v any) string {
	switch x := v.(type) {
	case *JObject:
		return "Object"
	case *JArray:
		return "Array"
	case *JProperty:
		return "Property"
	case *JValue:
		switch x.V.(type) {
		case nil:
			return "Null"
		case string:
			return "String"
		case int64:
			return "Integer"
		case float64:
			return "Float"
		case bool:
			return "Boolean"
		}
	}
	return "None"
}
