// Package expr is the C# subset of Azure API Management policy expressions, @(...) and
// @{...}: a lexer, a parser and a compiler into closures evaluated per request against the
// policy Context, with APIM's context model and the .NET types policies use. It owns neither
// the policy XML nor any policy element; policies call Compile through policy.Compiler.
package expr
