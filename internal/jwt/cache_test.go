package jwt

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/keys"
)

func TestCacheHitReturnsTheValidatedToken(t *testing.T) {
	k := testKeys()
	now := testNow
	v := mustValidator(t, Config{SigningKeys: []jose.Key{pubKey("k1", k.rsa)}, Cache: NewCache(0), Now: fixedClock(&now)})
	raw := token(t, k.rsa, "k1", claims(nil))
	first, err := v.Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	second, err := v.Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Fatal("the second validation did not come from the cache")
	}
}

func TestCacheRechecksLifetimeOnEveryHit(t *testing.T) {
	k := testKeys()
	now := testNow
	cache := NewCache(0)
	v := mustValidator(t, Config{SigningKeys: []jose.Key{pubKey("k1", k.rsa)}, Cache: cache, Now: fixedClock(&now)})
	raw := token(t, k.rsa, "k1", claims(map[string]any{"exp": testNow.Add(time.Minute).Unix()}))
	if _, err := v.Validate(raw); err != nil {
		t.Fatal(err)
	}
	now = testNow.Add(2 * time.Minute)
	_, err := v.Validate(raw)
	if f := failureOf(t, err); f.Reason != TokenExpired {
		t.Fatalf("after exp: %v", err)
	}
	if cache.Len() != 0 {
		t.Fatalf("expired entry kept: %d entries", cache.Len())
	}
}

func TestCacheRechecksChecksPerCall(t *testing.T) {
	k := testKeys()
	v := mustValidator(t, Config{SigningKeys: []jose.Key{pubKey("k1", k.rsa)}, Cache: NewCache(0)})
	raw := token(t, k.rsa, "k1", claims(nil))
	if _, err := v.ValidateWith(raw, &Checks{Audiences: []string{testAudience}}); err != nil {
		t.Fatal(err)
	}
	_, err := v.ValidateWith(raw, &Checks{Audiences: []string{"other"}})
	if f := failureOf(t, err); f.Reason != TokenAudienceNotAllowed {
		t.Fatalf("cached token skipped the audience check: %v", err)
	}
}

func TestCacheNotSharedAcrossConfigurations(t *testing.T) {
	k := testKeys()
	cache := NewCache(0)
	a := mustValidator(t, Config{SigningKeys: []jose.Key{pubKey("k1", k.rsa)}, Cache: cache})
	b := mustValidator(t, Config{SigningKeys: []jose.Key{pubKey("k1", k.rsa2)}, Cache: cache})
	raw := token(t, k.rsa, "k1", claims(nil))
	if _, err := a.Validate(raw); err != nil {
		t.Fatal(err)
	}
	_, err := b.Validate(raw)
	if f := failureOf(t, err); f.Reason != TokenSignatureInvalid {
		t.Fatalf("validator b accepted a token only a's key signed: %v", err)
	}
}

