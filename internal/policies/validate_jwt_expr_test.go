package policies

import (
	"errors"
	"testing"
	"time"

	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
)

// TestValidateJWTExpressions: attributes and values that are policy expressions are evaluated
// per request, and the checks they feed still apply on cache hits.
func TestValidateJWTExpressions(t *testing.T) {
	p := newIdP(t)
	now := time.Now()
	good := signRS256(t, p.key, p.kid, claimsAt(now, p.issuer(), map[string]any{"aud": "api.example"}))
	oidc := `<openid-config url="{{discovery}}"/>`
	cases := []struct {
		name    string
		policy  string
		headers map[string]string
		host    string
		reason  string
		status  int
	}{
		{name: "token-value", policy: `<validate-jwt token-value="@(context.Request.Headers.GetValueOrDefault(&quot;X-Tok&quot;, &quot;&quot;))">` + oidc + `</validate-jwt>`,
			headers: map[string]string{"X-Tok": good}},
		{name: "token-value empty", policy: `<validate-jwt token-value="@(context.Request.Headers.GetValueOrDefault(&quot;X-Tok&quot;, &quot;&quot;))">` + oidc + `</validate-jwt>`,
			reason: "TokenNotPresent", status: 401},
		{name: "audience from the request host", policy: `<validate-jwt header-name="Authorization">` + oidc + `<audiences><audience>@(context.Request.OriginalUrl.Host)</audience></audiences></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}, host: "api.example"},
		{name: "audience from another host", policy: `<validate-jwt header-name="Authorization">` + oidc + `<audiences><audience>@(context.Request.OriginalUrl.Host)</audience></audiences></validate-jwt>`,
			headers: map[string]string{"Authorization": "Bearer " + good}, host: "other.example", reason: "TokenAudienceNotAllowed", status: 401},
		{name: "httpcode expression", policy: `<validate-jwt header-name="Authorization" failed-validation-httpcode="@(403)">` + oidc + `</validate-jwt>`,
			reason: "TokenNotPresent", status: 403},
		{name: "message expression", policy: `<validate-jwt header-name="Authorization" failed-validation-error-message="@(&quot;No entry to &quot; + context.Request.OriginalUrl.Host)">` + oidc + `</validate-jwt>`,
			reason: "TokenNotPresent", status: 401, host: "api.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, p)
			l := e.loader()
			l.Expressions = expr.Compile
			doc, err := l.Load("api.xml", []byte(wrapInbound(tc.policy)))
			if err != nil {
				t.Fatal(err)
			}
			in, _ := doc.Section("inbound")
			var step policy.Step
			for _, el := range in.Children {
				if el.Name == "validate-jwt" {
					step, err = e.deps.compile(el, &policy.Compiler{Registry: l.Registry, Expressions: expr.Compile, Certificates: e.certs})
				}
			}
			if err != nil || step == nil {
				t.Fatalf("compile: %v", err)
			}
			e.waitKeys(t)
			for round := 0; round < 2; round++ { // the second round is a cache hit
				ctx := request(tc.headers, "")
				if tc.host != "" {
					ctx.Request.OriginalURL.Host = tc.host
				}
				err = step.Run(ctx)
				if tc.reason == "" {
					if err != nil {
						t.Fatalf("round %d refused: %v", round, err)
					}
					continue
				}
				var f *policy.Failure
				if !errors.As(err, &f) || f.Reason != tc.reason || f.StatusCode != tc.status {
					t.Fatalf("round %d: %v, want %s %d", round, err, tc.reason, tc.status)
				}
				if tc.name == "message expression" && f.Message != "No entry to api.example" {
					t.Fatalf("message %q", f.Message)
				}
			}
		})
	}
}
