package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"portcullis/internal/directory"
)

// kindConsent is a pending consent: the signed-in user and the request, between the consent
// page and the user's answer.
const kindConsent = "consent"

type pendingConsent struct {
	Version  int        `json:"version"`
	TenantID string     `json:"tid"`
	UserID   string     `json:"user_id"`
	Params   url.Values `json:"params"`
	Scopes   []string   `json:"scopes"`
	// Device flow: the device authorization and its user code.
	DeviceKey string `json:"device_key,omitempty"`
	UserCode  string `json:"user_code,omitempty"`
}

// userConsentable returns the requested permissions the user has not consented to when every
// one of them is user-consentable (type User), or nil when consent cannot come from the user
// (an Admin scope, or /.default, which only an administrator grants).
func (s *Server) userConsentable(ctx context.Context, c *client, res *resource, userID string, perms []string) []string {
	if len(perms) == 0 || slices.Contains(perms, ".default") {
		return nil
	}
	grants, err := s.store.PermissionGrants(ctx, c.tenantID, c.sp.ID, res.sp.ID)
	if err != nil {
		return nil
	}
	granted := map[string]bool{}
	for _, g := range grants {
		if g.ConsentType == "AllPrincipals" || (g.ConsentType == "Principal" && g.PrincipalID == userID) {
			for _, v := range strings.Fields(g.Scope) {
				granted[v] = true
			}
		}
	}
	var missing []string
	for _, p := range perms {
		if granted[p] {
			continue
		}
		i := slices.IndexFunc(res.app.Scopes, func(sc directory.Scope) bool { return sc.Value == p })
		if i < 0 || !res.app.Scopes[i].Enabled || res.app.Scopes[i].Type != "User" {
			return nil
		}
		missing = append(missing, p)
	}
	return missing
}

// askConsent shows the consent page. The user's identity travels as a single-use ticket kept
// server-side, never as a form field the browser could change.
func (s *Server) askConsent(w http.ResponseWriter, r *http.Request, req *authorizeRequest, user *directory.User, res *resource, scopes []string) {
	ctx := r.Context()
	ticket := randomToken()
	data, err := json.Marshal(pendingConsent{Version: req.version, TenantID: req.client.tenantID, UserID: user.ID, Params: req.params, Scopes: scopes})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	rec := &directory.GrantRecord{Kind: kindConsent, Key: grantKey(ticket), TenantID: req.client.tenantID, Data: data, Expires: s.now().Add(codeLifetime)}
	if err := s.store.Update(ctx, func(tx directory.Writer) error { return tx.PutGrant(ctx, rec) }); err != nil {
		s.renderError(w, r, err)
		return
	}
	var lines []string
	for _, sc := range scopes {
		i := slices.IndexFunc(res.app.Scopes, func(x directory.Scope) bool { return x.Value == sc })
		label := sc
		if i >= 0 {
			label = firstNonEmpty(res.app.Scopes[i].UserConsentDisplayName, res.app.Scopes[i].AdminConsentDisplayName, sc)
		}
		lines = append(lines, label)
	}
	s.renderPage(w, http.StatusOK, page{
		Title:   "Permissions requested",
		Heading: "Permissions requested",
		Message: fmt.Sprintf("%s (%s) asks to: %s, on %s, for %s. Accept only if you trust this app.",
			req.client.app.DisplayName, req.client.app.AppID, strings.Join(lines, "; "), res.app.DisplayName, user.UserPrincipalName),
		Action:  "/" + url.PathEscape(req.tenant.Segment) + "/consent",
		Hidden:  map[string]string{"csrf_token": csrfToken(w, r), "consent_ticket": ticket},
		Buttons: []button{{Name: "decision", Value: "accept", Label: "Accept"}, {Name: "decision", Value: "decline", Label: "Cancel"}},
	})
}

