package tokenclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrTarget: what the token is for (scope or resource) is missing or does not fit the endpoint.
var ErrTarget = errors.New("invalid scope or resource")

// Client acquires tokens for one application from one authority.
type Client struct {
	Endpoints Endpoints
	ClientID  string
	// Credential is nil for a public client.
	Credential Credential
	// HTTP is the client used for every exchange; nil means one with DefaultTimeout and the
	// system roots (see NewHTTPClient for extra CAs).
	HTTP *http.Client
	// Now is the clock for assertions, expiry and device-code deadlines; nil means time.Now.
	Now func() time.Time
	// Sleep waits between device-code polls; nil means a timer that stops with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Target is what the token is for: scopes on v2 endpoints ("api://app/.default",
// "api://app/Files.Read"), or a resource on v1 endpoints ("api://app"). Either form is
// translated for the other version where the meaning is the same.
type Target struct {
	Scopes   []string
	Resource string
}

// Token is a successful token response.
type Token struct {
	AccessToken  string
	TokenType    string
	ExpiresIn    time.Duration
	ExpiresOn    time.Time
	Scope        string
	Resource     string // v1
	RefreshToken string
	IDToken      string
	// Raw is the response body as the server sent it.
	Raw json.RawMessage
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: DefaultTimeout, CheckRedirect: refuseRedirect}
}

// targetParams sets scope (v2) or resource (v1); for a user sign-in (user) it adds the OpenID
// scopes.
func (c *Client) targetParams(form url.Values, t Target, user bool) error {
	scopes := t.Scopes
	if c.Endpoints.Version == 1 {
		res := t.Resource
		if res == "" {
			res = resourceOf(scopes)
		}
		if res == "" {
			return fmt.Errorf("%w: the v1 endpoint needs a resource (an Application ID URI or client ID), or a scope RESOURCE/.default", ErrTarget)
		}
		form.Set("resource", res)
		return nil
	}
	if t.Resource != "" {
		if len(scopes) > 0 {
			return fmt.Errorf("%w: give a scope or a resource, not both", ErrTarget)
		}
		// On v2, resource R means the scope R/.default (Entra's equivalence).
		scopes = []string{t.Resource + "/.default"}
	}
	if user {
		scopes = withOpenIDScopes(scopes)
	}
	if len(scopes) == 0 {
		return fmt.Errorf("%w: no scope given (for example api://<app-id>/.default)", ErrTarget)
	}
	form.Set("scope", strings.Join(scopes, " "))
	return nil
}

// resourceOf finds the resource of the first scope that names one: "api://x/.default" and
// "api://x/Files.Read" both give "api://x".
func resourceOf(scopes []string) string {
	for _, s := range scopes {
		if i := strings.LastIndex(s, "/"); i > 0 {
			return s[:i]
		}
	}
	return ""
}

// withOpenIDScopes adds openid, profile and offline_access as MSAL does for a user sign-in, so
// the answer carries an ID token and a refresh token.
func withOpenIDScopes(scopes []string) []string {
	out := append([]string(nil), scopes...)
	for _, want := range []string{"openid", "profile", "offline_access"} {
		found := false
		for _, s := range scopes {
			if s == want {
				found = true
			}
		}
		if !found {
			out = append(out, want)
		}
	}
	return out
}

