package identity

import (
	"net/http"
	"net/url"
	"strings"
)

// instanceDiscovery is Entra's answer to MSAL's instance discovery, in Entra's field order.
// MSAL reads tenant_discovery_endpoint (where the OpenID configuration is) and the aliases
// of the metadata entry naming the authority host (its token cache keys).
type instanceDiscovery struct {
	TenantDiscoveryEndpoint string             `json:"tenant_discovery_endpoint"`
	APIVersion              string             `json:"api-version"`
	Metadata                []instanceMetadata `json:"metadata"`
}

type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

func errInvalidInstance() *Error {
	return newError(50049, "invalid_instance", 400, "Unknown or invalid instance.")
}

// handleInstanceDiscovery serves /common/discovery/instance and its tenant-scoped forms. The
// authority is named by the authorization_endpoint parameter, not by the path: MSAL sends
// the request to a host it trusts and asks about the host it was configured with. Only this
// service's own public URL is vouched for; any other host is an unknown instance, as Entra
// answers for hosts outside its clouds.
func (s *Server) handleInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	endpoint := r.URL.Query().Get("authorization_endpoint")
	if endpoint == "" {
		s.writeError(w, r, errMissingParameter("authorization_endpoint"))
		return
	}
	tenant, version, ok := s.authorityOf(endpoint)
	if !ok {
		s.writeError(w, r, errInvalidInstance())
		return
	}
	doc := s.publicURL + "/" + tenant + "/v2.0/.well-known/openid-configuration"
	if version == 1 {
		doc = s.publicURL + "/" + tenant + "/.well-known/openid-configuration"
	}
	host := publicHost(s.publicURL)
	writeMetadata(w, instanceDiscovery{
		TenantDiscoveryEndpoint: doc,
		APIVersion:              "1.1",
		Metadata:                []instanceMetadata{{PreferredNetwork: host, PreferredCache: host, Aliases: []string{host}}},
	})
}

// authorityOf checks that endpoint is this service's authorize endpoint,
// {public-url}/{tenant}/oauth2[/v2.0]/authorize, and returns its tenant segment and version.
// The tenant is not looked up: like Entra, discovery names the document and the document's
// request answers for an unknown tenant.
func (s *Server) authorityOf(endpoint string) (tenant string, version int, ok bool) {
	if len(endpoint) > 2048 {
		return "", 0, false
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", 0, false
	}
	base, err := url.Parse(s.publicURL)
	if err != nil || !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(publicHost(u.Scheme+"://"+u.Host), publicHost(s.publicURL)) {
		return "", 0, false
	}
	rest, found := strings.CutPrefix(u.EscapedPath(), base.EscapedPath()+"/")
	if !found {
		return "", 0, false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "authorize":
		version = 2
	case len(parts) == 3 && parts[1] == "oauth2" && parts[2] == "authorize":
		version = 1
	default:
		return "", 0, false
	}
	if !validTenantSegment(parts[0]) {
		return "", 0, false
	}
	return parts[0], version, true
}

// validTenantSegment accepts what a tenant can be named by: a GUID, a domain, common or
// organizations. The segment is echoed into a URL, so nothing else gets through.
func validTenantSegment(seg string) bool {
	if seg == "" || len(seg) > 256 {
		return false
	}
	for _, c := range seg {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return seg != "." && seg != ".."
}

// publicHost is the host (with its port, lower-cased) of an https URL as MSAL keys its cache
// by it; the default port is dropped so that both spellings name the same instance.
func publicHost(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); p == "443" && strings.EqualFold(u.Scheme, "https") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return host
}
