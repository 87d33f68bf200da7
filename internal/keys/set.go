package keys

import (
	"time"

	"portcullis/internal/jose"
)

// Set is one published snapshot of a source's keys. It is never modified once published; a
// change of keys publishes a new Set with a higher Generation.
type Set struct {
	// URL is the discovery URL as the policy wrote it (before authority aliases).
	URL string
	// Issuer is the discovery document's issuer, possibly an Entra "{tenantid}" template.
	Issuer string
	Keys   []jose.Key
	// Generation changes whenever the key material changes, so that caches of tokens
	// validated with the old keys can tell.
	Generation uint64
	// FetchedAt is when these keys were last confirmed by the identity provider.
	FetchedAt time.Time
}
