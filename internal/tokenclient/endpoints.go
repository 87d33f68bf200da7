package tokenclient

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrEndpoint: an authority or endpoint URL that cannot be used.
var ErrEndpoint = errors.New("invalid authority or endpoint URL")

// Endpoints are the URLs of one authority for one protocol version.
type Endpoints struct {
	Token      string
	DeviceCode string // "" when it cannot be derived (a token URL of another shape)
	Authorize  string // "" likewise
	// Version is 2 for the v2.0 endpoints (scope) and 1 for the v1 ones (resource).
	Version int
}

// FromAuthority builds the endpoints of an authority "https://host/{tenant}" (the issuer form
// ".../{tenant}/v2.0" is accepted too). tenant, when not empty, is the path segment to use; it
// must agree with a tenant already in the URL. version is 1 or 2.
func FromAuthority(authority, tenant string, version int) (Endpoints, error) {
	u, err := parseHTTPS(authority)
	if err != nil {
		return Endpoints{}, err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Endpoints{}, fmt.Errorf("%w: authority %q must not carry a query or fragment", ErrEndpoint, authority)
	}
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if n := len(segs); n > 0 && segs[n-1] == "v2.0" {
		segs = segs[:n-1]
	}
	switch {
	case len(segs) > 1:
		return Endpoints{}, fmt.Errorf("%w: authority %q has more than a tenant in its path; expected https://host/{tenant}", ErrEndpoint, authority)
	case len(segs) == 1 && tenant != "" && !strings.EqualFold(segs[0], tenant):
		return Endpoints{}, fmt.Errorf("%w: the authority names tenant %q but the tenant given is %q", ErrEndpoint, segs[0], tenant)
	case len(segs) == 0 && tenant == "":
		return Endpoints{}, fmt.Errorf("%w: authority %q names no tenant; add it to the URL (https://host/{tenant}) or pass the tenant", ErrEndpoint, authority)
	case len(segs) == 1:
		tenant = segs[0]
	}
	if strings.ContainsAny(tenant, "/?#") || tenant == "." || tenant == ".." {
		return Endpoints{}, fmt.Errorf("%w: tenant %q is not a tenant ID or domain", ErrEndpoint, tenant)
	}
	base := u.Scheme + "://" + u.Host + "/" + url.PathEscape(tenant) + "/oauth2/"
	switch version {
	case 2:
		base += "v2.0/"
	case 1:
	default:
		return Endpoints{}, fmt.Errorf("%w: protocol version %d (expected 1 or 2)", ErrEndpoint, version)
	}
	return Endpoints{Token: base + "token", DeviceCode: base + "devicecode", Authorize: base + "authorize", Version: version}, nil
}

// FromTokenURL takes an explicit token endpoint. An Entra-shaped one (".../oauth2/v2.0/token"
// or ".../oauth2/token") also gives the device code and authorize endpoints beside it and the
// version; any other token URL is used as v2 with the other endpoints unknown.
func FromTokenURL(tokenURL string) (Endpoints, error) {
	u, err := parseHTTPS(tokenURL)
	if err != nil {
		return Endpoints{}, err
	}
	e := Endpoints{Token: u.String(), Version: 2}
	if u.RawQuery != "" || u.Fragment != "" {
		return e, nil
	}
	switch p := u.Path; {
	case strings.HasSuffix(p, "/oauth2/v2.0/token"):
		base := strings.TrimSuffix(e.Token, "token")
		e.DeviceCode, e.Authorize = base+"devicecode", base+"authorize"
	case strings.HasSuffix(p, "/oauth2/token"):
		base := strings.TrimSuffix(e.Token, "token")
		e.DeviceCode, e.Authorize, e.Version = base+"devicecode", base+"authorize", 1
	}
	return e, nil
}

// parseHTTPS accepts https URLs, and http only on loopback hosts (local development), so a
// secret never crosses a network in the clear.
func parseHTTPS(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: %q is not an absolute URL", ErrEndpoint, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: %q must not carry user information", ErrEndpoint, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: %q uses http on a non-loopback host; use https", ErrEndpoint, raw)
		}
	default:
		return nil, fmt.Errorf("%w: %q must be an https URL", ErrEndpoint, raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
