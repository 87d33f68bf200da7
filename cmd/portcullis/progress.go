package main

import (
	"fmt"
	"time"
)

// How serve reports the first fetch of signing keys: it looks every keyProgressPoll and, for a
// source still without keys after keyProgressPatience, says why and stops watching (the cache
// keeps retrying; /readyz and the log follow it from there).
const (
	keyProgressPoll     = 50 * time.Millisecond
	keyProgressPatience = 10 * time.Second
)

// announceKeys says which openid-config sources serve fetches signing keys from and, as each
// first answers, that its keys are ready: until then the gateway refuses the tokens that
// source signs and /readyz answers 503.
func (r *running) announceKeys(kc *keyCaches) {
	pending := map[string]bool{}
	for _, s := range kc.keys.Status() {
		pending[s.URL] = true
		fmt.Fprintf(r.stdout, "fetching signing keys from %s\n", s.URL)
	}
	if len(pending) == 0 {
		return
	}
	go func() {
		deadline := time.Now().Add(keyProgressPatience)
		for len(pending) > 0 {
			if r.svc.keys.Load() != kc {
				return // a reload replaced the cache
			}
			late := time.Now().After(deadline)
			for _, s := range kc.keys.Status() {
				switch {
				case !pending[s.URL]:
				case s.Ready:
					fmt.Fprintf(r.stdout, "signing keys ready from %s (%d keys)\n", s.URL, s.Keys)
					delete(pending, s.URL)
				case late:
					why := s.LastError
					if why == "" {
						why = "no answer yet"
					}
					fmt.Fprintf(r.stdout, "still no signing keys from %s after %s (%s): tokens it signs get 401 until it answers; retrying in the background, /readyz says when\n",
						s.URL, keyProgressPatience, why)
					delete(pending, s.URL)
				}
			}
			select {
			case <-r.done:
				return
			case <-time.After(keyProgressPoll):
			}
		}
	}()
}
