package policies

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"portcullis/internal/jwt"
	"portcullis/internal/policy"
)

// DefaultAzureADAuthority is Entra ID's public-cloud endpoint; gateway.authority-aliases can
// point it at Portcullis's identity service (the key cache applies them).
const DefaultAzureADAuthority = "https://login.microsoftonline.com"

// msaTenantID is the tenant of personal Microsoft accounts, which "organizations" excludes.
const msaTenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"

// maxDynamicTenants bounds the validators kept for a tenant-id given by an expression.
const maxDynamicTenants = 64

// AzureADDeps are validate-azure-ad-token's own settings; it shares validate-jwt's key
// cache, token cache, logger and WWW-Authenticate choice (Deps.ValidateJWT). Every tenant's
// discovery URLs are registered with that key cache when the policy is compiled, so
// /readyz (keys.Cache.Ready) waits for them as it does for openid-config.
type AzureADDeps struct {
	// Authority is the default authentication-endpoint; "" means DefaultAzureADAuthority.
	Authority string
}

// validateAzureADToken is one compiled <validate-azure-ad-token>: validate-jwt's checks with
// keys and issuers from the tenant's v2.0 and v1.0 discovery documents, then the calling
// application (client-application-ids).
type validateAzureADToken struct {
	deps      ValidateJWTDeps
	authority string
	id        string

	header, query, tokenValue *policy.Value
	httpCode                  *policy.Value
	errorMessage              *policy.Value
	outputVar                 string
	audiences                 []policy.Value
	claims                    []claimSpec
	static                    bool // no check depends on an expression

	tenant       *policy.Value // set when tenant-id is an expression
	validator    *jwt.Validator
	clientApps   []string
	organization bool // tenant-id="organizations": personal accounts are refused

	mu       sync.Mutex
	byTenant map[string]*jwt.Validator
	cfg      jwt.Config // the validators' configuration without key sources
}

