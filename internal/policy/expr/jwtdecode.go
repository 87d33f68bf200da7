package expr

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/jwt"
)

// decodeToken is the one place AsJwt/TryParseJwt decode a token; it does not verify
// anything. It will call jwt.Decode once the token package provides it.
func decodeToken(raw string) (*jwt.Token, error) { return decodeUnverified(raw) }

var errNotJwt = errors.New("not a JSON Web Token")

const maxTokenLen = 64 << 10

func decodeUnverified(raw string) (*jwt.Token, error) {
	if len(raw) > maxTokenLen {
		return nil, errNotJwt
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errNotJwt
	}
	hdr, err := b64url(parts[0])
	if err != nil {
		return nil, errNotJwt
	}
	payload, err := b64url(parts[1])
	if err != nil {
		return nil, errNotJwt
	}
	var hm map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &hm); err != nil || hm == nil {
		return nil, errNotJwt
	}
	var pm map[string]json.RawMessage
	if err := json.Unmarshal(payload, &pm); err != nil || pm == nil {
		return nil, errNotJwt
	}
	t := &jwt.Token{Raw: raw, Payload: payload, Claims: make(map[string][]string, len(pm))}
	h := jose.Header{Raw: hdr}
	hs := func(k string) string {
		var s string
		if v, ok := hm[k]; ok {
			_ = json.Unmarshal(v, &s)
		}
		return s
	}
	h.Alg, h.Kid, h.Typ, h.Cty, h.X5t, h.X5tS256, h.Enc, h.Zip = hs("alg"), hs("kid"), hs("typ"), hs("cty"), hs("x5t"), hs("x5t#S256"), hs("enc"), hs("zip")
	if v, ok := hm["crit"]; ok {
		_ = json.Unmarshal(v, &h.Crit)
	}
	_, h.HasJWK = hm["jwk"]
	_, h.HasJKU = hm["jku"]
	_, h.HasX5U = hm["x5u"]
	_, h.HasX5C = hm["x5c"]
	t.Header, t.Algorithm, t.Type = h, h.Alg, h.Typ
	for k, v := range pm {
		t.Claims[k] = claimStrings(v)
	}
	first := func(k string) string {
		if vs := t.Claims[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	t.ID, t.Issuer, t.Subject = first("jti"), first("iss"), first("sub")
	t.Audiences = t.Claims["aud"]
	t.ExpiresAt, t.NotBefore, t.IssuedAt = epoch(pm["exp"]), epoch(pm["nbf"]), epoch(pm["iat"])
	return t, nil
}

func b64url(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	return base64.RawURLEncoding.DecodeString(s)
}

// claimStrings renders a claim as APIM's string[]: arrays as several values, strings as they
// are, everything else as its JSON text.
func claimStrings(v json.RawMessage) []string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return []string{s}
		}
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(v, &items) == nil {
			out := make([]string, 0, len(items))
			for _, it := range items {
				out = append(out, claimStrings(it)...)
			}
			return out
		}
	case 'n':
		return []string{}
	}
	return []string{string(v)}
}

func epoch(v json.RawMessage) time.Time {
	if len(v) == 0 {
		return time.Time{}
	}
	f, err := strconv.ParseFloat(string(bytes.Trim(v, `"`)), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
		return time.Time{}
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// asJwt is APIM's string.AsJwt(): null for anything that is not a decodable JWT; a leading
// "Bearer " is ignored. Decoded tokens are memoized per expression.
func asJwt(e *env, s string) *jwt.Token {
	s = strings.TrimSpace(s)
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	if s == "" {
		return nil
	}
	if e != nil && e.expr != nil {
		if m := e.expr.lastJwt.Load(); m != nil && m.raw == s {
			return m.tok
		}
	}
	t, err := decodeToken(s)
	if err != nil {
		t = nil
	}
	if e != nil && e.expr != nil {
		e.expr.lastJwt.Store(&jwtMemo{raw: s, tok: t})
	}
	return t
}

// BasicCredentials is what AsBasic returns.
type BasicCredentials struct {
	UserId, Password string
}

func asBasic(s string) *BasicCredentials {
	s = strings.TrimSpace(s)
	if len(s) > 6 && strings.EqualFold(s[:6], "basic ") {
		s = strings.TrimSpace(s[6:])
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil
	}
	return &BasicCredentials{UserId: user, Password: pass}
}
