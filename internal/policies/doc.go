// Package policies holds one file per APIM policy element, each compiling its XML into a
// policy.Step, and Registry, the one explicit map from element name to compiler. It knows the
// policy language only through package policy, and HTTP only through policy.Context.
package policies
