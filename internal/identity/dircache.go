package identity

import (
	"context"
	"errors"
	"sync"
	"time"

	"portcullis/internal/directory"
)

// directoryCache keeps the directory reads of the token path (tenants, apps, service
// principals, role assignments, grants) in memory for a short time, so a token costs one
// signature and not half a dozen SQL statements. A change made through the management API
// reaches token issuance within the TTL (1 second by default), the same kind of propagation
// delay Entra has. Protocol state (codes, refresh tokens) and users are never cached.
type directoryCache struct {
	store directory.Reader
	ttl   time.Duration

	mu      sync.RWMutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct{ kind, a, b, c string }

type cacheEntry struct {
	value   any
	err     error
	expires time.Time
}

// cacheMaxEntries bounds memory under a flood of distinct lookups (unknown client IDs).
const cacheMaxEntries = 50000

func newDirectoryCache(store directory.Reader, ttl time.Duration) *directoryCache {
	return &directoryCache{store: store, ttl: ttl, entries: map[cacheKey]cacheEntry{}}
}

// lookup returns the cached result for key or loads it. Errors other than ErrNotFound are
// not cached. Time is the wall clock, not the service's injectable protocol clock.
func lookup[T any](c *directoryCache, key cacheKey, load func() (T, error)) (T, error) {
	if c.ttl <= 0 {
		return load()
	}
	now := time.Now()
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		v, _ := e.value.(T)
		return v, e.err
	}
	v, err := load()
	if err != nil && !isNotFound(err) {
		return v, err
	}
	c.mu.Lock()
	if len(c.entries) >= cacheMaxEntries {
		c.entries = map[cacheKey]cacheEntry{}
	}
	c.entries[key] = cacheEntry{value: v, err: err, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return v, err
}

func (c *directoryCache) Tenant(ctx context.Context, idOrDomain string) (*directory.Tenant, error) {
	return lookup(c, cacheKey{kind: "tenant", a: idOrDomain}, func() (*directory.Tenant, error) { return c.store.Tenant(ctx, idOrDomain) })
}

func (c *directoryCache) ApplicationByAppID(ctx context.Context, tid, appID string) (*directory.Application, error) {
	return lookup(c, cacheKey{kind: "app", a: tid, b: appID}, func() (*directory.Application, error) { return c.store.ApplicationByAppID(ctx, tid, appID) })
}

func (c *directoryCache) ApplicationByIdentifierURI(ctx context.Context, tid, uri string) (*directory.Application, error) {
	return lookup(c, cacheKey{kind: "appuri", a: tid, b: uri}, func() (*directory.Application, error) {
		return c.store.ApplicationByIdentifierURI(ctx, tid, uri)
	})
}

func (c *directoryCache) ServicePrincipalByAppID(ctx context.Context, tid, appID string) (*directory.ServicePrincipal, error) {
	return lookup(c, cacheKey{kind: "sp", a: tid, b: appID}, func() (*directory.ServicePrincipal, error) {
		return c.store.ServicePrincipalByAppID(ctx, tid, appID)
	})
}

func (c *directoryCache) AppRoleAssignments(ctx context.Context, tid, principalID, resourceID string) ([]directory.AppRoleAssignment, error) {
	return lookup(c, cacheKey{kind: "roles", a: tid, b: principalID, c: resourceID}, func() ([]directory.AppRoleAssignment, error) {
		return c.store.AppRoleAssignments(ctx, tid, principalID, resourceID)
	})
}

func (c *directoryCache) PermissionGrants(ctx context.Context, tid, clientID, resourceID string) ([]directory.PermissionGrant, error) {
	return lookup(c, cacheKey{kind: "grants", a: tid, b: clientID, c: resourceID}, func() ([]directory.PermissionGrant, error) {
		return c.store.PermissionGrants(ctx, tid, clientID, resourceID)
	})
}

func isNotFound(err error) bool { return errors.Is(err, directory.ErrNotFound) }

// forgetGrants drops the cached grants of a client on a resource, so consent given a moment
// ago is seen by the code redemption that follows.
func (c *directoryCache) forgetGrants(tid, clientID, resourceID string) {
	c.mu.Lock()
	delete(c.entries, cacheKey{kind: "grants", a: tid, b: clientID, c: resourceID})
	c.mu.Unlock()
}
