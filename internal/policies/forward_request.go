package policies

import "portcullis/internal/policy"

func compileForwardRequest(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	return nil, policy.Errorf(el.Pos, "<forward-request> is not built yet")
}
