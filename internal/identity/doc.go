// Package identity is the Entra ID-compatible token service: tenant resolution, discovery
// documents and key sets, the token, authorize, device-code, userinfo and logout endpoints,
// the sign-in pages, token minting with the tenant's signing keys, and local TLS. It reads and
// writes the directory only through directory.Store; it does not own app registrations or the
// management API's Graph resources.
package identity
