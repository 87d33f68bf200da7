package policies

import (
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	// The documentation's example: credentials, listed origins, methods with a max age,
	// headers and exposed headers.
	documented := `<cors allow-credentials="true">
  <allowed-origins><origin>https://contoso.example</origin><origin>http://localhost:8080/</origin></allowed-origins>
  <allowed-methods preflight-result-max-age="300"><method>GET</method><method>POST</method><method>PATCH</method></allowed-methods>
  <allowed-headers><header>Content-Type</header><header>Authorization</header></allowed-headers>
  <expose-headers><header>X-Request-Id</header></expose-headers>
</cors>`
	open := `<cors terminate-unmatched-request="false"><allowed-origins><origin>*</origin></allowed-origins><allowed-methods><method>*</method></allowed-methods><allowed-headers><header>*</header></allowed-headers></cors>`
	defaults := `<cors><allowed-origins><origin>https://contoso.example</origin></allowed-origins></cors>`
	noTerminate := `<cors terminate-unmatched-request="false"><allowed-origins><origin>https://contoso.example</origin></allowed-origins></cors>`
	tests := []struct {
		name        string
		policy      string
		method      string
		header      [][2]string
		wantStatus  int
		wantBackend bool
		wantHeaders map[string]string // "" means absent
	}{
		{name: "preflight allowed: answered in inbound", policy: documented, method: "OPTIONS",
			header:     [][2]string{{"Origin", "https://contoso.example"}, {"Access-Control-Request-Method", "PATCH"}, {"Access-Control-Request-Headers", "content-type, authorization"}},
			wantStatus: 200,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "https://contoso.example", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods": "GET,POST,PATCH", "Access-Control-Allow-Headers": "content-type,authorization", "Access-Control-Max-Age": "300"}},
		{name: "preflight with the default port spelled out", policy: documented, method: "OPTIONS",
			header:      [][2]string{{"Origin", "http://localhost:8080"}, {"Access-Control-Request-Method", "GET"}},
			wantStatus:  200,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "http://localhost:8080"}},
		{name: "preflight from another origin: empty 200, no CORS headers", policy: documented, method: "OPTIONS",
			header:      [][2]string{{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "GET"}},
			wantStatus:  200,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "preflight for a method not allowed", policy: documented, method: "OPTIONS",
			header:      [][2]string{{"Origin", "https://contoso.example"}, {"Access-Control-Request-Method", "DELETE"}},
			wantStatus:  200,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{name: "preflight for a header not allowed", policy: documented, method: "OPTIONS",
			header:      [][2]string{{"Origin", "https://contoso.example"}, {"Access-Control-Request-Method", "GET"}, {"Access-Control-Request-Headers", "X-Secret"}},
			wantStatus:  200,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "actual request: headers added to the backend's response", policy: documented, method: "GET",
			header:     [][2]string{{"Origin", "https://contoso.example"}},
			wantStatus: 200, wantBackend: true,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "https://contoso.example", "Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": "X-Request-Id", "Vary": "Origin"}},
		{name: "actual GET from another origin is terminated", policy: documented, method: "GET",
			header:     [][2]string{{"Origin", "https://evil.example"}},
			wantStatus: 200, wantBackend: false,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "actual POST from another origin goes on without CORS headers", policy: documented, method: "POST",
			header:     [][2]string{{"Origin", "https://evil.example"}},
			wantStatus: 200, wantBackend: true,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "no Origin: not a CORS request", policy: documented, method: "GET",
			wantStatus: 200, wantBackend: true, wantHeaders: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "wildcards answer *", policy: open, method: "OPTIONS",
			header:      [][2]string{{"Origin", "https://any.example"}, {"Access-Control-Request-Method", "PUT"}, {"Access-Control-Request-Headers", "X-Anything"}},
			wantStatus:  200,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "PUT", "Access-Control-Allow-Headers": "X-Anything", "Access-Control-Allow-Credentials": ""}},
		{name: "default methods are GET and POST", policy: defaults, method: "OPTIONS",
			header:      [][2]string{{"Origin", "https://contoso.example"}, {"Access-Control-Request-Method", "PUT"}},
			wantStatus:  200,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "allow-credentials from an expression", method: "GET",
			policy:     `<cors allow-credentials="@(context.Request.Headers.GetValueOrDefault("X-Cred","") == "yes")"><allowed-origins><origin>https://contoso.example</origin></allowed-origins></cors>`,
			header:     [][2]string{{"Origin", "https://contoso.example"}, {"X-Cred", "yes"}},
			wantStatus: 200, wantBackend: true,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "https://contoso.example", "Access-Control-Allow-Credentials": "true"}},
		{name: "credentials computed true with the wildcard origin fail closed", method: "GET",
			policy:     `<cors allow-credentials="@(true)"><allowed-origins><origin>*</origin></allowed-origins></cors>`,
			header:     [][2]string{{"Origin", "https://evil.example"}},
			wantStatus: 500, wantBackend: false,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""}},
		{name: "terminate-unmatched-request from an expression", method: "GET",
			policy:     `<cors terminate-unmatched-request="@(false)"><allowed-origins><origin>https://contoso.example</origin></allowed-origins></cors>`,
			header:     [][2]string{{"Origin", "https://evil.example"}},
			wantStatus: 200, wantBackend: true,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "terminate-unmatched-request=false lets an unmatched preflight through", policy: noTerminate, method: "OPTIONS",
			header:     [][2]string{{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "GET"}},
			wantStatus: 200, wantBackend: true,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, nil)
			ctx := runFlow(t, Deps{}, flowDoc(tt.policy, "", ""), srv, call{method: tt.method, path: "/x", header: tt.header})
			if ctx.Response.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", ctx.Response.StatusCode, tt.wantStatus)
			}
			if got := srv.count() == 1; got != tt.wantBackend {
				t.Errorf("reached the backend: %v, want %v", got, tt.wantBackend)
			}
			for name, want := range tt.wantHeaders {
				if got := responseHeader(ctx, name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
	for _, tt := range []struct{ name, policy, want string }{
		{"credentials with the wildcard origin", `<cors allow-credentials="true"><allowed-origins><origin>*</origin></allowed-origins></cors>`, "cannot be combined with the wildcard origin"},
		{"no origins", `<cors><allowed-methods><method>GET</method></allowed-methods></cors>`, "needs <allowed-origins>"},
		{"origin with a path", `<cors><allowed-origins><origin>https://a.example/app</origin></allowed-origins></cors>`, "is not * or scheme://host[:port]"},
		{"two allowed-origins", `<cors><allowed-origins><origin>*</origin></allowed-origins><allowed-origins><origin>*</origin></allowed-origins></cors>`, "a second <allowed-origins>"},
		{"expression in an origin", `<cors><allowed-origins><origin>@("*")</origin></allowed-origins></cors>`, "does not accept policy expressions"},
	} {
		t.Run("load error: "+tt.name, func(t *testing.T) {
			_, err := compileDoc(t, Deps{}, flowDoc(tt.policy, "", ""))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
