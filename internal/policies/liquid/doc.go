// Package liquid is the subset of the Liquid template language that APIM's set-body
// template="liquid" runs (DotLiquid with C# naming): output with filters, if/elsif/else,
// unless, for, assign, comment and raw, parsed once and rendered against caller-supplied data.
// It knows nothing of HTTP or of APIM's context model: the caller exposes those as Objects.
package liquid
