package tokenclient

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"unicode"
)

// Failure reasons a caller can branch on with errors.Is. An *Error from the server matches the
// one its OAuth error code stands for.
var (
	// ErrDeviceCodeExpired: the user did not finish the device sign-in in time.
	ErrDeviceCodeExpired = errors.New("the device code expired before sign-in finished")
	// ErrDeclined: the user (or the server on their behalf) refused the sign-in.
	ErrDeclined = errors.New("sign-in was declined")
	// ErrStateMismatch: the authorization response did not carry the state this client sent,
	// so it may not be the answer to this sign-in.
	ErrStateMismatch = errors.New("the sign-in response carried a different state than the request (possible forgery)")
	// ErrInvalidClient: the server did not accept the client's credential.
	ErrInvalidClient = errors.New("the client credential was not accepted")
	// ErrBadResponse: the server answered with something that is not an OAuth response.
	ErrBadResponse = errors.New("unexpected response from the authority")
)

// Error is an OAuth 2.0 error answer in Entra's shape (token, device code or authorize
// endpoint). Its message is one sentence from the server's description plus a fix when one is
// known.
type Error struct {
	// Endpoint names what answered: "token", "device code" or "authorize".
	Endpoint   string
	StatusCode int // 0 for an authorize redirect
	// Code is the OAuth error ("invalid_client", "authorization_pending", ...).
	Code string
	// Description is error_description as sent (AADSTS code, text, trace lines).
	Description   string
	Codes         []int // error_codes: the AADSTS numbers
	Suberror      string
	TraceID       string
	CorrelationID string
	URI           string // error_uri
}

func (e *Error) Error() string {
	msg := e.Summary()
	if fix := e.Fix(); fix != "" {
		msg += " Fix: " + fix
	}
	return msg
}

// Is matches the failure reasons that the OAuth error code stands for.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrDeviceCodeExpired:
		return e.Code == "expired_token" || e.Code == "code_expired"
	case ErrDeclined:
		return e.Code == "access_denied" || e.Code == "authorization_declined"
	case ErrInvalidClient:
		return e.Code == "invalid_client"
	}
	return false
}

// AADSTS is the first AADSTS number of the error (from error_codes, else from the
// description), or 0.
func (e *Error) AADSTS() int {
	if len(e.Codes) > 0 {
		return e.Codes[0]
	}
	if m := aadstsPrefix.FindStringSubmatch(e.Description); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

var (
	aadstsPrefix  = regexp.MustCompile(`^AADSTS(\d+):`)
	firstSentence = regexp.MustCompile(`^(.*?[.!?])(\s|$)`)
)

// Summary is the first sentence of the server's description, keeping its AADSTS code, or the
// OAuth error code when the server sent no description.
func (e *Error) Summary() string {
	d := e.Description
	// Entra appends "\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …".
	if i := strings.IndexAny(d, "\r\n"); i >= 0 {
		d = d[:i]
	}
	// The text goes to a terminal: a server's control characters (escape sequences) do not.
	d = strings.TrimSpace(printable(d))
	code := printable(e.Code)
	if d == "" {
		if code == "" {
			return fmt.Sprintf("The %s endpoint refused the request (HTTP %d).", e.Endpoint, e.StatusCode)
		}
		return fmt.Sprintf("The %s endpoint answered %s.", e.Endpoint, code)
	}
	prefix := ""
	if m := aadstsPrefix.FindString(d); m != "" {
		prefix, d = m+" ", strings.TrimSpace(d[len(m):])
	}
	if m := firstSentence.FindStringSubmatch(d); m != nil {
		d = m[1]
	} else if !strings.HasSuffix(d, ".") {
		d += "."
	}
	if prefix == "" && code != "" {
		prefix = code + ": "
	}
	return prefix + d
}

// fixByAADSTS holds the fixes for the AADSTS codes a client user can act on.
var fixByAADSTS = map[int]string{
	7000215: "check the client secret (--client-secret or PORTCULLIS_CLIENT_SECRET): use the secret's value, shown once when it was created, not its ID.",
	7000222: "the client secret has expired: create a new one for the application and use it.",
	7000218: "this application is confidential: pass its credential (--client-secret, or --certificate and --key), or sign users in with a public client.",
	700025:  "this is a public client: do not pass a client secret or certificate.",
	700016:  "check --client-id and --tenant: the application is not registered in that tenant.",
	90002:   "check --tenant (the tenant GUID or a verified domain) or the authority URL.",
	500011:  "check --scope: its resource (the part before /.default) must be the Application ID URI or client ID of an API registered in the tenant.",
	1002012: "client credentials need a scope ending in /.default, for example api://<app-id>/.default.",
	70011:   "check --scope: it must name a registered API's permission, or RESOURCE/.default.",
	700022:  "ask for the scopes of one resource per token.",
	65001:   "grant consent for the permission: admin consent on the client's API permissions, or let the user consent at sign-in.",
	700027:  "check --certificate and --key: the certificate must be one registered on the application, and the key its private key.",
	50012:   "check --certificate and --key: the certificate must be one registered on the application, and the key its private key.",
	700024:  "check this machine's clock: the client assertion's validity window was refused.",
	901002:  "v2 endpoints take --scope RESOURCE/.default instead of --resource.",
	9001023: "use a tenant-specific authority (the tenant GUID or domain), not common or organizations.",
	50011:   "register the redirect URI on the application (for a public client, http://localhost matches any port) or pass --redirect-uri with a registered one.",
	50126:   "check the username and password.",
	54005:   "the authorization code was already redeemed: sign in again.",
	70008:   "the refresh token has expired: sign in again.",
}

// Fix is what the user can do about the error, or "" when nothing specific is known.
func (e *Error) Fix() string {
	if fix, ok := fixByAADSTS[e.AADSTS()]; ok {
		return fix
	}
	switch e.Code {
	case "invalid_client":
		return "check the client ID and its credential (secret, or certificate and key)."
	case "expired_token", "code_expired":
		return "run the command again and finish signing in within the time shown."
	case "access_denied", "authorization_declined":
		return "sign in again and accept the request."
	case "invalid_scope":
		return "check --scope."
	case "unauthorized_client":
		return "check --client-id and that the application allows this flow (public client flows for device code)."
	case "invalid_tenant":
		return "check --tenant or the authority URL."
	}
	return ""
}

// TransportError is a failure to reach an endpoint or to read its answer.
type TransportError struct {
	Endpoint string // "token", "device code", ...
	URL      string
	Err      error
}

func (e *TransportError) Error() string {
	msg := fmt.Sprintf("Cannot reach the %s endpoint %s: %v.", e.Endpoint, e.URL, e.Err)
	if fix := e.Fix(); fix != "" {
		msg += " Fix: " + fix
	}
	return msg
}

func (e *TransportError) Unwrap() error { return e.Err }

// Fix names the likely remedy for the common ways a connection fails.
func (e *TransportError) Fix() string {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var dnsErr *net.DNSError
	switch {
	case errors.As(e.Err, &unknownCA):
		return "trust the server's CA with --ca-file FILE or PORTCULLIS_CA_FILE (Portcullis prints its local CA as \"Local CA: <path>\")."
	case errors.As(e.Err, &hostErr):
		return "use a host name the server's certificate covers, or give the server a certificate for this host."
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		return "check that the identity service is running and listening on that address (portcullis dev prints it)."
	case errors.As(e.Err, &dnsErr):
		return "check the host name in the authority or token URL."
	}
	return ""
}

// printable replaces control characters with spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
