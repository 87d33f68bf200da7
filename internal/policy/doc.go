// Package policy is Azure API Management's policy language: a tolerant XML loader that keeps
// positions, documents with their four sections, scopes and <base/>, and the compiled Pipeline
// that runs a request's Context through them. It knows no HTTP listener and no individual
// policy: those live in the gateway and policies packages.
package policy
