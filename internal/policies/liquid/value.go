package liquid

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Object is data whose members are looked up by name when a template reads them, such as
// APIM's context. Get reports false for a member that does not exist.
type Object interface {
	Get(name string) (any, bool)
}

// Entry is one key and value of a dictionary a template iterates over.
type Entry struct {
	Key   string
	Value any
}

// Get makes an Entry readable as {{ e.Key }} and {{ e.Value }}.
func (e Entry) Get(name string) (any, bool) {
	switch strings.ToLower(name) {
	case "key":
		return e.Key, true
	case "value":
		return e.Value, true
	}
	return nil, false
}

// Iterable is an Object a for loop can walk (a dictionary yields its entries).
type Iterable interface {
	Items() []any
}

// member returns v.name: a map key, an Object's member, or size/first/last of a list or text.
func member(v any, name string) any {
	switch x := v.(type) {
	case map[string]any:
		if m, ok := x[name]; ok {
			return m
		}
		for k, m := range x {
			if strings.EqualFold(k, name) {
				return m
			}
		}
	case Object:
		if m, ok := x.Get(name); ok {
			return m
		}
	}
	switch strings.ToLower(name) {
	case "size":
		return size(v)
	case "first", "last":
		items := items(v)
		if len(items) == 0 {
			return nil
		}
		if strings.EqualFold(name, "first") {
			return items[0]
		}
		return items[len(items)-1]
	}
	return nil
}

// index returns v[key]: a list position or a member.
func index(v, key any) any {
	if n, ok := toNumber(key); ok {
		if list, isList := v.([]any); isList {
			i := int(n)
			if i < 0 {
				i += len(list)
			}
			if i >= 0 && i < len(list) {
				return list[i]
			}
			return nil
		}
	}
	return member(v, Text(key))
}

func items(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case Iterable:
		return x.Items()
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = Entry{Key: k, Value: x[k]}
		}
		return out
	}
	return []any{v}
}

func size(v any) int {
	switch x := v.(type) {
	case string:
		return len([]rune(x))
	case nil:
		return 0
	case []any, []string, Iterable, map[string]any:
		return len(items(x))
	}
	return len(Text(v))
}

// Text is how a value is written into the output.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case []any, []string:
		var b strings.Builder
		for _, it := range items(x) {
			b.WriteString(Text(it))
		}
		return b.String()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// truthy is Liquid's truth: only nil and false are false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	}
	return true
}

// isEmpty is what the empty literal and the Default filter treat as blank.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case []any, []string, map[string]any:
		return size(x) == 0
	}
	return false
}

func equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if _, ok := b.(emptyValue); ok {
		return isEmpty(a)
	}
	if _, ok := a.(emptyValue); ok {
		return isEmpty(b)
	}
	if x, ok := a.(bool); ok {
		y, ok := b.(bool)
		return ok && x == y
	}
	na, okA := a.(float64)
	nb, okB := b.(float64)
	if okA && okB {
		return na == nb
	}
	if okA || okB {
		if x, ok := toNumber(a); ok {
			if y, ok := toNumber(b); ok {
				return x == y
			}
		}
	}
	return Text(a) == Text(b)
}

// emptyValue is the literal empty.
type emptyValue struct{}

func compare(a, b any) (int, bool) {
	if x, ok := toNumber(a); ok {
		if y, ok := toNumber(b); ok {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
	}
	sa, okA := a.(string)
	sb, okB := b.(string)
	if okA && okB {
		return strings.Compare(sa, sb), true
	}
	return 0, false
}

func contains(a, b any) bool {
	switch x := a.(type) {
	case string:
		return strings.Contains(x, Text(b))
	case nil:
		return false
	}
	for _, it := range items(a) {
		if equal(it, b) {
			return true
		}
	}
	return false
}
