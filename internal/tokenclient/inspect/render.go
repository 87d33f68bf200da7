package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"time"
)

// timeClaims are shown in human form, in this order.
var timeClaims = []string{"iat", "nbf", "exp", "auth_time"}

// Validity is where now falls in the token's lifetime.
type Validity int

const (
	Valid Validity = iota
	Expired
	NotYetValid
	NoExpiry
)

// Validity reports whether the token is expired or not yet valid at now (no clock skew: the
// plain facts; validate-jwt's clock-skew is a policy's choice).
func (t *Token) Validity(now time.Time) Validity {
	if nbf, ok := t.time("nbf"); ok && now.Before(nbf) {
		return NotYetValid
	}
	exp, ok := t.time("exp")
	switch {
	case !ok:
		return NoExpiry
	case !now.Before(exp):
		return Expired
	}
	return Valid
}

func (t *Token) time(name string) (time.Time, bool) {
	n, ok := t.claims[name].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.Abs(f) > 1e12 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// HumanTime is "2026-11-25 21:04:05 UTC (in 59m)".
func HumanTime(t, now time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC") + " (" + Relative(t, now) + ")"
}

// Relative is "in 59m", "3h2m ago", "now".
func Relative(t, now time.Time) string {
	d := t.Sub(now)
	if d > -time.Second && d < time.Second {
		return "now"
	}
	if d < 0 {
		return short(-d) + " ago"
	}
	return "in " + short(d)
}

func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}