// ClientCredentials gets an app-only token for the client itself (a confidential client).
func (c *Client) ClientCredentials(ctx context.Context, t Target) (*Token, error) {
	if c.Credential == nil {
		return nil, fmt.Errorf("%w: client credentials need a secret or a certificate", ErrInvalidClient)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if err := c.targetParams(form, t, false); err != nil {
		return nil, err
	}
	return c.redeem(ctx, form)
}

// redeem posts form to the token endpoint with the client's authentication.
func (c *Client) redeem(ctx context.Context, form url.Values) (*Token, error) {
	body, err := c.post(ctx, "token", c.Endpoints.Token, form)
	if err != nil {
		return nil, err
	}
	return c.parseToken(body)
}

// post sends an authenticated form and returns a 2xx body; an OAuth error body becomes *Error.
func (c *Client) post(ctx context.Context, endpoint, target string, form url.Values) ([]byte, error) {
	if target == "" {
		return nil, fmt.Errorf("%w: the %s endpoint is not known for this authority; give an authority URL instead of a token URL", ErrEndpoint, endpoint)
	}
	form.Set("client_id", c.ClientID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEndpoint, err)
	}
	// Only the token endpoint authenticates clients; an assertion's audience is that endpoint.
	if c.Credential != nil && target == c.Endpoints.Token {
		if err := c.Credential.authenticate(req, form, c.ClientID, c.Endpoints.Token, c.now()); err != nil {
			return nil, err
		}
	}
	enc := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(enc))
	req.ContentLength = int64(len(enc))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, &TransportError{Endpoint: endpoint, URL: target, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	// Token responses are small; a bound keeps a misbehaving server from filling memory.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &TransportError{Endpoint: endpoint, URL: target, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return body, nil
	}
	return nil, parseErrorBody(endpoint, target, resp, body)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorBody is Entra's error JSON.
type errorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	Suberror      string `json:"suberror"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	URI           string `json:"error_uri"`
}

func parseErrorBody(endpoint, target string, resp *http.Response, body []byte) error {
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if ct == "" {
			ct = "no content type"
		}
		return fmt.Errorf("%w: the %s endpoint %s answered %s with a body that is not an OAuth error (%s); check the authority or token URL", ErrBadResponse, endpoint, target, printable(resp.Status), printable(ct))
	}
	return &Error{
		Endpoint: endpoint, StatusCode: resp.StatusCode, Code: eb.Error, Description: eb.Description,
		Codes: eb.Codes, Suberror: eb.Suberror, TraceID: eb.TraceID, CorrelationID: eb.CorrelationID, URI: eb.URI,
	}
}

// flexInt reads a number that v1 endpoints send as a string ("3599") and v2 as a number.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("not a whole number: %q", b)
	}
	*f = flexInt(n)
	return nil
}

type tokenBody struct {
	AccessToken  string  `json:"access_token"`
	TokenType    string  `json:"token_type"`
	ExpiresIn    flexInt `json:"expires_in"`
	ExpiresOn    flexInt `json:"expires_on"`
	Scope        string  `json:"scope"`
	Resource     string  `json:"resource"`
	RefreshToken string  `json:"refresh_token"`
	IDToken      string  `json:"id_token"`
}

func (c *Client) parseToken(body []byte) (*Token, error) {
	var tb tokenBody
	if err := json.Unmarshal(body, &tb); err != nil {
		return nil, fmt.Errorf("%w: the token response is not Entra's JSON: %w", ErrBadResponse, err)
	}
	if tb.AccessToken == "" {
		return nil, fmt.Errorf("%w: the token response carries no access_token", ErrBadResponse)
	}
	if tb.TokenType != "" && !strings.EqualFold(tb.TokenType, "Bearer") {
		return nil, fmt.Errorf("%w: token_type %q (expected Bearer)", ErrBadResponse, tb.TokenType)
	}
	t := &Token{
		AccessToken: tb.AccessToken, TokenType: tb.TokenType, ExpiresIn: time.Duration(tb.ExpiresIn) * time.Second,
		Scope: tb.Scope, Resource: tb.Resource, RefreshToken: tb.RefreshToken, IDToken: tb.IDToken, Raw: body,
	}
	switch {
	case tb.ExpiresOn > 0:
		t.ExpiresOn = time.Unix(int64(tb.ExpiresOn), 0)
	case tb.ExpiresIn > 0:
		t.ExpiresOn = c.now().Add(t.ExpiresIn).Truncate(time.Second)
	}
	return t, nil
}
