package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"portcullis/internal/gateway"
)

func get(t *testing.T, h http.Handler, path, auth string) (int, http.Header, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestReadiness(t *testing.T) {
	const u1, u2 = "https://idp.example/a/v2.0/.well-known/openid-configuration", "https://idp.example/b/v2.0/.well-known/openid-configuration"
	tests := []struct {
		name    string
		sources []KeySource
		status  int
		body    string
	}{
		{"no sources", nil, 200, `{"status":"ready","keySources":[]}`},
		{"all have keys", []KeySource{{URL: u1, Ready: true, Keys: 2}}, 200,
			`{"status":"ready","keySources":[{"url":"` + u1 + `","ready":true,"stale":false,"keys":2}]}`},
		{"stale but within bound", []KeySource{{URL: u1, Ready: true, Stale: true, Keys: 2, LastError: "connection refused"}}, 200,
			`{"status":"ready","keySources":[{"url":"` + u1 + `","ready":true,"stale":true,"keys":2,"lastError":"connection refused"}]}`},
		{"one without keys", []KeySource{{URL: u1, Ready: true, Keys: 1}, {URL: u2}}, 503,
			`{"status":"not ready","keySources":[{"url":"` + u1 + `","ready":true,"stale":false,"keys":1},{"url":"` + u2 + `","ready":false,"stale":false,"keys":0}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHandler(Options{KeySources: func() []KeySource { return tt.sources }})
			status, hdr, body := get(t, h, "/readyz", "")
			if status != tt.status || strings.TrimSpace(body) != tt.body {
				t.Errorf("got %d %s\nwant %d %s", status, body, tt.status, tt.body)
			}
			if hdr.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", hdr.Get("Content-Type"))
			}
		})
	}
	if status, _, body := get(t, NewHandler(Options{}), "/healthz", ""); status != 200 || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", status, body)
	}
}

func TestManagementToken(t *testing.T) {
	mgmt := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "graph:"+r.URL.Path) })
	const token = "correct-horse-battery-staple-0123456789"
	on := NewHandler(Options{Token: token, Management: mgmt})
	tests := []struct {
		name    string
		h       http.Handler
		auth    string
		status  int
		body    string
		wwwAuth bool
	}{
		{"no header", on, "", 401, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty or invalid."}}`, true},
		{"wrong token", on, "Bearer " + token + "x", 401, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty or invalid."}}`, true},
		{"prefix of the token", on, "Bearer " + token[:10], 401, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty or invalid."}}`, true},
		{"other scheme", on, "Basic " + token, 401, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty or invalid."}}`, true},
		{"right token", on, "Bearer " + token, 200, "graph:/v1.0/applications", false},
		{"scheme in lower case", on, "bearer " + token, 200, "graph:/v1.0/applications", false},
		{"token not configured: off", NewHandler(Options{Management: mgmt}), "Bearer " + token, 404,
			`{"error":{"code":"Request_ResourceNotFound","message":"The management API is off: set admin.token in the configuration to turn it on."}}`, false},
		{"no handler: off", NewHandler(Options{Token: token}), "Bearer " + token, 404,
			`{"error":{"code":"Request_ResourceNotFound","message":"The management API is off: set admin.token in the configuration to turn it on."}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := get(t, tt.h, "/v1.0/applications", tt.auth)
			if status != tt.status || strings.TrimSpace(body) != tt.body {
				t.Errorf("got %d %s, want %d %s", status, body, tt.status, tt.body)
			}
			if got := hdr.Get("WWW-Authenticate") != ""; got != tt.wwwAuth {
				t.Errorf("WWW-Authenticate present = %v", got)
			}
		})
	}
	// Health and metrics need no token.
	if status, _, _ := get(t, on, "/healthz", ""); status != 200 {
		t.Errorf("healthz behind the token: %d", status)
	}
}

func TestMetrics(t *testing.T) {
	m := NewMetrics(func() []KeySource {
		return []KeySource{{URL: "https://idp.example/x", Ready: true, Stale: true, KeyAge: 90 * time.Second}}
	})
	obs := []gateway.Observation{
		{API: "echo-api", Operation: "get", StatusCode: 200, Duration: 3 * time.Millisecond, ClientIP: netip.MustParseAddr("127.0.0.1")},
		{API: "echo-api", Operation: "get", StatusCode: 401, Duration: time.Millisecond, FailureSource: "validate-jwt", FailureReason: "TokenExpired"},
		{API: "echo-api", Operation: "get", StatusCode: 401, Duration: time.Millisecond, FailureSource: "validate-jwt", FailureReason: "TokenExpired"},
	}
	for i := range obs {
		m.ObserveRequest(&obs[i])
	}
	m.KeyFetched("https://idp.example/x", "scheduled", "changed", 20*time.Millisecond)
	_, _, body := get(t, NewHandler(Options{Gatherer: m.Registry}), "/metrics", "")
	for _, want := range []string{
		`portcullis_gateway_requests_total{api="echo-api",operation="get",status="200"} 1`,
		`portcullis_gateway_requests_total{api="echo-api",operation="get",status="401"} 2`,
		`portcullis_gateway_policy_failures_total{reason="TokenExpired",source="validate-jwt"} 2`,
		`portcullis_gateway_request_duration_seconds_count{api="echo-api",operation="get"} 3`,
		`portcullis_jwks_fetches_total{cause="scheduled",result="changed",url="https://idp.example/x"} 1`,
		`portcullis_jwks_key_age_seconds{url="https://idp.example/x"} 90`,
		`portcullis_jwks_stale{url="https://idp.example/x"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestReadinessBodyIsJSON(t *testing.T) {
	h := NewHandler(Options{KeySources: func() []KeySource {
		return []KeySource{{URL: "https://x/\"quoted\"", LastRefresh: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	}})
	_, _, body := get(t, h, "/readyz", "")
	var v struct {
		KeySources []map[string]any `json:"keySources"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.KeySources[0]["lastRefresh"] != "2026-01-02T03:04:05Z" {
		t.Errorf("body %s (%v)", body, err)
	}
}
