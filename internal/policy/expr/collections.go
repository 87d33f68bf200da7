package expr

import (
	"sort"

	"portcullis/internal/jwt"
	"portcullis/internal/policy"
)

// List is a .NET List<T>.
type List struct {
	Items []any
}

// Dict is a .NET Dictionary<K,V> with keys in insertion order.
type Dict struct {
	keys []any
	vals map[any]any
}

func newDict() *Dict { return &Dict{vals: map[any]any{}} }

func dictKey(k any) (any, error) {
	switch x := k.(type) {
	case nil:
		return nil, throw("ArgumentNullException", "a dictionary key cannot be null")
	case string, int, int64, bool, Char, float64, Guid:
		return x, nil
	case *JValue:
		return dictKey(x.V)
	}
	return nil, throw("ArgumentException", "%s cannot be a dictionary key", typeName(k))
}

func (d *Dict) set(k, v any) {
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
}

func (d *Dict) remove(k any) bool {
	if _, ok := d.vals[k]; !ok {
		return false
	}
	delete(d.vals, k)
	for i, key := range d.keys {
		if key == k {
			d.keys = append(d.keys[:i:i], d.keys[i+1:]...)
			break
		}
	}
	return true
}

// KeyValuePair is what enumerating a dictionary yields.
type KeyValuePair struct {
	Key, Value any
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isEnumerable(v any) bool {
	switch v.(type) {
	case string, []string, []any, []byte, *List, *Dict, *JArray, *JObject, map[string]any,
		map[string]string, map[string][]string, *policy.Header, *policy.Query, *regexGroups, *regexMatches:
		return true
	}
	return false
}

// each calls f for every element of an enumerable value, counting a step per element.
func each(e *env, v any, f func(any) (bool, error)) error {
	visit := func(x any) (bool, error) {
		if err := e.step(); err != nil {
			return false, err
		}
		return f(x)
	}
	switch x := v.(type) {
	case string:
		for _, r := range x {
			if ok, err := visit(Char(r)); !ok || err != nil {
				return err
			}
		}
	case []string:
		for _, s := range x {
			if ok, err := visit(s); !ok || err != nil {
				return err
			}
		}
	case []any:
		for _, s := range x {
			if ok, err := visit(s); !ok || err != nil {
				return err
			}
		}
	case []byte:
		for _, s := range x {
			if ok, err := visit(int(s)); !ok || err != nil {
				return err
			}
		}
	case *List:
		for i := 0; i < len(x.Items); i++ {
			if ok, err := visit(x.Items[i]); !ok || err != nil {
				return err
			}
		}
	case *JArray:
		for i := 0; i < len(x.Items); i++ {
			if ok, err := visit(x.Items[i]); !ok || err != nil {
				return err
			}
		}
	case *Dict:
		for _, k := range append([]any(nil), x.keys...) {
			if ok, err := visit(&KeyValuePair{Key: k, Value: x.vals[k]}); !ok || err != nil {
				return err
			}
		}
	case *JObject:
		for _, k := range append([]string(nil), x.keys...) {
			if ok, err := visit(&KeyValuePair{Key: k, Value: x.vals[k]}); !ok || err != nil {
				return err
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if ok, err := visit(&KeyValuePair{Key: k, Value: x[k]}); !ok || err != nil {
				return err
			}
		}
	case map[string]string:
		for _, k := range sortedKeys(x) {
			if ok, err := visit(&KeyValuePair{Key: k, Value: x[k]}); !ok || err != nil {
				return err
			}
		}
	case map[string][]string:
		for _, k := range sortedKeys(x) {
			if ok, err := visit(&KeyValuePair{Key: k, Value: x[k]}); !ok || err != nil {
				return err
			}
		}
	case *policy.Header:
		for _, name := range headerNames(x) {
			if ok, err := visit(&KeyValuePair{Key: name, Value: x.Values(name)}); !ok || err != nil {
				return err
			}
		}
	case *policy.Query:
		seen := map[string]bool{}
		for _, f := range x.Fields() {
			if seen[f.Name] {
				continue
			}
			seen[f.Name] = true
			if ok, err := visit(&KeyValuePair{Key: f.Name, Value: x.Values(f.Name)}); !ok || err != nil {
				return err
			}
		}
	case *regexGroups:
		for _, g := range x.groups {
			if ok, err := visit(g); !ok || err != nil {
				return err
			}
		}
	case *regexMatches:
		for _, m := range x.list {
			if ok, err := visit(m); !ok || err != nil {
				return err
			}
		}
	default:
		return throw("InvalidOperationException", "%s is not enumerable", typeName(v))
	}
	return nil
}

// headerNames lists distinct header names in first-seen order (case-insensitive).
func headerNames(h *policy.Header) []string {
	var names []string
	for _, f := range h.Fields() {
		dup := false
		for _, n := range names {
			if equalFold(n, f.Name) {
				dup = true
				break
			}
		}
		if !dup {
			names = append(names, f.Name)
		}
	}
	return names
}

// toSlice materializes an enumerable.
func toSlice(e *env, v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case *List:
		return x.Items, nil
	case *JArray:
		return x.Items, nil
	}
	var out []any
	err := each(e, v, func(item any) (bool, error) {
		out = append(out, item)
		return true, nil
	})
	if err == nil {
		err = e.charge(len(out) * 16)
	}
	return out, err
}

// tidy turns a result sequence into string[] when every element is a string.
func tidy(items []any) any {
	if len(items) == 0 {
		return []any{}
	}
	strs := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return items
		}
		strs[i] = s
	}
	return strs
}

func asStrings(v any) ([]string, bool) {
	switch x := v.(type) {
	case []string:
		return x, true
	case []any:
		out := make([]string, len(x))
		for i, it := range x {
			s, ok := it.(string)
			if !ok && it != nil {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	case *List:
		return asStrings(x.Items)
	}
	return nil, false
}

// claimsOf is Jwt.Claims.
func claimsOf(t *jwt.Token) map[string][]string {
	if t.Claims == nil {
		return map[string][]string{}
	}
	return t.Claims
}
