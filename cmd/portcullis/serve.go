package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"portcullis/internal/admin"
	"portcullis/internal/config"
	"portcullis/internal/gateway"
	"portcullis/internal/jwt"
	"portcullis/internal/keys"
	"portcullis/internal/policies"
	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
	"portcullis/internal/telemetry"
)

func newServeCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the gateway, identity service and admin API that a configuration file describes",
		Long: "Runs the roles FILE configures until SIGINT or SIGTERM (in-flight requests finish).\n" +
			"SIGHUP, or a change of FILE or of a policy file, reloads the gateway; a reload that fails\n" +
			"keeps the running configuration and logs why (file:line:col).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usageError{errors.New("serve needs --config FILE (try examples/portcullis.yaml)")}
			}
			return serve(cmd.Context(), configPath, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (YAML)")
	return cmd
}

// reloadPoll is how often serve looks at the configuration and policy files for changes.
const reloadPoll = 500 * time.Millisecond

// accessLogFlush is how long an access-log line may wait in the buffer.
const accessLogFlush = 100 * time.Millisecond

// invalidConfig is returned once the problems themselves have been printed, one per line.
type invalidConfig struct {
	file     string
	problems int
}

func (e invalidConfig) Error() string {
	s := "s"
	if e.problems == 1 {
		s = ""
	}
	return fmt.Sprintf("%s is not valid (%d problem%s)", e.file, e.problems, s)
}

// printProblems writes each file:line:col: message line of err to w and returns how many there
// were. Absolute paths under the working directory are shortened to relative ones.
func printProblems(w io.Writer, err error) int {
	lines := problemLines(err)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return len(lines)
}

func problemLines(err error) []string {
	wd, _ := os.Getwd()
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if wd != "" {
			l = strings.ReplaceAll(l, wd+string(filepath.Separator), "")
		}
		out = append(out, l)
	}
	return out
}

// services are the long-lived parts shared by every configuration a process serves: they
// survive reloads.
type services struct {
	log *slog.Logger
	// access receives the gateway's access-log lines, which the gateway encodes itself.
	access  io.Writer
	metrics *admin.Metrics
	keys    atomic.Pointer[keyCaches] // the serving configuration's; nil before the first
	// stdout is where log-to-eventhub's stdout sinks write (nil: discarded).
	stdout   io.Writer
	policies policyState
	tracing  *telemetry.Tracing // nil: no tracing: section
}

// keyCaches are the openid-config key cache and the validated-token cache. They outlive a
// reload that keeps the settings they were made with, so that a reload refetches nothing.
type keyCaches struct {
	keys     *keys.Cache
	tokens   *jwt.Cache
	settings string
}

func (k *keyCaches) close() {
	if k != nil {
		k.keys.Close()
	}
}

// validatedTokenCacheSize bounds the validated-token cache (issue 2: 10,000 entries).
const validatedTokenCacheSize = 10000

