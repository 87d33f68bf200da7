package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"portcullis/internal/directory"
)

// authorizeParams are the authorize request's parameters the sign-in form carries along.
var authorizeParams = []string{"client_id", "redirect_uri", "response_type", "response_mode", "scope", "resource", "state", "nonce", "code_challenge", "code_challenge_method", "prompt", "login_hint"}

// authorizeRequest is an authorization request whose client and redirect URI are verified.
type authorizeRequest struct {
	version int
	tenant  tenantRef
	client  *client
	params  url.Values
	// public: the redirect URI is a native/SPA one or the app is a public client, so PKCE is
	// required and no client secret will be sent.
	public bool
	// spa: the redirect URI is a single-page application's: its code is redeemed cross-origin.
	spa bool
}

func (a *authorizeRequest) get(name string) string { return a.params.Get(name) }

// checkAuthorize validates an authorization request. Errors that cannot be sent back safely
// (unknown client, unregistered redirect URI) come back as pageErr; the rest as redirectErr,
// to be sent to the client's redirect URI.
func (s *Server) checkAuthorize(ctx context.Context, segment string, version int, form url.Values) (req *authorizeRequest, pageErr, redirectErr error) {
	t, err := s.resolveTenant(ctx, segment, false)
	if err != nil {
		return nil, err, nil
	}
	params := url.Values{}
	for _, name := range authorizeParams {
		if v := form.Get(name); v != "" {
			params.Set(name, v)
		}
	}
	c, err := s.findClient(ctx, t, params.Get("client_id"))
	if err != nil {
		return nil, err, nil
	}
	redirect := params.Get("redirect_uri")
	if redirect == "" {
		return nil, errMissingParameter("redirect_uri"), nil
	}
	platform, ok := matchRedirect(c.app, redirect)
	if !ok {
		return nil, errRedirectMismatch(redirect, c.app.AppID), nil
	}
	req = &authorizeRequest{version: version, tenant: t, client: c, params: params, public: platform != platformWeb, spa: platform == platformSPA}
	if rt := params.Get("response_type"); rt != "code" {
		if rt == "" {
			return req, nil, errMissingParameter("response_type")
		}
		return req, nil, errUnsupportedResponseType(rt)
	}
	switch params.Get("response_mode") {
	case "", "query", "fragment", "form_post":
	default:
		return req, nil, errMalformed("response_mode must be query, fragment or form_post.")
	}
	method := params.Get("code_challenge_method")
	if params.Get("code_challenge") != "" && method == "" {
		method = "plain"
		params.Set("code_challenge_method", method)
	}
	switch {
	case method != "" && method != "S256" && method != "plain":
		return req, nil, errPKCEMethod(method)
	case req.public && params.Get("code_challenge") == "":
		return req, nil, errPKCERequired()
	case req.public && method == "plain":
		return req, nil, errPKCEMethod(method)
	}
	if version == 2 && params.Get("resource") != "" {
		return req, nil, errResourceOnV2()
	}
	if params.Get("prompt") == "none" {
		// Portcullis keeps no sign-in session, so a silent request can never succeed.
		return req, nil, errLoginRequired()
	}
	q, err := parseScopes(params.Get("scope"))
	if err != nil {
		return req, nil, err
	}
	if version == 2 && q.resource == "" && len(q.oidc) == 0 {
		return req, nil, errMissingParameter("scope")
	}
	if q.resource != "" {
		res, err := s.findResource(ctx, c.tenantID, q.resource)
		if err != nil {
			return req, nil, err
		}
		if err := checkPermissions(res, q.permissions); err != nil {
			return req, nil, err
		}
	}
	if r := params.Get("resource"); r != "" {
		if _, err := s.findResource(ctx, c.tenantID, r); err != nil {
			return req, nil, err
		}
	}
	return req, nil, nil
}

// Platforms of a redirect URI (Entra's web, spa and publicClient).
const (
	platformWeb    = "web"
	platformSPA    = "spa"
	platformNative = "native"
)

// matchRedirect matches a redirect URI exactly against the app's registered ones and says
// which platform it is registered under. A registered loopback URI of a public client
// matches any port (RFC 8252 §7.3).
func matchRedirect(app *directory.Application, redirect string) (platform string, ok bool) {
	switch {
	case slices.Contains(app.SPARedirectURIs, redirect):
		return platformSPA, true
	case slices.Contains(app.PublicRedirectURIs, redirect):
		return platformNative, true
	case slices.Contains(app.RedirectURIs, redirect):
		if app.PublicClient {
			return platformNative, true
		}
		return platformWeb, true
	}
	native := slices.Clone(app.PublicRedirectURIs)
	if app.PublicClient {
		native = append(native, app.RedirectURIs...)
	}
	for _, reg := range native {
		if loopbackMatch(reg, redirect) {
			return platformNative, true
		}
	}
	return "", false
}

