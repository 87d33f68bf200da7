package policies

import (
	"fmt"
	"strconv"
	"strings"

	"portcullis/internal/policy"
)

// elemReader reads one policy element's attributes with positioned errors: which attributes
// exist, which accept policy expressions, which are required.
type elemReader struct {
	el *policy.Element
	c  *policy.Compiler
}

// readElement checks that el has only the allowed attributes (id is always allowed).
func readElement(el *policy.Element, c *policy.Compiler, allowed ...string) (*elemReader, error) {
	for _, a := range el.Attrs {
		if a.Name == "id" {
			continue
		}
		ok := false
		for _, n := range allowed {
			ok = ok || a.Name == n
		}
		if !ok {
			if len(allowed) == 0 {
				return nil, policy.Errorf(a.Pos, "<%s> has no attribute %s (it takes none)", el.Name, a.Name)
			}
			return nil, policy.Errorf(a.Pos, "<%s> has no attribute %s (it takes %s)", el.Name, a.Name, strings.Join(allowed, ", "))
		}
	}
	return &elemReader{el: el, c: c}, nil
}

// value compiles an attribute that accepts policy expressions; nil when absent.
func (r *elemReader) value(name string, required bool) (*policy.Value, error) {
	a, ok := r.el.Attr(name)
	if !ok {
		if required {
			return nil, policy.Errorf(r.el.Pos, "<%s> needs a %s attribute", r.el.Name, name)
		}
		return nil, nil
	}
	v, err := r.c.Value(a)
	if err != nil {
		return nil, err
	}
	if !v.IsExpr() && required && strings.TrimSpace(v.Const) == "" {
		return nil, policy.Errorf(a.Pos, "<%s> %s must not be empty", r.el.Name, name)
	}
	return &v, nil
}

// constant reads an attribute that does not accept policy expressions.
func (r *elemReader) constant(name string, required bool) (string, bool, error) {
	a, ok := r.el.Attr(name)
	if !ok {
		if required {
			return "", false, policy.Errorf(r.el.Pos, "<%s> needs a %s attribute", r.el.Name, name)
		}
		return "", false, nil
	}
	if strings.HasPrefix(strings.TrimSpace(a.Value), "@(") || strings.HasPrefix(strings.TrimSpace(a.Value), "@{") {
		return "", false, policy.Errorf(a.Pos, "<%s> %s does not accept policy expressions", r.el.Name, name)
	}
	if required && strings.TrimSpace(a.Value) == "" {
		return "", false, policy.Errorf(a.Pos, "<%s> %s must not be empty", r.el.Name, name)
	}
	return a.Value, true, nil
}

// constInt reads a constant whole number in [lo, hi]; def when absent.
func (r *elemReader) constInt(name string, required bool, def, lo, hi int64) (int64, error) {
	s, ok, err := r.constant(name, required)
	if err != nil || !ok {
		return def, err
	}
	n, err := parseIntIn(s, lo, hi)
	if err != nil {
		a, _ := r.el.Attr(name)
		return 0, policy.Errorf(a.Pos, "<%s> %s: %v", r.el.Name, name, err)
	}
	return n, nil
}

// constBool reads a constant true/false; def when absent.
func (r *elemReader) constBool(name string, def bool) (bool, error) {
	s, ok, err := r.constant(name, false)
	if err != nil || !ok {
		return def, err
	}
	b, err := parseBool(s)
	if err != nil {
		a, _ := r.el.Attr(name)
		return false, policy.Errorf(a.Pos, "<%s> %s: %v", r.el.Name, name, err)
	}
	return b, nil
}

// intValue reads an attribute that may be an expression yielding a whole number in [lo, hi];
// a constant is checked now.
func (r *elemReader) intValue(name string, required bool, lo, hi int64) (*policy.Value, error) {
	v, err := r.value(name, required)
	if err != nil || v == nil || v.IsExpr() {
		return v, err
	}
	if _, err := parseIntIn(v.Const, lo, hi); err != nil {
		return nil, policy.Errorf(v.Pos, "<%s> %s: %v", r.el.Name, name, err)
	}
	return v, nil
}