// keyCachesFor returns the serving caches when g keeps their settings, or new ones.
func (s *services) keyCachesFor(g *config.Gateway) (*keyCaches, error) {
	settings := fmt.Sprint(g.AuthorityAliases, g.KeyStalenessDuration, g.Trust)
	if cur := s.keys.Load(); cur != nil && cur.settings == settings {
		return cur, nil
	}
	tc, err := gateway.ClientTLS(g.Trust)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
	kc, err := keys.NewCache(keys.Options{
		Client:    client,
		Aliases:   keys.Aliases(g.AuthorityAliases),
		Staleness: g.KeyStalenessDuration,
		Logger:    s.log,
		Hooks: keys.Hooks{Fetched: func(url string, cause keys.FetchCause, result keys.FetchResult, took time.Duration) {
			s.metrics.KeyFetched(url, string(cause), string(result), took)
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("gateway.authority-aliases: %w", err)
	}
	return &keyCaches{keys: kc, tokens: jwt.NewCache(validatedTokenCacheSize), settings: settings}, nil
}

// publishKeys makes k the serving caches and closes the ones it replaces.
func (s *services) publishKeys(k *keyCaches) {
	if old := s.keys.Swap(k); old != nil && old != k {
		old.close()
	}
}

// keySources reports the serving key cache for /readyz and metrics.
func (s *services) keySources() []admin.KeySource {
	k := s.keys.Load()
	if k == nil {
		return nil
	}
	st := k.keys.Status()
	out := make([]admin.KeySource, len(st))
	for i, x := range st {
		out[i] = admin.KeySource{URL: x.URL, Ready: x.Ready, Stale: x.Stale, Keys: x.Keys,
			LastRefresh: x.LastRefresh, LastError: x.LastError, KeyAge: x.KeyAge}
	}
	return out
}

// compilePlan loads and compiles every policy the gateway section names, next to whatever is
// serving, and returns the plan to publish with the key caches it uses. The caller publishes
// both, or closes the caches when they are not the serving ones.
func (s *services) compilePlan(cfg *config.Config) (*gateway.Plan, *keyCaches, error) {
	g := cfg.Gateway
	kc, err := s.keyCachesFor(g)
	if err != nil {
		return nil, nil, err
	}
	// The policies compiled next ask for the sources they use; reload sweeps the others once
	// the new plan serves, so that a removed openid-config URL stops counting for /readyz.
	kc.keys.Mark()
	plan, err := s.compileWith(cfg, kc)
	if err != nil {
		if kc != s.keys.Load() {
			kc.close()
		}
		return nil, nil, err
	}
	return plan, kc, nil
}

func (s *services) compileWith(cfg *config.Config, kc *keyCaches) (*gateway.Plan, error) {
	g := cfg.Gateway
	certs, err := gateway.LoadCertificates(g.Certificates)
	if err != nil {
		return nil, err
	}
	out := s.stdout
	if out == nil {
		out = io.Discard
	}
	deps, err := s.policyDeps(cfg, kc, out)
	if err != nil {
		return nil, err
	}
	loader := &policy.Loader{
		NamedValues:  g.NamedValues,
		FragmentsDir: g.Fragments,
		Registry:     policies.Registry(deps),
		Expressions:  expr.Compile,
		Certificates: certs,
	}
	docs := map[string]*policy.Document{}
	var loadErrs []error
	load := func(path string) *policy.Document {
		if path == "" {
			return nil
		}
		if d, ok := docs[path]; ok {
			return d
		}
		d, err := loader.LoadFile(path)
		if err != nil {
			loadErrs = append(loadErrs, err)
		}
		docs[path] = d
		return d
	}
	global := load(g.Policy)
	for _, a := range g.APIs {
		load(a.Policy)
		for _, op := range a.Operations {
			load(op.Policy)
		}
	}
	if len(loadErrs) > 0 {
		return nil, errors.Join(loadErrs...)
	}
	reported := map[string]bool{}
	return gateway.Build(cfg, func(_ *config.Gateway, api *config.API, op *config.Operation) (gateway.Pipeline, error) {
		var opDoc *policy.Document
		if op != nil {
			opDoc = docs[op.Policy]
		}
		p, err := loader.Compile(global, docs[api.Policy], opDoc)
		if err != nil {
			// A document shared by many operations fails once per operation: report each
			// problem once.
			var fresh []error
			for _, e := range policy.Errors(err) {
				if k := e.Error(); !reported[k] {
					reported[k] = true
					fresh = append(fresh, e)
				}
			}
			if len(policy.Errors(err)) == 0 {
				return nil, err
			}
			return nil, errors.Join(fresh...)
		}
		return p, nil
	})
}

func serve(ctx context.Context, path string, stdout, stderr io.Writer) error {
	return serveFile(ctx, path, stdout, stderr, nil)
}

// serveFile runs the configuration at path until ctx ends or SIGINT/SIGTERM. ready, when not
// nil, runs once every listener is up (dev mode prints its guide there); its error stops serve.
func serveFile(ctx context.Context, path string, stdout, stderr io.Writer, ready func() error) error {
	cfg, err := config.Load(path)
	if err != nil {
		return invalidConfig{path, printProblems(stderr, err)}
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	// Access-log lines are buffered and written out every accessLogFlush, so that logging
	// costs no system call per request; problems are logged at once.
	accessOut := gateway.NewLogWriter(stderr, accessLogFlush)
	defer accessOut.Close()
	svc := &services{log: log, stdout: stdout, access: accessOut}
	svc.metrics = admin.NewMetrics(svc.keySources)
	if err := svc.startTracing(cfg.Tracing); err != nil {
		return err
	}
	defer svc.stopTracing()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	r := &running{svc: svc, path: path, stdout: stdout, stderr: stderr, cfg: cfg}
	if err := r.start(); err != nil {
		r.stop(context.Background())
		return err
	}
	if ready != nil {
		if err := ready(); err != nil {
			r.stop(context.Background())
			return err
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	watched := snapshot(cfg.Files())
	tick := time.NewTicker(reloadPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down: in-flight requests finish first")
			timeout := config.DefaultShutdownTimeout
			if cfg.Gateway != nil {
				timeout = cfg.Gateway.Timeouts.ShutdownDuration
			}
			sctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			r.stop(sctx)
			if err := r.failed(); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "portcullis stopped")
			return nil
		case <-r.done:
			return r.failed()
		case <-hup:
			log.Info("SIGHUP: reloading", "config", path)
			watched = r.reload(watched)
		case <-tick.C:
			if now := snapshot(watched.files()); !now.equal(watched) {
				log.Info("a configuration or policy file changed: reloading", "config", path)
				watched = r.reload(now)
			}
		}
	}
}

// running is one serve process: its listeners and the configuration they serve.
type running struct {
	svc            *services
	path           string
	stdout, stderr io.Writer
	cfg            *config.Config

	gateways []*gateway.Server
	adminSrv *http.Server
	identity *identityRole
	wg       sync.WaitGroup
	done     chan struct{} // closed when a listener fails
	once     sync.Once
	mu       sync.Mutex
	err      error
}

func (r *running) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.once.Do(func() { close(r.done) })
}

func (r *running) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *running) start() error {
	r.done = make(chan struct{})
	cfg := r.cfg
	// The identity service first: a gateway whose openid-config points at it finds it up.
	if needsStore(cfg) {
		if err := r.startIdentity(context.Background()); err != nil {
			return err
		}
	}
	if g := cfg.Gateway; g != nil {
		plan, kc, err := r.svc.compilePlan(cfg)
		if err != nil {
			return invalidConfig{r.path, printProblems(r.stderr, err)}
		}
		r.svc.publishKeys(kc)
		r.announceKeys(kc)
		apis, ops := plan.Summary()
		opts := gateway.Options{
			Timeouts:    *g.Timeouts,
			Limits:      *g.Limits,
			Observer:    r.svc.metrics,
			Tracer:      r.svc.gatewayTracer(),
			AccessLogTo: r.svc.access,
			Log:         r.svc.log,
		}
		if err := r.listenGateway(g.Listen, "http", plan, opts, nil); err != nil {
			return err
		}
		if g.TLSListen != "" {
			cert, err := tls.LoadX509KeyPair(g.TLS.Cert, g.TLS.Key)
			if err != nil {
				return fmt.Errorf("gateway tls: %w", err)
			}
			opts.TLS = true
			tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
			if err := r.listenGateway(g.TLSListen, "https", plan, opts, tc); err != nil {
				return err
			}
		}
		r.svc.log.Info("gateway configured", "apis", apis, "operations", ops)
	}

	if a := cfg.Admin; a != nil {
		ln, err := net.Listen("tcp", a.Listen)
		if err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
		h := admin.NewHandler(admin.Options{Token: a.Token, Management: r.management(a.Token), Gatherer: r.svc.metrics.Registry, KeySources: r.svc.keySources})
		r.adminSrv = admin.NewServer(h)
		r.adminSrv.ErrorLog = slog.NewLogLogger(r.svc.log.Handler(), slog.LevelDebug)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := r.adminSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.fail(fmt.Errorf("admin listener: %w", err))
			}
		}()
		fmt.Fprintf(r.stdout, "admin listening on http://%s\n", ln.Addr())
		r.svc.log.Info("admin listening", "addr", ln.Addr().String(), "management_api", a.Token != "")
	}
	return nil
}

