package policycheck

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/jwt"
	"portcullis/internal/keys"
	"portcullis/internal/policy"
)

// ErrNoValidateJWT: the document has no <validate-jwt> to evaluate.
var ErrNoValidateJWT = errors.New("no <validate-jwt> in the policy")

// Options are what evaluation needs from outside the policy document.
type Options struct {
	// NamedValues replace {{name}} in the policy (gateway.named-values).
	NamedValues map[string]string
	// HTTP fetches openid-config documents and key sets; nil means a default client.
	HTTP *http.Client
	// Aliases rewrite openid-config hosts (gateway.authority-aliases).
	Aliases keys.Aliases
	// KeyWait bounds the wait for each openid-config's keys; 0 means 15 seconds.
	KeyWait time.Duration
	// Now is the instant the token is judged at; nil means time.Now.
	Now func() time.Time
	// Progress, when set, hears what a slow step is doing (fetching keys).
	Progress func(message string)
}

// Status is a check's outcome.
type Status int

const (
	Pass Status = iota
	Fail
	// NotEvaluated: the check could not be run offline (an expression) or an earlier check
	// stopped the validation.
	NotEvaluated
	// NotConfigured: the policy does not ask for this check.
	NotConfigured
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case NotEvaluated:
		return "SKIP"
	}
	return "----"
}

// Check is one test of the token and why it came out as it did.
type Check struct {
	Name   string
	Status Status
	Why    string
}

// Result is the evaluation of one <validate-jwt>.
type Result struct {
	// Where is file:line:col of the element.
	Where  string
	Source string // where the policy takes the token from
	Checks []Check
	// Failure is the gateway's verdict: nil when it lets the request through.
	Failure *jwt.Failure
	// Status and Message are the answer the gateway gives on failure.
	Status  int
	Message string
	// Partial: some checks could not be evaluated, so the verdict covers only the rest.
	Partial bool
}

// Passed reports whether the gateway would let the token through.
func (r *Result) Passed() bool { return r.Failure == nil }

