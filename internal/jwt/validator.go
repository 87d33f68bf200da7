package jwt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/keys"
)

// MaxHeaderBytes bounds the encoded JOSE header of a token. Real headers are under 200
// bytes; a large one is an attack on the parser, refused before it is decoded.
const MaxHeaderBytes = 4 << 10

// noExpiryCacheTTL bounds the cache life of a token that has no exp (when allowed).
const noExpiryCacheTTL = 5 * time.Minute

// KeySource is where openid-config keys come from; *keys.Source implements it.
type KeySource interface {
	// Current returns the keys in force, or nil when there are none (not fetched yet, or
	// dropped as too stale). It is called on every validation and must be cheap.
	Current() *keys.Set
	// RefetchUnknownKid asks the identity provider again because a token named a key the
	// source does not have. The source decides (single flight, rate limit) whether a fetch
	// actually happens; it returns the keys in force afterwards.
	RefetchUnknownKid() *keys.Set
}

var _ KeySource = (*keys.Source)(nil)

// ClaimRequirement is one <claim> of <required-claims>.
type ClaimRequirement struct {
	Name   string
	Values []string
	// MatchAny: one of Values suffices; otherwise every one must be among the claim's values.
	MatchAny bool
	// Separator splits each string value of the claim into several (e.g. " " for scp).
	Separator string
}

// Checks are the tests a token's claims must pass. They are re-run on every validation, also
// when the token's signature is known good from the cache, so they may differ per request
// (APIM allows expressions in audiences, issuers and most attributes).
type Checks struct {
	// Audiences: when not empty, one of the token's aud values must be one of these.
	Audiences []string
	// Issuers are accepted in addition to the issuers of the key sources' discovery
	// documents; with neither, the issuer is not checked. "{tenantid}" (any case) in an
	// issuer stands for the token's tid.
	Issuers        []string
	RequiredClaims []ClaimRequirement
	// ClockSkew is the tolerance applied to exp and nbf.
	ClockSkew time.Duration
	// AllowNoExpiration accepts tokens without exp (require-expiration-time="false").
	AllowNoExpiration bool
	// InsecureAllowUnsigned accepts alg "none" tokens (require-signed-tokens="false").
	InsecureAllowUnsigned bool
}