func (r *running) listenGateway(addr, scheme string, plan *gateway.Plan, opts gateway.Options, tc *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway listener: %w", err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	srv := gateway.NewServer(plan, opts)
	r.gateways = append(r.gateways, srv)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := srv.Serve(ln); err != nil {
			r.fail(fmt.Errorf("gateway listener: %w", err))
		}
	}()
	fmt.Fprintf(r.stdout, "gateway listening on %s://%s\n", scheme, ln.Addr())
	r.svc.log.Info("gateway listening", "addr", ln.Addr().String(), "scheme", scheme)
	return nil
}

// reload compiles the file again beside the running configuration and swaps it in; on any
// problem the running one stays and the problems are logged.
func (r *running) reload(watched fileSet) fileSet {
	cfg, err := config.Load(r.path)
	if err != nil {
		r.reloadFailed(err)
		return watched
	}
	next := snapshot(cfg.Files())
	if (cfg.Gateway == nil) != (r.cfg.Gateway == nil) {
		r.reloadFailed(errors.New(r.path + ": adding or removing the gateway section needs a restart"))
		return next
	}
	if cfg.Gateway != nil {
		if cfg.Gateway.Listen != r.cfg.Gateway.Listen || cfg.Gateway.TLSListen != r.cfg.Gateway.TLSListen {
			r.svc.log.Warn("listen addresses change only on restart; the new APIs and policies apply now")
		}
		plan, kc, err := r.svc.compilePlan(cfg)
		if err != nil {
			r.reloadFailed(err)
			return next
		}
		r.svc.publishKeys(kc)
		var old *gateway.Plan
		for _, g := range r.gateways {
			old = g.Swap(plan)
		}
		if old != nil {
			old.Close()
		}
		kc.keys.Sweep()
		apis, ops := plan.Summary()
		r.svc.log.Info("configuration reloaded", "apis", apis, "operations", ops)
	}
	r.cfg = cfg
	fmt.Fprintln(r.stdout, "configuration reloaded")
	return next
}

