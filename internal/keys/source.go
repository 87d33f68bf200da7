package keys

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"portcullis/internal/jose"
)

// ErrFetch wraps every failure to obtain keys from an identity provider.
var ErrFetch = errors.New("keys: fetch failed")

// Source is one openid-config URL's keys. Current is lock-free; fetches are single-flight.
type Source struct {
	c        *Cache
	url      string // as the policy wrote it
	fetchURL string // after authority aliases

	cur atomic.Pointer[Set]

	// used and stop belong to the Cache (guarded by its mu): whether the configuration
	// being compiled asked for this source, and how to end its refresh loop.
	used bool
	stop context.CancelFunc

	mu             sync.Mutex
	flight         *flight
	lastUnknownKid time.Time
	generation     uint64
	fingerprint    [32]byte
	// retained are keys whose kid the identity provider now publishes with different key
	// material: kept beside the new ones until key-staleness after they were last served,
	// so that tokens signed with the known good key keep passing while the change is
	// confirmed.
	retained    []retainedKey
	lastAttempt time.Time
	lastSuccess time.Time
	lastErr     error
	dropLogged  bool
}

type retainedKey struct {
	key      jose.Key
	lastSeen time.Time
}

type flight struct {
	done chan struct{}
	err  error
}

// Status is a source's state for /readyz and metrics.
type Status struct {
	URL string `json:"url"`
	// Ready: the source has keys within the staleness bound.
	Ready bool `json:"ready"`
	// Stale: the last refresh failed; the keys served are the last good ones.
	Stale       bool          `json:"stale"`
	Keys        int           `json:"keys"`
	Issuer      string        `json:"issuer,omitempty"`
	LastRefresh time.Time     `json:"lastRefresh,omitzero"` // last successful fetch
	LastAttempt time.Time     `json:"lastAttempt,omitzero"`
	LastError   string        `json:"lastError,omitempty"`
	KeyAge      time.Duration `json:"-"` // since the keys were last confirmed
}

func newSource(c *Cache, u, fetchURL string) *Source {
	return &Source{c: c, url: u, fetchURL: fetchURL}
}

// URL is the discovery URL as configured.
func (s *Source) URL() string { return s.url }

// Current returns the keys in force, or nil before the first fetch succeeds and once the
// last good keys are older than the staleness bound.
func (s *Source) Current() *Set {
	set := s.cur.Load()
	if set == nil || s.c.opts.Now().Sub(set.FetchedAt) > s.c.opts.Staleness {
		return nil
	}
	return set
}

// RefetchUnknownKid fetches again for a token whose kid is unknown: at most once per
// UnknownKidInterval, shared by every caller waiting at the time. A fetch already under way
// (of any cause) is joined instead.
func (s *Source) RefetchUnknownKid() *Set {
	s.mu.Lock()
	f := s.flight
	if f == nil {
		now := s.c.opts.Now()
		if !s.lastUnknownKid.IsZero() && now.Sub(s.lastUnknownKid) < s.c.opts.UnknownKidInterval {
			s.mu.Unlock()
			return s.Current()
		}
		s.lastUnknownKid = now
		f = s.startLocked(CauseUnknownKid)
	}
	s.mu.Unlock()
	<-f.done
	return s.Current()
}

// Status reports the source's state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{URL: s.url, LastRefresh: s.lastSuccess, LastAttempt: s.lastAttempt}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
		st.Stale = true
	}
	if set := s.Current(); set != nil {
		st.Ready = true
		st.Keys = len(set.Keys)
		st.Issuer = set.Issuer
		st.KeyAge = s.c.opts.Now().Sub(set.FetchedAt)
	} else if set := s.cur.Load(); set != nil {
		st.Stale = true
		st.KeyAge = s.c.opts.Now().Sub(set.FetchedAt)
	}
	return st
}

// startLocked starts a fetch; s.mu is held.
func (s *Source) startLocked(cause FetchCause) *flight {
	f := &flight{done: make(chan struct{})}
	s.flight = f
	go func() {
		f.err = s.fetch(s.c.ctx, cause)
		s.mu.Lock()
		s.flight = nil
		s.mu.Unlock()
		close(f.done)
	}()
	return f
}

