package policycheck

import (
	"context"
	"fmt"
	"strings"
	"time"

	"portcullis/internal/jwt"
	"portcullis/internal/keys"
	"portcullis/internal/policy"
)

// lenient is a clock skew that no real token's lifetime falls outside, so that the checks
// other than lifetime can be run on their own.
const lenient = 100 * 365 * 24 * time.Hour

func signatureReason(r jwt.Reason) bool {
	switch r {
	case jwt.TokenSignatureInvalid, jwt.TokenSignatureKeyNotFound, jwt.JwtInvalid, jwt.TokenNotPresent:
		return true
	}
	return false
}

func evaluate(ctx context.Context, el *policy.Element, token string, cache *keys.Cache, opts Options) (*Result, error) {
	s, err := read(el, cache)
	if err != nil {
		return nil, err
	}
	s.waitForKeys(ctx, opts.KeyWait, opts.Progress)
	s.cfg.Now = opts.Now
	v, err := jwt.New(s.cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: <validate-jwt>: %w", pos(el.Pos), err)
	}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	r := &Result{Where: pos(el.Pos), Source: s.tokenFrom, Status: s.httpCode}
	add := func(name string, st Status, why string) { r.Checks = append(r.Checks, Check{name, st, why}) }

	token = strings.TrimSpace(token)
	if token == "" {
		add("token present", Fail, "no token was given")
	} else {
		add("token present", Pass, "given on the command line (the policy reads it from the "+orDefault(s.tokenFrom, "request")+")")
	}

	// Signature and key: every claim check relaxed, so only the signature can fail.
	tok, f := validate(v, token, &jwt.Checks{ClockSkew: lenient, AllowNoExpiration: true, InsecureAllowUnsigned: s.checks.InsecureAllowUnsigned})
	var iss string
	signed := token != ""
	switch {
	case !signed:
		add("signature", NotEvaluated, "not evaluated: there is no token")
	case f != nil && signatureReason(f.Reason):
		signed = false
		why := f.Detail
		if len(s.keyNotes) > 0 {
			why += " (" + strings.Join(s.keyNotes, "; ") + ")"
		}
		add("signature", Fail, string(f.Reason)+": "+why)
	default:
		if tok != nil {
			iss = tok.Issuer
		} else if f != nil {
			iss = issuerOf(token)
		}
		add("signature", Pass, signatureWhy(token, s))
	}
	if iss == "" {
		iss = issuerOf(token)
	}
	// The token's own issuer in Issuers neutralises the issuer check for the checks after it.
	ownIssuer := []string{iss}

	run := func(name string, configured bool, c jwt.Checks, reasons ...jwt.Reason) {
		if why, ok := s.skipped[name]; ok {
			add(name, NotEvaluated, why)
			r.Partial = true
			return
		}
		if !configured {
			add(name, NotConfigured, "not checked: the policy does not ask for it")
			return
		}
		if !signed {
			why := "not evaluated: the signature check failed first"
			if token == "" {
				why = "not evaluated: there is no token"
			}
			add(name, NotEvaluated, why)
			return
		}
		_, f := validate(v, token, &c)
		if f == nil {
			add(name, Pass, passWhy(name, c, token, now))
			return
		}
		for _, want := range reasons {
			if f.Reason == want {
				add(name, Fail, string(f.Reason)+": "+f.Detail)
				return
			}
		}
		add(name, NotEvaluated, "not evaluated on its own: "+string(f.Reason)+": "+f.Detail)
	}
	base := jwt.Checks{ClockSkew: lenient, AllowNoExpiration: true, InsecureAllowUnsigned: s.checks.InsecureAllowUnsigned, Issuers: ownIssuer}

	life := base
	life.ClockSkew, life.AllowNoExpiration = s.checks.ClockSkew, s.checks.AllowNoExpiration
	run("lifetime", true, life, jwt.TokenExpired, jwt.JwtInvalid)

	issuer := base
	issuer.Issuers = s.checks.Issuers
	run("issuer", len(s.checks.Issuers) > 0 || len(s.sources) > 0, issuer, jwt.TokenIssuerNotAllowed)

	aud := base
	aud.Audiences = s.checks.Audiences
	run("audience", len(s.checks.Audiences) > 0, aud, jwt.TokenAudienceNotAllowed)

	for _, name := range s.claimNames {
		c := base
		for _, req := range s.checks.RequiredClaims {
			if req.Name == name {
				c.RequiredClaims = []jwt.ClaimRequirement{req}
			}
		}
		run("claim "+name, true, c, jwt.TokenClaimNotFound, jwt.TokenClaimValueNotAllowed)
	}

	// The verdict: the whole configuration at once, as the gateway runs it.
	if token == "" {
		r.Failure = &jwt.Failure{Reason: jwt.TokenNotPresent, Message: jwt.TokenNotPresent.Message(), Detail: "no token was presented"}
	} else {
		_, r.Failure = validate(v, token, &s.checks)
	}
	if r.Failure != nil {
		r.Message = orDefault(s.message, r.Failure.Message)
	}
	return r, nil
}

func validate(v *jwt.Validator, token string, c *jwt.Checks) (*jwt.Token, *jwt.Failure) {
	tok, err := v.ValidateWith(token, c)
	if err == nil {
		return tok, nil
	}
	if f, ok := err.(*jwt.Failure); ok {
		return nil, f
	}
	return nil, &jwt.Failure{Reason: jwt.JwtInvalid, Message: jwt.JwtInvalid.Message(), Detail: err.Error(), Err: err}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
