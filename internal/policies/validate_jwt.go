package policies

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/jwt"
	"portcullis/internal/keys"
	"portcullis/internal/policy"
)

// ValidateJWTDeps are validate-jwt's services from the running gateway.
type ValidateJWTDeps struct {
	// Keys serves openid-config keys; nil makes <openid-config> a load error.
	Keys *keys.Cache
	// Tokens is the validated-token cache shared by every validate-jwt; nil disables it.
	Tokens *jwt.Cache
	// Logger receives one line per refused token: reason and detail, never the token.
	Logger *slog.Logger
	// NoWWWAuthenticate turns off the RFC 6750 header (gateway.www-authenticate: false).
	NoWWWAuthenticate bool
	// Now is the validators' clock; nil means time.Now.
	Now func() time.Time
}

// validateJWT is one compiled <validate-jwt>.
type validateJWT struct {
	deps ValidateJWTDeps
	id   string

	header, query, tokenValue *policy.Value
	requireScheme             policy.Value
	httpCode                  policy.Value
	errorMessage              *policy.Value
	requireExp, requireSigned policy.Value
	clockSkew                 policy.Value
	outputVar                 string

	audiences, issuers []policy.Value
	claims             []claimSpec

	validator *jwt.Validator
	// static: no attribute or value is an expression, so the validator's own checks apply.
	static bool
}

type claimSpec struct {
	name, separator string
	matchAny        bool
	values          []policy.Value
}

var validateJWTAttrs = map[string]bool{
	"header-name": true, "query-parameter-name": true, "token-value": true,
	"failed-validation-httpcode": true, "failed-validation-error-message": true,
	"require-expiration-time": true, "require-scheme": true, "require-signed-tokens": true,
	"clock-skew": true, "output-token-variable-name": true, "id": true,
}

