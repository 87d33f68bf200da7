package policycheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"portcullis/internal/jwt"
	"portcullis/internal/tokenclient/inspect"
)

func parsed(token string) *inspect.Token {
	t, err := inspect.Parse(token)
	if err != nil {
		return nil
	}
	return t
}

func claimText(t *inspect.Token, name string) string {
	if t == nil {
		return ""
	}
	switch v := t.Claim(name).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func issuerOf(token string) string { return claimText(parsed(token), "iss") }

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func signatureWhy(token string, s *spec) string {
	t := parsed(token)
	if t == nil {
		return "verified"
	}
	alg, _ := t.HeaderParam("alg").(string)
	if strings.EqualFold(alg, "none") {
		return "the token is unsigned, which require-signed-tokens=\"false\" allows"
	}
	kid, _ := t.HeaderParam("kid").(string)
	from := []string{}
	for _, src := range s.sources {
		from = append(from, src.URL())
	}
	if len(s.cfg.SigningKeys) > 0 {
		from = append(from, "<issuer-signing-keys>")
	}
	why := alg + " signature verifies"
	if kid != "" {
		why += fmt.Sprintf(" with key %q", kid)
	}
	return why + " from " + strings.Join(from, ", ")
}

func passWhy(name string, c jwt.Checks, token string, now time.Time) string {
	t := parsed(token)
	switch {
	case name == "lifetime":
		var parts []string
		for _, claim := range []string{"nbf", "exp"} {
			if n, ok := t.Claim(claim).(json.Number); ok {
				if sec, err := n.Int64(); err == nil {
					parts = append(parts, claim+" "+inspect.HumanTime(time.Unix(sec, 0), now))
				}
			}
		}
		if len(parts) == 0 {
			parts = append(parts, "no exp, which require-expiration-time=\"false\" allows")
		}
		return strings.Join(parts, ", ") + fmt.Sprintf("; clock skew %v", c.ClockSkew)
	case name == "issuer":
		return fmt.Sprintf("iss %q is accepted", clip(claimText(t, "iss")))
	case name == "audience":
		return fmt.Sprintf("aud %s is one of the <audiences>", clip(claimText(t, "aud")))
	case strings.HasPrefix(name, "claim "):
		claim := strings.TrimPrefix(name, "claim ")
		return fmt.Sprintf("%s is %s", claim, clip(claimText(t, claim)))
	}
	return ""
}

// Render writes the checks and the verdict for a person.
func (r *Result) Render(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "validate-jwt at %s", r.Where)
	if r.Source != "" {
		fmt.Fprintf(&b, " (token from %s)", r.Source)
	}
	b.WriteString("\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "  %s  %-14s %s\n", c.Status, c.Name, c.Why)
	}
	switch {
	case r.Passed() && r.Partial:
		b.WriteString("  Result: the checks that could be evaluated pass; the gateway's answer also depends on the expressions skipped above\n")
	case r.Passed():
		b.WriteString("  Result: the gateway lets the request through\n")
	default:
		fmt.Fprintf(&b, "  Result: the gateway answers %d %q (%s)\n", r.Status, r.Message, r.Failure.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
