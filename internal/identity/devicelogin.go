package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"portcullis/internal/directory"
)

// deviceLoginFields are the verification page's inputs: the code and the user's credentials
// on one form, so one POST completes the device's sign-in.
func deviceLoginPage(csrf, code, username, errText string) page {
	return page{
		Title:   "Enter code",
		Heading: "Enter code",
		Message: "Enter the code displayed on your app or device, then sign in.",
		Error:   errText,
		Action:  "/devicelogin",
		Hidden:  map[string]string{"csrf_token": csrf},
		Fields: []field{
			{Name: "otc", Label: "Code", Type: "text", Value: code, Autocomplete: "one-time-code"},
			{Name: "login", Label: "Email or username", Type: "email", Value: username, Autocomplete: "username"},
			{Name: "passwd", Label: "Password", Type: "password", Autocomplete: "current-password"},
		},
		Submit: "Sign in",
	}
}

func (s *Server) handleDeviceLoginPage(w http.ResponseWriter, r *http.Request) {
	s.renderPage(w, http.StatusOK, deviceLoginPage(csrfToken(w, r), normalizeUserCode(r.URL.Query().Get("otc")), "", ""))
}

// handleDeviceLogin approves a device code for the signed-in user.
func (s *Server) handleDeviceLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, errUnreadableForm(err, "The form could not be read."))
		return
	}
	csrf := csrfToken(w, r)
	code := normalizeUserCode(r.PostForm.Get("otc"))
	username := strings.TrimSpace(r.PostForm.Get("login"))
	again := func(status int, msg string) {
		s.renderPage(w, status, deviceLoginPage(csrf, code, username, msg))
	}
	if !csrfValid(r) {
		again(http.StatusBadRequest, "The form was not sent by this page, or its session expired. Enter the code again.")
		return
	}
	ctx := r.Context()
	rec, dg, err := s.pendingDevice(r, code)
	if err != nil {
		again(http.StatusBadRequest, err.Error())
		return
	}
	user, err := s.signInUser(ctx, dg.TenantID, username, r.PostForm.Get("passwd"), sourceOf(r))
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			again(http.StatusOK, pe.Error())
			return
		}
		s.renderError(w, r, err)
		return
	}
	if missing, err := s.deviceConsent(ctx, dg, user); err != nil {
		again(http.StatusOK, err.Error())
		return
	} else if missing != nil {
		s.askDeviceConsent(w, r, rec.Key, code, dg, user, missing)
		return
	}
	s.decideDevice(w, r, rec, dg, code, user, deviceApproved)
}