func (d ValidateJWTDeps) compile(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	p := &validateJWT{deps: d, static: true}
	dynamic := false // a check-affecting attribute is an expression
	attr := func(name string) (policy.Value, bool, error) {
		a, ok := el.Attr(name)
		if !ok {
			return policy.Value{}, false, nil
		}
		v, err := c.Value(a)
		if err != nil {
			return policy.Value{}, true, err
		}
		return v, true, nil
	}
	for _, a := range el.Attrs {
		if !validateJWTAttrs[a.Name] {
			return nil, policy.Errorf(a.Pos, "<validate-jwt> has no attribute %q", a.Name)
		}
	}
	sources := 0
	for _, name := range []string{"header-name", "query-parameter-name", "token-value"} {
		v, ok, err := attr(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		sources++
		vv := v
		switch name {
		case "header-name":
			p.header = &vv
		case "query-parameter-name":
			p.query = &vv
		default:
			p.tokenValue = &vv
		}
		if !v.IsExpr() && strings.TrimSpace(v.Const) == "" {
			a, _ := el.Attr(name)
			return nil, policy.Errorf(a.Pos, "<validate-jwt> %s must not be empty", name)
		}
	}
	if sources != 1 {
		return nil, policy.Errorf(el.Pos, "<validate-jwt> needs exactly one of header-name, query-parameter-name and token-value; found %d", sources)
	}
	var err error
	if p.requireScheme, _, err = attr("require-scheme"); err != nil {
		return nil, err
	}
	if p.httpCode, err = constOrDefault(el, attr, "failed-validation-httpcode", "401", checkStatus, new(bool)); err != nil {
		return nil, err
	}
	if v, ok, err := attr("failed-validation-error-message"); err != nil {
		return nil, err
	} else if ok {
		p.errorMessage = &v
	}
	if p.requireExp, err = constOrDefault(el, attr, "require-expiration-time", "true", checkBool, &dynamic); err != nil {
		return nil, err
	}
	if p.requireSigned, err = constOrDefault(el, attr, "require-signed-tokens", "true", checkBool, &dynamic); err != nil {
		return nil, err
	}
	if p.clockSkew, err = constOrDefault(el, attr, "clock-skew", "0", checkSkew, &dynamic); err != nil {
		return nil, err
	}
	if a, ok := el.Attr("output-token-variable-name"); ok {
		if strings.HasPrefix(strings.TrimSpace(a.Value), "@") {
			return nil, policy.Errorf(a.Pos, "<validate-jwt> output-token-variable-name does not accept policy expressions")
		}
		if strings.TrimSpace(a.Value) == "" {
			return nil, policy.Errorf(a.Pos, "<validate-jwt> output-token-variable-name must not be empty")
		}
		p.outputVar = a.Value
	}
	if a, ok := el.Attr("id"); ok {
		p.id = a.Value
	}

	cfg := jwt.Config{Cache: d.Tokens, Now: d.Now}
	seen := map[string]bool{}
	for _, ch := range el.Children {
		if ch.Name != "openid-config" {
			if seen[ch.Name] {
				return nil, policy.Errorf(ch.Pos, "<validate-jwt> has more than one <%s>", ch.Name)
			}
			seen[ch.Name] = true
		}
		var err error
		switch ch.Name {
		case "openid-config":
			err = d.openIDConfig(ch, &cfg)
		case "issuer-signing-keys":
			cfg.SigningKeys, err = signingKeys(ch, c)
		case "decryption-keys":
			cfg.DecryptionKeys, err = decryptionKeys(ch, c)
		case "audiences":
			p.audiences, err = valueList(ch, c, "audience", &p.static)
		case "issuers":
			p.issuers, err = valueList(ch, c, "issuer", &p.static)
		case "required-claims":
			p.claims, err = requiredClaims(ch, c, &p.static)
		default:
			err = policy.Errorf(ch.Pos, "<validate-jwt> has no child element <%s>; expected openid-config, issuer-signing-keys, decryption-keys, audiences, issuers or required-claims", ch.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(el.Text) != "" {
		return nil, policy.Errorf(el.Pos, "<validate-jwt> must not contain text")
	}
	if dynamic {
		p.static = false
	}
	if p.static {
		checks, err := p.checks(nil)
		if err != nil {
			return nil, policy.Errorf(el.Pos, "<validate-jwt>: %v", err)
		}
		cfg.Checks = *checks
	}
	v, err := jwt.New(cfg)
	if err != nil {
		return nil, policy.Errorf(el.Pos, "<validate-jwt>: %v", err)
	}
	p.validator = v
	return p, nil
}

// constOrDefault reads an attribute that may be an expression; a constant is checked now.
func constOrDefault(el *policy.Element, attr func(string) (policy.Value, bool, error), name, def string, check func(string) error, dynamic *bool) (policy.Value, error) {
	v, ok, err := attr(name)
	if err != nil {
		return policy.Value{}, err
	}
	if !ok {
		return policy.Value{Const: def, Pos: el.Pos}, nil
	}
	if v.IsExpr() {
		*dynamic = true
	} else {
		if err := check(v.Const); err != nil {
			return policy.Value{}, policy.Errorf(v.Pos, "<validate-jwt> %s: %v", name, err)
		}
	}
	return v, nil
}

func checkStatus(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 100 || n > 599 {
		return fmt.Errorf("expected an HTTP status code (100-599), found %q", s)
	}
	return nil
}

func checkBool(s string) error {
	_, err := parseBool(s)
	return err
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("expected true or false, found %q", s)
}

func checkSkew(s string) error {
	_, err := parseSkew(s)
	return err
}

// parseSkew reads clock-skew: whole seconds, or a .NET TimeSpan (hh:mm:ss).
func parseSkew(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > 7*24*3600 {
			return 0, fmt.Errorf("expected seconds between 0 and 604800, found %q", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	if h, m, sec, ok := splitClock(s); ok && h*3600+m*60+sec <= 7*24*3600 {
		return time.Duration(h*3600+m*60+sec) * time.Second, nil
	}
	return 0, fmt.Errorf("expected seconds or hh:mm:ss, found %q", s)
}

func splitClock(s string) (h, m, sec int64, ok bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var n [3]int64
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 || (i > 0 && v > 59) {
			return 0, 0, 0, false
		}
		n[i] = v
	}
	return n[0], n[1], n[2], true
}

func checkOnlyAttrs(el *policy.Element, allowed ...string) error {
	for _, a := range el.Attrs {
		ok := false
		for _, n := range allowed {
			ok = ok || a.Name == n
		}
		if !ok {
			return policy.Errorf(a.Pos, "<%s> has no attribute %q", el.Name, a.Name)
		}
	}
	return nil
}

func checkNoChildren(el *policy.Element) error {
	if len(el.Children) > 0 {
		return policy.Errorf(el.Children[0].Pos, "<%s> has no child elements; found <%s>", el.Name, el.Children[0].Name)
	}
	return nil
}

func (d ValidateJWTDeps) openIDConfig(el *policy.Element, cfg *jwt.Config) error {
	if err := checkOnlyAttrs(el, "url", "validate-connectivity"); err != nil {
		return err
	}
	if err := checkNoChildren(el); err != nil {
		return err
	}
	if a, ok := el.Attr("validate-connectivity"); ok {
		if err := checkBool(a.Value); err != nil {
			return policy.Errorf(a.Pos, "<openid-config> validate-connectivity: %v", err)
		}
	}
	a, ok := el.Attr("url")
	if !ok || strings.TrimSpace(a.Value) == "" {
		return policy.Errorf(el.Pos, "<openid-config> needs a url")
	}
	if strings.HasPrefix(strings.TrimSpace(a.Value), "@") {
		return policy.Errorf(a.Pos, "<openid-config> url does not accept policy expressions")
	}
	if d.Keys == nil {
		return policy.Errorf(el.Pos, "<openid-config> needs the gateway's key cache, which this context does not provide")
	}
	src, err := d.Keys.Source(strings.TrimSpace(a.Value))
	if err != nil {
		return policy.Errorf(a.Pos, "<openid-config> url: %v", err)
	}
	cfg.KeySources = append(cfg.KeySources, src)
	return nil
}

// minHMACKey is the shortest secret HS256 accepts (RFC 7518 §3.2: at least the hash size).
const minHMACKey = 32

func signingKeys(el *policy.Element, c *policy.Compiler) ([]jose.Key, error) {
	if err := checkOnlyAttrs(el); err != nil {
		return nil, err
	}
	var out []jose.Key
	for _, k := range el.Children {
		if k.Name != "key" {
			return nil, policy.Errorf(k.Pos, "<issuer-signing-keys> holds <key> elements; found <%s>", k.Name)
		}
		if err := checkOnlyAttrs(k, "id", "certificate-id", "n", "e"); err != nil {
			return nil, err
		}
		if err := checkNoChildren(k); err != nil {
			return nil, err
		}
		id, _ := k.Attr("id")
		certID, hasCert := k.Attr("certificate-id")
		n, hasN := k.Attr("n")
		e, hasE := k.Attr("e")
		text := strings.TrimSpace(k.Text)
		kinds := 0
		for _, b := range []bool{hasCert, hasN || hasE, text != ""} {
			if b {
				kinds++
			}
		}
		if kinds != 1 {
			return nil, policy.Errorf(k.Pos, "<key> needs exactly one of: a base64 symmetric key as text, certificate-id, or n and e")
		}
		var key *jose.Key
		var err error
		switch {
		case hasCert:
			key, err = certificateKey(c, certID, false)
		case hasN || hasE:
			if !hasN || !hasE {
				return nil, policy.Errorf(k.Pos, "<key> needs both n and e")
			}
			key, err = jose.KeyFromRSAComponents(strings.TrimSpace(n.Value), strings.TrimSpace(e.Value))
			if err != nil {
				err = policy.Errorf(n.Pos, "<key> n/e: %v", err)
			}
		default:
			key, err = symmetricKey(k, text)
		}
		if err != nil {
			return nil, err
		}
		key.ID = id.Value
		out = append(out, *key)
	}
	return out, nil
}

func symmetricKey(k *policy.Element, text string) (*jose.Key, error) {
	if strings.HasPrefix(text, "@") {
		return nil, policy.Errorf(k.Pos, "<key> does not accept policy expressions; use a named value {{name}}")
	}
	secret, err := decodeBase64(text)
	if err != nil {
		return nil, policy.Errorf(k.Pos, "<key> text must be a base64-encoded key: %v", err)
	}
	if len(secret) < minHMACKey {
		return nil, policy.Errorf(k.Pos, "<key> is %d bytes long; an HMAC key needs at least %d (256 bits)", len(secret), minHMACKey)
	}
	return &jose.Key{Secret: secret}, nil
}

// decodeBase64 accepts standard or URL-safe base64, padded or not, as APIM's users write it.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not valid base64")
}

func certificateKey(c *policy.Compiler, a policy.Attr, private bool) (*jose.Key, error) {
	cert, ok := c.Certificates[a.Value]
	if !ok || len(cert.Chain) == 0 {
		return nil, policy.Errorf(a.Pos, "certificate-id %q names no certificate under gateway.certificates", a.Value)
	}
	key, err := jose.KeyFromCertificate(cert.Chain[0].Raw)
	if err != nil {
		return nil, policy.Errorf(a.Pos, "certificate %q: %v", a.Value, err)
	}
	if private {
		if cert.Key == nil {
			return nil, policy.Errorf(a.Pos, "certificate %q has no private key, which decryption needs", a.Value)
		}
		key.Private = cert.Key
	}
	return key, nil
}

func decryptionKeys(el *policy.Element, c *policy.Compiler) ([]jose.Key, error) {
	if err := checkOnlyAttrs(el); err != nil {
		return nil, err
	}
	var out []jose.Key
	for _, k := range el.Children {
		if k.Name != "key" {
			return nil, policy.Errorf(k.Pos, "<decryption-keys> holds <key> elements; found <%s>", k.Name)
		}
		if err := checkOnlyAttrs(k, "certificate-id"); err != nil {
			return nil, err
		}
		if err := checkNoChildren(k); err != nil {
			return nil, err
		}
		certID, hasCert := k.Attr("certificate-id")
		text := strings.TrimSpace(k.Text)
		switch {
		case hasCert && text == "":
			key, err := certificateKey(c, certID, true)
			if err != nil {
				return nil, err
			}
			out = append(out, *key)
		case !hasCert && text != "":
			secret, err := decodeBase64(text)
			if err != nil {
				return nil, policy.Errorf(k.Pos, "<key> text must be a base64-encoded key: %v", err)
			}
			if n := len(secret); n != 16 && n != 32 && n != 64 {
				return nil, policy.Errorf(k.Pos, "<key> is %d bytes long; a decryption key is 16, 32 or 64 bytes (A128KW, A256KW or dir)", n)
			}
			out = append(out, jose.Key{Secret: secret})
		default:
			return nil, policy.Errorf(k.Pos, "<key> needs exactly one of: a base64 symmetric key as text, or certificate-id")
		}
	}
	return out, nil
}

func valueList(el *policy.Element, c *policy.Compiler, child string, static *bool) ([]policy.Value, error) {
	if err := checkOnlyAttrs(el); err != nil {
		return nil, err
	}
	var out []policy.Value
	for _, ch := range el.Children {
		if ch.Name != child {
			return nil, policy.Errorf(ch.Pos, "<%s> holds <%s> elements; found <%s>", el.Name, child, ch.Name)
		}
		if err := checkOnlyAttrs(ch); err != nil {
			return nil, err
		}
		if err := checkNoChildren(ch); err != nil {
			return nil, err
		}
		v, err := c.TextValue(ch)
		if err != nil {
			return nil, err
		}
		if v.IsExpr() {
			*static = false
		} else {
			v.Const = strings.TrimSpace(v.Const)
			if v.Const == "" {
				return nil, policy.Errorf(ch.Pos, "<%s> must not be empty", child)
			}
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, policy.Errorf(el.Pos, "<%s> needs at least one <%s>", el.Name, child)
	}
	return out, nil
}

func requiredClaims(el *policy.Element, c *policy.Compiler, static *bool) ([]claimSpec, error) {
	if err := checkOnlyAttrs(el); err != nil {
		return nil, err
	}
	var out []claimSpec
	for _, ch := range el.Children {
		if ch.Name != "claim" {
			return nil, policy.Errorf(ch.Pos, "<required-claims> holds <claim> elements; found <%s>", ch.Name)
		}
		if err := checkOnlyAttrs(ch, "name", "match", "separator"); err != nil {
			return nil, err
		}
		name, ok := ch.Attr("name")
		if !ok || strings.TrimSpace(name.Value) == "" {
			return nil, policy.Errorf(ch.Pos, "<claim> needs a name")
		}
		spec := claimSpec{name: strings.TrimSpace(name.Value)}
		if m, ok := ch.Attr("match"); ok {
			switch m.Value {
			case "all":
			case "any":
				spec.matchAny = true
			default:
				return nil, policy.Errorf(m.Pos, "<claim> match must be \"all\" or \"any\", found %q", m.Value)
			}
		}
		if s, ok := ch.Attr("separator"); ok {
			if s.Value == "" {
				return nil, policy.Errorf(s.Pos, "<claim> separator must not be empty")
			}
			spec.separator = s.Value
		}
		if strings.TrimSpace(ch.Text) != "" {
			return nil, policy.Errorf(ch.Pos, "<claim> holds its values in <value> elements, not as text")
		}
		for _, v := range ch.Children {
			if v.Name != "value" {
				return nil, policy.Errorf(v.Pos, "<claim> holds <value> elements; found <%s>", v.Name)
			}
			if err := checkOnlyAttrs(v); err != nil {
				return nil, err
			}
			if err := checkNoChildren(v); err != nil {
				return nil, err
			}
			val, err := c.TextValue(v)
			if err != nil {
				return nil, err
			}
			if val.IsExpr() {
				*static = false
			}
			spec.values = append(spec.values, val)
		}
		out = append(out, spec)
	}
	if len(out) == 0 {
		return nil, policy.Errorf(el.Pos, "<required-claims> needs at least one <claim>")
	}
	return out, nil
}

// checks evaluates the per-request parts of the policy; ctx nil means at load time, where
// every value is a constant.
func (p *validateJWT) checks(ctx *policy.Context) (*jwt.Checks, error) {
	str := func(v policy.Value) (string, error) {
		if ctx == nil {
			return v.Const, nil
		}
		return v.String(ctx)
	}
	c := &jwt.Checks{}
	s, err := str(p.requireExp)
	if err != nil {
		return nil, err
	}
	reqExp, err := parseBool(s)
	if err != nil {
		return nil, fmt.Errorf("require-expiration-time: %w", err)
	}
	c.AllowNoExpiration = !reqExp
	if s, err = str(p.requireSigned); err != nil {
		return nil, err
	}
	reqSigned, err := parseBool(s)
	if err != nil {
		return nil, fmt.Errorf("require-signed-tokens: %w", err)
	}
	c.InsecureAllowUnsigned = !reqSigned
	if s, err = str(p.clockSkew); err != nil {
		return nil, err
	}
	if c.ClockSkew, err = parseSkew(s); err != nil {
		return nil, fmt.Errorf("clock-skew: %w", err)
	}
	if c.Audiences, err = trimmedValues(p.audiences, str); err != nil {
		return nil, err
	}
	if c.Issuers, err = trimmedValues(p.issuers, str); err != nil {
		return nil, err
	}
	if c.RequiredClaims, err = claimRequirements(p.claims, str); err != nil {
		return nil, err
	}
	return c, nil
}

// trimmedValues evaluates a list of audiences or issuers.
func trimmedValues(values []policy.Value, str func(policy.Value) (string, error)) ([]string, error) {
	var out []string
	for _, v := range values {
		s, err := str(v)
		if err != nil {
			return nil, err
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out, nil
}

// claimRequirements evaluates <required-claims> (validate-jwt and validate-azure-ad-token).
func claimRequirements(claims []claimSpec, str func(policy.Value) (string, error)) ([]jwt.ClaimRequirement, error) {
	var out []jwt.ClaimRequirement
	for _, cl := range claims {
		r := jwt.ClaimRequirement{Name: cl.name, MatchAny: cl.matchAny, Separator: cl.separator}
		for _, v := range cl.values {
			s, err := str(v)
			if err != nil {
				return nil, err
			}
			r.Values = append(r.Values, s)
		}
		out = append(out, r)
	}
	return out, nil
}

func (p *validateJWT) Run(ctx *policy.Context) error {
	raw, absent, err := p.locate(ctx)
	if err != nil {
		return err
	}
	if absent != "" {
		return p.failure(ctx, &jwt.Failure{Reason: jwt.TokenNotPresent, Message: jwt.TokenNotPresent.Message(), Detail: absent})
	}
	var tok *jwt.Token
	if p.static {
		tok, err = p.validator.Validate(raw)
	} else {
		var c *jwt.Checks
		if c, err = p.checks(ctx); err != nil {
			return expressionFailure(err)
		}
		tok, err = p.validator.ValidateWith(raw, c)
	}
	if err != nil {
		var f *jwt.Failure
		if !errors.As(err, &f) {
			f = &jwt.Failure{Reason: jwt.JwtInvalid, Message: jwt.JwtInvalid.Message(), Detail: err.Error(), Err: err}
		}
		return p.failure(ctx, f)
	}
	if p.outputVar != "" {
		if ctx.Variables == nil {
			ctx.Variables = make(map[string]any)
		}
		ctx.Variables[p.outputVar] = tok
	}
	return nil
}

// extract finds the token: in the header (an Authorization header loses a "Bearer " prefix,
// matched case-insensitively, with or without require-scheme), the query parameter, or the
// token-value expression. absent, when not empty, says why there is no token.
func (p *validateJWT) locate(ctx *policy.Context) (raw, absent string, err error) {
	switch {
	case p.header != nil:
		name, err := p.header.String(ctx)
		if err != nil {
			return "", "", expressionFailure(err)
		}
		v, ok := ctx.Request.Header.Get(name)
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return "", "the request has no " + name + " header", nil
		}
		if !strings.EqualFold(name, "Authorization") {
			return v, "", nil
		}
		scheme, err := p.requireScheme.String(ctx)
		if err != nil {
			return "", "", expressionFailure(err)
		}
		scheme = strings.TrimSpace(scheme)
		if scheme != "" {
			rest, ok := cutScheme(v, scheme)
			if !ok {
				return "", "the Authorization header does not use the " + scheme + " scheme that require-scheme asks for", nil
			}
			if rest == "" {
				return "", "the Authorization header holds the " + scheme + " scheme without a token", nil
			}
			return rest, "", nil
		}
		if rest, ok := cutScheme(v, "Bearer"); ok {
			if rest == "" {
				return "", "the Authorization header holds the Bearer scheme without a token", nil
			}
			return rest, "", nil
		}
		return v, "", nil
	case p.query != nil:
		name, err := p.query.String(ctx)
		if err != nil {
			return "", "", expressionFailure(err)
		}
		v, _ := ctx.Request.OriginalURL.Query.Get(name)
		if v = strings.TrimSpace(v); v == "" {
			return "", "the request has no " + name + " query parameter", nil
		}
		return v, "", nil
	default:
		v, err := p.tokenValue.String(ctx)
		if err != nil {
			return "", "", expressionFailure(err)
		}
		if v = strings.TrimSpace(v); v == "" {
			return "", "token-value gave an empty string", nil
		}
		return v, "", nil
	}
}

// extract is locate for callers that only need to know whether a token is there
// (validate-azure-ad-token shares this extraction).
func (p *validateJWT) extract(ctx *policy.Context) (raw string, present bool, err error) {
	raw, absent, err := p.locate(ctx)
	return raw, absent == "" && err == nil, err
}

func cutScheme(v, scheme string) (string, bool) {
	if strings.EqualFold(v, scheme) {
		return "", true // the scheme with no token
	}
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) || (v[len(scheme)] != ' ' && v[len(scheme)] != '\t') {
		return "", false
	}
	return strings.TrimSpace(v[len(scheme):]), true
}

// expressionFailure: the pipeline reports an error that is not a *policy.Failure as APIM's
// ExpressionValueEvaluationFailure (500).
func expressionFailure(err error) error {
	return fmt.Errorf("validate-jwt: evaluating an expression: %w", err)
}

func (p *validateJWT) failure(ctx *policy.Context, f *jwt.Failure) error {
	status := 401
	if s, err := p.httpCode.String(ctx); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 100 && n <= 599 {
			status = n
		}
	}
	msg := f.Message
	if p.errorMessage != nil {
		if s, err := p.errorMessage.String(ctx); err == nil && s != "" {
			msg = s
		}
	}
	out := &policy.Failure{
		Source:     "validate-jwt",
		Reason:     string(f.Reason),
		Message:    msg,
		StatusCode: status,
		Detail:     f.Message + " Detail: " + f.Detail + ".",
		Err:        f,
	}
	if status == 401 && !p.deps.NoWWWAuthenticate {
		v := "Bearer"
		if f.Reason != jwt.TokenNotPresent {
			v = `Bearer error="invalid_token", error_description="` + headerSafe(f.Message) + `"`
		}
		out.Header = []policy.Field{{Name: "WWW-Authenticate", Value: v}}
	}
	if p.deps.Logger != nil {
		p.deps.Logger.Info("validate-jwt refused the request",
			"reason", string(f.Reason), "detail", f.Detail, "policy_id", p.id, "request_id", ctx.RequestID)
	}
	return out
}

// headerSafe keeps what RFC 6750 allows in error_description: printable ASCII without '"'
// and '\'. The message may repeat a claim value from the token.
func headerSafe(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\'')
		case c >= 0x20 && c <= 0x7e:
			b = append(b, c)
		default:
			b = append(b, '?')
		}
	}
	return string(b)
}