// Evaluate loads the policy document at file and evaluates token against each of its
// <validate-jwt> elements.
func Evaluate(ctx context.Context, file, token string, opts Options) ([]Result, error) {
	loader := &policy.Loader{NamedValues: opts.NamedValues}
	doc, err := loader.LoadFile(file)
	if err != nil {
		return nil, err
	}
	var elements []*policy.Element
	var walk func(*policy.Element)
	walk = func(e *policy.Element) {
		if e.Name == "validate-jwt" {
			elements = append(elements, e)
			return
		}
		for _, c := range e.Children {
			walk(c)
		}
	}
	walk(doc.Root)
	if len(elements) == 0 {
		return nil, fmt.Errorf("%w %s", ErrNoValidateJWT, file)
	}
	cache, err := keys.NewCache(keys.Options{Client: opts.HTTP, Aliases: opts.Aliases, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("authority aliases: %w", err)
	}
	defer cache.Close()
	var out []Result
	for _, el := range elements {
		r, err := evaluate(ctx, el, token, cache, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// spec is the constant configuration of one <validate-jwt>.
type spec struct {
	cfg        jwt.Config
	checks     jwt.Checks
	sources    []*keys.Source
	keyNotes   []string // why some keys are missing (fetch errors, unsupported keys)
	skipped    map[string]string
	httpCode   int
	message    string
	tokenFrom  string
	audiences  bool
	claimNames []string
}

func pos(p policy.Pos) string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

func isExpr(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "@") }

func read(el *policy.Element, cache *keys.Cache) (*spec, error) {
	s := &spec{httpCode: 401, skipped: map[string]string{}}
	attr := func(name, def string) (string, bool) {
		a, ok := el.Attr(name)
		if !ok {
			return def, true
		}
		if isExpr(a.Value) {
			s.skipped[name] = "computed per request by an expression"
			return def, false
		}
		return strings.TrimSpace(a.Value), true
	}
	switch {
	case hasAttr(el, "header-name"):
		h, _ := attr("header-name", "")
		s.tokenFrom = "header " + h
		if scheme, _ := attr("require-scheme", ""); scheme != "" {
			s.tokenFrom += ", scheme " + scheme
		}
	case hasAttr(el, "query-parameter-name"):
		q, _ := attr("query-parameter-name", "")
		s.tokenFrom = "query parameter " + q
	case hasAttr(el, "token-value"):
		s.tokenFrom = "token-value expression"
	}
	if v, ok := attr("failed-validation-httpcode", "401"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("%s: failed-validation-httpcode %q is not an HTTP status", pos(el.Pos), v)
		}
		s.httpCode = n
	}
	s.message, _ = attr("failed-validation-error-message", "")
	if v, ok := attr("require-expiration-time", "true"); ok {
		s.checks.AllowNoExpiration = strings.EqualFold(v, "false")
	}
	if v, ok := attr("require-signed-tokens", "true"); ok {
		s.checks.InsecureAllowUnsigned = strings.EqualFold(v, "false")
	}
	if v, ok := attr("clock-skew", "0"); ok {
		d, err := parseSkew(v)
		if err != nil {
			return nil, fmt.Errorf("%s: clock-skew: %w", pos(el.Pos), err)
		}
		s.checks.ClockSkew = d
	}
	for _, ch := range el.Children {
		switch ch.Name {
		case "openid-config":
			a, ok := ch.Attr("url")
			if !ok || strings.TrimSpace(a.Value) == "" {
				return nil, fmt.Errorf("%s: <openid-config> needs a url", pos(ch.Pos))
			}
			src, err := cache.Source(strings.TrimSpace(a.Value))
			if err != nil {
				return nil, fmt.Errorf("%s: <openid-config> url: %w", pos(a.Pos), err)
			}
			s.sources = append(s.sources, src)
			s.cfg.KeySources = append(s.cfg.KeySources, src)
		case "issuer-signing-keys":
			for _, k := range ch.Children {
				key, note := signingKey(k)
				if note != "" {
					s.keyNotes = append(s.keyNotes, note)
					continue
				}
				s.cfg.SigningKeys = append(s.cfg.SigningKeys, *key)
			}
		case "decryption-keys":
			s.keyNotes = append(s.keyNotes, fmt.Sprintf("<decryption-keys> at %s are not loaded here, so encrypted tokens are not evaluated", pos(ch.Pos)))
		case "audiences":
			s.audiences = true
			for _, v := range ch.Children {
				if isExpr(v.Text) {
					s.skipped["audience"] = "an <audience> is computed per request by an expression"
					continue
				}
				s.checks.Audiences = append(s.checks.Audiences, strings.TrimSpace(v.Text))
			}
		case "issuers":
			for _, v := range ch.Children {
				if isExpr(v.Text) {
					s.skipped["issuer"] = "an <issuer> is computed per request by an expression"
					continue
				}
				s.checks.Issuers = append(s.checks.Issuers, strings.TrimSpace(v.Text))
			}
		case "required-claims":
			for _, c := range ch.Children {
				r, expr := claimRequirement(c)
				s.claimNames = append(s.claimNames, r.Name)
				if expr {
					s.skipped["claim "+r.Name] = "a <value> is computed per request by an expression"
					continue
				}
				s.checks.RequiredClaims = append(s.checks.RequiredClaims, r)
			}
		}
	}
	return s, nil
}

func hasAttr(el *policy.Element, name string) bool {
	_, ok := el.Attr(name)
	return ok
}

// signingKey reads one <key> of <issuer-signing-keys>: base64 text (HMAC) or n and e (RSA).
func signingKey(k *policy.Element) (*jose.Key, string) {
	id, _ := k.Attr("id")
	n, hasN := k.Attr("n")
	e, hasE := k.Attr("e")
	text := strings.TrimSpace(k.Text)
	var key *jose.Key
	switch {
	case hasAttr(k, "certificate-id"):
		return nil, fmt.Sprintf("the <key certificate-id> at %s needs the gateway's certificates (use --api with --config)", pos(k.Pos))
	case hasN && hasE:
		var err error
		if key, err = jose.KeyFromRSAComponents(strings.TrimSpace(n.Value), strings.TrimSpace(e.Value)); err != nil {
			return nil, fmt.Sprintf("the <key> at %s is not a usable RSA key: %v", pos(k.Pos), err)
		}
	case text != "" && !isExpr(text):
		secret, err := decodeBase64(text)
		if err != nil {
			return nil, fmt.Sprintf("the <key> at %s is not base64", pos(k.Pos))
		}
		key = &jose.Key{Secret: secret}
	default:
		return nil, fmt.Sprintf("the <key> at %s cannot be read here", pos(k.Pos))
	}
	key.ID = id.Value
	return key, ""
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func claimRequirement(c *policy.Element) (jwt.ClaimRequirement, bool) {
	name, _ := c.Attr("name")
	r := jwt.ClaimRequirement{Name: strings.TrimSpace(name.Value)}
	if m, ok := c.Attr("match"); ok && m.Value == "any" {
		r.MatchAny = true
	}
	if sep, ok := c.Attr("separator"); ok {
		r.Separator = sep.Value
	}
	expr := false
	for _, v := range c.Children {
		if isExpr(v.Text) {
			expr = true
		}
		r.Values = append(r.Values, v.Text)
	}
	return r, expr
}

// parseSkew reads clock-skew as validate-jwt does: whole seconds, or hh:mm:ss.
func parseSkew(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && n <= 7*24*3600 {
		return time.Duration(n) * time.Second, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) == 3 {
		var total int64
		for _, p := range parts {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("expected seconds or hh:mm:ss, found %q", s)
			}
			total = total*60 + n
		}
		if total <= 7*24*3600 {
			return time.Duration(total) * time.Second, nil
		}
	}
	return 0, fmt.Errorf("expected seconds or hh:mm:ss, found %q", s)
}

// waitForKeys waits until every source has keys or has failed a fetch, and notes failures.
func (s *spec) waitForKeys(ctx context.Context, wait time.Duration, progress func(string)) {
	if wait <= 0 {
		wait = 15 * time.Second
	}
	deadline := time.Now().Add(wait)
	for _, src := range s.sources {
		if progress != nil && !src.Status().Ready {
			progress("Fetching signing keys from " + src.URL() + " ...")
		}
		for {
			st := src.Status()
			if st.Ready {
				break
			}
			if st.LastError != "" {
				s.keyNotes = append(s.keyNotes, fmt.Sprintf("no keys from %s: %s", src.URL(), st.LastError))
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				s.keyNotes = append(s.keyNotes, fmt.Sprintf("no keys from %s within %v", src.URL(), wait))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