// run is the background loop: fetch now, then every RefreshInterval, retrying failures with
// backoff from MinBackoff doubling to MaxBackoff.
func (s *Source) run(ctx context.Context) {
	o := &s.c.opts
	delay, backoff := time.Duration(0), o.MinBackoff
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s.mu.Lock()
		f := s.flight
		if f == nil {
			f = s.startLocked(CauseScheduled)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-f.done:
		}
		if f.err == nil {
			delay, backoff = o.RefreshInterval, o.MinBackoff
		} else {
			delay, backoff = backoff, min(backoff*2, o.MaxBackoff)
			s.noteDropped()
		}
		timer.Reset(delay)
	}
}

// noteDropped logs once when the last good keys pass the staleness bound.
func (s *Source) noteDropped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.cur.Load(); set != nil && s.Current() == nil && !s.dropLogged {
		s.dropLogged = true
		s.c.opts.Logger.Error("openid-config keys dropped: the identity provider has failed for longer than key-staleness; its tokens now fail with TokenSignatureKeyNotFound",
			"url", s.url, "last_refresh", s.lastSuccess, "key_staleness", s.c.opts.Staleness, "error", s.lastErr)
	}
}

func (s *Source) fetch(ctx context.Context, cause FetchCause) error {
	o := &s.c.opts
	start := o.Now()
	issuer, keys, err := s.download(ctx)
	result := FetchError
	s.mu.Lock()
	s.lastAttempt = start
	if err != nil {
		s.lastErr = err
		s.mu.Unlock()
		if s.cur.Load() == nil {
			o.Logger.Warn("openid-config fetch failed; no keys yet, so its tokens are refused", "url", s.url, "cause", cause, "error", err)
		} else {
			o.Logger.Warn("openid-config fetch failed; serving the last good keys", "url", s.url, "cause", cause, "error", err)
		}
	} else {
		result = s.publishLocked(issuer, keys, o.Now())
		s.lastErr = nil
		s.lastSuccess = o.Now()
		s.dropLogged = false
		if cause == CauseScheduled {
			// The rate limit counts unknown-kid refetches only: after a scheduled refresh the
			// next unknown kid is looked up at once.
			s.lastUnknownKid = time.Time{}
		}
		s.mu.Unlock()
		if result == FetchChanged {
			o.Logger.Info("openid-config keys updated", "url", s.url, "cause", cause, "keys", len(keys), "issuer", issuer)
		}
	}
	if o.Hooks.Fetched != nil {
		o.Hooks.Fetched(s.url, cause, result, o.Now().Sub(start))
	}
	return err
}

// publishLocked publishes fetched keys, keeping for a while the old key of a kid whose key
// material changed, and bumps the generation when the material differs. s.mu is held.
func (s *Source) publishLocked(issuer string, fetched []jose.Key, now time.Time) FetchResult {
	prev := s.cur.Load()
	byID := make(map[string][]jose.Key, len(fetched))
	for _, k := range fetched {
		byID[k.ID] = append(byID[k.ID], k)
	}
	var kept []retainedKey
	for _, r := range s.retained {
		if _, ok := byID[r.key.ID]; ok && now.Sub(r.lastSeen) <= s.c.opts.Staleness && !containsKey(fetched, r.key) {
			kept = append(kept, r)
		}
	}
	if prev != nil {
		for _, old := range prev.Keys {
			if _, ok := byID[old.ID]; !ok || old.ID == "" || containsKey(fetched, old) || containsRetained(s.retained, old) {
				continue
			}
			kept = append(kept, retainedKey{key: old, lastSeen: prev.FetchedAt})
		}
	}
	s.retained = kept
	all := append([]jose.Key(nil), fetched...)
	for _, r := range kept {
		all = append(all, r.key)
	}
	if len(kept) > 0 {
		s.c.opts.Logger.Warn("openid-config publishes a different key under a kid it used before; the old key stays accepted until key-staleness passes",
			"url", s.url, "kids", len(kept), "key_staleness", s.c.opts.Staleness)
	}
	fp := fingerprint(issuer, all)
	result := FetchUnchanged
	if prev == nil || fp != s.fingerprint {
		s.generation++
		s.fingerprint = fp
		result = FetchChanged
	}
	s.cur.Store(&Set{URL: s.url, Issuer: issuer, Keys: all, Generation: s.generation, FetchedAt: now})
	return result
}

