package identity

import (
	"sync"
	"time"
)

// Throttling of failed sign-ins and client authentications: this many failures within the
// window lock the user or client out for the lockout period.
const (
	throttleFailures = 10
	throttleWindow   = 5 * time.Minute
	throttleLockout  = 5 * time.Minute
	throttleMaxKeys  = 100000
)

// throttle counts recent failures per key (a user or a client). It lives in memory: a
// restart forgets lockouts, which only errs towards letting a legitimate user back in.
type throttle struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]*failures
}

type failures struct {
	times       []time.Time
	lockedUntil time.Time
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, entries: map[string]*failures{}}
}

// blocked reports whether key is locked out and for how much longer.
func (t *throttle) blocked(key string) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.entries[key]
	if f == nil {
		return 0, false
	}
	if wait := f.lockedUntil.Sub(t.now()); wait > 0 {
		return wait, true
	}
	return 0, false
}

// fail records a failure; the tenth within the window starts a lockout.
func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.entries) >= throttleMaxKeys {
		t.prune(now)
	}
	f := t.entries[key]
	if f == nil {
		f = &failures{}
		t.entries[key] = f
	}
	kept := f.times[:0]
	for _, at := range f.times {
		if now.Sub(at) < throttleWindow {
			kept = append(kept, at)
		}
	}
	f.times = append(kept, now)
	if len(f.times) >= throttleFailures {
		f.lockedUntil = now.Add(throttleLockout)
		f.times = f.times[:0]
	}
}

// succeed forgets a key's failures after a successful authentication.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.entries[key]; f != nil && !f.lockedUntil.After(t.now()) {
		delete(t.entries, key)
	}
}

func (t *throttle) prune(now time.Time) {
	for k, f := range t.entries {
		if f.lockedUntil.Before(now) && (len(f.times) == 0 || now.Sub(f.times[len(f.times)-1]) > throttleWindow) {
			delete(t.entries, k)
		}
	}
}
