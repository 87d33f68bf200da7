package identity

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Grant types the token endpoint serves.
const (
	grantClientCredentials = "client_credentials"
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	assertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// maxFormBytes bounds a token or sign-in request body.
const maxFormBytes = 64 << 10

// tokenRequest is a token request parsed once; grants read only this.
type tokenRequest struct {
	version  int // endpoint version: 1 (/oauth2/token) or 2 (/oauth2/v2.0/token)
	tenant   tenantRef
	endpoint string // the token endpoint URL as the client used it

	grantType     string
	clientID      string
	clientSecret  string
	basic         bool // the secret came by HTTP Basic
	assertionType string
	assertion     string // client_assertion

	scope        string
	resource     string
	code         string
	redirectURI  string
	codeVerifier string
	refreshToken string
	deviceCode   string
	userAssert   string // jwt-bearer's assertion
	tokenUse     string // requested_token_use
	clientInfo   bool
	// origin is the browser's Origin header: set for a single-page application's request.
	origin string
	// source is the network the request came from (sourceOf), for throttling.
	source string
}

func (s *Server) handleToken(version int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if allowCORS(w, r) {
			return
		}
		resp, err := s.token(r, version)
		if err != nil {
			s.observeTokenFailure(r, err)
			s.writeError(w, r, err)
			return
		}
		s.observeTokenIssued(r)
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store, no-cache")
		h.Set("Pragma", "no-cache")
		h.Set("Expires", "-1")
		_ = json.NewEncoder(w).Encode(resp)
	}
}

func (s *Server) token(r *http.Request, version int) (any, error) {
	if r.Method != http.MethodPost {
		return nil, errPostOnly(r.Method)
	}
	req, err := s.parseTokenRequest(r, version)
	if err != nil {
		return nil, err
	}
	var issued *issuedTokens
	if req.origin != "" && (req.grantType == grantClientCredentials || req.grantType == grantJWTBearer) {
		// Confidential grants are not for browsers.
		return nil, errCrossOrigin()
	}
	switch req.grantType {
	case grantClientCredentials:
		issued, err = s.grantClientCredentials(r, req)
	case grantAuthorizationCode:
		issued, err = s.grantAuthorizationCode(r, req)
	case grantRefreshToken:
		issued, err = s.grantRefreshToken(r, req)
	case grantDeviceCode, "device_code":
		// MSAL sends the short form; Entra accepts both.
		issued, err = s.grantDeviceCode(r, req)
	case grantJWTBearer:
		issued, err = s.grantOnBehalfOf(r, req)
	case "":
		return nil, errMissingParameter("grant_type")
	default:
		return nil, errUnsupportedGrant(req.grantType)
	}
	if err != nil {
		return nil, err
	}
	return issued.response(req.version), nil
}

