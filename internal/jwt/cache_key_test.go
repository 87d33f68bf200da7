package jwt

import (
	"testing"
	"time"
)

// The cache finds an entry by a 64-bit hash; a different token under the same key (a hash
// collision) must be a miss, never the other token's validation.
func TestCacheHitNeedsTheSameToken(t *testing.T) {
	c := NewCache(0)
	const stored, other = "aaa.bbb.ccc", "aaa.bbb.ccd"
	k := c.key(stored, 1)
	c.put(k, &cacheEntry{raw: stored, tok: &Token{Raw: stored}, expires: time.Now().Add(time.Hour).UnixNano(), src: -1})
	cases := []struct {
		name string
		key  cacheKey
		raw  string
		hit  bool
	}{
		{"same token", k, stored, true},
		{"colliding token", k, other, false},
		{"other validator", c.key(stored, 2), stored, false},
		{"other token's own key", c.key(other, 1), other, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := c.get(tc.key, tc.raw)
			if ok != tc.hit {
				t.Fatalf("hit = %v, want %v", ok, tc.hit)
			}
			if ok && e.tok.Raw != tc.raw {
				t.Errorf("entry of %q returned for %q", e.tok.Raw, tc.raw)
			}
		})
	}
	if a, b := NewCache(0).key(stored, 1), k; a == b {
		t.Error("two caches hash a token alike: the seed is not per cache")
	}
}