// handleConsent records the user's consent (or refusal) and finishes the sign-in.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, errUnreadableForm(err, "The consent form could not be read."))
		return
	}
	if !csrfValid(r) {
		s.renderError(w, r, newError(90023, "invalid_request", 400, "The consent form was not sent by this page, or its session expired. Start the sign-in again."))
		return
	}
	ctx := r.Context()
	pc, err := s.takeConsentTicket(ctx, r.PostForm.Get("consent_ticket"))
	if err != nil || pc.DeviceKey != "" {
		s.renderError(w, r, newError(90023, "invalid_request", 400, "The consent request is unknown or has expired. Start the sign-in again."))
		return
	}
	req, pageErr, redirectErr := s.checkAuthorize(ctx, r.PathValue("tenant"), pc.Version, pc.Params)
	if pageErr != nil {
		s.renderError(w, r, pageErr)
		return
	}
	if redirectErr != nil {
		s.redirectError(w, r, req, redirectErr)
		return
	}
	if r.PostForm.Get("decision") != "accept" {
		s.redirectError(w, r, req, newError(65004, "access_denied", 400, "User declined to consent to access the app."))
		return
	}
	user, err := s.store.User(ctx, pc.TenantID, pc.UserID)
	if err != nil || !user.AccountEnabled || pc.TenantID != req.client.tenantID {
		s.renderError(w, r, errUserDisabled())
		return
	}
	q, _ := parseScopes(req.get("scope"))
	res, err := s.findResource(ctx, req.client.tenantID, q.resource)
	if err != nil {
		s.redirectError(w, r, req, err)
		return
	}
	if err := s.recordUserConsent(ctx, req.client, res, user, pc.Scopes); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.completeSignIn(w, r, req, user)
}

// takeConsentTicket reads and deletes a pending consent (single use).
func (s *Server) takeConsentTicket(ctx context.Context, ticket string) (*pendingConsent, error) {
	if ticket == "" {
		return nil, directory.ErrNotFound
	}
	key := grantKey(ticket)
	var rec *directory.GrantRecord
	err := s.store.Update(ctx, func(tx directory.Writer) error {
		var err error
		if rec, err = tx.Grant(ctx, kindConsent, key); err != nil {
			return err
		}
		return tx.DeleteGrant(ctx, kindConsent, key)
	})
	if err != nil {
		return nil, err
	}
	if s.now().After(rec.Expires) {
		return nil, directory.ErrNotFound
	}
	var pc pendingConsent
	if err := json.Unmarshal(rec.Data, &pc); err != nil {
		return nil, err
	}
	return &pc, nil
}

// recordUserConsent merges scopes into the user's own (Principal) grant for client on res.
func (s *Server) recordUserConsent(ctx context.Context, c *client, res *resource, user *directory.User, scopes []string) error {
	err := s.store.Update(ctx, func(tx directory.Writer) error {
		grants, err := tx.PermissionGrants(ctx, c.tenantID, c.sp.ID, res.sp.ID)
		if err != nil {
			return err
		}
		for i := range grants {
			g := &grants[i]
			if g.ConsentType == "Principal" && g.PrincipalID == user.ID {
				g.Scope = directory.MergeScopes(g.Scope, scopes)
				return tx.PutPermissionGrant(ctx, g)
			}
		}
		return tx.PutPermissionGrant(ctx, &directory.PermissionGrant{ID: directory.NewID(), TenantID: c.tenantID, ClientID: c.sp.ID,
			ConsentType: "Principal", PrincipalID: user.ID, ResourceID: res.sp.ID, Scope: directory.MergeScopes("", scopes)})
	})
	if err != nil {
		return fmt.Errorf("record consent: %w", err)
	}
	s.dir.forgetGrants(c.tenantID, c.sp.ID, res.sp.ID)
	s.log.Info("identity: user consent recorded", "tenant", c.tenantID, "client", c.app.AppID, "user", user.ID, "scopes", strconv.Quote(strings.Join(scopes, " ")))
	return nil
}
