package policy

import (
	"fmt"
	"strconv"
)

// Element is one XML element of a policy document, with positions for error messages.
type Element struct {
	Name     string
	Attrs    []Attr
	Children []*Element
	// Text is the element's character data (entities decoded, CDATA included), with child
	// elements left out. Inner is the raw source between the start and end tags.
	Text  string
	Inner string
	Pos   Pos
	// TextPos is where the first non-blank character of Text starts (the element's Pos when
	// the loader did not set it), so an expression in text reports its own position.
	TextPos Pos

	// path is the element's place in its section, e.g. choose[1]/when[2]/set-header[1],
	// set by the loader for context.LastError.Path.
	path string
}

// Path is the element's place within its section, e.g. choose[1]/when[2]/validate-jwt[1],
// as context.LastError.Path reports it. Elements the loader did not place report name[1].
func (e *Element) Path() string {
	if e.path == "" {
		return e.Name + "[1]"
	}
	return e.path
}

// Attr is one attribute with the position of its value.
type Attr struct {
	Name, Value string
	Pos         Pos
}

// Attr returns the attribute called name.
func (e *Element) Attr(name string) (Attr, bool) {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// Value is an attribute or text that is either a constant or a policy expression.
type Value struct {
	Const string
	Expr  Expression
	Pos   Pos
}

// IsExpr reports whether the value is computed per request.
func (v Value) IsExpr() bool { return v.Expr != nil }

// String evaluates the value to text, as APIM converts expression results.
func (v Value) String(ctx *Context) (string, error) {
	if v.Expr == nil {
		return v.Const, nil
	}
	if t, ok := v.Expr.(TextExpression); ok {
		return t.EvalText(ctx)
	}
	out, err := v.Expr.Eval(ctx)
	if err != nil {
		return "", err
	}
	return ToString(out), nil
}

// TextExpression is an Expression that converts its own result to text, the way its language
// does (.NET's ToString for C# expressions), rather than with ToString.
type TextExpression interface {
	Expression
	EvalText(ctx *Context) (string, error)
}

// ToString converts an expression result to text the way .NET's ToString does for the types
// expressions produce.
func ToString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'G', -1, 64)
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}