// decideDevice records the user's answer for a device authorization and shows the result.
func (s *Server) decideDevice(w http.ResponseWriter, r *http.Request, rec *directory.GrantRecord, dg *deviceGrant, userCode string, user *directory.User, status string) {
	ctx := r.Context()
	dg.Status, dg.UserID, dg.AuthTime = status, user.ID, s.now().Unix()
	data, err := json.Marshal(dg)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	err = s.store.Update(ctx, func(tx directory.Writer) error {
		rec.Data = data
		if err := tx.PutGrant(ctx, rec); err != nil {
			return err
		}
		if err := tx.DeleteGrant(ctx, kindUserCode, userCode); err != nil && !errors.Is(err, directory.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	app := dg.ClientID
	if c, err := s.store.ApplicationByAppID(ctx, dg.TenantID, dg.ClientID); err == nil {
		app = c.DisplayName
	}
	if status == deviceDeclined {
		s.renderPage(w, http.StatusOK, page{Title: "Declined", Heading: "You declined", Message: fmt.Sprintf("The %s application on your device was not signed in. You may now close this window.", app)})
		return
	}
	s.renderPage(w, http.StatusOK, page{
		Title:   "Signed in",
		Heading: "You're signed in",
		Message: fmt.Sprintf("You have signed in to the %s application on your device. You may now close this window.", app),
	})
}

// deviceConsent checks consent for a device authorization's scopes: nil when it exists, the
// scopes the user may consent to when it does not, or an error (AADSTS65001 when only an
// administrator can consent).
func (s *Server) deviceConsent(ctx context.Context, dg *deviceGrant, user *directory.User) ([]string, error) {
	q, err := parseScopes(dg.Scope)
	if err != nil {
		return nil, err
	}
	identifier, perms := q.resource, q.permissions
	if identifier == "" && dg.Resource != "" {
		identifier, perms = dg.Resource, []string{".default"}
	}
	if identifier == "" {
		return nil, nil
	}
	t, err := s.dir.Tenant(ctx, dg.TenantID)
	if err != nil {
		return nil, err
	}
	c, err := s.findClient(ctx, tenantRef{Segment: t.ID, Tenant: t}, dg.ClientID)
	if err != nil {
		return nil, err
	}
	res, err := s.findResource(ctx, dg.TenantID, identifier)
	if err != nil {
		return nil, err
	}
	if _, err := s.delegatedScopes(ctx, c, res, user.ID, perms); errors.Is(err, &Error{Code: 65001}) {
		if missing := s.userConsentable(ctx, c, res, user.ID, perms); missing != nil {
			return missing, nil
		}
		return nil, err
	} else if err != nil {
		return nil, err
	}
	return nil, nil
}

// askDeviceConsent shows the consent page for a device authorization.
func (s *Server) askDeviceConsent(w http.ResponseWriter, r *http.Request, deviceKey, userCode string, dg *deviceGrant, user *directory.User, scopes []string) {
	ctx := r.Context()
	ticket := randomToken()
	data, err := json.Marshal(pendingConsent{TenantID: dg.TenantID, UserID: user.ID, Scopes: scopes, DeviceKey: deviceKey, UserCode: userCode})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	rec := &directory.GrantRecord{Kind: kindConsent, Key: grantKey(ticket), TenantID: dg.TenantID, Data: data, Expires: s.now().Add(codeLifetime)}
	if err := s.store.Update(ctx, func(tx directory.Writer) error { return tx.PutGrant(ctx, rec) }); err != nil {
		s.renderError(w, r, err)
		return
	}
	app := dg.ClientID
	if c, err := s.store.ApplicationByAppID(ctx, dg.TenantID, dg.ClientID); err == nil {
		app = c.DisplayName
	}
	s.renderPage(w, http.StatusOK, page{
		Title:   "Permissions requested",
		Heading: "Permissions requested",
		Message: fmt.Sprintf("%s asks to: %s, for %s. Accept only if you trust this app.", app, strings.Join(scopes, ", "), user.UserPrincipalName),
		Action:  "/devicelogin/consent",
		Hidden:  map[string]string{"csrf_token": csrfToken(w, r), "consent_ticket": ticket},
		Buttons: []button{{Name: "decision", Value: "accept", Label: "Accept"}, {Name: "decision", Value: "decline", Label: "Cancel"}},
	})
}

// handleDeviceConsent records the answer of the device flow's consent page.
func (s *Server) handleDeviceConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil || !csrfValid(r) {
		s.renderError(w, r, newError(90023, "invalid_request", 400, "The consent form was not sent by this page, or its session expired. Enter the code again."))
		return
	}
	ctx := r.Context()
	pc, err := s.takeConsentTicket(ctx, r.PostForm.Get("consent_ticket"))
	if err != nil || pc.DeviceKey == "" {
		s.renderError(w, r, newError(90023, "invalid_request", 400, "The consent request is unknown or has expired. Enter the code again."))
		return
	}
	rec, err := s.store.Grant(ctx, kindDevice, pc.DeviceKey)
	if err != nil {
		s.renderError(w, r, errDeviceExpired())
		return
	}
	var dg deviceGrant
	if err := json.Unmarshal(rec.Data, &dg); err != nil || dg.Status != "" || s.now().After(rec.Expires) {
		s.renderError(w, r, errDeviceExpired())
		return
	}
	user, err := s.store.User(ctx, pc.TenantID, pc.UserID)
	if err != nil || !user.AccountEnabled {
		s.renderError(w, r, errUserDisabled())
		return
	}
	if r.PostForm.Get("decision") != "accept" {
		s.decideDevice(w, r, rec, &dg, pc.UserCode, user, deviceDeclined)
		return
	}
	q, _ := parseScopes(dg.Scope)
	t, err := s.dir.Tenant(ctx, dg.TenantID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	c, err := s.findClient(ctx, tenantRef{Segment: t.ID, Tenant: t}, dg.ClientID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	res, err := s.findResource(ctx, dg.TenantID, q.resource)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if err := s.recordUserConsent(ctx, c, res, user, pc.Scopes); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.decideDevice(w, r, rec, &dg, pc.UserCode, user, deviceApproved)
}

// pendingDevice finds the device authorization a user code belongs to.
func (s *Server) pendingDevice(r *http.Request, code string) (*directory.GrantRecord, *deviceGrant, error) {
	ctx := r.Context()
	if code == "" {
		return nil, nil, errDeviceBadCode()
	}
	uc, err := s.store.Grant(ctx, kindUserCode, code)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, nil, errDeviceBadCode()
	}
	if err != nil {
		return nil, nil, err
	}
	if s.now().After(uc.Expires) {
		return nil, nil, errDeviceExpired()
	}
	rec, err := s.store.Grant(ctx, kindDevice, string(uc.Data))
	if errors.Is(err, directory.ErrNotFound) {
		return nil, nil, errDeviceBadCode()
	}
	if err != nil {
		return nil, nil, err
	}
	var dg deviceGrant
	if err := json.Unmarshal(rec.Data, &dg); err != nil {
		return nil, nil, err
	}
	if dg.Status != "" {
		return nil, nil, errDeviceBadCode()
	}
	return rec, &dg, nil
}
