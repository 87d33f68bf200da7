package policies

import (
	"fmt"
	"strings"

	"portcullis/internal/policy"
)

// setMethod is set-method: the HTTP method of the backend request (its text, or an expression).
type setMethod struct {
	method policy.Value
}

func compileSetMethod(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	if _, err := readElement(el, c); err != nil {
		return nil, err
	}
	if len(el.Children) > 0 {
		return nil, policy.Errorf(el.Children[0].Pos, "<set-method> holds a method name or a policy expression, not elements")
	}
	v, err := c.TextValue(el)
	if err != nil {
		return nil, err
	}
	if !v.IsExpr() {
		v.Const = strings.TrimSpace(v.Const)
		if err := checkMethod(v.Const); err != nil {
			return nil, policy.Errorf(v.Pos, "<set-method> %v", err)
		}
	}
	return &setMethod{method: v}, nil
}

func checkMethod(m string) error {
	if m == "" {
		return fmt.Errorf("needs a method, e.g. GET or POST")
	}
	for i := 0; i < len(m); i++ {
		if !isTokenChar(m[i]) {
			return fmt.Errorf("%q is not a valid HTTP method", m)
		}
	}
	return nil
}

func (s *setMethod) Run(ctx *policy.Context) error {
	m, err := s.method.String(ctx)
	if err != nil {
		return err
	}
	m = strings.TrimSpace(m)
	if s.method.IsExpr() {
		if err := checkMethod(m); err != nil {
			return fmt.Errorf("set-method: %w", err)
		}
	}
	ctx.Request.Method = m
	return nil
}
