// Package tokenclienttest is a small Entra-shaped authority for tests of token clients: an
// httptest TLS server with the token, device code and authorize endpoints (v1 and v2), one
// tenant, one confidential and one public client and one API. It checks what a real authority
// checks of a client (secret, client assertion signature and thumbprints, PKCE, state) and
// answers with Entra's bodies; it is not the identity service (internal/identity).
package tokenclienttest
