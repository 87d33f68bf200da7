package policies

import "portcullis/internal/policy"

// ValidateJWTDeps are validate-jwt's services (placeholder until the policy lands).
type ValidateJWTDeps struct{}

func (d ValidateJWTDeps) compile(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	return nil, policy.Errorf(el.Pos, "<validate-jwt> is not built yet")
}
