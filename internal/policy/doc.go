// Package policy is Azure API Management's policy language: a tolerant XML loader that keeps
// positions (Loader.LoadFile), documents with their four sections, scopes, <base/>, named
// values and fragments, and the compiled Pipeline (Loader.Compile) that runs a request's
// Context through them and answers failures with APIM's error body. It knows no HTTP listener
// and no individual policy: those live in the gateway and policies packages.
package policy
