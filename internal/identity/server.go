package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"portcullis/internal/directory"
)

// Options configure a Server. Store and PublicURL are required.
type Options struct {
	// Store is the directory the service reads apps, users and consent from and keeps its
	// signing keys and grants (codes, device codes, refresh tokens) in.
	Store directory.Store
	// PublicURL is the base of issuers and endpoint URLs, e.g. https://127.0.0.1:9443.
	PublicURL string
	// TokenLifetime fixes access-token lifetimes; 0 means Entra's randomised 60-90 minutes.
	TokenLifetime time.Duration
	// Logger receives operational logs; never secrets, passwords, codes or tokens.
	Logger *slog.Logger
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time
	// DevicePollInterval is the device flow's polling interval (Entra: 5s).
	DevicePollInterval time.Duration
	// DirectoryCacheTTL is how long directory reads of the token path are kept in memory; a
	// change made through the management API reaches token issuance within it. 0 means the
	// default of 1 second; a negative value turns the cache off.
	DirectoryCacheTTL time.Duration
	// KeyCacheTTL is how long a tenant's signing keys are served from memory before they are
	// re-read from the store (another instance may have rotated them). Default 1 minute.
	KeyCacheTTL time.Duration
	// Observer is told the outcome of every token request (metrics); nil: none.
	Observer Observer
}

// Server is the identity service. It is safe for concurrent use.
type Server struct {
	store     directory.Store
	dir       *directoryCache
	publicURL string // no trailing slash
	host      string // public-url host name
	lifetime  time.Duration
	log       *slog.Logger
	now       func() time.Time
	interval  time.Duration

	keys     *keyRing
	throttle *throttle
	polls    *pollClock
	mux      *http.ServeMux
	observer Observer
}

// New checks opts and builds the service. It does not touch the store until the first request
// (or EnsureKeys).
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("identity: a store is required")
	}
	u, err := url.Parse(strings.TrimRight(opts.PublicURL, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("identity: public URL %q must be an absolute https URL without query or fragment", opts.PublicURL)
	}
	if opts.TokenLifetime < 0 {
		return nil, fmt.Errorf("identity: token lifetime %s is negative", opts.TokenLifetime)
	}
	s := &Server{
		store:     opts.Store,
		publicURL: u.String(),
		host:      u.Hostname(),
		lifetime:  opts.TokenLifetime,
		log:       opts.Logger,
		now:       opts.Now,
		interval:  opts.DevicePollInterval,
		observer:  opts.Observer,
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.interval <= 0 {
		s.interval = 5 * time.Second
	}
	ttl := opts.KeyCacheTTL
	if ttl <= 0 {
		ttl = time.Minute
	}
	dirTTL := opts.DirectoryCacheTTL
	if dirTTL == 0 {
		dirTTL = time.Second
	}
	s.dir = newDirectoryCache(opts.Store, dirTTL)
	s.keys = newKeyRing(opts.Store, s.now, ttl, s.maxTokenLifetime(), s.host)
	s.throttle = newThrottle(s.now)
	s.polls = newPollClock(s.now)
	s.mux = s.routes()
	return s, nil
}

// Handler serves every identity endpoint.
func (s *Server) Handler() http.Handler { return s.mux }

// PublicURL is the base URL issuers and endpoints are built from.
func (s *Server) PublicURL() string { return s.publicURL }

// EnsureKeys makes sure every tenant in the store has a current and a next signing key, so
// that the first token request does not pay for key generation. Call it at start.
func (s *Server) EnsureKeys(ctx context.Context) error {
	tenants, err := s.store.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("identity: list tenants: %w", err)
	}
	for _, t := range tenants {
		if _, err := s.keys.forTenant(ctx, t.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleDiscovery(2))
	m.HandleFunc("GET /{tenant}/.well-known/openid-configuration", s.handleDiscovery(1))
	m.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleJWKS(2))
	m.HandleFunc("GET /{tenant}/discovery/keys", s.handleJWKS(1))
	// MSAL asks /common/discovery/instance; Entra answers under any tenant segment.
	m.HandleFunc("GET /{tenant}/discovery/instance", s.handleInstanceDiscovery)
	m.HandleFunc("/{tenant}/oauth2/v2.0/token", s.handleToken(2))
	m.HandleFunc("/{tenant}/oauth2/token", s.handleToken(1))
	m.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize(2))
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize(2))
	m.HandleFunc("GET /{tenant}/oauth2/authorize", s.handleAuthorize(1))
	m.HandleFunc("POST /{tenant}/oauth2/authorize", s.handleAuthorize(1))
	m.HandleFunc("POST /{tenant}/login", s.handleSignIn)
	m.HandleFunc("POST /{tenant}/consent", s.handleConsent)
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", s.handleDeviceCode(2))
	m.HandleFunc("POST /{tenant}/oauth2/devicecode", s.handleDeviceCode(1))
	m.HandleFunc("GET /devicelogin", s.handleDeviceLoginPage)
	m.HandleFunc("POST /devicelogin", s.handleDeviceLogin)
	m.HandleFunc("POST /devicelogin/consent", s.handleDeviceConsent)
	m.HandleFunc("/{tenant}/oauth2/v2.0/logout", s.handleLogout)
	m.HandleFunc("/{tenant}/oauth2/logout", s.handleLogout)
	m.HandleFunc("/{tenant}/openid/userinfo", s.handleUserInfo)
	m.HandleFunc("/oidc/userinfo", s.handleUserInfo)
	m.HandleFunc("GET /error", s.handleErrorPage)
	return m
}

