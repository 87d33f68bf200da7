package tokenclient_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"portcullis/internal/tokenclient"
	"portcullis/internal/tokenclient/tokenclienttest"
)

// fakeClock is a clock that the device-code poller's Sleep advances, so polling intervals are
// checked without waiting for them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestDeviceCode(t *testing.T) {
	s := 2 * time.Second
	tests := []struct {
		name       string
		endpoint   int
		script     tokenclienttest.DeviceScript
		wantSleeps []time.Duration
		wantIs     error
		wantText   string
	}{
		{name: "pending then success", endpoint: 2, script: tokenclienttest.DeviceScript{Pending: 2, Interval: 2},
			wantSleeps: []time.Duration{s, s, s}},
		{name: "slow_down adds five seconds to the interval", endpoint: 2, script: tokenclienttest.DeviceScript{SlowDown: 2, Pending: 1, Interval: 2},
			wantSleeps: []time.Duration{s, s + 5*time.Second, s + 10*time.Second, s + 10*time.Second}},
		{name: "v1 endpoint with string numbers and verification_url", endpoint: 1, script: tokenclienttest.DeviceScript{Pending: 1, Interval: 3},
			wantSleeps: []time.Duration{3 * time.Second, 3 * time.Second}},
		{name: "no interval announced means five seconds", endpoint: 2, script: tokenclienttest.DeviceScript{},
			wantSleeps: []time.Duration{5 * time.Second}},
		{name: "user declines", endpoint: 2, script: tokenclienttest.DeviceScript{Pending: 1, Outcome: "access_denied", Interval: 1},
			wantSleeps: []time.Duration{time.Second, time.Second}, wantIs: tokenclient.ErrDeclined, wantText: "declined"},
		{name: "server says the code expired", endpoint: 2, script: tokenclienttest.DeviceScript{Outcome: "expired_token", Interval: 1},
			wantSleeps: []time.Duration{time.Second}, wantIs: tokenclient.ErrDeviceCodeExpired, wantText: "Fix: run the command again"},
		{name: "code expires locally while pending", endpoint: 2, script: tokenclienttest.DeviceScript{Pending: 1 << 20, Interval: 300},
			wantSleeps: []time.Duration{300 * time.Second, 300 * time.Second, 300 * time.Second}, wantIs: tokenclient.ErrDeviceCodeExpired, wantText: "expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Now()}
			a := tokenclienttest.New(t, tokenclienttest.Config{Device: tc.script, Now: clock.Now})
			ep, err := tokenclient.FromAuthority(a.Authority(), "", tc.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			c := &tokenclient.Client{Endpoints: ep, ClientID: tokenclienttest.PublicClientID, HTTP: httpClient(t, a), Now: clock.Now, Sleep: clock.Sleep}
			dc, err := c.StartDeviceCode(context.Background(), tokenclient.Target{Scopes: []string{tokenclienttest.APIURI + "/Files.Read"}})
			if err != nil {
				t.Fatal(err)
			}
			if dc.UserCode != tokenclienttest.UserCode || !strings.HasSuffix(dc.VerificationURI, "/devicelogin") ||
				!strings.Contains(dc.Instructions(), tokenclienttest.UserCode) {
				t.Errorf("device code %+v", dc)
			}
			tok, err := c.PollDeviceCode(context.Background(), dc)
			if got := clock.sleeps; !equalDurations(got, tc.wantSleeps) {
				t.Errorf("waited %v, want %v", got, tc.wantSleeps)
			}
			if tc.wantIs != nil {
				if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("error %v, want %v containing %q", err, tc.wantIs, tc.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cl := claims(t, tok.AccessToken); cl["scp"] != tokenclienttest.Scope || tok.RefreshToken == "" {
				t.Errorf("want a delegated token and a refresh token, got claims %v", cl)
			}
			if polls := a.Polls(); len(polls) != len(tc.wantSleeps) {
				t.Errorf("authority saw %d polls, want %d", len(polls), len(tc.wantSleeps))
			}
			for _, r := range a.Requests() {
				if strings.HasSuffix(r.Path, "/devicecode") && tc.endpoint == 2 && r.Form.Get("scope") != tokenclienttest.APIURI+"/Files.Read openid profile offline_access" {
					t.Errorf("device code request scope %q", r.Form.Get("scope"))
				}
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDeviceCodeStopsWithContext(t *testing.T) {
	a := tokenclienttest.New(t, tokenclienttest.Config{Device: tokenclienttest.DeviceScript{Pending: 1 << 20, Interval: 1}})
	ep, _ := tokenclient.FromAuthority(a.Authority(), "", 2)
	c := &tokenclient.Client{Endpoints: ep, ClientID: tokenclienttest.PublicClientID, HTTP: httpClient(t, a)}
	dc, err := c.StartDeviceCode(context.Background(), tokenclient.Target{Scopes: []string{tokenclienttest.APIURI + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.PollDeviceCode(ctx, dc); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// browser follows the authorize URL and its redirect back to the loopback listener, as a
// browser would after the user signs in.
func browser(t *testing.T, a *tokenclienttest.Authority, status *int) func(string) error {
	return func(authorizeURL string) error {
		go func() {
			resp, err := a.Server.Client().Get(authorizeURL)
			if err != nil {
				t.Errorf("browser: %v", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			*status = resp.StatusCode
		}()
		return nil
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name     string
		endpoint int
		cfg      tokenclienttest.Config
		redirect string
		open     func(t *testing.T, a *tokenclienttest.Authority, status *int) func(string) error
		wantIs   error
		wantText string
	}{
		{name: "v2 sign-in", endpoint: 2},
		{name: "v1 sign-in", endpoint: 1},
		{name: "explicit 127.0.0.1 redirect with a path", endpoint: 2, redirect: "http://127.0.0.1/callback"},
		{name: "user declines", endpoint: 2, cfg: tokenclienttest.Config{DenyLogin: true},
			wantIs: tokenclient.ErrDeclined, wantText: "AADSTS65004: User declined to consent to access the app. Fix: sign in again"},
		{name: "forged callback with another state", endpoint: 2,
			open: func(t *testing.T, a *tokenclienttest.Authority, status *int) func(string) error {
				return func(authorizeURL string) error {
					u, _ := url.Parse(authorizeURL)
					cb := u.Query().Get("redirect_uri") + "?code=stolen&state=not-the-one"
					go func() {
						resp, err := http.Get(cb)
						if err != nil {
							t.Errorf("callback: %v", err)
							return
						}
						resp.Body.Close()
						*status = resp.StatusCode
					}()
					return nil
				}
			},
			wantIs: tokenclient.ErrStateMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tokenclienttest.New(t, tc.cfg)
			ep, err := tokenclient.FromAuthority(a.Authority(), "", tc.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			c := &tokenclient.Client{Endpoints: ep, ClientID: tokenclienttest.PublicClientID, HTTP: httpClient(t, a)}
			var status int
			open := browser(t, a, &status)
			if tc.open != nil {
				open = tc.open(t, a, &status)
			}
			var seen string
			opts := tokenclient.LoginOptions{RedirectURI: tc.redirect, Open: func(u string) error { seen = u; return open(u) }}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tok, err := c.Login(ctx, tokenclient.Target{Scopes: []string{tokenclienttest.APIURI + "/Files.Read"}}, opts)
			q, _ := url.Parse(seen)
			if got := q.Query(); got.Get("code_challenge_method") != "S256" || len(got.Get("code_challenge")) != 43 || len(got.Get("state")) < 32 {
				t.Errorf("authorize URL lacks PKCE S256 or state: %s", seen)
			}
			if tc.wantIs != nil {
				if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("error %v, want %v containing %q", err, tc.wantIs, tc.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cl := claims(t, tok.AccessToken); cl["scp"] != tokenclienttest.Scope || tok.IDToken == "" || tok.RefreshToken == "" {
				t.Errorf("want a delegated token with ID and refresh tokens, got %v", cl)
			}
			var redeem tokenclienttest.Request
			for _, r := range a.Requests() {
				if r.Form.Get("grant_type") == "authorization_code" {
					redeem = r
				}
			}
			if len(redeem.Form.Get("code_verifier")) != 43 || redeem.Form.Get("redirect_uri") != q.Query().Get("redirect_uri") {
				t.Errorf("redemption %v does not carry the verifier and the same redirect URI", redeem.Form)
			}
			if tc.redirect != "" && !strings.HasPrefix(redeem.Form.Get("redirect_uri"), "http://127.0.0.1:") {
				t.Errorf("redirect URI %q does not keep the host asked for", redeem.Form.Get("redirect_uri"))
			}
		})
	}
}

func TestLoginRefusesNonLoopbackRedirect(t *testing.T) {
	ep, _ := tokenclient.FromAuthority("https://127.0.0.1:1/t", "", 2)
	c := &tokenclient.Client{Endpoints: ep, ClientID: "c"}
	for _, r := range []string{"https://localhost/cb", "http://example.com/cb", "http://127.0.0.1/cb?x=1"} {
		_, err := c.Login(context.Background(), tokenclient.Target{Scopes: []string{"a/.default"}}, tokenclient.LoginOptions{RedirectURI: r, Open: func(string) error { return nil }})
		if !errors.Is(err, tokenclient.ErrEndpoint) {
			t.Errorf("redirect %s: error %v, want ErrEndpoint", r, err)
		}
	}
}
