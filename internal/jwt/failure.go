package jwt

import (
	"fmt"
	"strings"
)

// Reason is why a token was refused: exactly the reasons APIM's validate-jwt reports in
// context.LastError.Reason.
type Reason string

// The nine reasons, spelled as APIM spells them.
const (
	TokenNotPresent           Reason = "TokenNotPresent"
	TokenSignatureInvalid     Reason = "TokenSignatureInvalid"
	TokenAudienceNotAllowed   Reason = "TokenAudienceNotAllowed"
	TokenIssuerNotAllowed     Reason = "TokenIssuerNotAllowed"
	TokenExpired              Reason = "TokenExpired"
	TokenSignatureKeyNotFound Reason = "TokenSignatureKeyNotFound"
	TokenClaimNotFound        Reason = "TokenClaimNotFound"
	TokenClaimValueNotAllowed Reason = "TokenClaimValueNotAllowed"
	JwtInvalid                Reason = "JwtInvalid"
)

// Failure is a refused token. Message is what the client may see, in APIM's shape; Detail is
// for the operator (log, context.LastError.Message): what was expected and what was found. It
// never holds the token itself.
type Failure struct {
	Reason  Reason
	Message string
	Detail  string
	Err     error // the underlying error (e.g. from package jose), if any
}

func (f *Failure) Error() string { return string(f.Reason) + ": " + f.Detail }
func (f *Failure) Unwrap() error { return f.Err }

// reasonMessages are the client messages for the reasons whose text APIM takes from its
// library: our own sentence in APIM's shape.
var reasonMessages = map[Reason]string{
	TokenNotPresent:           "JWT not present.",
	TokenSignatureInvalid:     "JWT signature is invalid. Access denied.",
	TokenAudienceNotAllowed:   "JWT audience is not allowed. Access denied.",
	TokenIssuerNotAllowed:     "JWT issuer is not allowed. Access denied.",
	TokenExpired:              "JWT has expired. Access denied.",
	TokenSignatureKeyNotFound: "JWT signing key was not found. Access denied.",
	TokenClaimNotFound:        "JWT token is missing required claims. Access denied.",
	TokenClaimValueNotAllowed: "JWT claim value is not allowed. Access denied.",
	JwtInvalid:                "JWT is invalid. Access denied.",
}

// Message is the default client message for r.
func (r Reason) Message() string { return reasonMessages[r] }

func fail(r Reason, err error, format string, args ...any) *Failure {
	return &Failure{Reason: r, Message: r.Message(), Detail: fmt.Sprintf(format, args...), Err: err}
}

// maxEchoed bounds how much of a token's claim value a message repeats.
const maxEchoed = 120

func clip(s string) string {
	if len(s) <= maxEchoed {
		return s
	}
	return s[:maxEchoed] + "…"
}

// printable replaces control characters, so that a value from the token cannot break a log
// line or a header that repeats the message.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return '?'
		}
		return r
	}, s)
}

func missingClaims(names []string) *Failure {
	return &Failure{
		Reason:  TokenClaimNotFound,
		Message: "JWT token is missing the following claims: " + strings.Join(names, ", ") + ". Access denied.",
		Detail:  fmt.Sprintf("the token lacks the required claims %s", quoteList(names)),
	}
}

func claimValueNotAllowed(name, value, detail string) *Failure {
	return &Failure{
		Reason:  TokenClaimValueNotAllowed,
		Message: fmt.Sprintf("Claim %s value of %s is not allowed. Access denied.", printable(name), printable(clip(value))),
		Detail:  detail,
	}
}

func quoteList(list []string) string {
	if len(list) == 0 {
		return "[]"
	}
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", clip(s))
	}
	return "[" + strings.Join(q, ", ") + "]"
}