func (d Deps) compileValidateAzureADToken(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "tenant-id", "header-name", "query-parameter-name", "token-value",
		"authentication-endpoint", "failed-validation-httpcode", "failed-validation-error-message", "output-token-variable-name")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(el.Text) != "" {
		return nil, policy.Errorf(el.TextPos, "<validate-azure-ad-token> takes no text")
	}
	p := &validateAzureADToken{deps: d.ValidateJWT, static: true}
	sources := 0
	for _, name := range []string{"header-name", "query-parameter-name", "token-value"} {
		v, err := r.value(name, false)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		sources++
		switch name {
		case "header-name":
			p.header = v
		case "query-parameter-name":
			p.query = v
		default:
			p.tokenValue = v
		}
	}
	if sources > 1 {
		return nil, policy.Errorf(el.Pos, "<validate-azure-ad-token> takes at most one of header-name, query-parameter-name and token-value; found %d", sources)
	}
	if sources == 0 {
		p.header = &policy.Value{Const: "Authorization", Pos: el.Pos}
	}
	if p.httpCode, err = r.intValue("failed-validation-httpcode", false, 100, 599); err != nil {
		return nil, err
	}
	if p.errorMessage, err = r.value("failed-validation-error-message", false); err != nil {
		return nil, err
	}
	if p.outputVar, _, err = r.constant("output-token-variable-name", false); err != nil {
		return nil, err
	}
	if id, ok := el.Attr("id"); ok {
		p.id = id.Value
	}

	p.authority = d.AzureAD.Authority
	if p.authority == "" {
		p.authority = DefaultAzureADAuthority
	}
	if ep, ok, err := r.constant("authentication-endpoint", false); err != nil {
		return nil, err
	} else if ok {
		ep = strings.TrimRight(strings.TrimSpace(ep), "/")
		if !strings.Contains(ep, "://") {
			ep = "https://" + ep
		}
		p.authority = ep
	}

	tenant, err := r.value("tenant-id", true)
	if err != nil {
		return nil, err
	}
	var tenantID string
	if tenant.IsExpr() {
		p.tenant = tenant
	} else {
		if tenantID, err = normalizeTenant(tenant.Const); err != nil {
			return nil, policy.Errorf(tenant.Pos, "<validate-azure-ad-token> tenant-id: %v", err)
		}
		p.organization = strings.EqualFold(tenantID, "organizations")
	}

	seen := map[string]bool{}
	var backendApps []string
	for _, ch := range el.Children {
		if seen[ch.Name] {
			return nil, policy.Errorf(ch.Pos, "<validate-azure-ad-token> has more than one <%s>", ch.Name)
		}
		seen[ch.Name] = true
		var err error
		switch ch.Name {
		case "client-application-ids":
			p.clientApps, err = applicationIDs(ch, c)
		case "backend-application-ids":
			backendApps, err = applicationIDs(ch, c)
		case "audiences":
			p.audiences, err = valueList(ch, c, "audience", &p.static)
		case "required-claims":
			p.claims, err = requiredClaims(ch, c, &p.static)
		case "decryption-keys":
			p.cfg.DecryptionKeys, err = decryptionKeys(ch, c)
		default:
			err = policy.Errorf(ch.Pos, "<validate-azure-ad-token> has no child element <%s>; expected client-application-ids, backend-application-ids, audiences, required-claims or decryption-keys", ch.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	// A backend application is the token's audience: its client ID (v2.0 tokens, and v1.0
	// tokens requested for the ID) or the api://{client ID} URI (v1.0 tokens requested by it).
	for _, id := range backendApps {
		p.audiences = append(p.audiences, policy.Value{Const: id}, policy.Value{Const: "api://" + id})
	}

	if d.ValidateJWT.Keys == nil {
		return nil, policy.Errorf(el.Pos, "<validate-azure-ad-token> needs the gateway's key cache, which this context does not provide")
	}
	p.cfg.Cache, p.cfg.Now = d.ValidateJWT.Tokens, d.ValidateJWT.Now
	if p.static {
		checks, err := p.checks(nil)
		if err != nil {
			return nil, policy.Errorf(el.Pos, "<validate-azure-ad-token>: %v", err)
		}
		p.cfg.Checks = *checks
	}
	if p.tenant == nil {
		v, err := p.validatorFor(tenantID)
		if err != nil {
			return nil, policy.Errorf(tenant.Pos, "<validate-azure-ad-token> tenant-id %q: %v", tenantID, err)
		}
		p.validator = v
	}
	return p, nil
}

// checks are the audience and claim tests; ctx nil means at load time, where every value is
// a constant. Expiry and signatures are always required, with no clock skew.
func (p *validateAzureADToken) checks(ctx *policy.Context) (*jwt.Checks, error) {
	str := func(v policy.Value) (string, error) {
		if ctx == nil {
			return v.Const, nil
		}
		return v.String(ctx)
	}
	c := &jwt.Checks{}
	var err error
	if c.Audiences, err = trimmedValues(p.audiences, str); err != nil {
		return nil, err
	}
	if c.RequiredClaims, err = claimRequirements(p.claims, str); err != nil {
		return nil, err
	}
	return c, nil
}

// extract finds the token: the header (Authorization loses its Bearer scheme, matched
// case-insensitively; a custom header holds the bare token), the query parameter or the
// token-value expression. absent, when not empty, says why there is none.
func (p *validateAzureADToken) extract(ctx *policy.Context) (raw, absent string, err error) {
	switch {
	case p.header != nil:
		name, err := p.header.String(ctx)
		if err != nil {
			return "", "", err
		}
		v, ok := ctx.Request.Header.Get(name)
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return "", "the request has no " + name + " header", nil
		}
		if !strings.EqualFold(name, "Authorization") {
			return v, "", nil
		}
		scheme, rest, _ := strings.Cut(v, " ")
		rest = strings.TrimSpace(rest)
		if !strings.EqualFold(scheme, "Bearer") || rest == "" {
			return "", "the Authorization header holds no Bearer token", nil
		}
		return rest, "", nil
	case p.query != nil:
		name, err := p.query.String(ctx)
		if err != nil {
			return "", "", err
		}
		v, _ := ctx.Request.OriginalURL.Query.Get(name)
		if v = strings.TrimSpace(v); v == "" {
			return "", "the request has no " + name + " query parameter", nil
		}
		return v, "", nil
	default:
		v, err := p.tokenValue.String(ctx)
		if err != nil {
			return "", "", err
		}
		if v = strings.TrimSpace(v); v == "" {
			return "", "token-value is empty", nil
		}
		return v, "", nil
	}
}

// normalizeTenant accepts a tenant GUID, a domain (contoso.onmicrosoft.com, also written as
// https://contoso.onmicrosoft.com), "common", "organizations" or "consumers".
func normalizeTenant(s string) (string, error) {
	t := strings.TrimSpace(s)
	if i := strings.Index(t, "://"); i >= 0 {
		t = t[i+3:]
	}
	t = strings.TrimRight(t, "/")
	if t == "" {
		return "", errors.New("must not be empty")
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c == '-' || c == '.' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z') {
			return "", fmt.Errorf("expected a tenant ID (GUID), a domain, \"common\" or \"organizations\", found %q", s)
		}
	}
	return t, nil
}

