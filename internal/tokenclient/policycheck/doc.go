// Package policycheck evaluates one token against the <validate-jwt> elements of a policy
// document, check by check (token, signature and key, lifetime, issuer, audience, each
// required claim), with the gateway's own validator, and says what the gateway would answer.
// It reads the constant parts of the policy; values computed by expressions per request are
// reported as not evaluated. Enforcing policies belongs to internal/policies.
package policycheck
