package policies

import "portcullis/internal/policy"

// Deps are what policies need from the running gateway.
type Deps struct {
	ValidateJWT ValidateJWTDeps
}

// Registry returns the policy elements Portcullis runs. An element not listed here is a load
// error naming it, never silently skipped.
func Registry(d Deps) policy.Registry {
	return policy.Registry{
		"validate-jwt":    d.ValidateJWT.compile,
		"forward-request": compileForwardRequest,
	}
}
