package policies

import (
	"fmt"
	"strings"

	"portcullis/internal/policy"
)

// choose is choose/when/otherwise: the first when whose condition is true runs its policies;
// otherwise runs when none is.
type choose struct {
	whens     []when
	otherwise []policy.Step
}

type when struct {
	condition policy.Value
	steps     []policy.Step
}

func compileChoose(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	if _, err := readElement(el, c); err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "when", "otherwise"); err != nil {
		return nil, err
	}
	if text := strings.TrimSpace(el.Text); text != "" {
		return nil, policy.Errorf(el.TextPos, "unexpected text in <choose>: %q (it holds <when> and <otherwise>)", text)
	}
	ch := &choose{}
	var otherwise *policy.Element
	for _, child := range el.Children {
		switch child.Name {
		case "when":
			if otherwise != nil {
				return nil, policy.Errorf(child.Pos, "<when> must come before <otherwise> (at %d:%d)", otherwise.Pos.Line, otherwise.Pos.Col)
			}
			r, err := readElement(child, c, "condition")
			if err != nil {
				return nil, err
			}
			cond, err := r.boolValue("condition")
			if err != nil {
				return nil, err
			}
			if cond == nil {
				return nil, policy.Errorf(child.Pos, "<when> needs a condition attribute")
			}
			steps, err := c.Steps(child.Children)
			if err != nil {
				return nil, err
			}
			ch.whens = append(ch.whens, when{condition: *cond, steps: steps})
		case "otherwise":
			if otherwise != nil {
				return nil, policy.Errorf(child.Pos, "a second <otherwise> (the first is at %d:%d)", otherwise.Pos.Line, otherwise.Pos.Col)
			}
			if _, err := readElement(child, c); err != nil {
				return nil, err
			}
			otherwise = child
			steps, err := c.Steps(child.Children)
			if err != nil {
				return nil, err
			}
			ch.otherwise = steps
		}
	}
	if len(ch.whens) == 0 {
		return nil, policy.Errorf(el.Pos, "<choose> needs at least one <when>")
	}
	return ch, nil
}

func (ch *choose) Run(ctx *policy.Context) error {
	for i := range ch.whens {
		ok, err := evalBool(ctx, &ch.whens[i].condition, fmt.Sprintf("when[%d] condition", i+1), false)
		if err != nil {
			return err
		}
		if ok {
			return runSteps(ctx, ch.whens[i].steps)
		}
	}
	return runSteps(ctx, ch.otherwise)
}

// runSteps runs nested policies in order, stopping at the first error.
func runSteps(ctx *policy.Context, steps []policy.Step) error {
	for _, s := range steps {
		if err := s.Run(ctx); err != nil {
			return err
		}
	}
	return nil
}
