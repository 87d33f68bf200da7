package policy

import (
	"crypto/x509"
	"errors"
	"strings"
)

// CompileFunc compiles one policy element into a step.
type CompileFunc func(el *Element, c *Compiler) (Step, error)

// Registry maps element names to their compilers. It is built explicitly (policies.Registry);
// an element it does not name is a load error.
type Registry map[string]CompileFunc

// Certificate is an entry of gateway.certificates.
type Certificate struct {
	ID    string
	Chain []*x509.Certificate
	// Key is the private key when the PEM file holds one (crypto.Signer / crypto.Decrypter).
	Key any
}

// Compiler turns elements into steps. One Compiler compiles one section of one document; the
// fields say where, for error messages and for the policies that care.
type Compiler struct {
	Registry     Registry
	Expressions  ExpressionCompiler // nil: expressions are a load error
	Certificates map[string]*Certificate
	Scope        string // global | product | api | operation
	Section      string // inbound | backend | outbound | on-error
}

// Value compiles an attribute: a policy expression when it starts with @( or @{, else a
// constant.
func (c *Compiler) Value(a Attr) (Value, error) {
	// Attr.Pos is where the value starts; an expression's position is where its @ stands.
	pos := a.Pos
	for _, r := range a.Value[:len(a.Value)-len(strings.TrimLeft(a.Value, " \t\r\n"))] {
		if r == '\n' {
			pos.Line, pos.Col = pos.Line+1, 1
		} else {
			pos.Col++
		}
	}
	return c.value(a.Value, pos)
}

// TextValue compiles an element's text the same way.
func (c *Compiler) TextValue(el *Element) (Value, error) {
	pos := el.TextPos
	if pos.Line == 0 {
		pos = el.Pos
	}
	return c.value(el.Text, pos)
}

func (c *Compiler) value(src string, pos Pos) (Value, error) {
	trimmed := strings.TrimSpace(src)
	if !strings.HasPrefix(trimmed, "@(") && !strings.HasPrefix(trimmed, "@{") {
		return Value{Const: src, Pos: pos}, nil
	}
	if c.Expressions == nil {
		return Value{}, Errorf(pos, "policy expressions are not supported yet")
	}
	e, err := c.Expressions(trimmed, pos)
	if err != nil {
		return Value{}, err
	}
	return Value{Expr: e, Pos: pos}, nil
}

// Steps compiles a list of sibling elements, e.g. the body of a when or a retry.
func (c *Compiler) Steps(els []*Element) ([]Step, error) {
	steps := make([]Step, 0, len(els))
	for _, el := range els {
		s, err := c.Step(el)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// Step compiles one policy element. The step it returns reports a failure together with the
// element's name, path, id, scope and section, which become context.LastError.
func (c *Compiler) Step(el *Element) (Step, error) {
	if el.Name == "base" {
		return nil, Errorf(el.Pos, "<base/> is allowed only directly inside a section (inbound, backend, outbound, on-error)")
	}
	compile, ok := c.Registry[el.Name]
	if !ok {
		return nil, Errorf(el.Pos, "policy element <%s> is not supported", el.Name)
	}
	s, err := compile(el, c)
	if err != nil {
		var perr *Error
		if errors.As(err, &perr) {
			return nil, err
		}
		return nil, &Error{Pos: el.Pos, Msg: "<" + el.Name + ">: " + err.Error(), Err: err}
	}
	if s == nil {
		return nil, Errorf(el.Pos, "<%s> compiled to no step", el.Name)
	}
	return bindStep(s, el, c), nil
}
