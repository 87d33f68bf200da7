package identity

import (
	"errors"
	"net/http"
)

// Observer is told the outcome of each token request, for metrics. Grants are the short names
// of GrantLabel; codes are AADSTS numbers. It must be safe for concurrent use and fast: it
// runs on the token path.
type Observer interface {
	TokenIssued(grant string)
	TokenFailed(grant string, code int)
}

// Grant labels: a fixed set, so that what a client sends cannot grow a metric's label values.
const (
	GrantLabelClientCredentials = "client_credentials"
	GrantLabelAuthorizationCode = "authorization_code"
	GrantLabelRefreshToken      = "refresh_token"
	GrantLabelDeviceCode        = "device_code"
	GrantLabelOnBehalfOf        = "on_behalf_of"
	GrantLabelMissing           = "none"        // no grant_type (or an unreadable request)
	GrantLabelUnsupported       = "unsupported" // a grant_type the service does not serve
)

// grantLabel names the grant of a token request whose form has been parsed (or not).
func grantLabel(r *http.Request) string {
	switch r.PostForm.Get("grant_type") {
	case grantClientCredentials:
		return GrantLabelClientCredentials
	case grantAuthorizationCode:
		return GrantLabelAuthorizationCode
	case grantRefreshToken:
		return GrantLabelRefreshToken
	case grantDeviceCode, "device_code":
		return GrantLabelDeviceCode
	case grantJWTBearer:
		return GrantLabelOnBehalfOf
	case "":
		return GrantLabelMissing
	}
	return GrantLabelUnsupported
}

func (s *Server) observeTokenIssued(r *http.Request) {
	if s.observer != nil {
		s.observer.TokenIssued(grantLabel(r))
	}
}

func (s *Server) observeTokenFailure(r *http.Request, err error) {
	if s.observer == nil {
		return
	}
	// Not protocolError: it logs an unexpected error, which writeError does once.
	e := errServer()
	errors.As(err, &e)
	s.observer.TokenFailed(grantLabel(r), e.Code)
}
