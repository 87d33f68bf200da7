package policies

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"portcullis/internal/policy"
)

// Reason of set-backend-service's failure when a backend-id computed per request names no
// configured backend.
const ReasonBackendNotFound = "BackendNotFound"

// setBackendService is set-backend-service: the backend's base URL becomes base-url, or the
// URL of the configured backend backend-id; the operation's path and query stay appended.
type setBackendService struct {
	backends  map[string]string
	baseURL   *policy.Value
	backendID *policy.Value
	fixed     *policy.URL // a constant base-url or backend-id, parsed at load
}

func (d Deps) compileSetBackendService(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	for _, a := range el.Attrs {
		if strings.HasPrefix(a.Name, "sf-") {
			return nil, policy.Errorf(a.Pos, "<set-backend-service> %s: Service Fabric backends are not supported", a.Name)
		}
	}
	r, err := readElement(el, c, "base-url", "backend-id")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	s := &setBackendService{backends: d.Backends}
	if s.baseURL, err = r.value("base-url", false); err != nil {
		return nil, err
	}
	if s.backendID, err = r.value("backend-id", false); err != nil {
		return nil, err
	}
	switch {
	case s.baseURL == nil && s.backendID == nil:
		return nil, policy.Errorf(el.Pos, "<set-backend-service> needs base-url or backend-id")
	case s.baseURL != nil && s.backendID != nil:
		return nil, policy.Errorf(el.Pos, "<set-backend-service> takes base-url or backend-id, not both")
	case s.baseURL != nil && !s.baseURL.IsExpr():
		u, err := parseBaseURL(s.baseURL.Const)
		if err != nil {
			return nil, policy.Errorf(s.baseURL.Pos, "<set-backend-service> base-url: %v", err)
		}
		s.fixed = &u
	case s.backendID != nil && !s.backendID.IsExpr():
		u, err := s.backend(strings.TrimSpace(s.backendID.Const))
		if err != nil {
			return nil, policy.Errorf(s.backendID.Pos, "<set-backend-service> backend-id: %v", err)
		}
		s.fixed = &u
	}
	return s, nil
}

func (s *setBackendService) backend(id string) (policy.URL, error) {
	raw, ok := s.backends[id]
	if !ok {
		return policy.URL{}, fmt.Errorf("no backend %q is configured in gateway.backends", id)
	}
	u, err := parseBaseURL(raw)
	if err != nil {
		return policy.URL{}, fmt.Errorf("backend %q: %w", id, err)
	}
	return u, nil
}

// parseBaseURL reads an absolute http(s) URL; its query, if any, is dropped as APIM's is.
func parseBaseURL(raw string) (policy.URL, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return policy.URL{}, fmt.Errorf("%q is not an absolute http or https URL", raw)
	}
	if u.User != nil {
		return policy.URL{}, fmt.Errorf("a base URL must not carry credentials")
	}
	out := policy.URL{Scheme: u.Scheme, Host: u.Hostname(), Path: strings.TrimSuffix(u.EscapedPath(), "/")}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return policy.URL{}, fmt.Errorf("%q has an invalid port", raw)
		}
		out.Port = n
	} else if u.Scheme == "https" {
		out.Port = 443
	} else {
		out.Port = 80
	}
	return out, nil
}

func (s *setBackendService) Run(ctx *policy.Context) error {
	var target policy.URL
	switch {
	case s.fixed != nil:
		target = *s.fixed
	case s.baseURL != nil:
		raw, err := s.baseURL.String(ctx)
		if err != nil {
			return err
		}
		if target, err = parseBaseURL(raw); err != nil {
			return fmt.Errorf("set-backend-service base-url: %w", err)
		}
	default:
		id, err := s.backendID.String(ctx)
		if err != nil {
			return err
		}
		if target, err = s.backend(strings.TrimSpace(id)); err != nil {
			return &policy.Failure{Source: "set-backend-service", Reason: ReasonBackendNotFound,
				Message: "Internal server error", Detail: err.Error(), StatusCode: http.StatusInternalServerError}
		}
	}
	// The operation's part of the path is what follows the current base URL's path.
	rest := strings.TrimPrefix(ctx.Request.URL.Path, strings.TrimSuffix(ctx.ServiceURL.Path, "/"))
	if rest != "" && !strings.HasPrefix(rest, "/") {
		rest = "/" + rest
	}
	ctx.ServiceURL = policy.URL{Scheme: target.Scheme, Host: target.Host, Port: target.Port, Path: target.Path}
	u := &ctx.Request.URL
	u.Scheme, u.Host, u.Port = target.Scheme, target.Host, target.Port
	u.Path = target.Path + rest
	if u.Path == "" {
		u.Path = "/"
	}
	return nil
}
