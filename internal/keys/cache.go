package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Defaults for Options.
const (
	DefaultRefreshInterval    = time.Hour
	DefaultUnknownKidInterval = 5 * time.Minute
	DefaultStaleness          = 24 * time.Hour
	DefaultFetchTimeout       = 5 * time.Second
	DefaultMinBackoff         = 5 * time.Second
	DefaultMaxBackoff         = 5 * time.Minute
	DefaultMaxDocumentBytes   = 1 << 20
)

// FetchResult is the outcome of one fetch, for metrics.
type FetchResult string

// Fetch results.
const (
	FetchChanged   FetchResult = "changed"   // new key material published
	FetchUnchanged FetchResult = "unchanged" // the same keys confirmed
	FetchError     FetchResult = "error"     // the identity provider failed or answered garbage
)

// FetchCause says why a fetch happened.
type FetchCause string

// Fetch causes.
const (
	CauseScheduled  FetchCause = "scheduled"   // start-up, hourly refresh, retry after failure
	CauseUnknownKid FetchCause = "unknown-kid" // a token named a key the source does not have
)

// Hooks let the gateway observe the cache (Prometheus counters, gauges). Nil fields are
// skipped. They are called from the fetching goroutine and must not block.
type Hooks struct {
	Fetched func(url string, cause FetchCause, result FetchResult, took time.Duration)
}

// Options configure a Cache. Zero fields take the defaults above.
type Options struct {
	// Client fetches discovery and JWKS documents; the gateway gives one that trusts its CAs.
	// Nil: http.Client with the default transport. FetchTimeout applies either way.
	Client *http.Client
	// Aliases rewrite scheme+host of discovery and jwks_uri URLs (gateway.authority-aliases).
	Aliases Aliases
	// RefreshInterval is the background refresh period.
	RefreshInterval time.Duration
	// UnknownKidInterval is the least time between two refetches for unknown kids, per URL.
	UnknownKidInterval time.Duration
	// Staleness is how long the last good keys are kept when refreshes fail.
	Staleness time.Duration
	// FetchTimeout bounds each HTTP request.
	FetchTimeout time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a failed fetch (doubling).
	MinBackoff, MaxBackoff time.Duration
	// MaxDocumentBytes bounds a discovery or JWKS document.
	MaxDocumentBytes int64
	// Now is the clock used for staleness and rate limits; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	Hooks  Hooks
}

// Cache holds one Source per openid-config URL. Safe for concurrent use.
type Cache struct {
	opts    Options
	aliases map[string]string
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	sources map[string]*Source
	closed  bool
}

// NewCache returns a cache with opts. Call Close to stop its background refreshes.
func NewCache(opts Options) (*Cache, error) {
	aliases, err := parseAliases(opts.Aliases)
	if err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.RefreshInterval, DefaultRefreshInterval)
	def(&opts.UnknownKidInterval, DefaultUnknownKidInterval)
	def(&opts.Staleness, DefaultStaleness)
	def(&opts.FetchTimeout, DefaultFetchTimeout)
	def(&opts.MinBackoff, DefaultMinBackoff)
	def(&opts.MaxBackoff, DefaultMaxBackoff)
	// Keys are refreshed well before they pass the staleness bound, and a failing identity
	// provider is retried at least that often: with key-staleness under two refresh
	// intervals a healthy provider's keys would otherwise lapse between refreshes, and a
	// recovered one would wait out a backoff longer than the keys' whole life.
	opts.RefreshInterval = min(opts.RefreshInterval, max(opts.Staleness/2, time.Millisecond))
	opts.MinBackoff = min(opts.MinBackoff, opts.RefreshInterval)
	opts.MaxBackoff = min(opts.MaxBackoff, opts.RefreshInterval)
	if opts.MaxDocumentBytes <= 0 {
		opts.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	client := http.Client{}
	if opts.Client != nil {
		client = *opts.Client
	}
	// A redirect must obey the same transport rule as the URLs the policy wrote.
	next := client.CheckRedirect
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if _, err := CheckURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	opts.Client = &client
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{opts: opts, aliases: aliases, ctx: ctx, cancel: cancel, sources: make(map[string]*Source)}, nil
}

// ErrClosed: Source was called after Close.
var ErrClosed = errors.New("keys: cache closed")

// Source returns the source for an openid-config URL, registering it on first use: its first
// fetch starts at once, in the background. Policies that name the same URL share one source.
func (c *Cache) Source(discoveryURL string) (*Source, error) {
	u, err := CheckURL(discoveryURL)
	if err != nil {
		return nil, err
	}
	fetch := rewrite(c.aliases, u)
	if _, err := CheckURL(fetch.String()); err != nil {
		return nil, fmt.Errorf("%s after authority aliases: %w", discoveryURL, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if s, ok := c.sources[discoveryURL]; ok {
		s.used = true
		return s, nil
	}
	s := newSource(c, discoveryURL, fetch.String())
	s.used = true
	ctx, cancel := context.WithCancel(c.ctx)
	s.stop = cancel
	c.sources[discoveryURL] = s
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		s.run(ctx)
	}()
	return s, nil
}

// Mark starts a new configuration: Sweep will drop every source that Source is not asked
// for between Mark and Sweep. A reload calls Mark, compiles the new configuration (whose
// policies call Source), and calls Sweep once the new configuration serves, so that
// openid-config URLs no longer used stop being refreshed and stop counting for Ready.
func (c *Cache) Mark() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sources {
		s.used = false
	}
}

// Sweep drops the sources not asked for since Mark and stops their refreshes.
func (c *Cache) Sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for u, s := range c.sources {
		if !s.used {
			s.stop()
			delete(c.sources, u)
		}
	}
}

// Ready reports whether every source has keys that are not older than the staleness bound.
// It is false before the first keys arrive.
func (c *Cache) Ready() bool {
	for _, s := range c.list() {
		if s.Current() == nil {
			return false
		}
	}
	return true
}

// WaitReady waits until Ready or ctx ends.
func (c *Cache) WaitReady(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !c.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for openid-config keys: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Status describes every source, in URL order, for /readyz.
func (c *Cache) Status() []Status {
	list := c.list()
	out := make([]Status, len(list))
	for i, s := range list {
		out[i] = s.Status()
	}
	return out
}

// Close stops the background refreshes and waits for them to end.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

func (c *Cache) list() []*Source {
	c.mu.Lock()
	list := make([]*Source, 0, len(c.sources))
	for _, s := range c.sources {
		list = append(list, s)
	}
	c.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].url < list[j].url })
	return list
}
