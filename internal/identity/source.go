package identity

import (
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Throttling by source: failed sign-ins and failed client authentications are also counted
// per network they come from, with the account thresholds (throttleFailures in
// throttleWindow lock the source out for throttleLockout). This slows an attacker who
// spreads guesses over many accounts, which the per-account count does not see. A source's
// lockout refuses only requests from that source, so it adds nothing an attacker elsewhere
// can use against a legitimate user or client. Sign-ins and client authentications are
// counted apart: a user mistyping a password does not stop a daemon on the same host.

// sourceOf names the network a request came from: the peer's IP address, or an IPv6 peer's
// /64 (a single host commonly holds a whole /64, so counting its addresses one by one would
// let it rotate past the limit). X-Forwarded-For is not read: any client can write it, and
// trusting it would let an attacker pick the source it is counted under.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		// Not an IP (a Unix socket, a test request): counted as itself.
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

func userSourceKey(source string) string   { return "source:sign-in:" + source }
func clientSourceKey(source string) string { return "source:client:" + source }

func errSourceLocked(wait time.Duration) *Error {
	minutes := int((wait + time.Minute - 1) / time.Minute)
	return newError(50053, "invalid_grant", 400,
		"Sign-in was blocked because there were too many failed sign-ins from your network. Try again in %d minutes.", minutes)
}

func errSourceThrottled(wait time.Duration) *Error {
	e := newError(90055, "temporarily_unavailable", 429,
		"There are too many failed authentication requests from this network. Try again in %d seconds.", int(wait.Seconds()+0.5))
	e.RetryAfter = wait
	return e
}