func loopbackMatch(registered, requested string) bool {
	a, err1 := url.Parse(registered)
	b, err2 := url.Parse(requested)
	if err1 != nil || err2 != nil || a.Scheme != "http" || b.Scheme != "http" {
		return false
	}
	host := a.Hostname()
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return host == b.Hostname() && a.Path == b.Path && a.RawQuery == b.RawQuery && b.Fragment == "" && b.User == nil
}

func (s *Server) handleAuthorize(version int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			s.renderError(w, r, errUnreadableForm(err, "The request could not be read."))
			return
		}
		req, pageErr, redirectErr := s.checkAuthorize(r.Context(), r.PathValue("tenant"), version, r.Form)
		if pageErr != nil {
			s.renderError(w, r, pageErr)
			return
		}
		if redirectErr != nil {
			s.redirectError(w, r, req, redirectErr)
			return
		}
		s.renderSignIn(w, r, req, "", req.get("login_hint"))
	}
}

// renderSignIn shows the sign-in form; it posts to /{tenant}/login with the request.
func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, req *authorizeRequest, errText, username string) {
	hidden := map[string]string{"csrf_token": csrfToken(w, r), "portcullis_version": strconv.Itoa(req.version)}
	for name := range req.params {
		hidden[name] = req.params.Get(name)
	}
	s.renderPage(w, http.StatusOK, page{
		Title:   "Sign in",
		Heading: "Sign in",
		Message: fmt.Sprintf("to continue to %s", req.client.app.DisplayName),
		Error:   errText,
		Action:  "/" + url.PathEscape(req.tenant.Segment) + "/login",
		Hidden:  hidden,
		Fields: []field{
			{Name: "login", Label: "Email or username", Type: "email", Value: username, Autocomplete: "username"},
			{Name: "passwd", Label: "Password", Type: "password", Autocomplete: "current-password"},
		},
		Submit: "Sign in",
	})
}

// handleSignIn checks the user's credentials and sends the code to the client.
func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, errUnreadableForm(err, "The sign-in form could not be read."))
		return
	}
	if !csrfValid(r) {
		s.renderError(w, r, newError(90023, "invalid_request", 400, "The sign-in form was not sent by this sign-in page, or its session expired. Start the sign-in again."))
		return
	}
	version := 2
	if r.PostForm.Get("portcullis_version") == "1" {
		version = 1
	}
	ctx := r.Context()
	req, pageErr, redirectErr := s.checkAuthorize(ctx, r.PathValue("tenant"), version, r.PostForm)
	if pageErr != nil {
		s.renderError(w, r, pageErr)
		return
	}
	if redirectErr != nil {
		s.redirectError(w, r, req, redirectErr)
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("login"))
	user, err := s.signInUser(ctx, req.client.tenantID, username, r.PostForm.Get("passwd"), sourceOf(r))
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			s.renderSignIn(w, r, req, pe.Error(), username)
			return
		}
		s.renderError(w, r, err)
		return
	}
	s.completeSignIn(w, r, req, user)
}

// completeSignIn issues the code for a signed-in user once consent exists: admin consent, or
// the user's own consent to user-consentable scopes, asked for on the consent page.
func (s *Server) completeSignIn(w http.ResponseWriter, r *http.Request, req *authorizeRequest, user *directory.User) {
	ctx := r.Context()
	q, _ := parseScopes(req.get("scope"))
	if res := firstNonEmpty(q.resource, req.get("resource")); res != "" {
		rs, err := s.findResource(ctx, req.client.tenantID, res)
		if err == nil {
			perms := q.permissions
			if q.resource == "" {
				perms = []string{".default"}
			}
			_, err = s.delegatedScopes(ctx, req.client, rs, user.ID, perms)
			if errors.Is(err, &Error{Code: 65001}) {
				if missing := s.userConsentable(ctx, req.client, rs, user.ID, perms); missing != nil {
					s.askConsent(w, r, req, user, rs, missing)
					return
				}
			}
		}
		if err != nil {
			s.redirectError(w, r, req, err)
			return
		}
	}
	code := randomToken()
	g := userGrant{
		Version: req.version, TenantID: req.client.tenantID, ClientID: req.client.app.AppID, UserID: user.ID,
		Scope: req.get("scope"), Resource: req.get("resource"), AuthTime: s.now().Unix(),
		RedirectURI: req.get("redirect_uri"), Nonce: req.get("nonce"),
		Challenge: req.get("code_challenge"), Method: req.get("code_challenge_method"), PublicRequest: req.public, SPA: req.spa,
	}
	data, err := json.Marshal(g)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	rec := &directory.GrantRecord{Kind: kindCode, Key: grantKey(code), Family: uuid.NewString(), TenantID: g.TenantID, Data: data, Expires: s.now().Add(codeLifetime)}
	if err := s.store.Update(ctx, func(tx directory.Writer) error { return tx.PutGrant(ctx, rec) }); err != nil {
		s.renderError(w, r, err)
		return
	}
	params := map[string]string{"code": code}
	if st := req.get("state"); st != "" {
		params["state"] = st
	}
	if req.version == 1 {
		params["session_state"] = uuid.NewString()
	}
	s.respondToClient(w, r, req, params)
}

