package identity_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"portcullis/internal/config"
	"portcullis/internal/directory"
	"portcullis/internal/identity"
	"portcullis/internal/store/sqlite"
)

// Example shows how `serve` runs the identity role: the store in the data folder, the seed
// from the configuration, the service, its TLS, the listener and the key management handler
// for the admin listener (beside the Graph API, e.g. graph.Options.Extensions).
func Example() {
	ctx := context.Background()
	cfg := &config.Identity{Listen: "127.0.0.1:0"}
	dataDir, _ := os.MkdirTemp("", "portcullis-data")
	defer os.RemoveAll(dataDir)

	store, err := sqlite.Open(filepath.Join(dataDir, sqlite.FileName))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	if err := directory.Seed(ctx, store, cfg, dataDir); err != nil {
		fmt.Println(err)
		return
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Println(err)
		return
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = identity.PublicURLFromListen(ln.Addr().String())
	}
	svc, err := identity.New(identity.Options{
		Store:         store,
		PublicURL:     publicURL,
		TokenLifetime: cfg.TokenLifetimeDuration,
		Logger:        slog.Default(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := svc.EnsureKeys(ctx); err != nil {
		fmt.Println(err)
		return
	}
	var certFile, keyFile string
	if cfg.TLS != nil {
		certFile, keyFile = cfg.TLS.Cert, cfg.TLS.Key
	}
	tlsConfig, caPath, err := identity.ServerTLS(certFile, keyFile, dataDir, []string{publicURL})
	if err != nil {
		fmt.Println(err)
		return
	}
	if caPath != "" {
		fmt.Println("Local CA:", filepath.Base(caPath))
	}
	srv := &http.Server{Handler: svc.Handler(), TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	// Housekeeping: expired codes and refresh tokens leave the store.
	maintain, stop := context.WithCancel(ctx)
	defer stop()
	go svc.Maintain(maintain)

	// On the admin listener, behind the admin token.
	_ = svc.KeysHandler("admin-token")
	// Output: Local CA: ca.pem
}
