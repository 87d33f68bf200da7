// Package inspect shows a JWT to a person: header and claims pretty-printed, times in human
// form against a clock, expiry, the token version and what iss and aud mean for it. It reads
// tokens without verifying them; verification belongs to internal/jwt and validate-jwt.
package inspect
