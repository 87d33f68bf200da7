package keys

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ErrInsecureURL: an openid-config or jwks_uri URL that is neither https nor on a loopback host.
var ErrInsecureURL = errors.New("keys: URL must use https (http is accepted only on loopback hosts)")

// ErrInvalidURL: a URL that is not absolute http(s).
var ErrInvalidURL = errors.New("keys: invalid URL")

// CheckURL parses an openid-config or jwks_uri URL and applies the transport rule: https, or
// http on localhost, 127.0.0.0/8 or [::1] for local development and tests.
func CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, raw, err)
	}
	if !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an absolute URL", ErrInvalidURL, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: %q carries user information", ErrInvalidURL, u.Redacted())
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: found %q", ErrInsecureURL, raw)
		}
	default:
		return nil, fmt.Errorf("%w: %q: scheme %q is not https", ErrInvalidURL, raw, u.Scheme)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback() || ip == netip.IPv6Loopback()
}

// Aliases rewrite the scheme and host of outbound URLs, so that a policy written for one
// authority (https://login.microsoftonline.com) runs against another.
type Aliases map[string]string

// parseAliases checks every alias: both sides are scheme://host[:port] with nothing else.
func parseAliases(a Aliases) (map[string]string, error) {
	out := make(map[string]string, len(a))
	for from, to := range a {
		f, err := originOf(from)
		if err != nil {
			return nil, fmt.Errorf("authority alias %q: %w", from, err)
		}
		t, err := originOf(to)
		if err != nil {
			return nil, fmt.Errorf("authority alias %q → %q: %w", from, to, err)
		}
		out[f] = t
	}
	return out, nil
}

func originOf(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || !u.IsAbs() || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("%w: expected scheme://host[:port], found %q", ErrInvalidURL, raw)
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

// rewrite applies the aliases to u's scheme and host.
func rewrite(aliases map[string]string, u *url.URL) *url.URL {
	to, ok := aliases[strings.ToLower(u.Scheme)+"://"+strings.ToLower(u.Host)]
	if !ok {
		return u
	}
	t, _ := url.Parse(to) // checked by parseAliases
	out := *u
	out.Scheme, out.Host = t.Scheme, t.Host
	return &out
}
