package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// KeySource is the state of one openid-config source, as /readyz reports it.
type KeySource struct {
	URL string `json:"url"`
	// Ready: the source has keys within the staleness bound.
	Ready bool `json:"ready"`
	// Stale: the last refresh failed and the keys served are the last good ones.
	Stale       bool      `json:"stale"`
	Keys        int       `json:"keys"`
	LastRefresh time.Time `json:"lastRefresh,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	// KeyAge is the time since the keys were last confirmed (metrics only).
	KeyAge time.Duration `json:"-"`
}

// Options configure the admin handler.
type Options struct {
	// Token is the management API's bearer token; empty turns the management API off.
	Token string
	// Management is the Graph-compatible management API; nil: not mounted.
	Management http.Handler
	// KeySources reports the key cache (nil: no sources, always ready).
	KeySources func() []KeySource
	// Gatherer serves /metrics (nil: an empty registry).
	Gatherer prometheus.Gatherer
}

// NewHandler serves /healthz, /readyz, /metrics and, behind the bearer token, the management
// API.
func NewHandler(opt Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var sources []KeySource
		if opt.KeySources != nil {
			sources = opt.KeySources()
		}
		if sources == nil {
			sources = []KeySource{}
		}
		ready := true
		for _, s := range sources {
			ready = ready && s.Ready
		}
		status, code := "ready", http.StatusOK
		if !ready {
			status, code = "not ready", http.StatusServiceUnavailable
		}
		writeJSON(w, code, struct {
			Status     string      `json:"status"`
			KeySources []KeySource `json:"keySources"`
		}{status, sources})
	})
	g := opt.Gatherer
	if g == nil {
		g = prometheus.NewRegistry()
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	if opt.Token != "" && opt.Management != nil {
		mux.Handle("/", requireToken(opt.Token, opt.Management))
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			graphError(w, http.StatusNotFound, "Request_ResourceNotFound",
				"The management API is off: set admin.token in the configuration to turn it on.")
		})
	}
	return mux
}

// requireToken lets through requests that carry the admin bearer token. Both sides are hashed
// first so that the comparison takes the same time whatever the token's length.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin"`)
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer extracts the token of an Authorization header; the scheme is case-insensitive
// (RFC 9110 §11.1).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// graphError writes Microsoft Graph's error shape.
func graphError(w http.ResponseWriter, status int, code, message string) {
	type inner struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, struct {
		Error inner `json:"error"`
	}{inner{code, message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// NewServer is the admin listener's http.Server, with timeouts against slow clients.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
}
