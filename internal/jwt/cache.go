package jwt

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// DefaultCacheSize is the validated-token cache's default bound.
const DefaultCacheSize = 10000

const cacheShards = 32

// Cache remembers tokens whose signature was verified, so that the same token presented again
// costs a hash and a map look-up instead of a signature verification. An entry is keyed by a
// seeded 64-bit hash of the token (hash/maphash: a tenth of a SHA-256's cost, and unpredictable
// without the per-cache seed) and the identity of the validator that accepted it, so it is never
// shared across configurations with different keys; a hit also compares the whole token, so a
// hash collision is only a miss. It never outlives the token's exp, and is
// ignored once the key source that verified it publishes different keys. Lifetime, issuer,
// audience and claims are checked again on every hit. Safe for concurrent use.
type Cache struct {
	shards   [cacheShards]cacheShard
	perShard int
	ids      atomic.Uint64
	seed     maphash.Seed
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[cacheKey]*cacheEntry
	// order holds the keys in the order they were stored, as a ring: a full shard drops the
	// oldest, in constant time (picking a victim by ranging over the map walked its
	// tombstones, and cost more than the rest of a cache insert).
	order []cacheKey
	next  int // the ring's oldest slot once it is full
}

type cacheKey struct {
	hash uint64
	cfg  uint64
}

type cacheEntry struct {
	raw       string // the token as presented (shares tok.Raw's bytes when they are the same)
	tok       *Token
	expires   int64 // unix nanoseconds: the token's exp plus clock skew
	src       int   // key source that verified it; -1 for a static key
	gen       uint64
	keyIssuer string
}

// NewCache returns a cache holding at most size tokens (DefaultCacheSize when size <= 0).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c := &Cache{perShard: (size + cacheShards - 1) / cacheShards, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]*cacheEntry)
	}
	return c
}

// Len is the number of cached tokens.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

func (c *Cache) register() uint64 { return c.ids.Add(1) }

// key is raw's key for the validator cfg.
func (c *Cache) key(raw string, cfg uint64) cacheKey {
	return cacheKey{hash: maphash.String(c.seed, raw), cfg: cfg}
}

func (c *Cache) shard(k *cacheKey) *cacheShard { return &c.shards[k.hash>>59%cacheShards] }

// get returns the entry of raw under k; an entry of another token with the same hash is a miss.
func (c *Cache) get(k cacheKey, raw string) (*cacheEntry, bool) {
	s := c.shard(&k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || e.raw != raw {
		return nil, false
	}
	return e, true
}

func (c *Cache) remove(k cacheKey) {
	s := c.shard(&k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// put stores e; a full shard first drops its oldest entry. A key removed earlier keeps its
// slot in the ring: when that slot comes round it drops nothing, or, if the token was stored
// again since, drops that newer entry early. Either way the cache only misses a token it
// could have kept; it never holds more than its bound.
func (c *Cache) put(k cacheKey, e *cacheEntry) {
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		s.m[k] = e
		return
	}
	if len(s.order) < c.perShard {
		s.order = append(s.order, k)
	} else {
		delete(s.m, s.order[s.next])
		s.order[s.next] = k
		s.next = (s.next + 1) % len(s.order)
	}
	s.m[k] = e
}
