// Package tokenclient is the client side of OAuth 2.0 against an Entra-compatible authority
// (Portcullis's identity service or Microsoft Entra ID): client credentials with a secret or a
// certificate, device code, and authorization code with PKCE, on v2 (scope) and v1 (resource)
// endpoints. It does not cache tokens or validate them; decoding for people lives in
// tokenclient/inspect, and the gateway's validation in internal/jwt.
package tokenclient
