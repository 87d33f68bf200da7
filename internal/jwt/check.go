package jwt

import (
	"fmt"
	"strings"
	"time"
)

// check runs c's tests on a token whose signature is known good. On success it does not
// allocate: it runs on every cache hit.
func (v *Validator) check(t *Token, keyIssuer string, now time.Time, c *Checks) *Failure {
	if t.ExpiresAt.IsZero() {
		if !c.AllowNoExpiration {
			return fail(JwtInvalid, nil, "the token has no exp (expiration time) claim and require-expiration-time is true")
		}
	} else if now.After(t.ExpiresAt.Add(c.ClockSkew)) {
		return fail(TokenExpired, nil, "the token expired at %s; it is now %s (clock skew %s)",
			t.ExpiresAt.Format(time.RFC3339), now.UTC().Format(time.RFC3339), c.ClockSkew)
	}
	if !t.NotBefore.IsZero() && now.Add(c.ClockSkew).Before(t.NotBefore) {
		return fail(JwtInvalid, nil, "the token is not valid before %s; it is now %s (clock skew %s)",
			t.NotBefore.Format(time.RFC3339), now.UTC().Format(time.RFC3339), c.ClockSkew)
	}
	if f := v.checkIssuer(t, keyIssuer, c); f != nil {
		return f
	}
	if len(c.Audiences) > 0 && !audienceAllowed(t.Audiences, c.Audiences) {
		return &Failure{Reason: TokenAudienceNotAllowed, Message: TokenAudienceNotAllowed.Message(),
			Detail: fmt.Sprintf("expected aud to be one of %s, found %s%s", quoteList(c.Audiences), quoteList(t.Audiences), audienceHint(t, c.Audiences))}
	}
	return checkClaims(t, c.RequiredClaims)
}