// signInUser authenticates a user by user principal name and password, throttling repeated
// failures per account and per source network (AADSTS50053). For common/organizations the
// UPN's domain names the tenant.
func (s *Server) signInUser(ctx context.Context, tid, username, password, source string) (*directory.User, error) {
	if username == "" || password == "" {
		return nil, errBadCredentials()
	}
	srcKey := userSourceKey(source)
	if wait, blocked := s.throttle.blocked(srcKey); blocked {
		return nil, errSourceLocked(wait)
	}
	key := "user:" + tid + ":" + strings.ToLower(username)
	if wait, blocked := s.throttle.blocked(key); blocked {
		return nil, errUserLocked(wait)
	}
	user, err := s.store.UserByName(ctx, tid, username)
	if errors.Is(err, directory.ErrNotFound) {
		s.throttle.fail(key)
		s.throttle.fail(srcKey)
		return nil, errUnknownUser(tid)
	}
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	ok, err := directory.VerifyPassword(user.PasswordHash, password)
	if err != nil {
		// A stored hash that does not parse: the user cannot sign in; say why in the log
		// (never the password).
		s.log.Error("identity: unusable password hash", "tenant", tid, "user", user.ID, "err", err)
	}
	if !ok {
		s.throttle.fail(key)
		s.throttle.fail(srcKey)
		return nil, errBadCredentials()
	}
	if !user.AccountEnabled {
		return nil, errUserDisabled()
	}
	// The source's failures are not forgiven on success: one account the attacker holds
	// would otherwise reset the count between guesses at others.
	s.throttle.succeed(key)
	return user, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// redirectError sends an authorize error to the client's redirect URI.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, req *authorizeRequest, err error) {
	e := s.protocolError(r, err)
	params := s.errorQuery(r, e)
	if e.Suberror == "consent_required" {
		params["error"] = "consent_required"
	}
	if st := req.get("state"); st != "" {
		params["state"] = st
	}
	s.respondToClient(w, r, req, params)
}

// respondToClient delivers params to the redirect URI by the requested response mode.
func (s *Server) respondToClient(w http.ResponseWriter, r *http.Request, req *authorizeRequest, params map[string]string) {
	redirect := req.get("redirect_uri")
	switch req.get("response_mode") {
	case "form_post":
		s.renderFormPost(w, redirect, params)
		return
	case "fragment":
		v := url.Values{}
		for k, x := range params {
			v.Set(k, x)
		}
		http.Redirect(w, r, redirect+"#"+v.Encode(), http.StatusFound)
		return
	}
	u, err := url.Parse(redirect)
	if err != nil {
		s.renderError(w, r, errRedirectMismatch(redirect, req.client.app.AppID))
		return
	}
	q := u.Query()
	for k, x := range params {
		q.Set(k, x)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

var formPostTemplate = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body><form method="post" action="{{.Action}}">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p></noscript><button type="submit">Submit</button>
</form><script nonce="{{.Nonce}}">document.forms[0].submit();</script></body></html>
`))

// renderFormPost answers response_mode=form_post: a form to the redirect URI, sent by a
// script when scripts run and by a button when they do not.
func (s *Server) renderFormPost(w http.ResponseWriter, action string, params map[string]string) {
	nonce := opaque(16)
	origin := action
	if u, err := url.Parse(action); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; form-action "+origin+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if err := formPostTemplate.Execute(w, map[string]any{"Action": action, "Params": params, "Nonce": nonce}); err != nil {
		s.log.Error("identity: render form_post", "err", err)
	}
}

// renderError shows an error that cannot go back to the client (Entra's error page).
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.protocolError(r, err)
	doc := s.errorDocument(r, e)
	status := e.Status
	if status < 400 {
		status = 400
	}
	s.renderPage(w, status, page{
		Title:   "Sign in error",
		Heading: "Sorry, but we're having trouble signing you in.",
		Error:   e.Error(),
		Message: "Trace ID: " + doc.TraceID + " · Correlation ID: " + doc.CorrelationID + " · Timestamp: " + doc.Timestamp,
	})
}
