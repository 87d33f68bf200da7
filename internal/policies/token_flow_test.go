package policies

import (
	"crypto/rand"
	"testing"
	"time"
)

// The end-to-end shape, from the documented examples: validate-jwt, choose on a claim,
// set-header from the token and rate-limit-by-key keyed by the token's subject, through one
// pipeline and a real backend.
func TestTokenFlowEndToEnd(t *testing.T) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	doc := `<policies>
<inbound>
  <validate-jwt header-name="Authorization" failed-validation-httpcode="401" output-token-variable-name="jwt">
    <issuer-signing-keys><key>` + b64std(secret) + `</key></issuer-signing-keys>
  </validate-jwt>
  <choose>
    <when condition="@(((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("roles", "").Contains("admin"))">
      <set-header name="X-Tier" exists-action="override"><value>admin</value></set-header>
    </when>
    <otherwise>
      <set-header name="X-Tier" exists-action="override"><value>standard</value></set-header>
    </otherwise>
  </choose>
  <set-header name="X-User" exists-action="override"><value>@(((Jwt)context.Variables["jwt"]).Subject)</value></set-header>
  <rate-limit-by-key calls="2" renewal-period="60" counter-key="@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)"/>
</inbound>
<backend><forward-request/></backend>
<outbound/>
<on-error/>
</policies>`
	p, err := compileDoc(t, Deps{}, doc)
	if err != nil {
		t.Fatal(err)
	}
	srv := newBackendServer(t, nil)
	now := time.Now()
	alice := "Bearer " + signHS256(t, secret, "", claimsAt(now, "https://issuer.example", map[string]any{"sub": "alice", "roles": []string{"admin"}}))
	bob := "Bearer " + signHS256(t, secret, "", claimsAt(now, "https://issuer.example", map[string]any{"sub": "bob", "roles": []string{"reader"}}))
	steps := []struct {
		name, auth         string
		wantStatus         int
		wantUser, wantTier string
	}{
		{"alice 1", alice, 200, "alice", "admin"},
		{"bob 1", bob, 200, "bob", "standard"},
		{"alice 2", alice, 200, "alice", "admin"},
		{"alice 3 is over her limit", alice, 429, "", ""},
		{"bob 2 has his own counter", bob, 200, "bob", "standard"},
		{"no token", "", 401, "", ""},
	}
	for _, st := range steps {
		before := srv.count()
		var h [][2]string
		if st.auth != "" {
			h = append(h, [2]string{"Authorization", st.auth})
		}
		ctx := newFlowContext(t, srv, call{path: "/orders", header: h})
		_ = p.Run(ctx)
		if ctx.Response.StatusCode != st.wantStatus {
			t.Fatalf("%s: status %d, want %d (%s)", st.name, ctx.Response.StatusCode, st.wantStatus, responseBody(t, ctx))
		}
		if st.wantStatus != 200 {
			if srv.count() != before {
				t.Errorf("%s: a refused request reached the backend", st.name)
			}
			continue
		}
		got := srv.last(t)
		if got.Header.Get("X-User") != st.wantUser || got.Header.Get("X-Tier") != st.wantTier {
			t.Errorf("%s: backend saw X-User %q X-Tier %q", st.name, got.Header.Get("X-User"), got.Header.Get("X-Tier"))
		}
	}
}
