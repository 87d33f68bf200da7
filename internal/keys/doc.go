// Package keys owns the openid-config key cache: OpenID Connect discovery and JWKS fetched
// before the gateway is ready, refreshed in the background, refetched (single flight, rate
// limited) when a token names an unknown key, and kept through identity-provider failures up
// to a staleness bound. It does not validate tokens (package jwt does) nor parse JWKs
// (package jose does).
package keys
