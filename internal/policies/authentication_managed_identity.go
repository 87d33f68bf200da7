package policies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"portcullis/internal/policy"
)

// ManagedIdentity is one identity of the gateway (gateway.managed-identity): an app
// registration whose client credentials stand in for Azure's managed identity.
type ManagedIdentity struct {
	// TokenURL is the v2.0 token endpoint, {authority}/{tenant}/oauth2/v2.0/token.
	TokenURL     string
	ClientID     string
	ClientSecret string
}

// ManagedIdentityTokens obtains the gateway's tokens with the client credentials grant and
// keeps each until shortly before it expires. Safe for concurrent use.
type ManagedIdentityTokens struct {
	// System is the identity a policy without client-id uses (APIM's system-assigned one).
	System *ManagedIdentity
	// UserAssigned are the identities a policy's client-id may name.
	UserAssigned []ManagedIdentity
	// Aliases rewrite the scheme and host of token URLs (gateway.authority-aliases), e.g.
	// https://login.microsoftonline.com → https://127.0.0.1:9443.
	Aliases map[string]string
	// Client sends the token requests; nil means a client with a 30 s timeout.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	tokens map[string]cachedToken
	flight singleflight.Group
}

type cachedToken struct {
	value   string
	refresh time.Time // when to fetch a new one
	expires time.Time
}

// TokenURL is the v2.0 token endpoint of tenant at authority.
func TokenURL(authority, tenant string) string {
	return strings.TrimRight(authority, "/") + "/" + tenant + "/oauth2/v2.0/token"
}