func containsKey(list []jose.Key, k jose.Key) bool {
	fk := keyFingerprint(k)
	for _, l := range list {
		if l.ID == k.ID && keyFingerprint(l) == fk {
			return true
		}
	}
	return false
}

func containsRetained(list []retainedKey, k jose.Key) bool {
	for _, r := range list {
		if containsKey([]jose.Key{r.key}, k) {
			return true
		}
	}
	return false
}

func keyFingerprint(k jose.Key) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %q\n", k.ID, k.Alg, k.Issuer, k.Use)
	if der, err := x509.MarshalPKIXPublicKey(k.Public); err == nil {
		h.Write(der)
	}
	h.Write(k.Secret)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func fingerprint(issuer string, keys []jose.Key) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%q\n", issuer)
	for _, k := range keys {
		fp := keyFingerprint(k)
		h.Write(fp[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// download fetches the discovery document and the key set it names.
func (s *Source) download(ctx context.Context) (string, []jose.Key, error) {
	body, err := s.get(ctx, s.fetchURL)
	if err != nil {
		return "", nil, fmt.Errorf("%w: discovery document %s: %w", ErrFetch, s.fetchURL, err)
	}
	issuer, jwksURI, err := parseDiscovery(body)
	if err != nil {
		return "", nil, fmt.Errorf("%w: discovery document %s: %v", ErrFetch, s.fetchURL, err)
	}
	ju, err := CheckURL(jwksURI)
	if err != nil {
		return "", nil, fmt.Errorf("%w: discovery document %s: jwks_uri: %w", ErrFetch, s.fetchURL, err)
	}
	ju = rewrite(s.c.aliases, ju)
	if _, err := CheckURL(ju.String()); err != nil {
		return "", nil, fmt.Errorf("%w: jwks_uri after authority aliases: %w", ErrFetch, err)
	}
	body, err = s.get(ctx, ju.String())
	if err != nil {
		return "", nil, fmt.Errorf("%w: key set %s: %w", ErrFetch, ju, err)
	}
	keys, skipped, err := jose.ParseJWKS(body)
	if err != nil {
		return "", nil, fmt.Errorf("%w: key set %s: %w", ErrFetch, ju, err)
	}
	if len(keys) == 0 {
		return "", nil, fmt.Errorf("%w: key set %s has no usable keys (%d skipped: %v)", ErrFetch, ju, len(skipped), errors.Join(skipped...))
	}
	if len(skipped) > 0 {
		s.c.opts.Logger.Warn("openid-config key set has keys that cannot be used", "url", ju.String(), "skipped", len(skipped), "error", errors.Join(skipped...))
	}
	return issuer, keys, nil
}

// parseDiscovery reads the two members of an OpenID Connect discovery document the cache
// needs. Names match exactly: encoding/json's case-insensitive struct matching would let
// "ISSUER" stand for "issuer".
func parseDiscovery(body []byte) (issuer, jwksURI string, err error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", "", fmt.Errorf("not a JSON object: %v", err)
	}
	if issuer, err = member(doc, "issuer"); err != nil {
		return "", "", err
	}
	if jwksURI, err = member(doc, "jwks_uri"); err != nil {
		return "", "", err
	}
	return issuer, jwksURI, nil
}

func member(doc map[string]json.RawMessage, name string) (string, error) {
	raw, ok := doc[name]
	if !ok {
		return "", fmt.Errorf("it has no %q", name)
	}
	var v string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil || v == "" {
		return "", fmt.Errorf("%q must be a non-empty string", name)
	}
	return v, nil
}

// get fetches one document, bounded in time and size.
func (s *Source) get(ctx context.Context, u string) ([]byte, error) {
	o := &s.c.opts
	ctx, cancel := context.WithTimeout(ctx, o.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := o.Client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("no answer within %s", o.FetchTimeout)
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d, expected 200", resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" {
		return nil, errors.New("the answer is an HTML page, expected JSON")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxDocumentBytes+1))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("the body did not arrive within %s", o.FetchTimeout)
		}
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(body)) > o.MaxDocumentBytes {
		return nil, fmt.Errorf("the document is larger than %d bytes", o.MaxDocumentBytes)
	}
	return body, nil
}
