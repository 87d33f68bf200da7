package expr

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"html"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

type encodingVal struct{ name string }

type hasher struct {
	newHash func() hash.Hash
	key     []byte // HMAC key; nil for a plain hash
}

type stringBuilder struct{ b strings.Builder }

func (s *stringBuilder) String() string { return s.b.String() }

// Uri is System.Uri.
type Uri struct {
	u        *url.URL
	original string
}

func (u *Uri) String() string { return u.u.String() }

func parseUri(s string) (*Uri, error) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" && u.Scheme != "file" {
		return nil, throw("UriFormatException", "invalid URI: the format of the URI could not be determined")
	}
	return &Uri{u: u, original: s}, nil
}

func (r *registry) buildStatics() {
	mk := func(name string, aliases ...string) *typeInfo {
		t := newType(name)
		t.static = true
		r.alias(t, name)
		r.alias(t, aliases...)
		return t
	}

	// string's static members
	s := r.str
	s.sprop("Empty", s, func(*env) (any, error) { return "", nil })
	s.smeth("IsNullOrEmpty", 1, 1, r.boolean, func(e *env, args []any) (any, error) {
		v, ok := args[0].(string)
		if !ok && args[0] != nil {
			return nil, invalidCast(args[0], "string")
		}
		return !ok || v == "", nil
	})
	s.smeth("IsNullOrWhiteSpace", 1, 1, r.boolean, func(e *env, args []any) (any, error) {
		v, ok := args[0].(string)
		if !ok && args[0] != nil {
			return nil, invalidCast(args[0], "string")
		}
		return strings.TrimSpace(v) == "", nil
	})
	s.smeth("Join", 2, -1, s, func(e *env, args []any) (any, error) {
		var sep string
		switch x := args[0].(type) {
		case Char:
			sep = string(rune(x))
		case nil:
		default:
			var err error
			if sep, err = sarg(args, 0); err != nil {
				return nil, err
			}
		}
		items := args[1:]
		if len(items) == 1 && isEnumerable(items[0]) {
			if _, isStr := items[0].(string); !isStr {
				var err error
				if items, err = toSlice(e, items[0]); err != nil {
					return nil, err
				}
			}
		}
		var b strings.Builder
		for i, it := range items {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(toStr(it))
			if err := e.charge(b.Len() / 8); err != nil {
				return nil, err
			}
		}
		return b.String(), e.charge(b.Len())
	})
	s.smeth("Concat", 1, -1, s, func(e *env, args []any) (any, error) {
		items := args
		if len(items) == 1 && isEnumerable(items[0]) {
			if _, isStr := items[0].(string); !isStr {
				var err error
				if items, err = toSlice(e, items[0]); err != nil {
					return nil, err
				}
			}
		}
		var b strings.Builder
		for _, it := range items {
			b.WriteString(toStr(it))
		}
		return b.String(), e.charge(b.Len())
	})
	s.smeth("Format", 1, -1, s, func(e *env, args []any) (any, error) {
		f, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		vals := args[1:]
		if len(vals) == 1 {
			if a, ok := vals[0].([]any); ok {
				vals = a
			}
		}
		out, err := dotnetFormat(f, vals)
		if err != nil {
			return nil, err
		}
		return out, e.charge(len(out))
	})
	s.smeth("Equals", 2, 3, r.boolean, func(e *env, args []any) (any, error) {
		a, aok := args[0].(string)
		b, bok := args[1].(string)
		if !aok || !bok {
			return args[0] == nil && args[1] == nil, nil
		}
		if ignoreCase(args, 2) {
			return strings.EqualFold(a, b), nil
		}
		return a == b, nil
	})
	s.smeth("Compare", 2, 3, r.integer, func(e *env, args []any) (any, error) {
		a, _ := args[0].(string)
		b, _ := args[1].(string)
		if ignoreCase(args, 2) {
			a, b = strings.ToLower(a), strings.ToLower(b)
		}
		return strings.Compare(a, b), nil
	})
	s.smeth("CompareOrdinal", 2, 2, r.integer, func(e *env, args []any) (any, error) {
		a, _ := args[0].(string)
		b, _ := args[1].(string)
		return strings.Compare(a, b), nil
	})
	s.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		switch len(args) {
		case 1:
			cs, err := charSet(args[0])
			return cs, err
		case 2:
			c, ok := args[0].(Char)
			if !ok {
				return nil, invalidCast(args[0], "char")
			}
			n, err := iarg(args, 1)
			if err != nil {
				return nil, err
			}
			if n < 0 {
				return nil, throw("ArgumentOutOfRangeException", "count is negative")
			}
			if err := e.charge(n); err != nil {
				return nil, err
			}
			return strings.Repeat(string(rune(c)), n), nil
		}
		return nil, throw("ArgumentException", "string has no constructor taking %d arguments", len(args))
	}

	// enums
	enumValues(mk("StringComparison", "System.StringComparison"), "StringComparison", "CurrentCulture",
		"CurrentCultureIgnoreCase", "InvariantCulture", "InvariantCultureIgnoreCase", "Ordinal", "OrdinalIgnoreCase")
	r.stringComparison = r.types["StringComparison"]
	flagValues(mk("StringSplitOptions", "System.StringSplitOptions"), "StringSplitOptions",
		map[string]int{"None": 0, "RemoveEmptyEntries": 1, "TrimEntries": 2})
	flagValues(mk("RegexOptions", "System.Text.RegularExpressions.RegexOptions"), "RegexOptions",
		map[string]int{"None": 0, "IgnoreCase": 1, "Multiline": 2, "ExplicitCapture": 4, "Compiled": 8,
			"Singleline": 16, "IgnorePatternWhitespace": 32, "RightToLeft": 64, "ECMAScript": 256, "CultureInvariant": 512})
	enumValues(mk("UriKind", "System.UriKind"), "UriKind", "RelativeOrAbsolute", "Absolute", "Relative")
	enumValues(mk("DateTimeKind", "System.DateTimeKind"), "DateTimeKind", "Unspecified", "Utc", "Local")
	enumValues(mk("DayOfWeek", "System.DayOfWeek"), "DayOfWeek", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
	enumValues(mk("MidpointRounding", "System.MidpointRounding"), "MidpointRounding", "ToEven", "AwayFromZero")
	enumValues(mk("CultureInfo", "System.Globalization.CultureInfo"), "CultureInfo", "InvariantCulture", "CurrentCulture")
	enumValues(mk("DateTimeStyles", "System.Globalization.DateTimeStyles"), "DateTimeStyles", "None", "AdjustToUniversal", "AssumeUniversal")
	enumValues(mk("NumberStyles", "System.Globalization.NumberStyles"), "NumberStyles", "None", "Integer", "Any", "HexNumber")

	// Convert
	cv := mk("Convert", "System.Convert")
	cv.smeth("ToBase64String", 1, 3, r.str, func(e *env, args []any) (any, error) {
		b, err := bytesArg(args, 0)
		if err != nil {
			return nil, err
		}
		if len(args) == 3 {
			off, err := iarg(args, 1)
			if err != nil {
				return nil, err
			}
			n, err := iarg(args, 2)
			if err != nil {
				return nil, err
			}
			if off < 0 || n < 0 || off+n > len(b) {
				return nil, throw("ArgumentOutOfRangeException", "offset and length are outside the array")
			}
			b = b[off : off+n]
		}
		out := base64.StdEncoding.EncodeToString(b)
		return out, e.charge(len(out))
	})
	cv.smeth("FromBase64String", 1, 1, r.bytes, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, throw("FormatException", "the input is not a valid Base-64 string")
		}
		return b, e.charge(len(b))
	})
	toNum := func(name string, t *typeInfo) {
		cv.smeth(name, 1, 2, t, func(e *env, args []any) (any, error) {
			v := fromJValue(args[0])
			if v == nil {
				return t.zero, nil
			}
			if str, ok := v.(string); ok {
				if len(args) == 2 && t != r.str && t != r.boolean && t != r.double {
					base, err := iarg(args, 1)
					if err != nil {
						return nil, err
					}
					n, perr := strconv.ParseInt(strings.TrimPrefix(strings.ToLower(str), "0x"), base, 64)
					if perr != nil {
						return nil, throw("FormatException", "the input string was not in a correct format")
					}
					return castValue(t, n, false, t.name)
				}
				m := t.smethods["Parse"]
				return m.call(e, nil, []any{str}, nil)
			}
			if t == r.integer || t == r.long {
				if f, ok := v.(float64); ok {
					v = math.RoundToEven(f)
				}
			}
			if b, ok := v.(bool); ok && t != r.boolean {
				if b {
					v = 1
				} else {
					v = 0
				}
			}
			if t == r.boolean {
				if n, ok := toFloat(v); ok {
					return n != 0, nil
				}
			}
			out, ok := t.convert(v)
			if !ok {
				return nil, invalidCast(v, t.name)
			}
			return out, nil
		})
	}
	toNum("ToInt32", r.integer)
	toNum("ToInt16", r.integer)
	toNum("ToInt64", r.long)
	toNum("ToDouble", r.double)
	toNum("ToDecimal", r.double)
	toNum("ToSingle", r.double)
	toNum("ToBoolean", r.boolean)
	cv.smeth("ToString", 1, 2, r.str, func(e *env, args []any) (any, error) {
		if len(args) == 2 {
			if n, ok := toInt64(args[0]); ok {
				base, err := iarg(args, 1)
				if err != nil {
					return nil, err
				}
				if base != 2 && base != 8 && base != 10 && base != 16 {
					return nil, throw("ArgumentException", "invalid base")
				}
				return strconv.FormatInt(n, base), nil
			}
		}
		return toStr(args[0]), nil
	})
	cv.smeth("ToDateTime", 1, 2, r.dateTime, func(e *env, args []any) (any, error) {
		switch x := args[0].(type) {
		case DateTime:
			return x, nil
		case string:
			return parseDateTime(x)
		}
		return nil, invalidCast(args[0], "DateTime")
	})
	cv.smeth("ToHexString", 1, 1, r.str, func(e *env, args []any) (any, error) {
		b, err := bytesArg(args, 0)
		return strings.ToUpper(hex.EncodeToString(b)), err
	})
	cv.smeth("FromHexString", 1, 1, r.bytes, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		b, herr := hex.DecodeString(s)
		if herr != nil {
			return nil, throw("FormatException", "the input is not a valid hex string")
		}
		return b, nil
	})

	// Encoding
	enc := mk("Encoding", "System.Text.Encoding")
	r.encoding = newType("Encoding")
	for _, n := range []string{"UTF8", "ASCII", "Unicode", "Default", "UTF32", "Latin1"} {
		v := &encodingVal{name: n}
		enc.sprop(n, r.encoding, func(*env) (any, error) { return v, nil })
	}
	r.encoding.meth("GetBytes", 1, 1, r.bytes, func(e *env, recv any, args []any) (any, error) {
		en, err := recvAs[*encodingVal](recv)
		if err != nil {
			return nil, err
		}
		str, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if err := e.charge(len(str) * 2); err != nil {
			return nil, err
		}
		return encode(en.name, str), nil
	})
	r.encoding.meth("GetString", 1, 3, r.str, func(e *env, recv any, args []any) (any, error) {
		en, err := recvAs[*encodingVal](recv)
		if err != nil {
			return nil, err
		}
		b, err := bytesArg(args, 0)
		if err != nil {
			return nil, err
		}
		if len(args) == 3 {
			off, err := iarg(args, 1)
			if err != nil {
				return nil, err
			}
			n, err := iarg(args, 2)
			if err != nil {
				return nil, err
			}
			if off < 0 || n < 0 || off+n > len(b) {
				return nil, throw("ArgumentOutOfRangeException", "index and count are outside the array")
			}
			b = b[off : off+n]
		}
		if err := e.charge(len(b)); err != nil {
			return nil, err
		}
		return decode(en.name, b), nil
	})
	r.encoding.meth("GetByteCount", 1, 1, r.integer, func(e *env, recv any, args []any) (any, error) {
		en, err := recvAs[*encodingVal](recv)
		if err != nil {
			return nil, err
		}
		str, err := sarg(args, 0)
		return len(encode(en.name, str)), err
	})

	// Math
	m := mk("Math", "System.Math")
	m.sprop("PI", r.double, func(*env) (any, error) { return math.Pi, nil })
	m.sprop("E", r.double, func(*env) (any, error) { return math.E, nil })
	unary := func(name string, f func(float64) float64) {
		m.smeth(name, 1, 1, r.double, func(e *env, args []any) (any, error) {
			x, err := farg(args, 0)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	unary("Sqrt", math.Sqrt)
	unary("Log10", math.Log10)
	unary("Exp", math.Exp)
	unary("Sin", math.Sin)
	unary("Cos", math.Cos)
	unary("Tan", math.Tan)
	unary("Atan", math.Atan)
	m.smeth("Log", 1, 2, r.double, func(e *env, args []any) (any, error) {
		x, err := farg(args, 0)
		if err != nil {
			return nil, err
		}
		if len(args) == 2 {
			b, err := farg(args, 1)
			if err != nil {
				return nil, err
			}
			return math.Log(x) / math.Log(b), nil
		}
		return math.Log(x), nil
	})
	m.smeth("Pow", 2, 2, r.double, func(e *env, args []any) (any, error) {
		x, err := farg(args, 0)
		if err != nil {
			return nil, err
		}
		y, err := farg(args, 1)
		return math.Pow(x, y), err
	})
	keepType := func(name string, fi func(int64) int64, ff func(float64) float64) {
		m.smeth(name, 1, 1, nil, func(e *env, args []any) (any, error) {
			switch x := fromJValue(args[0]).(type) {
			case int:
				return int(fi(int64(x))), nil
			case int64:
				return fi(x), nil
			}
			f, err := farg(args, 0)
			return ff(f), err
		})
	}
	keepType("Abs", abs64, math.Abs)
	keepType("Floor", func(i int64) int64 { return i }, math.Floor)
	keepType("Ceiling", func(i int64) int64 { return i }, math.Ceil)
	keepType("Truncate", func(i int64) int64 { return i }, math.Trunc)
	m.smeth("Sign", 1, 1, r.integer, func(e *env, args []any) (any, error) {
		f, err := farg(args, 0)
		switch {
		case f > 0:
			return 1, err
		case f < 0:
			return -1, err
		}
		return 0, err
	})
	m.smeth("Round", 1, 3, r.double, func(e *env, args []any) (any, error) {
		x, err := farg(args, 0)
		if err != nil {
			return nil, err
		}
		digits, away := 0, false
		for _, a := range args[1:] {
			switch v := a.(type) {
			case int:
				digits = v
			case Enum:
				away = v.Name == "AwayFromZero"
			}
		}
		if digits < 0 || digits > 15 {
			return nil, throw("ArgumentOutOfRangeException", "digits must be between 0 and 15")
		}
		p := math.Pow(10, float64(digits))
		var out float64
		if away {
			out = math.Round(x*p) / p
		} else {
			out = math.RoundToEven(x*p) / p
		}
		if _, isInt := args[0].(int); isInt {
			return args[0], nil
		}
		return out, nil
	})
	minmax := func(name string, pickFirst func(c int) bool) {
		m.smeth(name, 2, 2, nil, func(e *env, args []any) (any, error) {
			c, ok := compare(args[0], args[1])
			if !ok {
				return nil, throw("ArgumentException", "Math.%s needs two numbers", name)
			}
			k := numKind(fromJValue(args[0]), fromJValue(args[1]))
			pick := args[1]
			if pickFirst(c) {
				pick = args[0]
			}
			switch k {
			case 2:
				f, _ := toFloat(pick)
				return f, nil
			case 1:
				n, _ := toInt64(pick)
				return n, nil
			}
			return fromJValue(pick), nil
		})
	}
	minmax("Max", func(c int) bool { return c >= 0 })
	minmax("Min", func(c int) bool { return c <= 0 })

	// BitConverter
	bc := mk("BitConverter", "System.BitConverter")
	bc.smeth("ToString", 1, 3, r.str, func(e *env, args []any) (any, error) {
		b, err := bytesArg(args, 0)
		if err != nil {
			return nil, err
		}
		h := strings.ToUpper(hex.EncodeToString(b))
		var out strings.Builder
		for i := 0; i < len(h); i += 2 {
			if i > 0 {
				out.WriteByte('-')
			}
			out.WriteString(h[i : i+2])
		}
		return out.String(), e.charge(out.Len())
	})
	bc.smeth("GetBytes", 1, 1, r.bytes, func(e *env, args []any) (any, error) {
		switch x := args[0].(type) {
		case int:
			return []byte{byte(x), byte(x >> 8), byte(x >> 16), byte(x >> 24)}, nil
		case int64:
			out := make([]byte, 8)
			for i := range 8 {
				out[i] = byte(x >> (8 * i))
			}
			return out, nil
		case bool:
			if x {
				return []byte{1}, nil
			}
			return []byte{0}, nil
		}
		return nil, invalidCast(args[0], "int")
	})

	// WebUtility / Uri
	wu := mk("WebUtility", "System.Net.WebUtility")
	wu.smeth("UrlEncode", 1, 1, r.str, func(e *env, args []any) (any, error) {
		if args[0] == nil {
			return nil, nil
		}
		s, err := sarg(args, 0)
		return url.QueryEscape(s), err
	})
	wu.smeth("UrlDecode", 1, 1, r.str, func(e *env, args []any) (any, error) {
		if args[0] == nil {
			return nil, nil
		}
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		out, uerr := url.QueryUnescape(s)
		if uerr != nil {
			return s, nil
		}
		return out, nil
	})
	wu.smeth("HtmlEncode", 1, 1, r.str, func(e *env, args []any) (any, error) {
		if args[0] == nil {
			return nil, nil
		}
		s, err := sarg(args, 0)
		return html.EscapeString(s), err
	})
	wu.smeth("HtmlDecode", 1, 1, r.str, func(e *env, args []any) (any, error) {
		if args[0] == nil {
			return nil, nil
		}
		s, err := sarg(args, 0)
		return html.UnescapeString(s), err
	})
	r.uri = newType("Uri")
	r.alias(r.uri, "Uri", "System.Uri")
	u := r.uri
	u.smeth("EscapeDataString", 1, 1, r.str, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		return escapeData(s), e.charge(len(s) * 3)
	})
	u.smeth("EscapeUriString", 1, 1, r.str, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		return (&url.URL{Path: s}).EscapedPath(), e.charge(len(s) * 3)
	})
	u.smeth("UnescapeDataString", 1, 1, r.str, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		out, uerr := url.PathUnescape(s)
		if uerr != nil {
			return s, nil
		}
		return out, nil
	})
	u.smeth("IsWellFormedUriString", 2, 2, r.boolean, func(e *env, args []any) (any, error) {
		s, _ := args[0].(string)
		kind, _ := args[1].(Enum)
		pu, err := url.Parse(s)
		if err != nil || strings.ContainsAny(s, " \\") {
			return false, nil
		}
		switch kind.Name {
		case "Absolute":
			return pu.IsAbs() && pu.Host != "", nil
		case "Relative":
			return !pu.IsAbs(), nil
		}
		return true, nil
	})
	u.smeth("TryCreate", 3, 3, r.boolean, func(e *env, args []any) (any, error) {
		out, _ := args[2].(*outRef)
		s, _ := args[0].(string)
		v, err := parseUri(s)
		if err != nil {
			out.set(e, nil)
			return false, nil
		}
		out.set(e, v)
		return true, nil
	})
	u.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		if len(args) == 2 {
			base, ok := args[0].(*Uri)
			if !ok {
				return nil, invalidCast(args[0], "Uri")
			}
			rel, err := sarg(args, 1)
			if err != nil {
				return nil, err
			}
			ref, perr := url.Parse(rel)
			if perr != nil {
				return nil, throw("UriFormatException", "invalid relative URI")
			}
			res := base.u.ResolveReference(ref)
			return &Uri{u: res, original: res.String()}, nil
		}
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		return parseUri(s)
	}
	uf := func(name string, ret *typeInfo, f func(x *Uri) any) {
		u.prop(name, ret, func(e *env, recv any) (any, error) {
			x, err := recvAs[*Uri](recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	uf("Scheme", r.str, func(x *Uri) any { return x.u.Scheme })
	uf("Host", r.str, func(x *Uri) any { return x.u.Hostname() })
	uf("Port", r.integer, func(x *Uri) any {
		if p := x.u.Port(); p != "" {
			n, _ := strconv.Atoi(p)
			return n
		}
		switch x.u.Scheme {
		case "https":
			return 443
		case "http":
			return 80
		}
		return -1
	})
	uf("AbsolutePath", r.str, func(x *Uri) any {
		if p := x.u.EscapedPath(); p != "" {
			return p
		}
		return "/"
	})
	uf("AbsoluteUri", r.str, func(x *Uri) any { return x.u.String() })
	uf("OriginalString", r.str, func(x *Uri) any { return x.original })
	uf("Authority", r.str, func(x *Uri) any { return x.u.Host })
	uf("Query", r.str, func(x *Uri) any {
		if x.u.RawQuery == "" {
			return ""
		}
		return "?" + x.u.RawQuery
	})
	uf("Fragment", r.str, func(x *Uri) any {
		if x.u.Fragment == "" {
			return ""
		}
		return "#" + x.u.EscapedFragment()
	})
	uf("PathAndQuery", r.str, func(x *Uri) any {
		p := x.u.EscapedPath()
		if p == "" {
			p = "/"
		}
		if x.u.RawQuery != "" {
			p += "?" + x.u.RawQuery
		}
		return p
	})
	uf("IsAbsoluteUri", r.boolean, func(x *Uri) any { return x.u.IsAbs() })
	uf("UserInfo", r.str, func(x *Uri) any { return x.u.User.String() })
	uf("Segments", r.strings, func(x *Uri) any {
		p := x.u.EscapedPath()
		if p == "" {
			p = "/"
		}
		var out []string
		for p != "" {
			i := strings.IndexByte(p, '/')
			if i < 0 {
				out = append(out, p)
				break
			}
			out = append(out, p[:i+1])
			p = p[i+1:]
		}
		return out
	})

	// Regex
	r.buildRegex()

	// Cryptography
	r.hash = newType("HashAlgorithm")
	hashes := map[string]func() hash.Hash{
		"SHA256": sha256.New, "SHA1": sha1.New, "SHA384": sha512.New384, "SHA512": sha512.New, "MD5": md5.New,
	}
	for name, h := range hashes {
		t := mk(name, "System.Security.Cryptography."+name, name+"Managed", name+"CryptoServiceProvider")
		hf := h
		t.smeth("Create", 0, 0, r.hash, func(e *env, args []any) (any, error) { return &hasher{newHash: hf}, nil })
		t.smeth("HashData", 1, 1, r.bytes, func(e *env, args []any) (any, error) {
			b, err := bytesArg(args, 0)
			if err != nil {
				return nil, err
			}
			x := hf()
			x.Write(b)
			return x.Sum(nil), nil
		})
		t.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) { return &hasher{newHash: hf}, nil }
		ht := mk("HMAC"+name, "System.Security.Cryptography.HMAC"+name)
		ht.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
			key := []byte{}
			if len(args) > 0 {
				var err error
				if key, err = bytesArg(args, 0); err != nil {
					return nil, err
				}
			}
			return &hasher{newHash: hf, key: key}, nil
		}
		ht.setProp["Key"] = func(e *env, recv any, v any) error {
			x, err := recvAs[*hasher](recv)
			if err != nil {
				return err
			}
			if x.key, err = bytesArg([]any{v}, 0); err != nil {
				return err
			}
			return nil
		}
		ht.smeth("HashData", 2, 2, r.bytes, func(e *env, args []any) (any, error) {
			k, err := bytesArg(args, 0)
			if err != nil {
				return nil, err
			}
			b, err := bytesArg(args, 1)
			if err != nil {
				return nil, err
			}
			mac := hmac.New(hf, k)
			mac.Write(b)
			return mac.Sum(nil), nil
		})
	}
	r.hash.meth("ComputeHash", 1, 3, r.bytes, func(e *env, recv any, args []any) (any, error) {
		x, err := recvAs[*hasher](recv)
		if err != nil {
			return nil, err
		}
		b, err := bytesArg(args, 0)
		if err != nil {
			return nil, err
		}
		var h hash.Hash
		if x.key != nil {
			h = hmac.New(x.newHash, x.key)
		} else {
			h = x.newHash()
		}
		h.Write(b)
		return h.Sum(nil), nil
	})
	r.hash.meth("Dispose", 0, 0, nil, func(e *env, recv any, args []any) (any, error) { return nil, nil })
	r.hash.meth("Clear", 0, 0, nil, func(e *env, recv any, args []any) (any, error) { return nil, nil })
	r.hash.prop("Key", r.bytes, func(e *env, recv any) (any, error) {
		x, err := recvAs[*hasher](recv)
		if err != nil {
			return nil, err
		}
		return append([]byte(nil), x.key...), nil
	})
	r.hash.setProp["Key"] = r.types["HMACSHA256"].setProp["Key"]
	for _, n := range []string{"HMACSHA256", "HMACSHA1", "HMACSHA384", "HMACSHA512", "HMACMD5", "SHA256", "SHA1", "SHA384", "SHA512", "MD5"} {
		t := r.types[n]
		t.static = false
		t.methods, t.props = r.hash.methods, r.hash.props
		t.is = func(v any) bool { _, ok := v.(*hasher); return ok }
	}
	rng := mk("RandomNumberGenerator", "System.Security.Cryptography.RandomNumberGenerator")
	rng.smeth("GetBytes", 1, 1, r.bytes, func(e *env, args []any) (any, error) {
		n, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, throw("ArgumentOutOfRangeException", "count is negative")
		}
		if err := e.charge(n); err != nil {
			return nil, err
		}
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b, nil
	})

	// Exceptions, for throw and catch; each name makes exceptions of its own type
	for _, n := range []string{"Exception", "ArgumentException", "ArgumentNullException",
		"InvalidOperationException", "FormatException", "JsonReaderException", "JsonException", "KeyNotFoundException",
		"NullReferenceException", "InvalidCastException", "IndexOutOfRangeException", "ArgumentOutOfRangeException",
		"CryptographicException", "UriFormatException", "OverflowException", "DivideByZeroException", "NotSupportedException",
		"JsonSerializationException", "TimeoutException", "UnauthorizedAccessException", "XmlException"} {
		ex := newType(n)
		r.alias(ex, n, "System."+n)
		name := n
		ex.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
			msg := "an expression threw " + name
			if len(args) > 0 {
				msg = toStr(args[0])
			}
			return &Exception{Type: name, Message: msg}, nil
		}
		ex.is = func(v any) bool { x, ok := v.(*Exception); return ok && (name == "Exception" || x.Type == name) }
		ex.prop("Message", r.str, func(e *env, recv any) (any, error) {
			x, err := recvAs[*Exception](recv)
			if err != nil {
				return nil, err
			}
			return x.Message, nil
		})
	}

	// StringBuilder
	sb := newType("StringBuilder")
	r.alias(sb, "StringBuilder", "System.Text.StringBuilder")
	sb.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		out := &stringBuilder{}
		if len(args) > 0 {
			if s, ok := args[0].(string); ok {
				out.b.WriteString(s)
			}
		}
		return out, nil
	}
	appendTo := func(line bool) func(e *env, recv any, args []any) (any, error) {
		return func(e *env, recv any, args []any) (any, error) {
			x, err := recvAs[*stringBuilder](recv)
			if err != nil {
				return nil, err
			}
			for _, a := range args {
				s := toStr(a)
				if err := e.charge(len(s)); err != nil {
					return nil, err
				}
				x.b.WriteString(s)
			}
			if line {
				x.b.WriteString("\r\n")
			}
			return x, nil
		}
	}
	sb.meth("Append", 1, 1, sb, appendTo(false))
	sb.meth("AppendLine", 0, 1, sb, appendTo(true))
	sb.meth("AppendFormat", 1, -1, sb, func(e *env, recv any, args []any) (any, error) {
		x, err := recvAs[*stringBuilder](recv)
		if err != nil {
			return nil, err
		}
		f, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		s, err := dotnetFormat(f, args[1:])
		if err != nil {
			return nil, err
		}
		if err := e.charge(len(s)); err != nil {
			return nil, err
		}
		x.b.WriteString(s)
		return x, nil
	})
	sb.prop("Length", r.integer, func(e *env, recv any) (any, error) {
		x, err := recvAs[*stringBuilder](recv)
		if err != nil {
			return nil, err
		}
		return utf16Len(x.b.String()), nil
	})

	// Array
	arr := r.array
	arr.smeth("Exists", 2, 2, r.boolean, func(e *env, args []any) (any, error) {
		l, ok := args[1].(*lambda)
		if !ok {
			return nil, throw("ArgumentException", "Array.Exists needs a predicate")
		}
		if args[0] == nil {
			return nil, throw("ArgumentNullException", "the array is null")
		}
		found := false
		err := each(e, args[0], func(x any) (bool, error) {
			v, err := l.call1(e, x)
			if err != nil {
				return false, err
			}
			ok, err := truthy(v, "the predicate")
			found = ok
			return !ok, err
		})
		return found, err
	})
	arr.smeth("IndexOf", 2, 2, r.integer, func(e *env, args []any) (any, error) {
		items, err := toSlice(e, args[0])
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			if equal(it, args[1]) {
				return i, nil
			}
		}
		return -1, nil
	})
	arr.smeth("Copy", 3, 5, nil, func(e *env, args []any) (any, error) {
		src, dst := args[0], args[1]
		si, di, n := 0, 0, 0
		var err error
		if len(args) == 5 {
			dst = args[2]
			if si, err = iarg(args, 1); err != nil {
				return nil, err
			}
			if di, err = iarg(args, 3); err != nil {
				return nil, err
			}
			if n, err = iarg(args, 4); err != nil {
				return nil, err
			}
		} else if n, err = iarg(args, 2); err != nil {
			return nil, err
		}
		sl, err := seqLen(src)
		if err != nil {
			return nil, invalidCast(src, "Array")
		}
		dl, err := seqLen(dst)
		if err != nil {
			return nil, invalidCast(dst, "Array")
		}
		if n < 0 || si < 0 || di < 0 || si+n > sl.(int) || di+n > dl.(int) {
			return nil, throw("ArgumentException", "Array.Copy is outside the arrays")
		}
		for i := range n {
			if err := e.step(); err != nil {
				return nil, err
			}
			v, err := seqAt(src, si+i)
			if err != nil {
				return nil, err
			}
			if err := seqSet(dst, di+i, v); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	arr.smeth("Empty", 0, 0, r.array, func(e *env, args []any) (any, error) { return []any{}, nil })
	arr.smeth("Reverse", 1, 1, nil, func(e *env, args []any) (any, error) {
		switch x := args[0].(type) {
		case []string:
			for i, j := 0, len(x)-1; i < j; i, j = i+1, j-1 {
				x[i], x[j] = x[j], x[i]
			}
		case []any:
			for i, j := 0, len(x)-1; i < j; i, j = i+1, j-1 {
				x[i], x[j] = x[j], x[i]
			}
		case []byte:
			for i, j := 0, len(x)-1; i < j; i, j = i+1, j-1 {
				x[i], x[j] = x[j], x[i]
			}
		}
		return nil, nil
	})
	arr.smeth("Sort", 1, 1, nil, func(e *env, args []any) (any, error) {
		switch x := args[0].(type) {
		case []string:
			items := make([]any, len(x))
			for i, s := range x {
				items[i] = s
			}
			if err := sortAny(items, nil, e, false); err != nil {
				return nil, err
			}
			for i, it := range items {
				x[i] = it.(string)
			}
		case []any:
			return nil, sortAny(x, nil, e, false)
		}
		return nil, nil
	})
}

func encode(name, s string) []byte {
	switch name {
	case "ASCII":
		b := make([]byte, 0, len(s))
		for _, c := range s {
			if c > 127 {
				c = '?'
			}
			b = append(b, byte(c))
		}
		return b
	case "Unicode":
		u := utf16.Encode([]rune(s))
		b := make([]byte, 0, 2*len(u))
		for _, c := range u {
			b = append(b, byte(c), byte(c>>8))
		}
		return b
	case "UTF32":
		b := make([]byte, 0, 4*len(s))
		for _, c := range s {
			b = append(b, byte(c), byte(c>>8), byte(c>>16), byte(c>>24))
		}
		return b
	case "Latin1":
		b := make([]byte, 0, len(s))
		for _, c := range s {
			if c > 255 {
				c = '?'
			}
			b = append(b, byte(c))
		}
		return b
	}
	return []byte(s)
}

func decode(name string, b []byte) string {
	switch name {
	case "ASCII":
		rs := make([]rune, len(b))
		for i, c := range b {
			if c > 127 {
				rs[i] = '?'
			} else {
				rs[i] = rune(c)
			}
		}
		return string(rs)
	case "Unicode":
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		return string(utf16.Decode(u))
	case "Latin1":
		rs := make([]rune, len(b))
		for i, c := range b {
			rs[i] = rune(c)
		}
		return string(rs)
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// escapeData is Uri.EscapeDataString: everything but RFC 3986 unreserved characters.
func escapeData(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// dotnetFormat is string.Format: {index[,alignment][:format]} with {{ and }} escapes.
func dotnetFormat(f string, args []any) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c == '{' {
			if i+1 < len(f) && f[i+1] == '{' {
				b.WriteByte('{')
				i++
				continue
			}
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return "", throw("FormatException", "input string was not in a correct format")
			}
			spec := f[i+1 : i+end]
			i += end
			format := ""
			if k := strings.IndexByte(spec, ':'); k >= 0 {
				spec, format = spec[:k], spec[k+1:]
			}
			align := 0
			if k := strings.IndexByte(spec, ','); k >= 0 {
				a, err := strconv.Atoi(strings.TrimSpace(spec[k+1:]))
				if err != nil {
					return "", throw("FormatException", "input string was not in a correct format")
				}
				spec, align = spec[:k], a
			}
			n, err := strconv.Atoi(strings.TrimSpace(spec))
			if err != nil || n < 0 || n >= len(args) {
				return "", throw("FormatException", "index (zero based) must be greater than or equal to zero and less than the size of the argument list")
			}
			s, err := formatValue(args[n], format)
			if err != nil {
				return "", err
			}
			if align > 1<<16 || align < -(1<<16) {
				return "", throw("FormatException", "the alignment is too large")
			}
			b.WriteString(alignText(s, align))
			continue
		}
		if c == '}' {
			if i+1 < len(f) && f[i+1] == '}' {
				i++
			}
			b.WriteByte('}')
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// ---- regular expressions (RE2 semantics: linear time, no backreferences or lookaround)

type regexObj struct{ re *regexp.Regexp }

type regexMatch struct {
	re      *regexp.Regexp
	src     string
	loc     []int
	success bool
}

type regexGroup struct {
	Name    string
	Value   string
	Index   int
	Success bool
}

type regexGroups struct {
	m      *regexMatch
	groups []*regexGroup
}

type regexMatches struct{ list []*regexMatch }

func compileRegex(e *env, pattern string, opts any) (*regexp.Regexp, error) {
	flags := ""
	if en, ok := opts.(Enum); ok {
		if en.N&1 != 0 {
			flags += "i"
		}
		if en.N&2 != 0 {
			flags += "m"
		}
		if en.N&16 != 0 {
			flags += "s"
		}
		if en.N&(32|64|256) != 0 {
			return nil, throw("NotSupportedException", "the regular expression option %s is not available", en.Name)
		}
	}
	src := pattern
	if flags != "" {
		src = "(?" + flags + ")" + pattern
	}
	if e != nil && e.expr != nil {
		if re, ok := e.expr.regexes.Load(src); ok {
			return re.(*regexp.Regexp), nil
		}
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, throw("ArgumentException", "the regular expression is not supported: %v", err)
	}
	if e != nil && e.expr != nil && e.expr.regexCount.Load() < 32 && e.expr.regexCount.Add(1) <= 32 {
		e.expr.regexes.Store(src, re)
	}
	return re, nil
}

func newMatch(re *regexp.Regexp, s string, loc []int) *regexMatch {
	return &regexMatch{re: re, src: s, loc: loc, success: loc != nil}
}

func (m *regexMatch) value() string {
	if !m.success {
		return ""
	}
	return m.src[m.loc[0]:m.loc[1]]
}

func (m *regexMatch) groups() *regexGroups {
	g := &regexGroups{m: m}
	names := m.re.SubexpNames()
	for i := 0; i < m.re.NumSubexp()+1; i++ {
		grp := &regexGroup{Name: strconv.Itoa(i)}
		if i < len(names) && names[i] != "" {
			grp.Name = names[i]
		}
		if m.success && 2*i+1 < len(m.loc) && m.loc[2*i] >= 0 {
			grp.Success = true
			grp.Value = m.src[m.loc[2*i]:m.loc[2*i+1]]
			grp.Index = utf16Len(m.src[:m.loc[2*i]])
		}
		g.groups = append(g.groups, grp)
	}
	return g
}

func (r *registry) buildRegex() {
	r.regex = newType("Regex")
	r.alias(r.regex, "Regex", "System.Text.RegularExpressions.Regex")
	re := r.regex
	r.match = newType("Match")
	r.alias(r.match, "Match", "System.Text.RegularExpressions.Match")
	r.group = newType("Group")
	r.alias(r.group, "Group", "System.Text.RegularExpressions.Group")
	r.groups = newType("GroupCollection")
	r.alias(r.groups, "GroupCollection")
	matches := newType("MatchCollection")
	r.alias(matches, "MatchCollection")
	matches.enumerable = true
	r.groups.enumerable = true

	// pattern source: a Regex instance or (input, pattern[, options]) for the static forms
	type call struct {
		re    *regexp.Regexp
		input string
		rest  []any
	}
	resolve := func(e *env, recv any, args []any, static bool) (call, error) {
		var c call
		var err error
		if static {
			if c.input, err = sarg(args, 0); err != nil {
				return c, err
			}
			pattern, err := sarg(args, 1)
			if err != nil {
				return c, err
			}
			var opts any
			rest := args[2:]
			if len(rest) > 0 {
				if en, ok := rest[len(rest)-1].(Enum); ok {
					opts = en
					rest = rest[:len(rest)-1]
				}
			}
			c.rest = rest
			c.re, err = compileRegex(e, pattern, opts)
			return c, err
		}
		ro, err := recvAs[*regexObj](recv)
		if err != nil {
			return c, err
		}
		if c.input, err = sarg(args, 0); err != nil {
			return c, err
		}
		c.re, c.rest = ro.re, args[1:]
		return c, nil
	}
	def := func(name string, min, max int, ret *typeInfo, f func(e *env, c call) (any, error)) {
		re.smeth(name, min+1, max+1, ret, func(e *env, args []any) (any, error) {
			c, err := resolve(e, nil, args, true)
			if err != nil {
				return nil, err
			}
			return f(e, c)
		})
		re.meth(name, min, max, ret, func(e *env, recv any, args []any) (any, error) {
			c, err := resolve(e, recv, args, false)
			if err != nil {
				return nil, err
			}
			return f(e, c)
		})
	}
	def("IsMatch", 1, 2, r.boolean, func(e *env, c call) (any, error) { return c.re.MatchString(c.input), nil })
	def("Match", 1, 2, r.match, func(e *env, c call) (any, error) {
		return newMatch(c.re, c.input, c.re.FindStringSubmatchIndex(c.input)), nil
	})
	def("Matches", 1, 2, matches, func(e *env, c call) (any, error) {
		all := c.re.FindAllStringSubmatchIndex(c.input, -1)
		out := &regexMatches{}
		for _, loc := range all {
			out.list = append(out.list, newMatch(c.re, c.input, loc))
		}
		return out, e.charge(len(all) * 64)
	})
	def("Replace", 2, 3, r.str, func(e *env, c call) (any, error) {
		if len(c.rest) == 0 {
			return nil, throw("ArgumentException", "Regex.Replace needs a replacement")
		}
		if l, ok := c.rest[0].(*lambda); ok {
			var ferr error
			out := c.re.ReplaceAllStringFunc(c.input, func(s string) string {
				if ferr != nil {
					return ""
				}
				v, err := l.call1(e, newMatch(c.re, s, []int{0, len(s)}))
				ferr = err
				return toStr(v)
			})
			return out, ferr
		}
		repl, err := sargOrNull(c.rest, 0)
		if err != nil {
			return nil, err
		}
		// .NET's ${name} and $1 match Go's template syntax
		out := c.re.ReplaceAllString(c.input, repl)
		return out, e.charge(len(out))
	})
	def("Split", 1, 2, r.strings, func(e *env, c call) (any, error) {
		out := c.re.Split(c.input, -1)
		return out, e.charge(len(c.input) + 16*len(out))
	})
	re.smeth("Escape", 1, 1, r.str, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		return regexp.QuoteMeta(s), err
	})
	re.smeth("Unescape", 1, 1, r.str, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		return strings.ReplaceAll(s, `\`, ""), err
	})
	re.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		p, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		var opts any
		if len(args) > 1 {
			opts = args[1]
		}
		rx, err := compileRegex(e, p, opts)
		if err != nil {
			return nil, err
		}
		return &regexObj{re: rx}, nil
	}

	mt := r.match
	mf := func(name string, ret *typeInfo, f func(m *regexMatch) any) {
		mt.prop(name, ret, func(e *env, recv any) (any, error) {
			m, err := recvAs[*regexMatch](recv)
			if err != nil {
				return nil, err
			}
			return f(m), nil
		})
	}
	mf("Success", r.boolean, func(m *regexMatch) any { return m.success })
	mf("Value", r.str, func(m *regexMatch) any { return m.value() })
	mf("Index", r.integer, func(m *regexMatch) any {
		if !m.success {
			return 0
		}
		return utf16Len(m.src[:m.loc[0]])
	})
	mf("Length", r.integer, func(m *regexMatch) any { return utf16Len(m.value()) })
	mf("Groups", r.groups, func(m *regexMatch) any { return m.groups() })
	mt.meth("NextMatch", 0, 0, mt, func(e *env, recv any, args []any) (any, error) {
		m, err := recvAs[*regexMatch](recv)
		if err != nil {
			return nil, err
		}
		if !m.success {
			return m, nil
		}
		start := m.loc[1]
		if m.loc[1] == m.loc[0] {
			start++
		}
		if start > len(m.src) {
			return newMatch(m.re, m.src, nil), nil
		}
		loc := m.re.FindStringSubmatchIndex(m.src[start:])
		if loc == nil {
			return newMatch(m.re, m.src, nil), nil
		}
		for i := range loc {
			if loc[i] >= 0 {
				loc[i] += start
			}
		}
		return newMatch(m.re, m.src, loc), nil
	})
	r.groups.index = func(e *env, recv any, args []any) (any, error) {
		g, err := recvAs[*regexGroups](recv)
		if err != nil {
			return nil, err
		}
		switch k := args[0].(type) {
		case int:
			if k >= 0 && k < len(g.groups) {
				return g.groups[k], nil
			}
		case string:
			for _, grp := range g.groups {
				if grp.Name == k {
					return grp, nil
				}
			}
		default:
			return nil, invalidCast(args[0], "int or string")
		}
		return &regexGroup{}, nil
	}
	r.groups.indexRet = r.group
	r.groups.prop("Count", r.integer, func(e *env, recv any) (any, error) {
		g, err := recvAs[*regexGroups](recv)
		if err != nil {
			return nil, err
		}
		return len(g.groups), nil
	})
	gf := func(name string, ret *typeInfo, f func(g *regexGroup) any) {
		r.group.prop(name, ret, func(e *env, recv any) (any, error) {
			g, err := recvAs[*regexGroup](recv)
			if err != nil {
				return nil, err
			}
			return f(g), nil
		})
	}
	gf("Value", r.str, func(g *regexGroup) any { return g.Value })
	gf("Success", r.boolean, func(g *regexGroup) any { return g.Success })
	gf("Index", r.integer, func(g *regexGroup) any { return g.Index })
	gf("Name", r.str, func(g *regexGroup) any { return g.Name })
	gf("Length", r.integer, func(g *regexGroup) any { return utf16Len(g.Value) })
	matches.prop("Count", r.integer, func(e *env, recv any) (any, error) {
		m, err := recvAs[*regexMatches](recv)
		if err != nil {
			return nil, err
		}
		return len(m.list), nil
	})
	matches.index = func(e *env, recv any, args []any) (any, error) {
		m, err := recvAs[*regexMatches](recv)
		if err != nil {
			return nil, err
		}
		i, err := iarg(args, 0)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(m.list) {
			return nil, throw("ArgumentOutOfRangeException", "index %d is outside the %d matches", i, len(m.list))
		}
		return m.list[i], nil
	}
}
