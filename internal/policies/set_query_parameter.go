package policies

import (
	"fmt"
	"strings"

	"portcullis/internal/policy"
)

// setQueryParameter is set-query-parameter: it edits the query string of the backend request.
// Each value becomes its own name=value pair.
type setQueryParameter struct {
	*namedValues
}

func compileSetQueryParameter(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	n, err := compileNamedValues(el, c)
	if err != nil {
		return nil, err
	}
	if !n.name.IsExpr() && strings.TrimSpace(n.name.Const) == "" {
		return nil, policy.Errorf(n.name.Pos, "<set-query-parameter> name must not be empty")
	}
	return &setQueryParameter{namedValues: n}, nil
}

func (s *setQueryParameter) Run(ctx *policy.Context) error {
	name, act, vals, err := s.eval(ctx)
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("set-query-parameter: the name evaluated to an empty string")
	}
	q := &ctx.Request.URL.Query
	_, exists := q.Get(name)
	switch act {
	case actionDelete:
		q.Del(name)
		return nil
	case actionSkip:
		if exists {
			return nil
		}
	case actionOverride:
		q.Del(name)
	}
	for _, v := range vals {
		q.Add(name, v)
	}
	return nil
}
