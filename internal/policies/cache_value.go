package policies

import (
	"container/list"
	"math"
	"strings"
	"sync"
	"time"

	"portcullis/internal/policy"
)

// Cache is the store behind cache-lookup-value, cache-store-value, cache-remove-value,
// cache-lookup and cache-store. MemoryCache is the gateway's; an external store can
// implement it later (APIM's caching-type="external").
type Cache interface {
	Get(key string) (any, bool)
	// Set stores v for ttl; a ttl of 0 or less removes key.
	Set(key string, v any, ttl time.Duration)
	Delete(key string)
}

// Defaults of MemoryCache's bounds.
const (
	DefaultCacheEntries = 10_000
	DefaultCacheBytes   = 64 << 20
)

// MemoryCache is a bounded in-memory Cache: least recently used entries go first when it
// holds MaxEntries entries or MaxBytes bytes (text and bodies counted by length, other
// values by a fixed estimate), and an entry is gone once its ttl has passed.
type MemoryCache struct {
	MaxEntries int
	MaxBytes   int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	items map[string]*list.Element
	order list.List // front: most recently used
	bytes int64
}

var _ Cache = (*MemoryCache)(nil)

type cacheItem struct {
	key     string
	value   any
	size    int64
	expires time.Time
}

// NewMemoryCache returns an empty cache with the default bounds.
func NewMemoryCache() *MemoryCache { return &MemoryCache{} }

func (m *MemoryCache) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Get implements Cache.
func (m *MemoryCache) Get(key string) (any, bool) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[key]
	if !ok {
		return nil, false
	}
	it := e.Value.(*cacheItem)
	if !now.Before(it.expires) {
		m.removeLocked(e)
		return nil, false
	}
	m.order.MoveToFront(e)
	return it.value, true
}

// Set implements Cache.
func (m *MemoryCache) Set(key string, v any, ttl time.Duration) {
	if ttl <= 0 {
		m.Delete(key)
		return
	}
	now := m.now()
	it := &cacheItem{key: key, value: v, size: int64(len(key)) + valueSize(v), expires: now.Add(ttl)}
	maxEntries, maxBytes := m.MaxEntries, m.MaxBytes
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = make(map[string]*list.Element)
	}
	if e, ok := m.items[key]; ok {
		m.removeLocked(e)
	}
	if it.size > maxBytes {
		return // larger than the whole cache: not cached
	}
	for m.order.Len() > 0 && (m.order.Len() >= maxEntries || m.bytes+it.size > maxBytes) {
		m.removeLocked(m.order.Back())
	}
	m.items[key] = m.order.PushFront(it)
	m.bytes += it.size
}

// Delete implements Cache.
func (m *MemoryCache) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[key]; ok {
		m.removeLocked(e)
	}
}

