package policies

import (
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"portcullis/internal/policy"
)

func TestChooseAndSetVariable(t *testing.T) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	admin := signHS256(t, secret, "", claimsAt(now, "https://issuer.example", map[string]any{"roles": []string{"admin"}, "sub": "alice"}))
	reader := signHS256(t, secret, "", claimsAt(now, "https://issuer.example", map[string]any{"roles": []string{"reader"}, "sub": "bob"}))
	// choose on a claim of the token, as the validate-jwt documentation's authorize-by-claims
	// example does, with variables holding typed values.
	inbound := `<set-variable name="isMobile" value="@(context.Request.Headers.GetValueOrDefault("User-Agent","").Contains("iPad"))"/>
<set-variable name="greeting" value="hello"/>
<set-variable name="n" value="@(40 + 2)"/>
<choose>
  <when condition="@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Claims.GetValueOrDefault("roles", "") == "admin")">
    <set-header name="X-Role" exists-action="override"><value>admin</value></set-header>
  </when>
  <when condition="@(context.Variables.GetValueOrDefault<bool>("isMobile"))">
    <set-header name="X-Role" exists-action="override"><value>mobile</value></set-header>
  </when>
  <when condition="true">
    <set-header name="X-Role" exists-action="override"><value>@(context.Variables.GetValueOrDefault<string>("greeting") + "-" + context.Variables.GetValueOrDefault<int>("n"))</value></set-header>
  </when>
  <otherwise>
    <set-header name="X-Role" exists-action="override"><value>never</value></set-header>
  </otherwise>
</choose>`
	tests := []struct {
		name, auth, ua, want string
	}{
		{"the first true when wins", "Bearer " + admin, "iPad", "admin"},
		{"second when on a typed bool variable", "Bearer " + reader, "Mozilla (iPad)", "mobile"},
		{"constant condition and typed int variable", "Bearer " + reader, "curl", "hello-42"},
		{"no token", "", "curl", "hello-42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, nil)
			h := [][2]string{{"User-Agent", tt.ua}}
			if tt.auth != "" {
				h = append(h, [2]string{"Authorization", tt.auth})
			}
			ctx := runFlow(t, Deps{}, flowDoc(inbound, "", ""), srv, call{path: "/x", header: h})
			if got := srv.last(t).Header.Get("X-Role"); got != tt.want {
				t.Errorf("X-Role = %q, want %q", got, tt.want)
			}
			if v, ok := ctx.Variables["isMobile"].(bool); !ok || v != strings.Contains(tt.ua, "iPad") {
				t.Errorf("isMobile = %#v, want a bool", ctx.Variables["isMobile"])
			}
			if v, ok := ctx.Variables["n"].(int); !ok || v != 42 {
				t.Errorf("n = %#v (%T), want int 42", ctx.Variables["n"], ctx.Variables["n"])
			}
			if v, ok := ctx.Variables["greeting"].(string); !ok || v != "hello" {
				t.Errorf("greeting = %#v", ctx.Variables["greeting"])
			}
		})
	}

	t.Run("otherwise runs when no when is true", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		runFlow(t, Deps{}, flowDoc(`<choose><when condition="@(context.Request.Method == "POST")"><set-header name="X-W" exists-action="override"><value>when</value></set-header></when><otherwise><set-header name="X-W" exists-action="override"><value>otherwise</value></set-header></otherwise></choose>`, "", ""), srv, call{path: "/x"})
		if got := srv.last(t).Header.Get("X-W"); got != "otherwise" {
			t.Errorf("X-W = %q", got)
		}
	})
	t.Run("a condition that is not a boolean is an expression failure", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		ctx := runFlow(t, Deps{}, flowDoc(`<choose><when condition="@(context.Request.Method)"><set-method>POST</set-method></when></choose>`, "", ""), srv, call{path: "/x"})
		if ctx.Response.StatusCode != 500 || srv.count() != 0 {
			t.Errorf("status %d, backend calls %d", ctx.Response.StatusCode, srv.count())
		}
	})
}

