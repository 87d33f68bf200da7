package identity

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"portcullis/internal/jose"
)

// handleUserInfo answers OpenID Connect userinfo for a Microsoft Graph-audience token (what a
// sign-in without an API scope gets), as Entra's userinfo does.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	fail := func(desc string) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+desc+`"`)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "InvalidAuthenticationToken", "message": desc}})
	}
	auth := r.Header.Get("Authorization")
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") {
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	j, err := jose.ParseCompact(strings.TrimSpace(auth[7:]))
	if err != nil {
		fail("Access token is not a signed JWT.")
		return
	}
	var c struct {
		Aud, Iss, Tid, Oid, Name, GivenName, FamilyName, Upn, PreferredUsername string
		Exp, Nbf                                                                float64
	}
	var raw map[string]any
	if json.Unmarshal(j.Payload, &raw) != nil {
		fail("Access token claims are not JSON.")
		return
	}
	str := func(k string) string { v, _ := raw[k].(string); return v }
	num := func(k string) float64 { v, _ := raw[k].(float64); return v }
	c.Aud, c.Iss, c.Tid, c.Oid = str("aud"), str("iss"), str("tid"), str("oid")
	c.Exp, c.Nbf = num("exp"), num("nbf")
	if c.Tid == "" || (c.Iss != s.issuerV1(c.Tid) && c.Iss != s.issuerV2(c.Tid)) {
		fail("Access token was not issued by this service.")
		return
	}
	ks, err := s.keys.forTenant(r.Context(), c.Tid)
	if err != nil {
		fail("Access token's tenant is unknown.")
		return
	}
	sk := ks.byKid(j.Header.Kid)
	if sk == nil || j.Verify(&jose.Key{Alg: "RS256", Public: &sk.private.PublicKey}) != nil {
		fail("Access token signature is invalid.")
		return
	}
	now := s.now()
	if now.After(time.Unix(int64(c.Exp), 0).Add(assertionSkew)) || now.Before(time.Unix(int64(c.Nbf), 0).Add(-assertionSkew)) {
		fail("Access token has expired or is not yet valid.")
		return
	}
	if !slices.Contains([]string{graphAppID, "https://graph.microsoft.com"}, c.Aud) || c.Oid == "" {
		fail("Access token's audience is not the userinfo endpoint's (Microsoft Graph).")
		return
	}
	user, err := s.store.User(r.Context(), c.Tid, c.Oid)
	if err != nil {
		fail("The token's user no longer exists.")
		return
	}
	appID := str("appid")
	if appID == "" {
		appID = str("azp")
	}
	out := map[string]string{
		"sub":         pairwiseSubject(c.Tid, user.ID, appID),
		"name":        user.DisplayName,
		"family_name": user.Surname,
		"given_name":  user.GivenName,
		"email":       user.Mail,
	}
	for k, v := range out {
		if v == "" && k != "sub" {
			delete(out, k)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// handleLogout ends the session. Portcullis keeps no sign-in session (every authorization
// asks for credentials), so it only clears its cookie and sends the browser back to a
// post_logout_redirect_uri registered on the client, or shows a signed-out page.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	target := r.Form.Get("post_logout_redirect_uri")
	if target != "" {
		if ok := s.registeredLogoutURI(r, target); ok {
			u, err := url.Parse(target)
			if err == nil {
				if st := r.Form.Get("state"); st != "" {
					q := u.Query()
					q.Set("state", st)
					u.RawQuery = q.Encode()
				}
				http.Redirect(w, r, u.String(), http.StatusFound)
				return
			}
		}
	}
	s.renderPage(w, http.StatusOK, page{Title: "Signed out", Heading: "You signed out of your account", Message: "It's a good idea to close all browser windows."})
}

// registeredLogoutURI accepts only a redirect URI registered on the client named by
// client_id or by the id_token_hint's aud, so logout is no open redirect.
func (s *Server) registeredLogoutURI(r *http.Request, target string) bool {
	clientID := r.Form.Get("client_id")
	if hint := r.Form.Get("id_token_hint"); hint != "" && clientID == "" {
		if j, err := jose.ParseCompact(hint); err == nil {
			var c struct {
				Aud string `json:"aud"`
			}
			if json.Unmarshal(j.Payload, &c) == nil {
				clientID = c.Aud
			}
		}
	}
	if clientID == "" {
		return false
	}
	t, err := s.resolveTenant(r.Context(), r.PathValue("tenant"), false)
	if err != nil {
		return false
	}
	c, err := s.findClient(r.Context(), t, clientID)
	if err != nil {
		return false
	}
	_, ok := matchRedirect(c.app, target)
	return ok
}
