// Package policycheck finds the mistakes in policy documents that load but do not do what
// their author meant: sections that drop inherited policies, validate-jwt settings whose
// discovery document, issuers and audiences belong to different token versions. It reports
// load and compile errors of the real loader too; it does not load configuration files or
// print anything.
package policycheck
