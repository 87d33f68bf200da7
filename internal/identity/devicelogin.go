package identity

import (
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
		s.renderError(w, r, errMalformed("The form could not be read."))
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
	user, err := s.signInUser(ctx, dg.TenantID, username, r.PostForm.Get("passwd"))
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			again(http.StatusOK, pe.Error())
			return
		}
		s.renderError(w, r, err)
		return
	}
	dg.Status, dg.UserID, dg.AuthTime = deviceApproved, user.ID, s.now().Unix()
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
		return tx.DeleteGrant(ctx, kindUserCode, code)
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	app := dg.ClientID
	if c, err := s.store.ApplicationByAppID(ctx, dg.TenantID, dg.ClientID); err == nil {
		app = c.DisplayName
	}
	s.renderPage(w, http.StatusOK, page{
		Title:   "Signed in",
		Heading: "You're signed in",
		Message: fmt.Sprintf("You have signed in to the %s application on your device. You may now close this window.", app),
	})
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
