// Package directory is the identity service's domain: tenants, app registrations with their
// scopes, roles and credentials, service principals, consent, users and signing keys; the
// Store interface that persists them; secret and password hashing; the rules that keep objects
// valid and consistent; and Seed, which applies a configuration file's identity: section. It
// does not speak HTTP or OAuth; packages graph and identity do.
package directory
