package main

import (
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"portcullis/internal/identity"
)

// exportedSpan is a span as an OTLP collector received it.
type exportedSpan struct {
	traceID, spanID, parentID, name, service string
	kind                                     tracepb.Span_SpanKind
	attrs                                    map[string]string
}

// otlpReceiver is an OTLP/HTTP traces endpoint that decodes what the exporter sends.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []exportedSpan
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not an OTLP/HTTP protobuf traces export", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				attrs := map[string]string{}
				for _, a := range s.Attributes {
					v := a.GetValue()
					if v.GetStringValue() != "" {
						attrs[a.Key] = v.GetStringValue()
					} else {
						attrs[a.Key] = fmt.Sprint(v.GetIntValue())
					}
				}
				o.spans = append(o.spans, exportedSpan{
					traceID: hex.EncodeToString(s.TraceId), spanID: hex.EncodeToString(s.SpanId),
					parentID: hex.EncodeToString(s.ParentSpanId), name: s.Name, service: service, attrs: attrs, kind: s.Kind,
				})
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func (o *otlpReceiver) received() []exportedSpan {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]exportedSpan(nil), o.spans...)
}

// TestObservability runs serve with the identity service, the article's API and tracing on,
// makes real token requests and gateway calls, and reads what an operator would: /metrics, the
// spans a collector receives, and the traceparent the backend gets.
func TestObservability(t *testing.T) {
	const clientSecret = "obs-client-secret~0123456789abcdefghij"
	t.Setenv("OBS_CLIENT_SECRET", clientSecret)

	var backendSaw struct {
		sync.Mutex
		traceparent []string
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backendSaw.Lock()
		backendSaw.traceparent = append(backendSaw.traceparent, r.Header.Get("traceparent"))
		backendSaw.Unlock()
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(backend.Close)
	collector := &otlpReceiver{}
	otlp := httptest.NewServer(collector)
	t.Cleanup(otlp.Close)

	dir := t.TempDir()
	idAddr := freeAddr(t)
	idURL := "https://" + idAddr
	if _, _, err := identity.LocalTLS(filepath.Join(dir, "data"), []string{idAddr}); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{
		"policies/global.xml":  forwardPolicy,
		"policies/article.xml": articlePolicy,
		"portcullis.yaml": fmt.Sprintf(`data: ./data
gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  named-values:
    tenant-id: %[1]s
    backend-app-client-id: %[2]s
  trust: [data/tls/ca.pem]
  authority-aliases:
    https://login.microsoftonline.com: %[3]s
  apis:
    - name: echo-api
      path: echo
      backend: %[4]s
      policy: policies/article.xml
identity:
  listen: %[5]s
  public-url: %[3]s
  tenants:
    - id: %[1]s
      applications:
        - name: backend-app
          app-id: %[2]s
          identifier-uris: [api://%[2]s]
          access-token-version: 2
          app-roles:
            - value: Files.Read.All
              allowed-member-types: [Application]
        - name: client-app
          app-id: %[6]s
          secrets:
            - value: ${OBS_CLIENT_SECRET}
          api-permissions:
            - api: backend-app
              roles: [Files.Read.All]
              admin-consent: true
admin:
  listen: 127.0.0.1:0
tracing:
  endpoint: %[7]s
  service-name: portcullis-under-test
`, scanTenant, scanBackend, idURL, backend.URL, idAddr, scanClient, otlp.URL),
	})
	in := startServe(t, filepath.Join(dir, "portcullis.yaml"))
	waitReady(t, in.admin)

	pemBytes, err := os.ReadFile(filepath.Join(dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	token := func(secret string) (int, map[string]any) {
		resp, err := client.PostForm(idURL+"/"+scanTenant+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {scanClient}, "client_secret": {secret},
			"scope": {"api://" + scanBackend + "/.default"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, out := token(clientSecret)
	if status != 200 {
		t.Fatalf("token: %d %v", status, out)
	}
	access := out["access_token"].(string)
	if status, _ := token("not-the-secret"); status != 401 {
		t.Fatalf("token with a wrong secret: %d", status)
	}

	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	if status, _, body := httpGet(t, in.gateway+"/echo/items?code=not-logged", "Authorization", "Bearer "+access,
		"traceparent", "00-"+clientTrace+"-"+clientSpan+"-01"); status != 200 {
		t.Fatalf("gateway with a token: %d %s", status, body)
	}
	if status, _, _ := httpGet(t, in.gateway+"/echo/items"); status != 401 {
		t.Fatalf("gateway without a token: %d", status)
	}

	t.Run("metrics", func(t *testing.T) {
		_, _, body := httpGet(t, in.admin+"/metrics")
		metrics := string(body)
		for _, want := range []string{
			`portcullis_gateway_requests_total{api="echo-api",operation="",status="200"} 1`,
			`portcullis_gateway_requests_total{api="echo-api",operation="",status="401"} 1`,
			`portcullis_gateway_request_duration_seconds_count{api="echo-api",operation=""} 2`,
			`portcullis_gateway_policy_failures_total{reason="TokenNotPresent",source="validate-jwt"} 1`,
			`portcullis_identity_tokens_issued_total{grant="client_credentials"} 1`,
			`portcullis_identity_token_errors_total{code="7000215",grant="client_credentials"} 1`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		for _, series := range []*regexp.Regexp{
			regexp.MustCompile(`portcullis_jwks_fetches_total\{cause="[a-z_-]+",result="changed",url="https://login\.microsoftonline\.com/` + scanTenant + `/v2\.0/\.well-known/openid-configuration"\} [1-9]`),
			regexp.MustCompile(`portcullis_jwks_key_age_seconds\{url="[^"]+"\} \d`),
			regexp.MustCompile(`portcullis_jwks_stale\{url="[^"]+"\} 0`),
			regexp.MustCompile(`portcullis_jwks_ready\{url="[^"]+"\} 1`),
		} {
			if !series.MatchString(metrics) {
				t.Errorf("metrics lack a line matching %s", series)
			}
		}
		if strings.Contains(metrics, clientSecret) || strings.Contains(metrics, access) {
			t.Error("metrics hold a secret or a token")
		}
	})

	t.Run("key fetch progress", func(t *testing.T) {
		source := regexp.QuoteMeta("https://login.microsoftonline.com/" + scanTenant + "/v2.0/.well-known/openid-configuration")
		waitFor(t, in.stdout, regexp.MustCompile(`fetching signing keys from `+source+`\n(?s:.*)signing keys ready from `+source+` \([1-9]\d* keys\)\n`), 1)
	})
	t.Run("tracing", func(t *testing.T) {
		if code := in.stop(); code != 0 { // stopping flushes the spans still buffered
			t.Fatalf("serve exited with %d: %s", code, in.stderr.String())
		}
		spans := collector.received()
		var gw, call *exportedSpan
		for i, s := range spans {
			if s.service != "portcullis-under-test" {
				t.Errorf("span %q has service.name %q", s.name, s.service)
			}
			if s.traceID == clientTrace && s.kind == tracepb.Span_SPAN_KIND_SERVER {
				gw = &spans[i]
			}
			if s.traceID == clientTrace && s.kind == tracepb.Span_SPAN_KIND_CLIENT {
				call = &spans[i]
			}
			for _, v := range s.attrs {
				if strings.Contains(v, access) || strings.Contains(v, clientSecret) || strings.Contains(v, "not-logged") {
					t.Errorf("span %q holds a token, a secret or a query: %v", s.name, s.attrs)
				}
			}
		}
		if gw == nil {
			t.Fatalf("no span continues the client's trace %s; spans: %+v", clientTrace, spans)
		}
		if gw.parentID != clientSpan || gw.name != "GET echo-api" || gw.attrs["http.response.status_code"] != "200" ||
			gw.attrs["portcullis.api"] != "echo-api" || gw.attrs["url.path"] != "/echo/items" {
			t.Errorf("gateway span: %+v", *gw)
		}
		// forward-request's call is a client span, child of the gateway's server span, and the
		// traceparent the backend receives names it.
		if call == nil {
			t.Fatalf("no client span for the backend call in trace %s; spans: %+v", clientTrace, spans)
		}
		if call.parentID != gw.spanID || call.name != "GET" || call.attrs["http.response.status_code"] != "200" ||
			call.attrs["server.address"] != strings.TrimPrefix(backend.URL, "http://") {
			t.Errorf("backend call span: %+v (gateway span %s)", *call, gw.spanID)
		}
		backendSaw.Lock()
		saw := backendSaw.traceparent
		backendSaw.Unlock()
		if want := "00-" + clientTrace + "-" + call.spanID + "-01"; len(saw) != 1 || saw[0] != want {
			t.Errorf("backend received traceparent %q, want [%q]", saw, want)
		}
		unauthorized, tokenSpans := 0, 0
		for _, s := range spans {
			switch {
			case s.name == "GET echo-api" && s.attrs["http.response.status_code"] == "401" && s.attrs["error.type"] == "TokenNotPresent":
				unauthorized++
			case s.name == "POST /{tenant}/oauth2/v2.0/token":
				tokenSpans++
			}
		}
		if unauthorized != 1 || tokenSpans != 2 {
			t.Errorf("spans: %d gateway 401 (want 1), %d identity token requests (want 2): %+v", unauthorized, tokenSpans, spans)
		}
	})
}