func (s *Server) parseTokenRequest(r *http.Request, version int) (*tokenRequest, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, errMalformed("The request body must be application/x-www-form-urlencoded.")
		}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, errUnreadableForm(err, "The request body could not be read as a form.")
	}
	form := r.PostForm
	// A parameter sent twice is ambiguous (RFC 6749 §3.2); unknown ones are ignored, since
	// MSAL sends telemetry fields.
	for _, name := range []string{"grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope", "resource", "code", "redirect_uri", "code_verifier", "refresh_token", "device_code", "assertion", "requested_token_use"} {
		if len(form[name]) > 1 {
			return nil, errMalformed("The parameter '" + name + "' was sent more than once.")
		}
	}
	t, err := s.resolveTenant(r.Context(), r.PathValue("tenant"), false)
	if err != nil {
		return nil, err
	}
	req := &tokenRequest{
		version:       version,
		tenant:        t,
		endpoint:      s.publicURL + r.URL.Path,
		grantType:     form.Get("grant_type"),
		clientID:      form.Get("client_id"),
		clientSecret:  form.Get("client_secret"),
		assertionType: form.Get("client_assertion_type"),
		assertion:     form.Get("client_assertion"),
		scope:         form.Get("scope"),
		resource:      form.Get("resource"),
		code:          form.Get("code"),
		redirectURI:   form.Get("redirect_uri"),
		codeVerifier:  form.Get("code_verifier"),
		refreshToken:  form.Get("refresh_token"),
		deviceCode:    form.Get("device_code"),
		userAssert:    form.Get("assertion"),
		tokenUse:      form.Get("requested_token_use"),
		clientInfo:    form.Get("client_info") == "1",
		origin:        r.Header.Get("Origin"),
		source:        sourceOf(r),
	}
	if user, pass, ok := basicAuth(r); ok {
		if req.clientID != "" && req.clientID != user {
			return nil, errMalformed("The client_id in the body does not match the one in the Authorization header.")
		}
		if req.clientSecret != "" {
			return nil, errMalformed("The client secret was sent both in the body and in the Authorization header.")
		}
		req.clientID, req.clientSecret, req.basic = user, pass, true
	}
	if version == 2 && req.resource != "" {
		return nil, errResourceOnV2()
	}
	return req, nil
}

// basicAuth reads client_secret_basic: both parts are form-encoded (RFC 6749 §2.3.1).
func basicAuth(r *http.Request) (user, pass string, ok bool) {
	auth := r.Header.Get("Authorization")
	if len(auth) < 6 || !strings.EqualFold(auth[:6], "basic ") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[6:]))
	if err != nil {
		return "", "", false
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if du, err := url.QueryUnescape(u); err == nil {
		u = du
	}
	if dp, err := url.QueryUnescape(p); err == nil {
		p = dp
	}
	return u, p, true
}

// issuedTokens is a grant's result, turned into the endpoint's response shape.
type issuedTokens struct {
	accessToken  string
	expires      time.Time
	issuedAt     time.Time
	notBefore    time.Time
	resource     string // v1 response's resource: the identifier requested
	scope        string // granted scopes; empty for app-only tokens
	refreshToken string
	idToken      string
	clientInfo   string
}

func (t *issuedTokens) response(version int) any {
	expiresIn := int64(t.expires.Sub(t.issuedAt).Round(time.Second) / time.Second)
	if version == 1 {
		m := map[string]string{
			"token_type":     "Bearer",
			"expires_in":     strconv.FormatInt(expiresIn, 10),
			"ext_expires_in": strconv.FormatInt(expiresIn, 10),
			"expires_on":     strconv.FormatInt(t.expires.Unix(), 10),
			"not_before":     strconv.FormatInt(t.notBefore.Unix(), 10),
			"resource":       t.resource,
			"access_token":   t.accessToken,
		}
		if t.scope != "" {
			m["scope"] = t.scope
		}
		if t.refreshToken != "" {
			m["refresh_token"] = t.refreshToken
		}
		if t.idToken != "" {
			m["id_token"] = t.idToken
		}
		if t.clientInfo != "" {
			m["client_info"] = t.clientInfo
		}
		return m
	}
	return tokenResponseV2{
		TokenType:    "Bearer",
		Scope:        t.scope,
		ExpiresIn:    expiresIn,
		ExtExpiresIn: expiresIn,
		AccessToken:  t.accessToken,
		RefreshToken: t.refreshToken,
		IDToken:      t.idToken,
		ClientInfo:   t.clientInfo,
	}
}

// tokenResponseV2 is the v2 success body in Entra's field order.
type tokenResponseV2 struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// allowCORS lets single-page applications call the endpoint from the browser: the answer
// names the request's Origin (the grant decides whether a cross-origin redemption is
// allowed). It answers a preflight itself and reports that.
func allowCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	if r.Method != http.MethodOptions {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, client-request-id, x-client-sku, x-client-ver, x-client-os, x-client-cpu, x-client-current-telemetry, x-client-last-telemetry")
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
	return true
}
