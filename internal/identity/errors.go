package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Error is an Entra (AADSTS) protocol error: every grant and endpoint returns one, and
// writeError turns it into Entra's JSON body. Code is the AADSTS number, OAuth the OAuth 2.0
// error value clients branch on.
type Error struct {
	Code     int
	OAuth    string
	Status   int
	Message  string
	Suberror string
	// RetryAfter, when set, is sent as the Retry-After header (throttling).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.Code, e.Message) }

// Is matches errors by AADSTS code, so tests and callers can write errors.Is(err, &Error{Code: 70011}).
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

func newError(code int, oauth string, status int, format string, args ...any) *Error {
	return &Error{Code: code, OAuth: oauth, Status: status, Message: fmt.Sprintf(format, args...)}
}

// The catalogue of errors Portcullis answers with. Texts follow Entra's; the numbers and
// error values are Entra's (reference/entra-id.md §2.6).

func errUnknownApp(appID, tenant string) *Error {
	return newError(700016, "unauthorized_client", 400,
		"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", appID, tenant)
}

func errInvalidSecret(appID string) *Error {
	return newError(7000215, "invalid_client", 401,
		"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", appID)
}

func errSecretExpired(appID string) *Error {
	return newError(7000222, "invalid_client", 401,
		"The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app.", appID)
}

func errClientAuthMissing() *Error {
	return newError(7000218, "invalid_client", 401,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
}

func errPublicClientCredential() *Error {
	return newError(700025, "invalid_client", 401,
		"Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
}

func errAssertionInvalid(reason string) *Error {
	return newError(700027, "invalid_client", 401,
		"Client assertion failed signature validation or is not valid: %s", reason)
}

func errAssertionCertificate(appID string) *Error {
	return newError(700027, "invalid_client", 401,
		"The certificate with identifier used to sign the client assertion is not registered on application '%s'.", appID)
}

func errAssertionTime() *Error {
	return newError(700024, "invalid_client", 401,
		"Client assertion is not within its valid time range.")
}

func errAssertionAudience(aud string) *Error {
	return newError(700027, "invalid_client", 401,
		"Client assertion contains an invalid audience '%s'; it must be the token endpoint or the issuer.", aud)
}

func errResourceNotFound(resource, tenant string) *Error {
	return newError(500011, "invalid_resource", 400,
		"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenant)
}

func errInvalidScope(scope string) *Error {
	return newError(70011, "invalid_scope", 400,
		"The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)
}

func errScopeNeedsDefault(scope string) *Error {
	return newError(1002012, "invalid_scope", 400,
		"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)
}

func errScopeMultipleResources(scope string) *Error {
	return newError(700022, "invalid_scope", 400,
		"The provided value for the input parameter scope is not valid because it contains more than one resource. The scope %s is not valid.", scope)
}

func errConsentRequired(appID, name string) *Error {
	e := newError(65001, "invalid_grant", 400,
		"The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", appID, name)
	e.Suberror = "consent_required"
	return e
}

func errBadCredentials() *Error {
	return newError(50126, "invalid_grant", 400,
		"Error validating credentials due to invalid username or password.")
}

func errUnknownUser(tenant string) *Error {
	return newError(50034, "invalid_grant", 400,
		"The user account {EUII Hidden} does not exist in the %s directory. To sign into this application, the account must be added to the directory.", tenant)
}

func errUserDisabled() *Error {
	return newError(50057, "invalid_grant", 400, "The user account is disabled.")
}

func errUserLocked(wait time.Duration) *Error {
	minutes := int((wait + time.Minute - 1) / time.Minute)
	return newError(50053, "invalid_grant", 400,
		"Your account is locked because you've tried to sign in too many times with an incorrect user ID or password. Try again in %d minutes.", minutes)
}

func errClientThrottled(wait time.Duration) *Error {
	e := newError(90055, "temporarily_unavailable", 429,
		"There are too many failed authentication requests for this client. Try again in %d seconds.", int(wait.Seconds()+0.5))
	e.RetryAfter = wait
	return e
}

func errUnknownTenant(tenant string, discovery bool) *Error {
	oauth := "invalid_request"
	if discovery {
		oauth = "invalid_tenant"
	}
	return newError(90002, oauth, 400,
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)
}

func errResourceOnV2() *Error {
	return newError(901002, "invalid_request", 400,
		"The 'resource' request parameter is not supported.")
}

func errMalformed(detail string) *Error {
	return newError(9002313, "invalid_request", 400,
		"Invalid request. Request is malformed or invalid. %s", detail)
}

// errUnreadableForm is errMalformed for a form that did not parse; a form over maxFormBytes
// says so, so that a client learns what to change.
func errUnreadableForm(err error, detail string) *Error {
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		return errMalformed(fmt.Sprintf("%s It is larger than the limit of %d bytes.", detail, tooLarge.Limit))
	}
	return errMalformed(detail)
}

func errMissingParameter(name string) *Error {
	return newError(900144, "invalid_request", 400,
		"The request body must contain the following parameter: '%s'.", name)
}

func errPostOnly(method string) *Error {
	return newError(900561, "invalid_request", 400,
		"The endpoint only accepts POST requests. Received a %s request.", method)
}

func errUnsupportedGrant(grant string) *Error {
	return newError(70003, "unsupported_grant_type", 400,
		"The app requested an unsupported grant type '%s'.", grant)
}

func errGrantNeedsTenant() *Error {
	return newError(9001023, "invalid_request", 400,
		"The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.")
}

func errCodeExpired() *Error {
	return newError(70008, "invalid_grant", 400,
		"The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
}

func errCodeRedeemed() *Error {
	return newError(54005, "invalid_grant", 400,
		"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
}

func errCodeInvalid() *Error {
	return newError(9002313, "invalid_grant", 400,
		"Invalid request. Request is malformed or invalid. The authorization code is not valid.")
}

func errRefreshExpired() *Error {
	return newError(700082, "invalid_grant", 400,
		"The refresh token has expired due to inactivity. The token was issued on a date and was inactive for 90.00:00:00.")
}

func errRefreshInvalid() *Error {
	return newError(70000, "invalid_grant", 400,
		"The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.")
}

func errRefreshReused() *Error {
	return newError(70000, "invalid_grant", 400,
		"The refresh token has already been used; every token issued from it has been revoked. Sign in again.")
}

func errRedirectMismatch(redirect, appID string) *Error {
	return newError(50011, "invalid_request", 400,
		"The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.", redirect, appID)
}

func errRedirectGrantMismatch() *Error {
	return newError(70002, "invalid_grant", 400,
		"The redirect_uri does not match the one used in the authorization request.")
}

func errPKCEMissingVerifier() *Error {
	return newError(50148, "invalid_grant", 400,
		"The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.")
}

func errPKCEMismatch() *Error {
	return newError(501481, "invalid_grant", 400,
		"The Code_Verifier does not match the code_challenge supplied in the authorization request.")
}

func errPKCERequired() *Error {
	return newError(9002325, "invalid_request", 400,
		"Proof Key for Code Exchange is required for public clients: send code_challenge with code_challenge_method 'S256'.")
}

func errPKCEMethod(method string) *Error {
	return newError(9002313, "invalid_request", 400,
		"Invalid request. Request is malformed or invalid. code_challenge_method '%s' is not supported; use 'S256'.", method)
}

func errCrossOrigin() *Error {
	return newError(9002326, "invalid_request", 400,
		"Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type.")
}

func errLoginRequired() *Error {
	return newError(50058, "login_required", 400,
		"A silent sign-in request was sent but no user is signed in.")
}

func errUnsupportedResponseType(rt string) *Error {
	return newError(70005, "unsupported_response_type", 400,
		"The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: 'code'. Received: '%s'.", rt)
}

func errDevicePending() *Error {
	return newError(70016, "authorization_pending", 400,
		"OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
}

func errDeviceSlowDown() *Error {
	return newError(70016, "slow_down", 400,
		"OAuth 2.0 device flow error. Polling too frequently: wait the interval between requests.")
}

func errDeviceDeclined() *Error {
	return newError(70020, "authorization_declined", 400,
		"The user declined the authorization request.")
}

func errDeviceBadCode() *Error {
	return newError(70018, "bad_verification_code", 400,
		"Invalid verification code.")
}

func errDeviceExpired() *Error {
	return newError(70019, "expired_token", 400,
		"Verification code expired.")
}

func errPublicClientRequired(appID string) *Error {
	return newError(7000218, "invalid_client", 401,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Application '%s' is not a public client.", appID)
}

func errOBOAssertion(reason string) *Error {
	return newError(50013, "invalid_grant", 400, "Assertion failed signature validation. [Reason - %s]", reason)
}

func errOBOAudience() *Error {
	return newError(50013, "invalid_grant", 400,
		"Assertion audience does not match the Client app presenting the assertion.")
}

func errRoleAssignmentRequired(appID, name string) *Error {
	return newError(501051, "invalid_grant", 400,
		"Application '%s'(%s) is not assigned to a role for the application.", appID, name)
}

func errServer() *Error {
	return newError(50000, "server_error", 500,
		"There was an error issuing a token or an issue with our sign-in service.")
}

// entraTimestamp is Entra's error timestamp format: "2016-01-09 02:02:12Z".
const entraTimestamp = "2006-01-02 15:04:05Z"

// errorBody is Entra's token-endpoint error document; field order is Entra's.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
	Suberror         string `json:"suberror,omitempty"`
}

// correlationID echoes the client's client-request-id when it is a GUID (MSAL sends one), as
// Entra does; otherwise it makes one.
func correlationID(r *http.Request) string {
	if id := r.Header.Get("client-request-id"); id != "" {
		if u, err := uuid.Parse(id); err == nil {
			return u.String()
		}
	}
	return uuid.NewString()
}

// protocolError converts any error into an *Error: typed ones pass through, anything else is
// logged (without request data) and becomes Entra's generic server error.
func (s *Server) protocolError(r *http.Request, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	s.log.Error("identity: request failed", slog.String("path", r.URL.Path), slog.Any("err", err))
	return errServer()
}

// errorDocument builds the body for err (the one place the AADSTS shape is made).
func (s *Server) errorDocument(r *http.Request, e *Error) errorBody {
	now := s.now().UTC().Format(entraTimestamp)
	trace := uuid.NewString()
	corr := correlationID(r)
	desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.Code, e.Message, trace, corr, now)
	return errorBody{
		Error:            e.OAuth,
		ErrorDescription: desc,
		ErrorCodes:       []int{e.Code},
		Timestamp:        now,
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         s.publicURL + "/error?code=" + strconv.Itoa(e.Code),
		Suberror:         e.Suberror,
	}
}

// writeError writes err as Entra's JSON error body with Entra's status code.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.protocolError(r, err)
	body := s.errorDocument(r, e)
	// The path, code and trace ID let an operator find the request; parameters (secrets,
	// codes, tokens) are never logged.
	s.log.Info("identity: request refused", "path", r.URL.Path, "code", e.Code, "error", e.OAuth, "trace_id", body.TraceID, "correlation_id", body.CorrelationID)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("x-ms-request-id", body.TraceID)
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(body)
}

// errorQuery is the error as authorize-endpoint redirect parameters.
func (s *Server) errorQuery(r *http.Request, e *Error) map[string]string {
	b := s.errorDocument(r, e)
	return map[string]string{
		"error":             b.Error,
		"error_description": strings.SplitN(b.ErrorDescription, "\r\n", 2)[0],
		"error_uri":         b.ErrorURI,
	}
}
