package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"time"

	"portcullis/internal/directory"
	"portcullis/internal/jose"
)

// Signing-key states as stored (directory.SigningKey.Status).
const (
	keyNext     = "next"     // published, not yet signing
	keyCurrent  = "current"  // signs new tokens
	keyPrevious = "previous" // published until NotAfter, the last expiry of a token it signed
)

// signingKeyBits is Entra's key size.
const signingKeyBits = 2048

// signingKey is a parsed key ready to sign with: parsing PKCS#8 and certificates once keeps
// them off the token path.
type signingKey struct {
	kid      string // = x5t
	private  *rsa.PrivateKey
	certDER  []byte
	status   string
	created  time.Time
	notAfter time.Time
}

// keySet is one tenant's keys as loaded at one moment.
type keySet struct {
	tenantID  string
	current   *signingKey
	published []*signingKey // next, current, previous
	loaded    time.Time
}

// byKid finds a published key.
func (k *keySet) byKid(kid string) *signingKey {
	for _, p := range k.published {
		if p.kid == kid {
			return p
		}
	}
	return nil
}

// keyRing caches each tenant's signing keys in memory and keeps the store's copy in shape:
// a current and a next key, and previous keys only while tokens they signed can be alive.
type keyRing struct {
	store   directory.Store
	now     func() time.Time
	ttl     time.Duration
	retain  time.Duration
	subject string

	mu      sync.RWMutex
	tenants map[string]*keySet
	// create serialises key generation so two requests do not both make a tenant's first keys.
	create sync.Mutex
}

func newKeyRing(store directory.Store, now func() time.Time, ttl, retain time.Duration, host string) *keyRing {
	return &keyRing{store: store, now: now, ttl: ttl, retain: retain, subject: host, tenants: map[string]*keySet{}}
}

// forTenant returns the tenant's keys from memory, loading (and if needed creating) them.
func (r *keyRing) forTenant(ctx context.Context, tenantID string) (*keySet, error) {
	r.mu.RLock()
	ks := r.tenants[tenantID]
	r.mu.RUnlock()
	if ks != nil && r.now().Sub(ks.loaded) < r.ttl {
		return ks, nil
	}
	return r.reload(ctx, tenantID, false)
}

// rotate publishes a new next key, makes the old next key current and keeps the old current
// key as previous until every token it signed has expired.
func (r *keyRing) rotate(ctx context.Context, tenantID string) (*keySet, error) {
	return r.reload(ctx, tenantID, true)
}

