package tokenclient

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DefaultRedirectURI is the loopback redirect URI a public client registers; Entra (and
// Portcullis) match it with any port (RFC 8252 §7.3).
const DefaultRedirectURI = "http://localhost"

// LoginOptions shape an interactive sign-in.
type LoginOptions struct {
	// RedirectURI is a loopback http URI; without a port a free one is chosen. Default
	// DefaultRedirectURI.
	RedirectURI string
	// Open shows the authorize URL to the user (prints it, opens a browser). Required.
	Open func(authorizeURL string) error
	// Prompt ("login", "consent", "select_account", "none") and LoginHint pass through.
	Prompt, LoginHint string
}

type callbackResult struct {
	query url.Values
	err   error
}

// Login signs a user in with the authorization code flow and PKCE (S256): it listens on a
// loopback port, sends the user to the authorize endpoint, waits for the redirect carrying the
// code, checks the state and redeems the code with its verifier.
func (c *Client) Login(ctx context.Context, t Target, opts LoginOptions) (*Token, error) {
	if c.Endpoints.Authorize == "" {
		return nil, fmt.Errorf("%w: the authorize endpoint is not known for this authority; give an authority URL instead of a token URL", ErrEndpoint)
	}
	if opts.Open == nil {
		return nil, errors.New("tokenclient: LoginOptions.Open is required")
	}
	redirect, ln, err := listenLoopback(opts.RedirectURI)
	if err != nil {
		return nil, err
	}
	state, verifier := randomToken(), randomToken()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id":             {c.ClientID},
		"response_type":         {"code"},
		"redirect_uri":          {redirect.String()},
		"response_mode":         {"query"},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if err := c.targetParams(q, t, true); err != nil {
		ln.Close()
		return nil, err
	}
	if c.Endpoints.Version == 2 {
		q.Set("nonce", randomToken())
	}
	if opts.Prompt != "" {
		q.Set("prompt", opts.Prompt)
	}
	if opts.LoginHint != "" {
		q.Set("login_hint", opts.LoginHint)
	}
	authorizeURL := c.Endpoints.Authorize + "?" + q.Encode()

	results := make(chan callbackResult, 1)
	srv := &http.Server{
		Handler:           callbackHandler(redirect.Path, state, results),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }() // ends with Shutdown below
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	if err := opts.Open(authorizeURL); err != nil {
		return nil, err
	}
	var res callbackResult
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the sign-in to come back to %s: %w", redirect, ctx.Err())
	case res = <-results:
	}
	if res.err != nil {
		return nil, res.err
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {res.query.Get("code")},
		"redirect_uri":  {redirect.String()},
		"code_verifier": {verifier},
	}
	if err := c.targetParams(form, t, true); err != nil {
		return nil, err
	}
	return c.redeem(ctx, form)
}

// listenLoopback opens the callback listener for a loopback redirect URI and returns the
// redirect URI with the port filled in.
func listenLoopback(raw string) (*url.URL, net.Listener, error) {
	if raw == "" {
		raw = DefaultRedirectURI
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) || u.RawQuery != "" || u.Fragment != "" {
		return nil, nil, fmt.Errorf("%w: redirect URI %q must be http://localhost, http://127.0.0.1 or http://[::1], optionally with a port and path", ErrEndpoint, raw)
	}
	port := u.Port()
	if port == "" {
		port = "0"
	}
	// localhost is bound on 127.0.0.1: the browser resolves it there (and an IPv6-first
	// resolver falls back), and no other interface ever sees the code.
	host := u.Hostname()
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot listen for the sign-in callback on %s: %w", net.JoinHostPort(host, port), err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	out := *u
	out.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(p))
	return &out, ln, nil
}

// callbackHandler delivers the first authorization response for path to results.
func callbackHandler(path, state string, results chan<- callbackResult) http.Handler {
	if path == "" {
		path = "/"
	}
	deliver := func(r callbackResult) {
		select {
		case results <- r:
		default: // a response already arrived; later ones are ignored
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			writePage(w, http.StatusBadRequest, "Sign-in failed", "The response did not come from the sign-in this program started (state mismatch). Start again.")
			deliver(callbackResult{err: ErrStateMismatch})
			return
		}
		if code := q.Get("error"); code != "" {
			e := &Error{Endpoint: "authorize", Code: code, Description: q.Get("error_description"), URI: q.Get("error_uri"), Suberror: q.Get("suberror")}
			writePage(w, http.StatusOK, "Sign-in failed", e.Summary())
			deliver(callbackResult{err: e})
			return
		}
		if q.Get("code") == "" {
			writePage(w, http.StatusBadRequest, "Sign-in failed", "The response carried neither a code nor an error.")
			deliver(callbackResult{err: fmt.Errorf("%w: the authorization response carried neither a code nor an error", ErrBadResponse)})
			return
		}
		writePage(w, http.StatusOK, "Signed in", "You are signed in. You can close this window and return to the terminal.")
		deliver(callbackResult{query: q})
	})
}

func writePage(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title></head><body><h1>%s</h1><p>%s</p></body></html>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}

// randomToken is 32 random bytes in base64url: a state, nonce or PKCE verifier (43 characters,
// within RFC 7636's 43-128).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