// Len is the number of entries held (expired ones included until they are met).
func (m *MemoryCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

func (m *MemoryCache) removeLocked(e *list.Element) {
	it := e.Value.(*cacheItem)
	m.order.Remove(e)
	delete(m.items, it.key)
	m.bytes -= it.size
}

// valueSize estimates what a cached value costs.
func valueSize(v any) int64 {
	const overhead = 64
	switch x := v.(type) {
	case string:
		return overhead + int64(len(x))
	case []byte:
		return overhead + int64(len(x))
	case *cachedResponse:
		n := int64(overhead + len(x.body))
		for _, f := range x.header {
			n += int64(len(f.Name) + len(f.Value))
		}
		return n
	case interface{ String() string }:
		return overhead + int64(len(x.String()))
	}
	return overhead
}

// CacheDeps are the cache policies' services.
type CacheDeps struct {
	// Cache is the store; nil makes the cache policies a load error.
	Cache Cache
}

// checkCachingType reads caching-type: APIM's values, all served by the gateway's cache.
func checkCachingType(r *elemReader) error {
	s, ok, err := r.constant("caching-type", false)
	if err != nil || !ok {
		return err
	}
	switch strings.TrimSpace(s) {
	case "internal", "external", "prefer-external":
		return nil
	}
	a, _ := r.el.Attr("caching-type")
	return policy.Errorf(a.Pos, `<%s> caching-type must be "internal", "external" or "prefer-external", found %q`, r.el.Name, s)
}

func (d CacheDeps) needCache(el *policy.Element) error {
	if d.Cache == nil {
		return policy.Errorf(el.Pos, "<%s> needs the gateway's cache, which this context does not provide", el.Name)
	}
	return nil
}

// valueKey keeps cache-*-value entries apart from cached responses.
func valueKey(k string) string { return "value\x00" + k }

type cacheLookupValue struct {
	cache        Cache
	key          *policy.Value
	defaultValue *policy.Value
	variable     string
}

func (d CacheDeps) compileCacheLookupValue(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "key", "default-value", "variable-name", "caching-type")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	if err := checkCachingType(r); err != nil {
		return nil, err
	}
	p := &cacheLookupValue{cache: d.Cache}
	if p.key, err = r.value("key", true); err != nil {
		return nil, err
	}
	if p.defaultValue, err = r.value("default-value", false); err != nil {
		return nil, err
	}
	if p.variable, _, err = r.constant("variable-name", true); err != nil {
		return nil, err
	}
	return p, d.needCache(el)
}

func (p *cacheLookupValue) Run(ctx *policy.Context) error {
	key, err := p.key.String(ctx)
	if err != nil {
		return err
	}
	if v, ok := p.cache.Get(valueKey(key)); ok {
		setVariable(ctx, p.variable, v)
		return nil
	}
	if p.defaultValue == nil {
		return nil // APIM leaves the variable unset
	}
	var v any = p.defaultValue.Const
	if p.defaultValue.Expr != nil {
		if v, err = p.defaultValue.Expr.Eval(ctx); err != nil {
			return err
		}
	}
	setVariable(ctx, p.variable, v)
	return nil
}

type cacheStoreValue struct {
	cache         Cache
	key, duration *policy.Value
	value         *policy.Value
}

func (d CacheDeps) compileCacheStoreValue(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "key", "value", "duration", "caching-type")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	if err := checkCachingType(r); err != nil {
		return nil, err
	}
	p := &cacheStoreValue{cache: d.Cache}
	if p.key, err = r.value("key", true); err != nil {
		return nil, err
	}
	if p.value, err = r.value("value", true); err != nil {
		return nil, err
	}
	if p.duration, err = r.intValue("duration", true, 0, math.MaxInt32); err != nil {
		return nil, err
	}
	return p, d.needCache(el)
}

func (p *cacheStoreValue) Run(ctx *policy.Context) error {
	key, err := p.key.String(ctx)
	if err != nil {
		return err
	}
	secs, err := evalInt(ctx, p.duration, "duration", 0, math.MaxInt32)
	if err != nil {
		return err
	}
	var v any = p.value.Const
	if p.value.Expr != nil {
		if v, err = p.value.Expr.Eval(ctx); err != nil {
			return err
		}
	}
	p.cache.Set(valueKey(key), v, time.Duration(secs)*time.Second)
	return nil
}

type cacheRemoveValue struct {
	cache Cache
	key   *policy.Value
}

func (d CacheDeps) compileCacheRemoveValue(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "key", "caching-type")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	if err := checkCachingType(r); err != nil {
		return nil, err
	}
	p := &cacheRemoveValue{cache: d.Cache}
	if p.key, err = r.value("key", true); err != nil {
		return nil, err
	}
	return p, d.needCache(el)
}

func (p *cacheRemoveValue) Run(ctx *policy.Context) error {
	key, err := p.key.String(ctx)
	if err != nil {
		return err
	}
	p.cache.Delete(valueKey(key))
	return nil
}