func (r *keyRing) reload(ctx context.Context, tenantID string, rotate bool) (*keySet, error) {
	r.create.Lock()
	defer r.create.Unlock()
	now := r.now()
	if !rotate {
		// Requests that queued behind one reload take its result.
		r.mu.RLock()
		ks := r.tenants[tenantID]
		r.mu.RUnlock()
		if ks != nil && now.Sub(ks.loaded) < r.ttl {
			return ks, nil
		}
	}
	keys, err := r.store.SigningKeys(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("identity: signing keys of tenant %s: %w", tenantID, err)
	}
	if !rotate && keysInShape(keys, now) {
		// The usual case: nothing to create or drop, so no write transaction.
		return r.publish(tenantID, keys, now)
	}
	// Keys are made before the transaction: RSA generation is slow and must not hold the
	// store's write lock. At most two are needed (a rotation of a tenant with no keys).
	var fresh []*directory.SigningKey
	need := keysNeeded(keys, rotate)
	for i := 0; i < need; i++ {
		k, err := r.generate(tenantID, now)
		if err != nil {
			return nil, err
		}
		fresh = append(fresh, k)
	}
	var stored []directory.SigningKey
	err = r.store.Update(ctx, func(tx directory.Writer) error {
		keys, err := tx.SigningKeys(ctx, tenantID)
		if err != nil {
			return err
		}
		take := func() (*directory.SigningKey, error) {
			if len(fresh) == 0 {
				// Another instance changed the keys between our look and the transaction.
				k, err := r.generate(tenantID, now)
				if err != nil {
					return nil, err
				}
				return k, nil
			}
			k := fresh[0]
			fresh = fresh[1:]
			return k, nil
		}
		byStatus := func(status string) *directory.SigningKey {
			var found *directory.SigningKey
			for i := range keys {
				if keys[i].Status == status && (found == nil || keys[i].CreatedAt.After(found.CreatedAt)) {
					found = &keys[i]
				}
			}
			return found
		}
		cur, next := byStatus(keyCurrent), byStatus(keyNext)
		if cur == nil && next != nil && !rotate {
			// A next key exists but nothing signs: promote it.
			next.Status = keyCurrent
			if err := tx.PutSigningKey(ctx, next); err != nil {
				return err
			}
			cur, next = next, nil
		}
		if rotate && cur != nil {
			cur.Status = keyPrevious
			cur.NotAfter = now.Add(r.retain)
			if err := tx.PutSigningKey(ctx, cur); err != nil {
				return err
			}
			cur = nil
			if next != nil {
				next.Status = keyCurrent
				if err := tx.PutSigningKey(ctx, next); err != nil {
					return err
				}
				cur, next = next, nil
			}
		}
		if cur == nil {
			k, err := take()
			if err != nil {
				return err
			}
			k.Status = keyCurrent
			if err := tx.PutSigningKey(ctx, k); err != nil {
				return err
			}
		}
		if next == nil {
			k, err := take()
			if err != nil {
				return err
			}
			k.Status = keyNext
			if err := tx.PutSigningKey(ctx, k); err != nil {
				return err
			}
		}
		// Drop previous keys whose tokens have all expired.
		keys, err = tx.SigningKeys(ctx, tenantID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.Status == keyPrevious && !k.NotAfter.IsZero() && now.After(k.NotAfter) {
				if err := tx.DeleteSigningKey(ctx, tenantID, k.ID); err != nil {
					return err
				}
				continue
			}
			stored = append(stored, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("identity: signing keys of tenant %s: %w", tenantID, err)
	}
	return r.publish(tenantID, stored, now)
}

// publish parses a tenant's stored keys and makes them the ones served from memory.
func (r *keyRing) publish(tenantID string, stored []directory.SigningKey, now time.Time) (*keySet, error) {
	ks, err := parseKeySet(tenantID, stored, now)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.tenants[tenantID] = ks
	r.mu.Unlock()
	return ks, nil
}

// keysInShape reports one current and one next key and no previous key past its time.
func keysInShape(keys []directory.SigningKey, now time.Time) bool {
	var cur, next int
	for _, k := range keys {
		switch k.Status {
		case keyCurrent:
			cur++
		case keyNext:
			next++
		case keyPrevious:
			if !k.NotAfter.IsZero() && now.After(k.NotAfter) {
				return false
			}
		}
	}
	return cur == 1 && next == 1
}

// keysNeeded counts the keys a reload will create, so they can be generated outside the
// store's transaction.
func keysNeeded(keys []directory.SigningKey, rotate bool) int {
	var cur, next bool
	for _, k := range keys {
		cur = cur || k.Status == keyCurrent
		next = next || k.Status == keyNext
	}
	switch {
	case rotate && next:
		return 1
	case rotate:
		return 2
	case cur && next:
		return 0
	case cur || next:
		return 1
	default:
		return 2
	}
}

// generate makes an RSA-2048 key with a self-signed certificate, as Entra publishes them.
func (r *keyRing) generate(tenantID string, now time.Time) (*directory.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, signingKeyBits)
	if err != nil {
		return nil, fmt.Errorf("identity: generate signing key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("identity: certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: r.subject + " token signing"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("identity: self-sign signing certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("identity: encode signing key: %w", err)
	}
	return &directory.SigningKey{
		ID:          jose.Thumbprint(der), // kid = x5t, as Entra's
		TenantID:    tenantID,
		PrivateDER:  pkcs8,
		Certificate: der,
		CreatedAt:   now,
	}, nil
}

func parseKeySet(tenantID string, stored []directory.SigningKey, now time.Time) (*keySet, error) {
	ks := &keySet{tenantID: tenantID, loaded: now}
	order := map[string]int{keyCurrent: 0, keyNext: 1, keyPrevious: 2}
	sort.SliceStable(stored, func(i, j int) bool {
		if order[stored[i].Status] != order[stored[j].Status] {
			return order[stored[i].Status] < order[stored[j].Status]
		}
		return stored[i].CreatedAt.After(stored[j].CreatedAt)
	})
	for _, k := range stored {
		if _, known := order[k.Status]; !known {
			continue
		}
		parsed, err := x509.ParsePKCS8PrivateKey(k.PrivateDER)
		if err != nil {
			return nil, fmt.Errorf("identity: signing key %s of tenant %s: %w", k.ID, tenantID, err)
		}
		priv, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("identity: signing key %s of tenant %s is not RSA", k.ID, tenantID)
		}
		priv.Precompute()
		sk := &signingKey{kid: k.ID, private: priv, certDER: k.Certificate, status: k.Status, created: k.CreatedAt, notAfter: k.NotAfter}
		if sk.status == keyCurrent && ks.current == nil {
			ks.current = sk
		}
		ks.published = append(ks.published, sk)
	}
	if ks.current == nil {
		return nil, errors.New("identity: tenant " + tenantID + " has no current signing key")
	}
	return ks, nil
}

func encodeCert(der []byte) string { return base64.StdEncoding.EncodeToString(der) }
