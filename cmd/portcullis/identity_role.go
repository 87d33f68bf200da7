package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"portcullis/internal/config"
	"portcullis/internal/directory"
	"portcullis/internal/graph"
	"portcullis/internal/identity"
	"portcullis/internal/store/sqlite"
)

// identityRole is the identity service and the directory store behind it and the management
// API.
type identityRole struct {
	store  *sqlite.Store
	server *identity.Server // nil without an identity: section
	http   *http.Server
	// stopMaintain ends the purge of expired codes and tokens.
	stopMaintain context.CancelFunc
}

// needsStore reports whether cfg uses the directory: the identity service, or the management
// API (which manages the directory even where no identity listener runs).
func needsStore(cfg *config.Config) bool {
	return cfg.Identity != nil || (cfg.Admin != nil && cfg.Admin.Token != "")
}

// seedProblems turns a seed error into a line that names the configuration file.
func seedProblems(file string, err error) error {
	var se *directory.SeedError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %s", file, se.Error())
	}
	return fmt.Errorf("%s: identity seed: %w", file, err)
}

// checkSeed applies the identity seed to a throw-away store, so that check finds what serve
// would refuse (an unknown API in api-permissions, a scope that is not defined, ...).
func checkSeed(cfg *config.Config) error {
	if cfg.Identity == nil {
		return nil
	}
	dir, err := os.MkdirTemp("", "portcullis-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.OpenDir(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := directory.Seed(context.Background(), st, cfg.Identity, filepath.Dir(cfg.File)); err != nil {
		return seedProblems(cfg.File, err)
	}
	return nil
}

// startIdentity opens the store, applies the seed and, with an identity: section, starts the
// HTTPS listener of the identity service.
func (r *running) startIdentity(ctx context.Context) error {
	cfg := r.cfg
	st, err := sqlite.OpenDir(cfg.Data)
	if err != nil {
		return fmt.Errorf("directory store in %s: %w", cfg.Data, err)
	}
	r.identity = &identityRole{store: st}
	id := cfg.Identity
	if id == nil {
		return nil
	}
	if err := directory.Seed(ctx, st, id, filepath.Dir(cfg.File)); err != nil {
		return invalidConfig{r.path, printProblems(r.stderr, seedProblems(r.path, err))}
	}
	ln, err := net.Listen("tcp", id.Listen)
	if err != nil {
		return fmt.Errorf("identity listener: %w", err)
	}
	publicURL := id.PublicURL
	if publicURL == "" {
		// After listening, so that a :0 port is the real one.
		publicURL = identity.PublicURLFromListen(ln.Addr().String())
	}
	var certFile, keyFile string
	if id.TLS != nil {
		certFile, keyFile = id.TLS.Cert, id.TLS.Key
	}
	tc, caPath, err := identity.ServerTLS(certFile, keyFile, cfg.Data, []string{strings.TrimPrefix(publicURL, "https://")})
	if err != nil {
		ln.Close()
		return fmt.Errorf("identity tls: %w", err)
	}
	if caPath != "" {
		fmt.Fprintf(r.stdout, "Local CA: %s (trust it, e.g. curl --cacert %s, or PORTCULLIS_CA_FILE)\n", caPath, caPath)
	}
	srv, err := identity.New(identity.Options{
		Store:         st,
		PublicURL:     publicURL,
		TokenLifetime: id.TokenLifetimeDuration,
		Logger:        r.svc.log.With("role", "identity"),
		Observer:      r.svc.tokenObserver(),
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("identity: %w", err)
	}
	if err := srv.EnsureKeys(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("identity signing keys: %w", err)
	}
	r.identity.server = srv
	maintain, stopMaintain := context.WithCancel(context.Background())
	r.identity.stopMaintain = stopMaintain
	go srv.Maintain(maintain)
	r.identity.http = &http.Server{
		Handler:           r.svc.traced(srv.Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	r.identity.http.ErrorLog = slog.NewLogLogger(r.svc.log.Handler(), slog.LevelDebug)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.identity.http.Serve(tls.NewListener(ln, tc)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.fail(fmt.Errorf("identity listener: %w", err))
		}
	}()
	fmt.Fprintf(r.stdout, "identity listening on https://%s (issuer %s/{tenant}/v2.0)\n", ln.Addr(), publicURL)
	r.svc.log.Info("identity listening", "addr", ln.Addr().String(), "public_url", publicURL)
	return nil
}

// management is the admin listener's management API: the Graph-compatible directory API and
// the signing-key API of the identity service.
func (r *running) management(token string) http.Handler {
	if r.identity == nil {
		return nil
	}
	opt := graph.Options{Logger: r.svc.log.With("role", "management")}
	if r.identity.server != nil {
		opt.Extensions = r.identity.server.KeysHandler(token)
	}
	return graph.New(r.identity.store, opt)
}

func (ir *identityRole) stop(ctx context.Context) {
	if ir == nil {
		return
	}
	if ir.http != nil {
		_ = ir.http.Shutdown(ctx)
		ir.stopMaintain()
	}
	_ = ir.store.Close()
}
