// Package directory is the identity service's domain: tenants, app registrations with their
// scopes, roles and credentials, service principals, consent, users and signing keys, and the
// Store interface that persists them. It does not speak HTTP or OAuth; package identity does.
package directory
