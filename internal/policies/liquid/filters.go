package liquid

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"net/url"
	"strings"
	"unicode"
)

type filterFunc func(v any, args []any) (any, error)

// filters are keyed by filterKey: APIM writes them in C# style (Default, UrlEncode) and
// Liquid's own documentation in snake case (default, url_encode); both work.
var filters = map[string]filterFunc{
	"default": func(v any, a []any) (any, error) {
		if isEmpty(v) {
			return arg(a, 0), nil
		}
		return v, nil
	},
	"upcase":     strFilter(strings.ToUpper),
	"downcase":   strFilter(strings.ToLower),
	"capitalize": strFilter(capitalize),
	"strip":      strFilter(strings.TrimSpace),
	"lstrip":     strFilter(func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) }),
	"rstrip":     strFilter(func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) }),
	"escape":     strFilter(html.EscapeString),
	"h":          strFilter(html.EscapeString),
	"urlencode":  strFilter(url.QueryEscape),
	"urldecode":  func(v any, _ []any) (any, error) { return url.QueryUnescape(Text(v)) },
	"newlinetobr": strFilter(func(s string) string {
		return strings.ReplaceAll(s, "\n", "<br />\n")
	}),
	"stripnewlines": strFilter(func(s string) string {
		return strings.NewReplacer("\r", "", "\n", "").Replace(s)
	}),
	"append":  func(v any, a []any) (any, error) { return Text(v) + Text(arg(a, 0)), nil },
	"prepend": func(v any, a []any) (any, error) { return Text(arg(a, 0)) + Text(v), nil },
	"replace": func(v any, a []any) (any, error) {
		return strings.ReplaceAll(Text(v), Text(arg(a, 0)), Text(arg(a, 1))), nil
	},
	"replacefirst": func(v any, a []any) (any, error) {
		return strings.Replace(Text(v), Text(arg(a, 0)), Text(arg(a, 1)), 1), nil
	},
	"remove": func(v any, a []any) (any, error) {
		return strings.ReplaceAll(Text(v), Text(arg(a, 0)), ""), nil
	},
	"removefirst": func(v any, a []any) (any, error) {
		return strings.Replace(Text(v), Text(arg(a, 0)), "", 1), nil
	},
	"size": func(v any, _ []any) (any, error) { return float64(size(v)), nil },
	"split": func(v any, a []any) (any, error) {
		parts := strings.Split(Text(v), Text(arg(a, 0)))
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	},
	"join": func(v any, a []any) (any, error) {
		sep := " "
		if len(a) > 0 {
			sep = Text(a[0])
		}
		list := items(v)
		parts := make([]string, len(list))
		for i, it := range list {
			parts[i] = Text(it)
		}
		return strings.Join(parts, sep), nil
	},
	"first": func(v any, _ []any) (any, error) { return member(v, "first"), nil },
	"last":  func(v any, _ []any) (any, error) { return member(v, "last"), nil },
	"truncate": func(v any, a []any) (any, error) {
		n := 50
		if x, ok := toNumber(arg(a, 0)); ok {
			n = int(x)
		}
		ellipsis := "..."
		if len(a) > 1 {
			ellipsis = Text(a[1])
		}
		r := []rune(Text(v))
		if len(r) <= n {
			return string(r), nil
		}
		keep := max(n-len([]rune(ellipsis)), 0)
		return string(r[:keep]) + ellipsis, nil
	},
	"slice": func(v any, a []any) (any, error) {
		r := []rune(Text(v))
		start, _ := toNumber(arg(a, 0))
		length := 1.0
		if len(a) > 1 {
			length, _ = toNumber(a[1])
		}
		s := int(start)
		if s < 0 {
			s += len(r)
		}
		s = min(max(s, 0), len(r))
		e := min(s+max(int(length), 0), len(r))
		return string(r[s:e]), nil
	},
	"plus":  numFilter(func(a, b float64) (float64, error) { return a + b, nil }),
	"minus": numFilter(func(a, b float64) (float64, error) { return a - b, nil }),
	"times": numFilter(func(a, b float64) (float64, error) { return a * b, nil }),
	"dividedby": numFilter(func(a, b float64) (float64, error) {
		if b == 0 {
			return 0, errors.New("division by zero")
		}
		return a / b, nil
	}),
	"modulo": numFilter(func(a, b float64) (float64, error) {
		if b == 0 {
			return 0, errors.New("division by zero")
		}
		return math.Mod(a, b), nil
	}),
	"json": func(v any, _ []any) (any, error) {
		b, err := json.Marshal(plain(v))
		if err != nil {
			return nil, fmt.Errorf("cannot write the value as JSON: %w", err)
		}
		return string(b), nil
	},
}

func arg(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

func strFilter(f func(string) string) filterFunc {
	return func(v any, _ []any) (any, error) { return f(Text(v)), nil }
}

func numFilter(f func(a, b float64) (float64, error)) filterFunc {
	return func(v any, a []any) (any, error) {
		x, ok := toNumber(v)
		if !ok {
			return nil, fmt.Errorf("%q is not a number", Text(v))
		}
		y, ok := toNumber(arg(a, 0))
		if !ok {
			return nil, fmt.Errorf("%q is not a number", Text(arg(a, 0)))
		}
		return f(x, y)
	}
}

func capitalize(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}

// plain turns Objects into maps so the json filter can write them.
func plain(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = plain(it)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			out[k] = plain(it)
		}
		return out
	case Entry:
		return map[string]any{"Key": x.Key, "Value": plain(x.Value)}
	case Object, fmt.Stringer:
		return Text(x)
	}
	return v
}

// filterKey folds a filter's name: lower case, without underscores.
func filterKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "")
}