// aliased applies t.Aliases to a URL's scheme and host.
func (t *ManagedIdentityTokens) aliased(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || len(t.Aliases) == 0 {
		return raw
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	for from, to := range t.Aliases {
		if strings.ToLower(strings.TrimRight(from, "/")) != origin {
			continue
		}
		target, err := url.Parse(strings.TrimRight(to, "/"))
		if err != nil {
			return raw
		}
		u.Scheme, u.Host = target.Scheme, target.Host
		return u.String()
	}
	return raw
}

// refreshMargin is how long before expiry a token is replaced.
const refreshMargin = 5 * time.Minute

// ErrNoManagedIdentity: the policy names an identity the gateway does not have.
var ErrNoManagedIdentity = errors.New("no managed identity is configured")

func (t *ManagedIdentityTokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// identity returns the identity for a policy's client-id ("" for the system one).
func (t *ManagedIdentityTokens) identity(clientID string) (*ManagedIdentity, error) {
	if t == nil {
		return nil, fmt.Errorf("%w (gateway.managed-identity)", ErrNoManagedIdentity)
	}
	if clientID == "" {
		if t.System == nil {
			return nil, fmt.Errorf("%w: the gateway has no system identity (gateway.managed-identity)", ErrNoManagedIdentity)
		}
		return t.System, nil
	}
	if t.System != nil && strings.EqualFold(t.System.ClientID, clientID) {
		return t.System, nil
	}
	for i := range t.UserAssigned {
		if strings.EqualFold(t.UserAssigned[i].ClientID, clientID) {
			return &t.UserAssigned[i], nil
		}
	}
	return nil, fmt.Errorf("%w: client-id %q is not one of the gateway's user-assigned identities", ErrNoManagedIdentity, clientID)
}

// Token returns an access token of identity clientID for resource.
func (t *ManagedIdentityTokens) Token(ctx context.Context, clientID, resource string) (string, error) {
	id, err := t.identity(clientID)
	if err != nil {
		return "", err
	}
	key := id.ClientID + "\x00" + resource
	now := t.now()
	t.mu.Lock()
	tok, ok := t.tokens[key]
	t.mu.Unlock()
	if ok && now.Before(tok.refresh) {
		return tok.value, nil
	}
	v, err, _ := t.flight.Do(key, func() (any, error) {
		return t.fetch(ctx, id, resource)
	})
	if err != nil {
		if ok && now.Before(tok.expires) {
			return tok.value, nil // the old one is still good: use it while the endpoint fails
		}
		return "", err
	}
	fresh := v.(cachedToken)
	t.mu.Lock()
	if t.tokens == nil {
		t.tokens = make(map[string]cachedToken)
	}
	t.tokens[key] = fresh
	t.mu.Unlock()
	return fresh.value, nil
}

// scopeFor is Entra's v2.0 scope for a v1-style resource: resource/.default.
func scopeFor(resource string) string {
	if strings.HasSuffix(resource, "/") {
		return resource + ".default"
	}
	return resource + "/.default"
}

func (t *ManagedIdentityTokens) fetch(ctx context.Context, id *ManagedIdentity, resource string) (cachedToken, error) {
	client := t.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {id.ClientID},
		"client_secret": {id.ClientSecret},
		"scope":         {scopeFor(resource)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.aliased(id.TokenURL), strings.NewReader(form.Encode()))
	if err != nil {
		return cachedToken{}, fmt.Errorf("token endpoint %q: %w", id.TokenURL, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return cachedToken{}, fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return cachedToken{}, fmt.Errorf("token endpoint: reading the answer: %w", err)
	}
	var out struct {
		AccessToken      string          `json:"access_token"`
		ExpiresIn        json.RawMessage `json:"expires_in"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return cachedToken{}, fmt.Errorf("token endpoint answered %d with a body that is not JSON", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		desc, _, _ := strings.Cut(out.ErrorDescription, "\r")
		return cachedToken{}, fmt.Errorf("token endpoint answered %d: %s: %s", resp.StatusCode, out.Error, strings.TrimSpace(desc))
	}
	secs, err := parseExpiresIn(out.ExpiresIn)
	if err != nil {
		return cachedToken{}, fmt.Errorf("token endpoint: %w", err)
	}
	now := t.now()
	life := time.Duration(secs) * time.Second
	margin := min(refreshMargin, life/2)
	return cachedToken{value: out.AccessToken, expires: now.Add(life), refresh: now.Add(life - margin)}, nil
}

// parseExpiresIn reads expires_in, a number or (Entra's v1 endpoint) a string of digits.
func parseExpiresIn(raw json.RawMessage) (int64, error) {
	s := strings.Trim(string(raw), `"`)
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("expires_in %q is not a positive number of seconds", s)
	}
	return n, nil
}

// ManagedIdentityDeps are authentication-managed-identity's services.
type ManagedIdentityDeps struct {
	// Tokens obtains the gateway's tokens; nil makes the policy fail at run time (or pass
	// without a token, with ignore-error="true"), as APIM does without an identity.
	Tokens *ManagedIdentityTokens
}

// ReasonManagedIdentityTokenFailure is Portcullis's reason when no token could be obtained;
// APIM documents none.
const ReasonManagedIdentityTokenFailure = "ManagedIdentityTokenFailure"

type authManagedIdentity struct {
	tokens      *ManagedIdentityTokens
	resource    *policy.Value
	clientID    string
	outputVar   string
	ignoreError bool
}

func (d ManagedIdentityDeps) compile(el *policy.Element, c *policy.Compiler) (*authManagedIdentity, error) {
	r, err := readElement(el, c, "resource", "client-id", "output-token-variable-name", "ignore-error")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	p := &authManagedIdentity{tokens: d.Tokens}
	if p.resource, err = r.value("resource", true); err != nil {
		return nil, err
	}
	if p.clientID, _, err = r.constant("client-id", false); err != nil {
		return nil, err
	}
	p.clientID = strings.TrimSpace(p.clientID)
	if p.outputVar, _, err = r.constant("output-token-variable-name", false); err != nil {
		return nil, err
	}
	if p.ignoreError, err = r.constBool("ignore-error", false); err != nil {
		return nil, err
	}
	if d.Tokens != nil && (d.Tokens.System != nil || len(d.Tokens.UserAssigned) > 0) {
		if _, err := d.Tokens.identity(p.clientID); err != nil {
			a, ok := el.Attr("client-id")
			if !ok {
				a.Pos = el.Pos
			}
			return nil, policy.Errorf(a.Pos, "<authentication-managed-identity>: %v", err)
		}
	}
	return p, nil
}

func (d ManagedIdentityDeps) compileStep(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	// APIM documents inbound, yet deployed policies obtain tokens in outbound too (into
	// output-token-variable-name for a send-request), and APIM accepts them there.
	if err := onlyIn(el, c, policy.SectionInbound, policy.SectionOutbound); err != nil {
		return nil, err
	}
	p, err := d.compile(el, c)
	if err != nil {
		return nil, err
	}
	return policy.StepFunc(func(ctx *policy.Context) error {
		token, err := p.token(ctx)
		if err != nil || token == "" {
			return err
		}
		if p.outputVar == "" {
			ctx.Request.Header.Set("Authorization", "Bearer "+token)
		}
		return nil
	}), nil
}

// token obtains the token and stores it in output-token-variable-name. With ignore-error an
// unobtainable token is "" and no error.
func (p *authManagedIdentity) token(ctx *policy.Context) (string, error) {
	resource, err := p.resource.String(ctx)
	if err != nil {
		return "", err
	}
	resource = strings.TrimSpace(resource)
	tctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token, err := p.tokens.Token(tctx, p.clientID, resource)
	if err != nil {
		if p.ignoreError {
			return "", nil
		}
		return "", &policy.Failure{
			Reason:     ReasonManagedIdentityTokenFailure,
			Message:    "Internal server error",
			Detail:     fmt.Sprintf("could not obtain a managed identity token for resource %q: %v", resource, err),
			StatusCode: http.StatusInternalServerError,
			Err:        err,
		}
	}
	if p.outputVar != "" {
		setVariable(ctx, p.outputVar, token)
	}
	return token, nil
}