func audienceAllowed(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

func (v *Validator) checkIssuer(t *Token, keyIssuer string, c *Checks) *Failure {
	tid := t.claim("tid")
	if ok, checked := v.issuerAccepted(t.Issuer, tid, c); checked && !ok {
		accepted := append([]string(nil), c.Issuers...)
		unknown := ""
		for _, src := range v.cfg.KeySources {
			if s := src.Current(); s != nil && s.Issuer != "" {
				accepted = append(accepted, s.Issuer)
			} else {
				unknown = " (an openid-config source has no keys at the moment, so its issuer is unknown)"
			}
		}
		return &Failure{Reason: TokenIssuerNotAllowed, Message: TokenIssuerNotAllowed.Message(),
			Detail: fmt.Sprintf("expected iss to be one of %s%s, found %q%s", quoteList(accepted), unknown, clip(t.Issuer), issuerHint(t, accepted))}
	}
	// Entra's JWKS names an issuer per key; a key with a concrete issuer (e.g. the Microsoft
	// account tenant's) may only sign that tenant's tokens.
	if keyIssuer != "" && !keyIssuerMatches(keyIssuer, t.Issuer, tid) {
		return &Failure{Reason: TokenIssuerNotAllowed, Message: TokenIssuerNotAllowed.Message(),
			Detail: fmt.Sprintf("the signing key is published for issuer %q, but the token's iss is %q (tid %q)", keyIssuer, clip(t.Issuer), clip(tid))}
	}
	return nil
}

// issuerAccepted matches iss against the configured issuers and the key sources' discovery
// issuers; checked is false when there are none, and then any issuer passes.
func (v *Validator) issuerAccepted(iss, tid string, c *Checks) (ok, checked bool) {
	for _, a := range c.Issuers {
		if issuerMatches(a, iss, tid) {
			return true, true
		}
	}
	// A key source always makes the issuer checked: when its keys (and so its discovery
	// issuer) are unavailable, nothing from it matches, which fails closed.
	checked = len(c.Issuers) > 0 || len(v.cfg.KeySources) > 0
	for _, src := range v.cfg.KeySources {
		if s := src.Current(); s != nil && s.Issuer != "" && issuerMatches(s.Issuer, iss, tid) {
			return true, true
		}
	}
	return false, checked
}

const tenantPlaceholder = "{tenantid}"

// issuerMatches compares an accepted issuer with the token's, resolving Entra's "{tenantid}"
// template against tid (which must then be a GUID and the tenant segment of iss), without
// allocating.
func issuerMatches(accepted, iss, tid string) bool {
	i := indexFold(accepted, tenantPlaceholder)
	if i < 0 {
		return accepted == iss
	}
	if !isGUID(tid) {
		return false
	}
	prefix, suffix := accepted[:i], accepted[i+len(tenantPlaceholder):]
	return len(iss) == len(prefix)+len(tid)+len(suffix) &&
		strings.HasPrefix(iss, prefix) && strings.HasSuffix(iss, suffix) &&
		iss[len(prefix):len(prefix)+len(tid)] == tid
}

// keyIssuerMatches accepts the token when its iss is the key's issuer (resolved), or when
// both name the same tenant: Entra signs v1.0 tokens (iss https://sts.windows.net/{tid}/)
// with the keys its v2.0 JWKS lists under the v2.0 issuer.
func keyIssuerMatches(keyIssuer, iss, tid string) bool {
	if issuerMatches(keyIssuer, iss, tid) {
		return true
	}
	keyTenant := tenantSegment(keyIssuer)
	if strings.EqualFold(keyTenant, tenantPlaceholder) {
		keyTenant = tid
	}
	return isGUID(keyTenant) && keyTenant == tid && tenantSegment(iss) == tid
}

// tenantSegment is the first path segment of an issuer URL.
func tenantSegment(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	rest := u[i+3:]
	j := strings.IndexByte(rest, '/')
	if j < 0 {
		return ""
	}
	seg, _, _ := strings.Cut(rest[j+1:], "/")
	return seg
}

func indexFold(s, sub string) int {
	if sub != "" && !isASCIILetter(sub[0]) {
		// A first byte that folds to nothing else ('{' of the placeholder): jump between its
		// occurrences instead of comparing at every offset (issuers are checked per request).
		for i := 0; ; i++ {
			j := strings.IndexByte(s[i:], sub[0])
			if j < 0 || i+j+len(sub) > len(s) {
				return -1
			}
			i += j
			if strings.EqualFold(s[i:i+len(sub)], sub) {
				return i
			}
		}
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func checkClaims(t *Token, reqs []ClaimRequirement) *Failure {
	var missing []string
	for i := range reqs {
		if _, ok := t.Claims[reqs[i].Name]; !ok {
			missing = append(missing, reqs[i].Name)
		}
	}
	if len(missing) > 0 {
		return missingClaims(missing)
	}
	for i := range reqs {
		r := &reqs[i]
		if len(r.Values) == 0 {
			continue
		}
		have := t.Claims[r.Name]
		if r.MatchAny {
			ok := false
			for _, want := range r.Values {
				if hasValue(have, want, r.Separator) {
					ok = true
					break
				}
			}
			if !ok {
				return valueFailure(t, r, "one of")
			}
			continue
		}
		for _, want := range r.Values {
			if !hasValue(have, want, r.Separator) {
				return valueFailure(t, r, "all of")
			}
		}
	}
	return nil
}

// hasValue reports whether want is one of the claim's values, each split by sep when set.
func hasValue(have []string, want, sep string) bool {
	for _, h := range have {
		if sep == "" {
			if h == want {
				return true
			}
			continue
		}
		for rest := h; ; {
			part, after, found := strings.Cut(rest, sep)
			if part == want {
				return true
			}
			if !found {
				break
			}
			rest = after
		}
	}
	return false
}

func valueFailure(t *Token, r *ClaimRequirement, how string) *Failure {
	have := t.Claims[r.Name]
	value := strings.Join(have, ",")
	detail := fmt.Sprintf("claim %q: expected %s %s, found %s", r.Name, how, quoteList(r.Values), quoteList(have))
	if r.Separator != "" {
		detail += fmt.Sprintf(" (split at %q)", r.Separator)
	}
	if r.Name == "aud" {
		detail += audienceHint(t, r.Values)
	}
	return claimValueNotAllowed(r.Name, value, detail)
}

// tokenVersion is "1.0" or "2.0" for an Entra token, from ver or the shape of iss.
func tokenVersion(t *Token) string {
	if v := t.claim("ver"); v == "1.0" || v == "2.0" {
		return v
	}
	switch {
	case strings.HasPrefix(t.Issuer, "https://sts.windows.net/"):
		return "1.0"
	case strings.HasSuffix(t.Issuer, "/v2.0"):
		return "2.0"
	}
	return ""
}

// audienceHint names Entra's audience pitfall when it applies: v1.0 tokens carry the
// Application ID URI the client asked for, v2.0 tokens the API's client ID.
func audienceHint(t *Token, want []string) string {
	ver := tokenVersion(t)
	for _, w := range want {
		for _, h := range t.Audiences {
			switch {
			case ver == "1.0" && isGUID(w) && strings.HasSuffix(h, w) && h != w:
				return fmt.Sprintf(". This is an Entra v1.0 token: its aud is the Application ID URI the client requested (%q), not the client ID; accept that URI too, or set the API app's requestedAccessTokenVersion (accessTokenAcceptedVersion) to 2", h)
			case ver == "2.0" && isGUID(h) && strings.HasSuffix(w, h) && h != w:
				return fmt.Sprintf(". This is an Entra v2.0 token: its aud is the API's client ID (%q), not its Application ID URI (%q); accept the client ID", h, w)
			}
		}
	}
	switch ver {
	case "1.0":
		return ". (Entra v1.0 tokens carry the Application ID URI the client requested, e.g. api://{client-id}, as aud)"
	case "2.0":
		return ". (Entra v2.0 tokens carry the API's client ID as aud)"
	}
	return ""
}

// issuerHint names Entra's issuer pitfall: a v1.0 token's iss is https://sts.windows.net/{tid}/,
// a v2.0 token's ends in /v2.0, and each version's metadata URL advertises only its own.
func issuerHint(t *Token, accepted []string) string {
	ver := tokenVersion(t)
	acceptsV2, acceptsV1 := false, false
	for _, a := range accepted {
		acceptsV2 = acceptsV2 || strings.HasSuffix(a, "/v2.0")
		acceptsV1 = acceptsV1 || strings.HasPrefix(a, "https://sts.windows.net/")
	}
	switch {
	case ver == "1.0" && acceptsV2 && !acceptsV1:
		return ". This is an Entra v1.0 token (iss https://sts.windows.net/{tid}/) but only v2.0 issuers are accepted: use the v1 metadata URL (…/{tenant}/.well-known/openid-configuration), add the v1 issuer to <issuers>, or set the API app's requestedAccessTokenVersion to 2"
	case ver == "2.0" && acceptsV1 && !acceptsV2:
		return ". This is an Entra v2.0 token (iss …/{tid}/v2.0) but only v1.0 issuers are accepted: use the v2.0 metadata URL (…/{tenant}/v2.0/.well-known/openid-configuration) or add the v2.0 issuer to <issuers>"
	}
	return ""
}