// boolValue reads an attribute that may be an expression yielding a boolean.
func (r *elemReader) boolValue(name string) (*policy.Value, error) {
	v, err := r.value(name, false)
	if err != nil || v == nil || v.IsExpr() {
		return v, err
	}
	if _, err := parseBool(v.Const); err != nil {
		return nil, policy.Errorf(v.Pos, "<%s> %s: %v", r.el.Name, name, err)
	}
	return v, nil
}

func parseIntIn(s string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("expected a whole number, found %q", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("expected a number from %d to %d, found %d", lo, hi, n)
	}
	return n, nil
}

// evalInt evaluates v (a constant or an expression) as a whole number in [lo, hi].
func evalInt(ctx *policy.Context, v *policy.Value, what string, lo, hi int64) (int64, error) {
	if v.Expr != nil {
		out, err := v.Expr.Eval(ctx)
		if err != nil {
			return 0, err
		}
		switch x := out.(type) {
		case int:
			return checkRange(int64(x), what, lo, hi)
		case int64:
			return checkRange(x, what, lo, hi)
		case int32:
			return checkRange(int64(x), what, lo, hi)
		case float64:
			return checkRange(int64(x), what, lo, hi)
		}
		n, err := parseIntIn(policy.ToString(out), lo, hi)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		return n, nil
	}
	n, err := parseIntIn(v.Const, lo, hi)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

func checkRange(n int64, what string, lo, hi int64) (int64, error) {
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s: expected a number from %d to %d, found %d", what, lo, hi, n)
	}
	return n, nil
}

// evalBool evaluates v as a boolean; a nil v is def.
func evalBool(ctx *policy.Context, v *policy.Value, what string, def bool) (bool, error) {
	if v == nil {
		return def, nil
	}
	if v.Expr != nil {
		out, err := v.Expr.Eval(ctx)
		if err != nil {
			return false, err
		}
		if b, ok := out.(bool); ok {
			return b, nil
		}
		b, err := parseBool(policy.ToString(out))
		if err != nil {
			return false, fmt.Errorf("%s: %w", what, err)
		}
		return b, nil
	}
	return parseBool(v.Const)
}

// evalString evaluates v as text; a nil v is "".
func evalString(ctx *policy.Context, v *policy.Value) (string, error) {
	if v == nil {
		return "", nil
	}
	return v.String(ctx)
}

// setVariable stores a context variable, creating the map on first use.
func setVariable(ctx *policy.Context, name string, v any) {
	if ctx.Variables == nil {
		ctx.Variables = make(map[string]any)
	}
	ctx.Variables[name] = v
}

// onlyChildren checks that el's children are all called one of names.
func onlyChildren(el *policy.Element, names ...string) error {
	for _, ch := range el.Children {
		ok := false
		for _, n := range names {
			ok = ok || ch.Name == n
		}
		if !ok {
			if len(names) == 0 {
				return policy.Errorf(ch.Pos, "<%s> has no child elements; found <%s>", el.Name, ch.Name)
			}
			return policy.Errorf(ch.Pos, "<%s> has no child element <%s> (it takes %s)", el.Name, ch.Name, strings.Join(names, ", "))
		}
	}
	if len(names) == 0 && strings.TrimSpace(el.Text) != "" {
		return policy.Errorf(el.TextPos, "<%s> takes no text", el.Name)
	}
	return nil
}

// onlyIn refuses el outside the sections APIM allows it in (the loader knows the sections
// of the policies its own table lists; these are the others').
func onlyIn(el *policy.Element, c *policy.Compiler, sections ...string) error {
	if c.Section == "" {
		return nil // compiled on its own, outside a document
	}
	for _, s := range sections {
		if c.Section == s {
			return nil
		}
	}
	return policy.Errorf(el.Pos, "<%s> is not allowed in the %s section (it belongs in %s)", el.Name, c.Section, strings.Join(sections, ", "))
}