func TestCacheDropsEntriesWhenSourceKeysChange(t *testing.T) {
	k := testKeys()
	src := &fakeSource{}
	src.set.Store(&keys.Set{Issuer: testIssuer, Generation: 1, Keys: []jose.Key{pubKey("k1", k.rsa)}, FetchedAt: testNow})
	v := mustValidator(t, Config{KeySources: []KeySource{src}, Cache: NewCache(0)})
	raw := token(t, k.rsa, "k1", claims(nil))
	if _, err := v.Validate(raw); err != nil {
		t.Fatal(err)
	}
	// The identity provider replaces the key under the same kid.
	src.set.Store(&keys.Set{Issuer: testIssuer, Generation: 2, Keys: []jose.Key{pubKey("k1", k.rsa2)}, FetchedAt: testNow})
	_, err := v.Validate(raw)
	if f := failureOf(t, err); f.Reason != TokenSignatureInvalid {
		t.Fatalf("token verified by a withdrawn key still accepted: %v", err)
	}
	// Keys dropped entirely (stale source).
	src.set.Store(nil)
	_, err = v.Validate(raw)
	if f := failureOf(t, err); f.Reason != TokenSignatureKeyNotFound {
		t.Fatalf("with no keys: %v", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	k := testKeys()
	cache := NewCache(64)
	v := mustValidator(t, Config{SigningKeys: []jose.Key{pubKey("k1", k.rsa)}, Cache: cache})
	for i := 0; i < 300; i++ {
		if _, err := v.Validate(token(t, k.rsa, "k1", claims(map[string]any{"jti": fmt.Sprint(i)}))); err != nil {
			t.Fatal(err)
		}
	}
	if n := cache.Len(); n > 64 || n < 32 {
		t.Fatalf("cache holds %d entries, bound 64", n)
	}
}

func TestUnknownKidRefetchesSource(t *testing.T) {
	k := testKeys()
	src := &fakeSource{}
	src.set.Store(&keys.Set{Issuer: testIssuer, Generation: 1, Keys: []jose.Key{pubKey("old", k.rsa2)}, FetchedAt: testNow})
	src.next = &keys.Set{Issuer: testIssuer, Generation: 2, Keys: []jose.Key{pubKey("old", k.rsa2), pubKey("new", k.rsa)}, FetchedAt: testNow}
	v := mustValidator(t, Config{KeySources: []KeySource{src}})
	if _, err := v.Validate(token(t, k.rsa, "new", claims(nil))); err != nil {
		t.Fatalf("rotated key not picked up: %v", err)
	}
	if n := src.refetchs.Load(); n != 1 {
		t.Fatalf("%d refetches, want 1", n)
	}
	_, err := v.Validate(token(t, k.rsa, "random", claims(nil)))
	var f *Failure
	if !errors.As(err, &f) || f.Reason != TokenSignatureKeyNotFound {
		t.Fatalf("unknown kid: %v", err)
	}
}

// TestIssuerCheckedWhileSourceHasNoKeys: a policy with openid-config enforces the discovery
// issuer; when that source has no keys (stale), tokens verified by a static key are not let
// through with an unchecked issuer.
func TestIssuerCheckedWhileSourceHasNoKeys(t *testing.T) {
	k := testKeys()
	src := &fakeSource{}
	v := mustValidator(t, Config{SigningKeys: []jose.Key{pubKey("static", k.rsa)}, KeySources: []KeySource{src}})
	_, err := v.Validate(token(t, k.rsa, "static", claims(map[string]any{"iss": "https://anyone.example/"})))
	if f := failureOf(t, err); f.Reason != TokenIssuerNotAllowed {
		t.Fatalf("got %v", err)
	}
	src.set.Store(&keys.Set{Issuer: "https://anyone.example/", Generation: 1})
	if _, err := v.Validate(token(t, k.rsa, "static", claims(map[string]any{"iss": "https://anyone.example/"}))); err != nil {
		t.Fatalf("with the source's issuer known: %v", err)
	}
}

// TestCacheDropsOldestFirst: a full shard makes room by dropping the entry stored longest ago,
// and storing a key it already holds drops nothing.
func TestCacheDropsOldestFirst(t *testing.T) {
	c := NewCache(2 * cacheShards)                                      // two entries per shard
	key := func(i uint64) cacheKey { return cacheKey{hash: i, cfg: 1} } // small hashes: all in shard 0
	entry := func(name string) *cacheEntry { return &cacheEntry{raw: name, tok: &Token{Raw: name}} }
	c.put(key(1), entry("a"))
	c.put(key(2), entry("b"))
	c.put(key(2), entry("b")) // already held: nothing dropped
	if _, ok := c.get(key(1), "a"); !ok {
		t.Fatal("storing a held key again dropped another entry")
	}
	c.put(key(3), entry("c"))
	if _, ok := c.get(key(1), "a"); ok {
		t.Fatal("the oldest entry is still there after the shard overflowed")
	}
	for i, name := range map[uint64]string{2: "b", 3: "c"} {
		if _, ok := c.get(key(i), name); !ok {
			t.Fatalf("entry %q was dropped instead of the oldest", name)
		}
	}
	c.put(key(4), entry("d"))
	if _, ok := c.get(key(2), "b"); ok {
		t.Fatal("the ring did not come round to the next oldest entry")
	}
	if n := c.Len(); n != 2 {
		t.Fatalf("shard holds %d entries, bound 2", n)
	}
}
