package tokenclienttest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// UserCode is the user code every device authorization gets.
const UserCode = "FAKE1234"

// Polls returns when each device-code poll arrived (by the authority's clock).
func (a *Authority) Polls() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.polls...)
}

func (a *Authority) deviceCode(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, 400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
		return
	}
	a.record(r)
	if id := r.PostForm.Get("client_id"); id != PublicClientID && id != ClientID {
		writeError(w, 400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, TenantID))
		return
	}
	if _, ok := a.resource(w, r, false); !ok {
		return
	}
	dc := "device-" + randomString()
	a.mu.Lock()
	a.devices[dc] = 0
	a.mu.Unlock()
	interval := a.cfg.Device.Interval
	verify := a.Server.URL + "/devicelogin"
	msg := fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, UserCode)
	var body map[string]any
	if isV1(r) {
		body = map[string]any{"user_code": UserCode, "device_code": dc, "verification_url": verify, "expires_in": "900", "interval": strconv.Itoa(interval), "message": msg}
	} else {
		body = map[string]any{"user_code": UserCode, "device_code": dc, "verification_uri": verify, "expires_in": 900, "interval": interval, "message": msg}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(body)
}

func (a *Authority) pollDevice(w http.ResponseWriter, r *http.Request, clientID, acr string) {
	dc := r.PostForm.Get("device_code")
	a.mu.Lock()
	n, ok := a.devices[dc]
	if ok {
		a.devices[dc] = n + 1
		a.polls = append(a.polls, a.now())
	}
	a.mu.Unlock()
	s := a.cfg.Device
	switch {
	case !ok:
		writeError(w, 400, "bad_verification_code", 70019, "Verification code expired or not found.")
	case n < s.SlowDown:
		writeError(w, 400, "slow_down", 70016, "OAuth 2.0 device flow: polling too fast; slow down.")
	case n < s.SlowDown+s.Pending:
		writeError(w, 400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
	case s.Outcome == "access_denied":
		writeError(w, 400, "authorization_declined", 70020, "The user declined the authorization request.")
	case s.Outcome == "expired_token":
		writeError(w, 400, "expired_token", 70019, "Verification code expired.")
	default:
		a.issue(w, r, clientID, acr, a.audience(), "", true)
	}
}

func (a *Authority) audience() string {
	if a.cfg.TokenVersion == 2 {
		return APIAppID
	}
	return APIURI
}

// authorize signs the user in at once (there is no page) and redirects back with a code, or
// with access_denied when configured to.
func (a *Authority) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != PublicClientID && q.Get("client_id") != ClientID {
		http.Error(w, "AADSTS700016: unknown application", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme != "http" || !loopback(redirect.Hostname()) {
		// Entra shows AADSTS50011 on its own page; it never redirects to an unregistered URI.
		http.Error(w, "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application.", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	switch {
	case a.cfg.DenyLogin:
		back.Set("error", "access_denied")
		back.Set("error_description", "AADSTS65004: User declined to consent to access the app.")
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
		back.Set("error_description", "AADSTS700054: response_type 'id_token' is not enabled for the application.")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
		back.Set("error_description", "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.")
	default:
		code := "code-" + randomString()
		a.mu.Lock()
		a.codes[code] = authCode{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), scope: q.Get("scope")}
		a.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func (a *Authority) redeemCode(w http.ResponseWriter, r *http.Request, clientID, acr string) {
	code := r.PostForm.Get("code")
	a.mu.Lock()
	c, ok := a.codes[code]
	delete(a.codes, code) // single use
	a.mu.Unlock()
	if !ok || c.clientID != clientID {
		writeError(w, 400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
		return
	}
	if r.PostForm.Get("redirect_uri") != c.redirectURI {
		writeError(w, 400, "invalid_grant", 50148, "The redirect_uri does not match the one used in the authorization request.")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		writeError(w, 400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		return
	}
	a.issue(w, r, clientID, acr, a.audience(), "", true)
}