// maxTokenLifetime bounds every token a key signs (access tokens, one-hour ID tokens), so a
// retired key is kept published until all of them have expired.
func (s *Server) maxTokenLifetime() time.Duration {
	life := 90 * time.Minute
	if s.lifetime > 0 {
		life = s.lifetime
	}
	if life < idTokenLifetime {
		life = idTokenLifetime
	}
	return life + assertionSkew
}

// tenantRef is the {tenant} path segment resolved.
type tenantRef struct {
	Segment string            // as the client wrote it
	Tenant  *directory.Tenant // nil for common/organizations
}

// Multi reports the multi-tenant authorities (common, organizations).
func (t tenantRef) Multi() bool { return t.Tenant == nil }

// resolveTenant resolves a tenant GUID or domain; common and organizations are multi-tenant.
func (s *Server) resolveTenant(ctx context.Context, segment string, discovery bool) (tenantRef, error) {
	switch strings.ToLower(segment) {
	case "common", "organizations":
		return tenantRef{Segment: strings.ToLower(segment)}, nil
	}
	if segment == "" || len(segment) > 256 {
		return tenantRef{}, errUnknownTenant(segment, discovery)
	}
	t, err := s.dir.Tenant(ctx, segment)
	if errors.Is(err, directory.ErrNotFound) {
		return tenantRef{}, errUnknownTenant(segment, discovery)
	}
	if err != nil {
		return tenantRef{}, fmt.Errorf("resolve tenant: %w", err)
	}
	return tenantRef{Segment: segment, Tenant: t}, nil
}

// issuerV2 and issuerV1 are the tenant's issuers (CONTRACT.md §3).
func (s *Server) issuerV2(tid string) string { return s.publicURL + "/" + tid + "/v2.0" }
func (s *Server) issuerV1(tid string) string { return s.publicURL + "/" + tid + "/" }

func (s *Server) handleErrorPage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	for _, c := range code {
		if c < '0' || c > '9' {
			code = ""
			break
		}
	}
	s.renderPage(w, http.StatusOK, page{Title: "Error lookup", Heading: "AADSTS" + code,
		Message: "This Portcullis instance answered with AADSTS" + code + ". The error_description of the response says what was expected and what was found."})
}
