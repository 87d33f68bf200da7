package policies

import (
	"strings"

	"portcullis/internal/policy"
)

// setVariable is set-variable: it stores the value's typed result (a literal is a string) in
// context.Variables.
type setVariableStep struct {
	name  string
	value policy.Value
}

func compileSetVariable(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "name", "value")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	name, _, err := r.constant("name", true)
	if err != nil {
		return nil, err
	}
	a, ok := el.Attr("value")
	if !ok {
		return nil, policy.Errorf(el.Pos, "<set-variable> needs a value attribute")
	}
	v, err := c.Value(a)
	if err != nil {
		return nil, err
	}
	return &setVariableStep{name: strings.TrimSpace(name), value: v}, nil
}

func (s *setVariableStep) Run(ctx *policy.Context) error {
	if !s.value.IsExpr() {
		setVariable(ctx, s.name, s.value.Const)
		return nil
	}
	v, err := s.value.Expr.Eval(ctx)
	if err != nil {
		return err
	}
	setVariable(ctx, s.name, v)
	return nil
}
