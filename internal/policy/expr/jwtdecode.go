package expr

import (
	"encoding/base64"
	"errors"
	"hash/maphash"
	"strings"
	"sync/atomic"

	"portcullis/internal/jwt"
)

// decodeToken is the one place AsJwt/TryParseJwt decode a token; it does not verify
// anything. The token package owns the decoding, so that Jwt in expressions and the token
// validate-jwt stores are the same shape.
func decodeToken(raw string) (*jwt.Token, error) {
	if len(raw) > maxTokenLen {
		return nil, errNotJwt
	}
	return jwt.Decode(raw)
}

var errNotJwt = errors.New("not a JSON Web Token")

// maxTokenLen bounds what AsJwt decodes; header values are bounded by the listener already.
const maxTokenLen = 64 << 10

// maxMemoLen bounds the tokens the memo keeps, so that its memory stays small whatever
// clients send.
const maxMemoLen = 8 << 10

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
	var slot *atomic.Pointer[jwtMemo]
	if e != nil && e.expr != nil && len(s) <= maxMemoLen {
		slot = &e.expr.jwts[maphash.String(e.expr.jwtSeed, s)%jwtSlots]
		if m := slot.Load(); m != nil && m.raw == s {
			return m.tok
		}
	}
	t, err := decodeToken(s)
	if err != nil {
		t = nil
	}
	if slot != nil {
		slot.Store(&jwtMemo{raw: s, tok: t})
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