// Config is a validator's fixed configuration: its keys and default checks.
type Config struct {
	Checks
	// SigningKeys are the static issuer-signing-keys. A token's kid (or x5t) picks the keys
	// whose ID matches; when none matches, every static key is tried (APIM's fallback).
	SigningKeys []jose.Key
	// DecryptionKeys decrypt encrypted tokens (JWE); without them a JWE is refused.
	DecryptionKeys []jose.Key
	// KeySources are the openid-config sources, in policy order.
	KeySources []KeySource
	// Cache holds validated tokens; nil disables caching.
	Cache *Cache
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validator validates tokens against one configuration. It is safe for concurrent use.
type Validator struct {
	cfg Config
	id  uint64 // this configuration's identity in the cache
}

// New returns a validator for cfg.
func New(cfg Config) (*Validator, error) {
	for i, k := range cfg.SigningKeys {
		if k.Public == nil && len(k.Secret) == 0 {
			return nil, fmt.Errorf("signing key %d (id %q) has neither a public key nor a secret", i+1, k.ID)
		}
	}
	for i, k := range cfg.DecryptionKeys {
		if k.Private == nil && len(k.Secret) == 0 {
			return nil, fmt.Errorf("decryption key %d has neither a private key nor a secret", i+1)
		}
	}
	for i, r := range cfg.RequiredClaims {
		if r.Name == "" {
			return nil, fmt.Errorf("required claim %d has no name", i+1)
		}
	}
	v := &Validator{cfg: cfg}
	if cfg.Cache != nil {
		v.id = cfg.Cache.register()
	}
	return v, nil
}

// Validate validates raw with the configured checks.
func (v *Validator) Validate(raw string) (*Token, error) {
	return v.ValidateWith(raw, &v.cfg.Checks)
}

// ValidateWith validates raw with checks c instead of the configured ones. The returned
// Token may be shared with other callers (it comes from the cache): it must not be modified.
// The error is always a *Failure.
func (v *Validator) ValidateWith(raw string, c *Checks) (*Token, error) {
	if raw == "" {
		return nil, fail(TokenNotPresent, nil, "no token was presented")
	}
	if len(raw) > jose.MaxTokenSize {
		return nil, fail(JwtInvalid, nil, "the token is %d bytes long; at most %d are accepted", len(raw), jose.MaxTokenSize)
	}
	now := v.now()
	var key cacheKey
	if v.cfg.Cache != nil {
		key = v.cfg.Cache.key(raw, v.id)
		if e, ok := v.cfg.Cache.get(key, raw); ok {
			if v.entryCurrent(e, now) {
				if f := v.check(e.tok, e.keyIssuer, now, c); f != nil {
					return nil, f
				}
				return e.tok, nil
			}
			v.cfg.Cache.remove(key)
		}
	}
	tok, vk, f := v.verify(raw, c)
	if f != nil {
		return nil, f
	}
	if f := v.check(tok, vk.issuer, now, c); f != nil {
		return nil, f
	}
	if v.cfg.Cache != nil && vk.signed {
		exp := now.Add(noExpiryCacheTTL)
		if !tok.ExpiresAt.IsZero() {
			exp = tok.ExpiresAt.Add(c.ClockSkew)
		}
		// The cache keeps its own copy of the token, not the caller's memory (the gateway's
		// per-request buffer), shared by the entry and its Token.
		same := tok.Raw == raw
		raw = strings.Clone(raw)
		if same {
			tok.Raw = raw
		}
		v.cfg.Cache.put(key, &cacheEntry{raw: raw, tok: tok, expires: exp.UnixNano(), src: vk.src, gen: vk.gen, keyIssuer: vk.issuer})
	}
	return tok, nil
}

func (v *Validator) now() time.Time {
	if v.cfg.Now != nil {
		return v.cfg.Now()
	}
	return time.Now()
}

// entryCurrent reports whether a cached entry may still be used: it has not outlived the
// token and the keys that verified it are still the ones in force.
func (v *Validator) entryCurrent(e *cacheEntry, now time.Time) bool {
	if now.UnixNano() > e.expires {
		return false
	}
	if e.src >= 0 {
		s := v.cfg.KeySources[e.src].Current()
		if s == nil || s.Generation != e.gen {
			return false
		}
	}
	return true
}

// verifiedBy says which key verified a token.
type verifiedBy struct {
	signed bool
	src    int    // index in KeySources; -1 for a static key
	gen    uint64 // the source's generation then
	issuer string // the key's own issuer (Entra JWKS), if any
}

func (v *Validator) verify(raw string, c *Checks) (*Token, verifiedBy, *Failure) {
	if !jose.IsEncrypted(raw) {
		return v.verifySigned(raw, raw, c)
	}
	if len(v.cfg.DecryptionKeys) == 0 {
		return nil, verifiedBy{}, fail(JwtInvalid, nil, "the token is encrypted (JWE) but the policy has no <decryption-keys>")
	}
	if i := strings.IndexByte(raw, '.'); i > MaxHeaderBytes {
		return nil, verifiedBy{}, fail(JwtInvalid, nil, "the encrypted token's header is %d bytes long; at most %d are accepted", i, MaxHeaderBytes)
	}
	plain, err := jose.Decrypt(raw, v.cfg.DecryptionKeys)
	if err != nil {
		return nil, verifiedBy{}, fail(JwtInvalid, err, "the encrypted token could not be decrypted with any of the %d decryption keys: %v", len(v.cfg.DecryptionKeys), err)
	}
	inner := string(plain)
	if jose.IsEncrypted(inner) {
		return nil, verifiedBy{}, fail(JwtInvalid, nil, "the encrypted token holds another encrypted token; one level of nesting is accepted")
	}
	if strings.Count(inner, ".") == 2 {
		// A nested JWT: the signed token inside is validated completely.
		return v.verifySigned(raw, inner, c)
	}
	if !c.InsecureAllowUnsigned {
		return nil, verifiedBy{}, fail(TokenSignatureInvalid, nil, "the encrypted token holds claims that nobody signed, and require-signed-tokens is true")
	}
	tok := &Token{Raw: raw, Payload: plain}
	if err := parseClaims(plain, tok); err != nil {
		return nil, verifiedBy{}, fail(JwtInvalid, err, "%v", err)
	}
	return tok, verifiedBy{src: -1}, nil
}

// verifySigned verifies the compact JWS s; raw is the token as presented (s itself, or the
// JWE that carried it).
func (v *Validator) verifySigned(raw, s string, c *Checks) (*Token, verifiedBy, *Failure) {
	if i := strings.IndexByte(s, '.'); i > MaxHeaderBytes || (i < 0 && len(s) > MaxHeaderBytes) {
		return nil, verifiedBy{}, fail(JwtInvalid, nil, "the token's header is longer than %d bytes", MaxHeaderBytes)
	}
	jws, err := jose.ParseCompact(s)
	if err != nil {
		return nil, verifiedBy{}, fail(JwtInvalid, err, "the token is not a well-formed signed JWT: %v", err)
	}
	var vk verifiedBy
	if jws.Header.Alg == "none" {
		if !c.InsecureAllowUnsigned {
			return nil, verifiedBy{}, fail(TokenSignatureInvalid, jose.ErrUnsigned, "the token is not signed (alg none) and require-signed-tokens is true")
		}
		vk.src = -1
	} else {
		var f *Failure
		if vk, f = v.verifySignature(jws); f != nil {
			return nil, verifiedBy{}, f
		}
	}
	tok, err := newToken(raw, jws)
	if err != nil {
		return nil, verifiedBy{}, fail(JwtInvalid, err, "%v", err)
	}
	return tok, vk, nil
}

type candidate struct {
	key *jose.Key
	src int
	gen uint64
}

// verifySignature finds the keys the token's kid (or x5t) names and verifies with them. Keys
// are only ever the configured ones and the key sources': jwk, jku, x5u and x5c in the
// header are ignored.
func (v *Validator) verifySignature(jws *jose.JWS) (verifiedBy, *Failure) {
	h := &jws.Header
	sets := make([]*keys.Set, len(v.cfg.KeySources))
	for i, src := range v.cfg.KeySources {
		sets[i] = src.Current()
	}
	cands := v.matching(h, sets)
	named := h.Kid != "" || h.X5t != ""
	if len(cands) == 0 && named && len(v.cfg.KeySources) > 0 {
		for i, src := range v.cfg.KeySources {
			sets[i] = src.RefetchUnknownKid()
		}
		cands = v.matching(h, sets)
	}
	fallback := false
	if len(cands) == 0 {
		fallback = true
		for i := range v.cfg.SigningKeys {
			cands = append(cands, candidate{key: &v.cfg.SigningKeys[i], src: -1})
		}
		if !named {
			for i, s := range sets {
				if s == nil {
					continue
				}
				for j := range s.Keys {
					cands = append(cands, candidate{key: &s.Keys[j], src: i, gen: s.Generation})
				}
			}
		}
	}
	if len(cands) == 0 {
		return verifiedBy{}, &Failure{Reason: TokenSignatureKeyNotFound, Message: TokenSignatureKeyNotFound.Message(),
			Detail: v.keyNotFoundDetail(h, sets)}
	}
	var errs []error
	for _, cand := range cands {
		err := jws.Verify(cand.key)
		if err == nil {
			return verifiedBy{signed: true, src: cand.src, gen: cand.gen, issuer: cand.key.Issuer}, nil
		}
		errs = append(errs, fmt.Errorf("key %q: %w", cand.key.ID, err))
	}
	joined := errors.Join(errs...)
	how := "the key it names"
	if fallback {
		how = fmt.Sprintf("any of the %d configured keys (none has the id %q, so all were tried)", len(cands), h.Kid)
	}
	reason := TokenSignatureInvalid
	if errors.Is(joined, jose.ErrUnsupportedAlgorithm) && !errors.Is(joined, jose.ErrSignatureInvalid) {
		reason = JwtInvalid
	}
	return verifiedBy{}, fail(reason, joined, "the %s signature does not verify with %s: %v", h.Alg, how, oneLine(joined))
}

func (v *Validator) matching(h *jose.Header, sets []*keys.Set) []candidate {
	var out []candidate
	for i := range v.cfg.SigningKeys {
		if keyMatches(&v.cfg.SigningKeys[i], h) {
			out = append(out, candidate{key: &v.cfg.SigningKeys[i], src: -1})
		}
	}
	for i, s := range sets {
		if s == nil {
			continue
		}
		for j := range s.Keys {
			if keyMatches(&s.Keys[j], h) {
				out = append(out, candidate{key: &s.Keys[j], src: i, gen: s.Generation})
			}
		}
	}
	return out
}

// keyMatches: the kid names a key by its id; a token with only x5t (Entra v1 tokens of
// 2013-2015) names it by thumbprint, which Entra also uses as the kid.
func keyMatches(k *jose.Key, h *jose.Header) bool {
	if h.Kid != "" {
		return k.ID == h.Kid
	}
	if h.X5t != "" {
		return k.X5t == h.X5t || k.ID == h.X5t
	}
	return false
}

func (v *Validator) keyNotFoundDetail(h *jose.Header, sets []*keys.Set) string {
	var b strings.Builder
	if h.Kid != "" {
		fmt.Fprintf(&b, "no key has the token's kid %q", clip(h.Kid))
	} else {
		fmt.Fprintf(&b, "no key has the token's x5t %q", clip(h.X5t))
	}
	for i, s := range sets {
		if s == nil {
			fmt.Fprintf(&b, "; openid-config %d has no usable keys (not fetched yet, or dropped after failing refreshes for longer than key-staleness)", i+1)
			continue
		}
		ids := make([]string, len(s.Keys))
		for j := range s.Keys {
			ids[j] = s.Keys[j].ID
		}
		fmt.Fprintf(&b, "; %s publishes %s", s.URL, quoteList(ids))
	}
	if len(sets) == 0 && len(v.cfg.SigningKeys) == 0 {
		b.WriteString("; the policy configures no signing keys and no openid-config")
	}
	return b.String()
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
