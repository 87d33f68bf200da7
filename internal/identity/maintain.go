package identity

import (
	"context"
	"fmt"
	"time"

	"portcullis/internal/directory"
)

// purgeInterval is how often Maintain removes expired protocol state.
const purgeInterval = 10 * time.Minute

// Maintain does the service's housekeeping until ctx ends: it removes expired codes, device
// codes, consent tickets and refresh tokens from the store. Run it in its own goroutine.
func (s *Server) Maintain(ctx context.Context) {
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		if err := s.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("identity: purge of expired grants failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurgeExpired removes protocol state whose lifetime is over. Used codes and refresh tokens
// are kept until then, since replay detection needs them.
func (s *Server) PurgeExpired(ctx context.Context) error {
	now := s.now()
	if err := s.store.Update(ctx, func(tx directory.Writer) error { return tx.DeleteExpiredGrants(ctx, now) }); err != nil {
		return fmt.Errorf("identity: purge expired grants: %w", err)
	}
	return nil
}