func TestChooseLoadErrors(t *testing.T) {
	tests := []struct{ name, inbound, want string }{
		{"no when", `<choose><otherwise/></choose>`, "needs at least one <when>"},
		{"when after otherwise", `<choose><when condition="true"/><otherwise/><when condition="false"/></choose>`, "must come before <otherwise>"},
		{"two otherwise", `<choose><when condition="true"/><otherwise/><otherwise/></choose>`, "a second <otherwise>"},
		{"when without condition", `<choose><when/></choose>`, "needs a condition attribute"},
		{"constant condition not boolean", `<choose><when condition="yes"/></choose>`, "condition"},
		{"unknown child", `<choose><if condition="true"/></choose>`, "has no child element <if>"},
		{"text in choose", `<choose>{product-limits}<when condition="true"/></choose>`, `unexpected text in <choose>: "{product-limits}"`},
		{"nested policy refused", `<choose><when condition="true"><forward-request/></when></choose>`, "not allowed in the inbound section"},
		{"set-variable without value", `<set-variable name="x"/>`, "needs a value attribute"},
		{"set-variable name from an expression", `<set-variable name="@("x")" value="1"/>`, "does not accept policy expressions"},
		{"set-variable syntax error at its position", `<set-variable name="x" value="@(1 +)"/>`, "api.xml:3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileDoc(t, Deps{}, flowDoc(tt.inbound, "", ""))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReturnResponse(t *testing.T) {
	t.Run("documented example: 401 with WWW-Authenticate, no backend, no outbound", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		ctx := runFlow(t, Deps{}, flowDoc(`<return-response>
  <set-status code="401" reason="Unauthorized"/>
  <set-header name="WWW-Authenticate" exists-action="override"><value>Bearer error="invalid_token"</value></set-header>
  <set-body>@("{\"request\":\"" + context.RequestId + "\"}")</set-body>
</return-response>
<set-header name="X-After" exists-action="override"><value>ran</value></set-header>`,
			`<set-header name="X-Outbound" exists-action="override"><value>ran</value></set-header>`, ""), srv, call{path: "/x"})
		if ctx.Response.StatusCode != 401 || ctx.Response.StatusReason != "Unauthorized" {
			t.Errorf("status %d %q", ctx.Response.StatusCode, ctx.Response.StatusReason)
		}
		if got := responseHeader(ctx, "WWW-Authenticate"); got != `Bearer error="invalid_token"` {
			t.Errorf("WWW-Authenticate %q", got)
		}
		if got := responseBody(t, ctx); got != `{"request":"6a1f3c2e-0000-4000-8000-00000000000a"}` {
			t.Errorf("body %q", got)
		}
		if srv.count() != 0 || responseHeader(ctx, "X-Outbound") != "" {
			t.Error("return-response did not end the pipeline")
		}
		if _, ok := ctx.Request.Header.Get("X-After"); ok {
			t.Error("a policy after return-response ran")
		}
	})
	t.Run("empty return-response is 200 with no body", func(t *testing.T) {
		ctx := runFlow(t, Deps{}, flowDoc(`<return-response/>`, "", ""), nil, call{path: "/x"})
		if ctx.Response.StatusCode != 200 || responseBody(t, ctx) != "" {
			t.Errorf("got %d %q", ctx.Response.StatusCode, responseBody(t, ctx))
		}
	})
	t.Run("response-variable-name returns send-request's response, then edits it", func(t *testing.T) {
		other := newBackendServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"from":"other"}`))
		})
		ctx := runFlow(t, Deps{}, flowDoc(`<send-request mode="new" response-variable-name="answer" timeout="10"><set-url>`+other.URL+`/lookup</set-url><set-method>GET</set-method></send-request>
<return-response response-variable-name="answer"><set-header name="X-Via" exists-action="override"><value>gateway</value></set-header></return-response>`, "", ""), nil, call{path: "/x"})
		if ctx.Response.StatusCode != 202 || responseBody(t, ctx) != `{"from":"other"}` || responseHeader(ctx, "X-Via") != "gateway" ||
			responseHeader(ctx, "Content-Type") != "application/json" {
			t.Errorf("got %d %q via=%q", ctx.Response.StatusCode, responseBody(t, ctx), responseHeader(ctx, "X-Via"))
		}
		// The variable keeps its own response.
		if stored := ctx.Variables["answer"].(*policy.Response); len(stored.Header.Values("X-Via")) != 0 {
			t.Error("return-response changed the stored response")
		}
	})
	t.Run("an unset response variable is an expression failure", func(t *testing.T) {
		ctx := runFlow(t, Deps{}, flowDoc(`<return-response response-variable-name="nothing"/>`, "", ""), nil, call{path: "/x"})
		if ctx.Response.StatusCode != 500 || ctx.LastError == nil || ctx.LastError.Source != "return-response" {
			t.Errorf("got %d %+v", ctx.Response.StatusCode, ctx.LastError)
		}
	})
	t.Run("Liquid body inside return-response", func(t *testing.T) {
		ctx := runFlow(t, Deps{}, flowDoc(`<return-response><set-status code="200" reason="OK"/><set-body template="liquid">{{context.Request.Method}} {{context.Request.OriginalUrl.Path}}</set-body></return-response>`, "", ""), nil, call{path: "/orders/1"})
		if got := responseBody(t, ctx); got != "GET /api/orders/1" {
			t.Errorf("body %q", got)
		}
	})
	t.Run("children other than status, header and body are refused", func(t *testing.T) {
		_, err := compileDoc(t, Deps{}, flowDoc(`<return-response><set-method>POST</set-method></return-response>`, "", ""))
		if err == nil || !strings.Contains(err.Error(), "has no child element <set-method>") {
			t.Fatalf("error = %v", err)
		}
	})
}

// The on-error patterns of the corpus and the documentation read context.LastError after a
// failed validate-jwt and answer with their own response.
func TestOnErrorAfterValidateJWT(t *testing.T) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := signHS256(t, secret, "", claimsAt(now, "https://issuer.example", nil))
	expired := signHS256(t, secret, "", claimsAt(now, "https://issuer.example", map[string]any{
		"exp": now.Add(-time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()}))
	key := b64std(secret)
	doc := `<policies>
<inbound>
  <validate-jwt header-name="Authorization" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized" id="jwt-check">
    <issuer-signing-keys><key>` + key + `</key></issuer-signing-keys>
  </validate-jwt>
</inbound>
<backend><forward-request/></backend>
<outbound/>
<on-error>
  <choose>
    <when condition="@(context.LastError.Source == "validate-jwt" &amp;&amp; context.LastError.Reason == "TokenNotPresent")">
      <return-response>
        <set-status code="401" reason="Unauthorized"/>
        <set-header name="WWW-Authenticate" exists-action="override"><value>Bearer realm="orders"</value></set-header>
        <set-body>@("{\"error\":\"missing token\",\"at\":\"" + context.LastError.Section + "/" + context.LastError.Path + "\"}")</set-body>
      </return-response>
    </when>
    <when condition="@(context.LastError.Source == "validate-jwt")">
      <set-status code="403" reason="Forbidden"/>
      <set-header name="ErrorReason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>
      <set-header name="ErrorPolicyId" exists-action="override"><value>@(context.LastError.PolicyId)</value></set-header>
      <set-body>@(context.LastError.Message)</set-body>
    </when>
  </choose>
</on-error>
</policies>`
	tests := []struct {
		name       string
		auth       string
		wantStatus int
		check      func(t *testing.T, ctx *policy.Context)
	}{
		{"a valid token reaches the backend", "Bearer " + good, 200, func(t *testing.T, ctx *policy.Context) {
			if responseBody(t, ctx) != "backend" {
				t.Errorf("body %q", responseBody(t, ctx))
			}
		}},
		{"no token: on-error's return-response answers", "", 401, func(t *testing.T, ctx *policy.Context) {
			if got := responseBody(t, ctx); got != `{"error":"missing token","at":"inbound/validate-jwt[1]"}` {
				t.Errorf("body %q", got)
			}
			if responseHeader(ctx, "WWW-Authenticate") != `Bearer realm="orders"` {
				t.Errorf("WWW-Authenticate %q", responseHeader(ctx, "WWW-Authenticate"))
			}
		}},
		{"expired token: on-error rewrites the error response", "Bearer " + expired, 403, func(t *testing.T, ctx *policy.Context) {
			if responseHeader(ctx, "ErrorReason") != "TokenExpired" || responseHeader(ctx, "ErrorPolicyId") != "jwt-check" {
				t.Errorf("reason %q policy id %q", responseHeader(ctx, "ErrorReason"), responseHeader(ctx, "ErrorPolicyId"))
			}
			if body := responseBody(t, ctx); !strings.Contains(body, "expired") {
				t.Errorf("body %q does not say the token expired", body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, nil)
			var h [][2]string
			if tt.auth != "" {
				h = append(h, [2]string{"Authorization", tt.auth})
			}
			ctx := runFlow(t, Deps{}, doc, srv, call{path: "/orders/1", header: h})
			if ctx.Response.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", ctx.Response.StatusCode, tt.wantStatus, responseBody(t, ctx))
			}
			if tt.wantStatus != 200 && srv.count() != 0 {
				t.Error("a refused request reached the backend")
			}
			tt.check(t, ctx)
		})
	}
}