// DiscoveryURLs are the v2.0 and v1.0 OpenID configuration documents of tenant at authority:
// the keys and the accepted issuers of both token versions.
func DiscoveryURLs(authority, tenant string) []string {
	base := strings.TrimRight(authority, "/") + "/" + tenant
	return []string{base + "/v2.0/.well-known/openid-configuration", base + "/.well-known/openid-configuration"}
}

// validatorFor returns the validator of one tenant, registering its discovery URLs with the
// key cache on first use.
func (p *validateAzureADToken) validatorFor(tenant string) (*jwt.Validator, error) {
	key := strings.ToLower(tenant)
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.byTenant[key]; ok {
		return v, nil
	}
	if len(p.byTenant) >= maxDynamicTenants {
		return nil, fmt.Errorf("more than %d tenants from one tenant-id expression", maxDynamicTenants)
	}
	cfg := p.cfg
	cfg.KeySources = nil
	for _, u := range DiscoveryURLs(p.authority, tenant) {
		src, err := p.deps.Keys.Source(u)
		if err != nil {
			return nil, err
		}
		cfg.KeySources = append(cfg.KeySources, src)
	}
	v, err := jwt.New(cfg)
	if err != nil {
		return nil, err
	}
	if p.byTenant == nil {
		p.byTenant = make(map[string]*jwt.Validator)
	}
	p.byTenant[key] = v
	return v, nil
}

func (p *validateAzureADToken) Run(ctx *policy.Context) error {
	validator := p.validator
	organizations := p.organization
	if p.tenant != nil {
		s, err := p.tenant.String(ctx)
		if err != nil {
			return err
		}
		tenant, err := normalizeTenant(s)
		if err != nil {
			return fmt.Errorf("validate-azure-ad-token tenant-id: %w", err)
		}
		if validator, err = p.validatorFor(tenant); err != nil {
			return p.refuse(ctx, &jwt.Failure{Reason: jwt.JwtInvalid, Message: jwt.JwtInvalid.Message(), Detail: err.Error(), Err: err})
		}
		organizations = strings.EqualFold(tenant, "organizations")
	}
	raw, absent, err := p.extract(ctx)
	if err != nil {
		return fmt.Errorf("validate-azure-ad-token: evaluating an expression: %w", err)
	}
	if absent != "" {
		return p.refuse(ctx, &jwt.Failure{Reason: jwt.TokenNotPresent, Message: jwt.TokenNotPresent.Message(), Detail: absent})
	}
	var tok *jwt.Token
	if p.static {
		tok, err = validator.Validate(raw)
	} else {
		var c *jwt.Checks
		if c, err = p.checks(ctx); err != nil {
			return fmt.Errorf("validate-azure-ad-token: evaluating an expression: %w", err)
		}
		tok, err = validator.ValidateWith(raw, c)
	}
	if err != nil {
		var f *jwt.Failure
		if !errors.As(err, &f) {
			f = &jwt.Failure{Reason: jwt.JwtInvalid, Message: jwt.JwtInvalid.Message(), Detail: err.Error(), Err: err}
		}
		return p.refuse(ctx, f)
	}
	if organizations && firstClaim(tok, "tid") == msaTenantID {
		return p.refuse(ctx, &jwt.Failure{Reason: jwt.TokenIssuerNotAllowed, Message: jwt.TokenIssuerNotAllowed.Message(),
			Detail: "tenant-id is \"organizations\", which excludes personal Microsoft accounts (tid " + msaTenantID + ")"})
	}
	if f := p.checkClient(tok); f != nil {
		return p.refuse(ctx, f)
	}
	if p.outputVar != "" {
		setVariable(ctx, p.outputVar, tok)
	}
	return nil
}