func (r *running) reloadFailed(err error) {
	for _, l := range problemLines(err) {
		r.svc.log.Error("reload failed, the running configuration stays", "error", l)
	}
	fmt.Fprintln(r.stdout, "reload failed: the running configuration stays")
}

func (r *running) stop(ctx context.Context) {
	var wg sync.WaitGroup
	for _, g := range r.gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = g.Shutdown(ctx)
		}()
	}
	if r.adminSrv != nil {
		_ = r.adminSrv.Shutdown(ctx)
	}
	wg.Wait()
	r.identity.stop(ctx)
	r.svc.policies.close()
	r.svc.keys.Load().close()
}

// fileSet is what serve watches: each file's size and modification time.
type fileSet map[string]fileStamp

type fileStamp struct {
	size    int64
	modTime time.Time
	missing bool
}

func snapshot(files []string) fileSet {
	s := make(fileSet, len(files))
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			s[f] = fileStamp{missing: true}
			continue
		}
		s[f] = fileStamp{size: st.Size(), modTime: st.ModTime()}
	}
	return s
}

func (s fileSet) files() []string {
	out := make([]string, 0, len(s))
	for f := range s {
		out = append(out, f)
	}
	return out
}

func (s fileSet) equal(o fileSet) bool {
	if len(s) != len(o) {
		return false
	}
	for f, st := range s {
		if o[f] != st {
			return false
		}
	}
	return true
}
