package policy

import (
	"crypto/x509"
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
	return c.value(a.Value, a.Pos)
}

// TextValue compiles an element's text the same way.
func (c *Compiler) TextValue(el *Element) (Value, error) {
	return c.value(el.Text, el.Pos)
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
		compile, ok := c.Registry[el.Name]
		if !ok {
			return nil, Errorf(el.Pos, "policy element <%s> is not supported", el.Name)
		}
		s, err := compile(el, c)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	}
	return steps, nil
}