// Render writes the token for a person, with times judged at now.
func (t *Token) Render(w io.Writer, now time.Time) error {
	var b strings.Builder
	b.WriteString("Header\n")
	b.WriteString(indentJSON(t.Header))
	if t.Encrypted {
		b.WriteString("\nThe claims are encrypted (JWE, enc ")
		enc, _ := t.header["enc"].(string)
		b.WriteString(fmt.Sprintf("%q): they cannot be shown without the recipient's decryption key.\n", enc))
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("\nClaims\n")
	b.WriteString(indentJSON(t.Claims))

	b.WriteString("\nTimes (now " + now.UTC().Format("2006-01-02 15:04:05 UTC") + ")\n")
	found := false
	for _, name := range timeClaims {
		v, present := t.claims[name]
		if !present {
			continue
		}
		found = true
		if tm, ok := t.time(name); ok {
			fmt.Fprintf(&b, "  %-10s %s\n", name, HumanTime(tm, now))
		} else {
			fmt.Fprintf(&b, "  %-10s not a NumericDate (seconds since 1970): %v\n", name, v)
		}
	}
	if !found {
		b.WriteString("  (no time claims)\n")
	}
	b.WriteString("\nStatus: " + t.status(now) + "\n")
	b.WriteString("\n" + t.versionNotes())
	b.WriteString("\n" + t.kind())
	b.WriteString("\n" + t.signature() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func indentJSON(raw json.RawMessage) string {
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return string(raw) + "\n"
	}
	return out.String() + "\n"
}

func (t *Token) status(now time.Time) string {
	switch t.Validity(now) {
	case Expired:
		exp, _ := t.time("exp")
		return "EXPIRED " + Relative(exp, now) + " (exp " + exp.Format("2006-01-02 15:04:05 UTC") + "); validate-jwt refuses it (TokenExpired)"
	case NotYetValid:
		nbf, _ := t.time("nbf")
		return "NOT YET VALID: valid from " + HumanTime(nbf, now) + "; validate-jwt refuses it until then"
	case NoExpiry:
		return "no usable exp claim: validate-jwt refuses it unless the policy sets require-expiration-time=\"false\""
	}
	exp, _ := t.time("exp")
	return "valid for another " + short(exp.Sub(now)) + " (until " + exp.Format("2006-01-02 15:04:05 UTC") + ")"
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// audiences returns aud as a list (a string or an array of strings).
func (t *Token) audiences() []string {
	switch v := t.claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, a := range v {
			if s, ok := a.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (t *Token) versionNotes() string {
	var b strings.Builder
	iss, auds, ver := t.str("iss"), t.audiences(), t.str("ver")
	switch ver {
	case "2.0":
		b.WriteString("Version: v2.0 (ver \"2.0\")\n")
		fmt.Fprintf(&b, "  iss  %s\n", orNone(iss))
		b.WriteString("       the v2 issuer, {authority}/{tenant-id}/v2.0; it is the issuer in the tenant's v2 discovery\n" +
			"       document (.../v2.0/.well-known/openid-configuration) and what validate-jwt's <issuers> must list\n")
		if iss != "" && !strings.HasSuffix(iss, "/v2.0") {
			b.WriteString("       note: a v2 Entra issuer ends in /v2.0; this one does not\n")
		}
		fmt.Fprintf(&b, "  aud  %s\n", orNone(strings.Join(auds, ", ")))
		if t.isIDToken() {
			b.WriteString("       the client ID of the application the user signed in to (an ID token is for the client)\n")
			break
		}
		b.WriteString("       the client ID (GUID) of the API the token is for: v2 tokens carry the GUID even when the client\n" +
			"       asked for the Application ID URI, so validate-jwt's <audiences> must list the GUID\n")
		for _, a := range auds {
			if !guid.MatchString(a) {
				fmt.Fprintf(&b, "       note: %q is not a GUID, unusual for a v2 Entra token\n", a)
			}
		}
	case "1.0":
		b.WriteString("Version: v1.0 (ver \"1.0\")\n")
		fmt.Fprintf(&b, "  iss  %s\n", orNone(iss))
		b.WriteString("       the v1 issuer, https://sts.windows.net/{tenant-id}/ at Entra ({public-url}/{tenant-id}/ at Portcullis);\n" +
			"       it is the issuer in the v1 discovery document (.../.well-known/openid-configuration), not the v2 one\n")
		if strings.HasSuffix(iss, "/v2.0") {
			b.WriteString("       note: this issuer has the v2 form, unusual for a v1 token\n")
		}
		fmt.Fprintf(&b, "  aud  %s\n", orNone(strings.Join(auds, ", ")))
		if t.isIDToken() {
			b.WriteString("       the client ID of the application the user signed in to (an ID token is for the client)\n")
			break
		}
		b.WriteString("       the identifier the client asked for: the API's Application ID URI (api://...) or its client ID;\n" +
			"       the API's registration (requestedAccessTokenVersion) decides the token version, not the endpoint used\n")
	default:
		if ver == "" {
			b.WriteString("Version: no ver claim, so not an Entra access token\n")
		} else {
			fmt.Fprintf(&b, "Version: ver %q is neither of Entra's (1.0, 2.0)\n", ver)
		}
		fmt.Fprintf(&b, "  iss  %s\n       the issuer that made the token\n", orNone(iss))
		fmt.Fprintf(&b, "  aud  %s\n       the recipients the token is meant for\n", orNone(strings.Join(auds, ", ")))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

func (t *Token) kind() string {
	client := t.str("azp")
	if client == "" {
		client = t.str("appid")
	}
	scp := t.str("scp")
	_, hasRoles := t.claims["roles"]
	var b strings.Builder
	switch {
	case t.isIDToken():
		b.WriteString("Kind: an ID token (it carries a nonce): it tells the client who signed in; APIs are sent access tokens\n")
	case scp != "":
		fmt.Fprintf(&b, "Kind: delegated (a user signed in); scp lists the delegated permissions: %s\n", scp)
		if hasRoles {
			b.WriteString("      roles lists the user's app roles on the API\n")
		}
	case t.str("idtyp") == "app" || (hasRoles && t.str("ver") != ""):
		b.WriteString("Kind: app-only (client credentials): no user; roles lists the app roles granted to the client\n")
	case t.str("ver") != "":
		b.WriteString("Kind: app-only without roles or scp: an API must check azp/appid itself to authorise it\n")
	}
	if client != "" {
		fmt.Fprintf(&b, "Client: %s\n", client)
	}
	return b.String()
}

func (t *Token) signature() string {
	alg, _ := t.header["alg"].(string)
	if strings.EqualFold(alg, "none") || t.SignatureBytes == 0 {
		return "Signature: NONE (alg " + alg + "): an unsigned token that no gateway should accept"
	}
	return fmt.Sprintf("Signature: %s, %d bytes, not verified (decode only reads the token)", alg, t.SignatureBytes)
}

// isIDToken: Entra ID tokens carry the sign-in's nonce; access tokens never do (a Graph token's
// nonce is in its header, not its claims).
func (t *Token) isIDToken() bool { return t.claims["nonce"] != nil }
