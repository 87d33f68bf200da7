package keys

import (
	"context"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"portcullis/internal/jose"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestCache(t *testing.T, clock *testClock, edit func(*Options)) *Cache {
	t.Helper()
	o := Options{Now: clock.Now, FetchTimeout: 300 * time.Millisecond, RefreshInterval: time.Hour, MinBackoff: time.Hour}
	if edit != nil {
		edit(&o)
	}
	c, err := NewCache(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func waitReady(t *testing.T, c *Cache) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

func kids(s *Set) string {
	if s == nil {
		return "<nil>"
	}
	var ids []string
	for _, k := range s.Keys {
		ids = append(ids, k.ID)
	}
	return strings.Join(ids, ",")
}

func TestFirstFetchBeforeReady(t *testing.T) {
	idp := newTestIdP(t)
	idp.setKey("k1", &genKeys()[0].PublicKey)
	clock := newTestClock()
	var fetched atomic.Int32
	c := newTestCache(t, clock, func(o *Options) {
		o.Hooks.Fetched = func(url string, cause FetchCause, result FetchResult, took time.Duration) {
			if url == idp.url() && cause == CauseScheduled && result == FetchChanged {
				fetched.Add(1)
			}
		}
	})
	if !c.Ready() {
		t.Fatal("a cache without sources is not ready")
	}
	src, err := c.Source(idp.url())
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.Source(idp.url())
	if again != src {
		t.Fatal("the same URL gave two sources")
	}
	waitReady(t, c)
	set := src.Current()
	if kids(set) != "k1" || set.Issuer != idp.srv.URL+"/tenant/v2.0" || set.Generation == 0 {
		t.Fatalf("set %+v", set)
	}
	st := c.Status()
	if len(st) != 1 || !st[0].Ready || st[0].Stale || st[0].Keys != 1 || st[0].LastRefresh.IsZero() {
		t.Fatalf("status %+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for fetched.Load() == 0 && time.Now().Before(deadline) { // the hook runs just after publishing
		time.Sleep(time.Millisecond)
	}
	if fetched.Load() != 1 {
		t.Fatalf("hook saw %d fetches", fetched.Load())
	}
}

func TestNotReadyUntilKeys(t *testing.T) {
	idp := newTestIdP(t)
	idp.setFault("500")
	idp.setKey("k1", &genKeys()[0].PublicKey)
	c := newTestCache(t, newTestClock(), nil)
	src, err := c.Source(idp.url())
	if err != nil {
		t.Fatal(err)
	}
	// The first fetch fails: joining a fetch and waiting for it is what a token would do.
	src.RefetchUnknownKid()
	if c.Ready() || src.Current() != nil {
		t.Fatal("ready without keys")
	}
	st := c.Status()[0]
	if st.Ready || !strings.Contains(st.LastError, "500") {
		t.Fatalf("status %+v", st)
	}
}

func TestUnknownKidRefetchIsSingleFlightAndRateLimited(t *testing.T) {
	idp := newTestIdP(t)
	idp.setKey("k1", &genKeys()[0].PublicKey)
	clock := newTestClock()
	c := newTestCache(t, clock, nil)
	src, _ := c.Source(idp.url())
	waitReady(t, c)
	base := idp.jwks.Load()

	// Rotation: the new key appears at the identity provider; a flood of tokens naming kids
	// the cache does not know arrives at once.
	idp.setKey("k2", &genKeys()[1].PublicKey)
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src.RefetchUnknownKid()
		}()
	}
	wg.Wait()
	if n := idp.jwks.Load() - base; n != 1 {
		t.Fatalf("%d key-set fetches for 200 unknown kids at once, want 1", n)
	}
	if kids(src.Current()) != "k1,k2" {
		t.Fatalf("rotated key not picked up: %s", kids(src.Current()))
	}
	// Within the interval: no fetch at all, however many random kids.
	for i := 0; i < 1000; i++ {
		src.RefetchUnknownKid()
	}
	if n := idp.jwks.Load() - base; n != 1 {
		t.Fatalf("%d fetches after a flood within the interval, want 1", n)
	}
	clock.Advance(DefaultUnknownKidInterval + time.Second)
	src.RefetchUnknownKid()
	src.RefetchUnknownKid()
	if n := idp.jwks.Load() - base; n != 2 {
		t.Fatalf("%d fetches after the interval, want 2", n)
	}
}

func TestScheduledRefreshDoesNotSpendTheRateLimit(t *testing.T) {
	idp := newTestIdP(t)
	idp.setKey("k1", &genKeys()[0].PublicKey)
	clock := newTestClock()
	var scheduled, unknownKid atomic.Int32
	c := newTestCache(t, clock, func(o *Options) {
		o.RefreshInterval = time.Second
		o.Hooks.Fetched = func(_ string, cause FetchCause, _ FetchResult, _ time.Duration) {
			if cause == CauseScheduled {
				scheduled.Add(1)
			} else {
				unknownKid.Add(1)
			}
		}
	})
	src, _ := c.Source(idp.url())
	waitReady(t, c)
	for scheduled.Load() == 0 { // the start-up fetch's hook runs just after its keys are published
		time.Sleep(time.Millisecond)
	}
	// Right after start-up: the first unknown kid is looked up at once, the second is not.
	src.RefetchUnknownKid()
	src.RefetchUnknownKid()
	if n := unknownKid.Load(); n != 1 {
		t.Fatalf("%d unknown-kid fetches, want 1", n)
	}
	// After the next scheduled refresh (the rate-limit clock does not move), the next unknown
	// kid is looked up at once again.
	deadline := time.Now().Add(10 * time.Second)
	for s := scheduled.Load(); scheduled.Load() <= s; {
		if time.Now().After(deadline) {
			t.Fatal("no scheduled refresh")
		}
		time.Sleep(5 * time.Millisecond)
	}
	before := idp.jwks.Load()
	src.RefetchUnknownKid()
	if idp.jwks.Load() == before {
		t.Fatal("the first unknown-kid refetch after a scheduled refresh did not fetch")
	}
}

func TestIdentityProviderFaults(t *testing.T) {
	for _, fault := range []string{"500", "html", "html-as-json", "truncated", "hang", "empty", "not-json-discovery"} {
		t.Run(fault, func(t *testing.T) {
			idp := newTestIdP(t)
			idp.setKey("k1", &genKeys()[0].PublicKey)
			clock := newTestClock()
			var errorsSeen atomic.Int32
			c := newTestCache(t, clock, func(o *Options) {
				o.Staleness = 2 * time.Hour
				o.FetchTimeout = 200 * time.Millisecond
				o.Hooks.Fetched = func(_ string, _ FetchCause, r FetchResult, _ time.Duration) {
					if r == FetchError {
						errorsSeen.Add(1)
					}
				}
			})
			src, _ := c.Source(idp.url())
			waitReady(t, c)
			good := src.Current()

			idp.setFault(fault)
			clock.Advance(time.Hour)
			src.RefetchUnknownKid()
			if errorsSeen.Load() != 1 {
				t.Fatalf("%d failed fetches recorded, want 1", errorsSeen.Load())
			}
			if got := src.Current(); got == nil || got.Generation != good.Generation || kids(got) != "k1" {
				t.Fatalf("last good keys not kept: %s", kids(got))
			}
			st := c.Status()[0]
			if !c.Ready() || !st.Ready || !st.Stale || st.LastError == "" {
				t.Fatalf("status during the fault: ready=%v %+v", c.Ready(), st)
			}
			// Past key-staleness the keys are dropped and readiness goes.
			clock.Advance(90 * time.Minute)
			if src.Current() != nil || c.Ready() {
				t.Fatal("stale keys still served past key-staleness")
			}
			if st := c.Status()[0]; st.Ready || !st.Stale {
				t.Fatalf("status after staleness: %+v", st)
			}
			// Recovery is automatic.
			idp.setFault("")
			clock.Advance(DefaultUnknownKidInterval)
			src.RefetchUnknownKid()
			if src.Current() == nil || !c.Ready() || c.Status()[0].Stale {
				t.Fatal("did not recover")
			}
		})
	}
}

func TestChangedKeyUnderSameKidKeepsTheKnownGoodKey(t *testing.T) {
	idp := newTestIdP(t)
	k := genKeys()
	idp.setKey("k1", &k[0].PublicKey)
	clock := newTestClock()
	c := newTestCache(t, clock, func(o *Options) { o.Staleness = 2 * time.Hour })
	src, _ := c.Source(idp.url())
	waitReady(t, c)
	gen := src.Current().Generation

	idp.setKey("k1", &k[1].PublicKey) // same kid, different key
	clock.Advance(10 * time.Minute)
	src.RefetchUnknownKid()
	set := src.Current()
	if kids(set) != "k1,k1" || set.Generation == gen {
		t.Fatalf("after the change: %s gen %d (was %d)", kids(set), set.Generation, gen)
	}
	if !sameKey(set.Keys[0], &k[1].PublicKey) ||
		!sameKey(set.Keys[1], &k[0].PublicKey) {
		t.Fatal("the new key must come first and the old one be kept")
	}
	// The IdP keeps publishing the new key; past key-staleness the old one goes.
	clock.Advance(3 * time.Hour)
	src.RefetchUnknownKid()
	if kids(src.Current()) != "k1" || !sameKey(src.Current().Keys[0], &k[1].PublicKey) {
		t.Fatalf("old key kept past staleness: %s", kids(src.Current()))
	}
}

func TestUnchangedKeysKeepTheGeneration(t *testing.T) {
	idp := newTestIdP(t)
	idp.setKey("k1", &genKeys()[0].PublicKey)
	clock := newTestClock()
	c := newTestCache(t, clock, nil)
	src, _ := c.Source(idp.url())
	waitReady(t, c)
	first := src.Current()
	clock.Advance(time.Hour)
	src.RefetchUnknownKid()
	second := src.Current()
	if second.Generation != first.Generation || !second.FetchedAt.After(first.FetchedAt) {
		t.Fatalf("generation %d→%d, fetched %v→%v", first.Generation, second.Generation, first.FetchedAt, second.FetchedAt)
	}
	// A key removed from the set bumps it.
	idp.mu.Lock()
	idp.order = nil
	idp.mu.Unlock()
	idp.setKey("k2", &genKeys()[1].PublicKey)
	clock.Advance(time.Hour)
	src.RefetchUnknownKid()
	if third := src.Current(); third.Generation == second.Generation || kids(third) != "k2" {
		t.Fatalf("removed key: %s gen %d", kids(third), third.Generation)
	}
}

func TestFailuresBackOff(t *testing.T) {
	idp := newTestIdP(t)
	idp.setFault("500")
	c := newTestCache(t, newTestClock(), func(o *Options) {
		o.MinBackoff = 40 * time.Millisecond
		o.MaxBackoff = 160 * time.Millisecond
	})
	if _, err := c.Source(idp.url()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	// Without backoff (a retry every 40 ms) there would be about 17 attempts; with doubling
	// to 160 ms, attempts are at 0, 40, 120, 280, 440, 600 ms.
	if n := idp.jwks.Load(); n < 2 || n > 8 {
		t.Fatalf("%d attempts in 700 ms", n)
	}
}

func TestURLRules(t *testing.T) {
	cases := []struct {
		url string
		err error
	}{
		{"https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration", nil},
		{"http://localhost:8080/.well-known/openid-configuration", nil},
		{"http://127.0.0.1/x", nil},
		{"http://127.9.9.9:1/x", nil},
		{"http://[::1]:9443/x", nil},
		{"http://login.microsoftonline.com/x", ErrInsecureURL},
		{"http://10.0.0.1/x", ErrInsecureURL},
		{"http://localhost.evil.example/x", ErrInsecureURL},
		{"ftp://example.com/x", ErrInvalidURL},
		{"/relative", ErrInvalidURL},
		{"https://user:pw@example.com/x", ErrInvalidURL},
		{"https://", ErrInvalidURL},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			_, err := CheckURL(tc.url)
			if !errors.Is(err, tc.err) && !(tc.err == nil && err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
}

func TestAuthorityAliases(t *testing.T) {
	idp := newTestIdP(t)
	idp.setKey("k1", &genKeys()[0].PublicKey)
	c := newTestCache(t, newTestClock(), func(o *Options) {
		o.Aliases = Aliases{"https://login.microsoftonline.com": idp.srv.URL}
	})
	src, err := c.Source("https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, c)
	if kids(src.Current()) != "k1" || src.URL() != "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration" {
		t.Fatalf("aliased source: %s %s", src.URL(), kids(src.Current()))
	}
	if _, err := NewCache(Options{Aliases: Aliases{"https://a.example/path": "https://b.example"}}); err == nil {
		t.Fatal("an alias with a path was accepted")
	}
	c2 := newTestCache(t, newTestClock(), func(o *Options) {
		o.Aliases = Aliases{"https://login.microsoftonline.com": "http://idp.example"}
	})
	if _, err := c2.Source("https://login.microsoftonline.com/t/.well-known/openid-configuration"); !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("alias to plain http on a public host: %v", err)
	}
}

func sameKey(k jose.Key, pub *rsa.PublicKey) bool {
	p, ok := k.Public.(*rsa.PublicKey)
	return ok && p.Equal(pub)
}

func TestSweepDropsSourcesNoLongerUsed(t *testing.T) {
	up, down := newTestIdP(t), newTestIdP(t)
	up.setKey("k1", &genKeys()[0].PublicKey)
	down.setFault("500")
	c := newTestCache(t, newTestClock(), nil)
	if _, err := c.Source(up.url()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Source(down.url()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if c.Ready() {
		t.Fatal("ready although one source never had keys")
	}
	// A reload whose configuration uses only the working identity provider.
	c.Mark()
	if _, err := c.Source(up.url()); err != nil {
		t.Fatal(err)
	}
	c.Sweep()
	waitReady(t, c)
	if st := c.Status(); len(st) != 1 || st[0].URL != up.url() {
		t.Fatalf("status after sweep: %+v", st)
	}
}

func TestRedirectToPlainHTTPRefused(t *testing.T) {
	idp := newTestIdP(t)
	idp.setKey("k1", &genKeys()[0].PublicKey)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://idp.example"+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()
	c := newTestCache(t, newTestClock(), nil)
	src, err := c.Source(redirector.URL + "/tenant/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	src.RefetchUnknownKid()
	if st := c.Status()[0]; st.Ready || !strings.Contains(st.LastError, "redirect refused") {
		t.Fatalf("status %+v", st)
	}
}