// checkClient requires the calling application (azp in v2.0 tokens, appid in v1.0 tokens) to
// be one of client-application-ids.
func (p *validateAzureADToken) checkClient(tok *jwt.Token) *jwt.Failure {
	if len(p.clientApps) == 0 {
		return nil
	}
	name := "azp"
	if firstClaim(tok, "ver") == "1.0" || (firstClaim(tok, "azp") == "" && firstClaim(tok, "appid") != "") {
		name = "appid"
	}
	got := firstClaim(tok, name)
	if got == "" {
		return &jwt.Failure{Reason: jwt.TokenClaimNotFound,
			Message: "JWT token is missing the following claims: " + name + ". Access denied.",
			Detail:  "the token names no calling application (" + name + "), which client-application-ids requires"}
	}
	for _, id := range p.clientApps {
		if strings.EqualFold(id, got) {
			return nil
		}
	}
	return &jwt.Failure{Reason: jwt.TokenClaimValueNotAllowed,
		Message: "Claim " + name + " value of " + bearerSafe(clipText(got)) + " is not allowed. Access denied.",
		Detail:  fmt.Sprintf("the calling application %s=%q is not one of client-application-ids %q", name, clipText(got), p.clientApps)}
}

func clipText(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func firstClaim(t *jwt.Token, name string) string {
	if v := t.Claims[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// refuse is the policy's failure: failed-validation-httpcode (401) with
// failed-validation-error-message or the reason's message, and on a 401 the RFC 6750
// WWW-Authenticate header unless the gateway turns it off.
func (p *validateAzureADToken) refuse(ctx *policy.Context, f *jwt.Failure) error {
	status := http.StatusUnauthorized
	if p.httpCode != nil {
		if n, err := evalInt(ctx, p.httpCode, "failed-validation-httpcode", 100, 599); err == nil {
			status = int(n)
		}
	}
	msg := f.Message
	if p.errorMessage != nil {
		if s, err := p.errorMessage.String(ctx); err == nil && s != "" {
			msg = s
		}
	}
	out := &policy.Failure{
		Reason:     string(f.Reason),
		Message:    msg,
		StatusCode: status,
		Detail:     f.Message + " Detail: " + f.Detail + ".",
		Err:        f,
	}
	if status == http.StatusUnauthorized && !p.deps.NoWWWAuthenticate {
		v := "Bearer"
		if f.Reason != jwt.TokenNotPresent {
			v = `Bearer error="invalid_token", error_description="` + bearerSafe(f.Message) + `"`
		}
		out.Header = []policy.Field{{Name: "WWW-Authenticate", Value: v}}
	}
	if p.deps.Logger != nil {
		p.deps.Logger.Info("validate-azure-ad-token refused the request",
			"reason", string(f.Reason), "detail", f.Detail, "policy_id", p.id, "request_id", ctx.RequestID)
	}
	return out
}

// bearerSafe keeps what RFC 6750 allows in error_description: printable ASCII without '"'
// and '\'. The message may repeat a claim value from the token.
func bearerSafe(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
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

// applicationIDs reads <client-application-ids> or <backend-application-ids>: constant
// <application-id> elements.
func applicationIDs(el *policy.Element, c *policy.Compiler) ([]string, error) {
	if _, err := readElement(el, c); err != nil {
		return nil, err
	}
	var out []string
	for _, ch := range el.Children {
		if ch.Name != "application-id" {
			return nil, policy.Errorf(ch.Pos, "<%s> holds <application-id> elements; found <%s>", el.Name, ch.Name)
		}
		if _, err := readElement(ch, c); err != nil {
			return nil, err
		}
		if len(ch.Children) > 0 {
			return nil, policy.Errorf(ch.Children[0].Pos, "<application-id> holds an ID as text, not <%s>", ch.Children[0].Name)
		}
		id := strings.TrimSpace(ch.Text)
		if strings.HasPrefix(id, "@(") || strings.HasPrefix(id, "@{") {
			return nil, policy.Errorf(ch.TextPos, "<application-id> does not accept policy expressions")
		}
		if id == "" {
			return nil, policy.Errorf(ch.Pos, "<application-id> must not be empty")
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, policy.Errorf(el.Pos, "<%s> needs at least one <application-id>", el.Name)
	}
	return out, nil
}
