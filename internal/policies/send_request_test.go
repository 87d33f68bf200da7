package policies

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"portcullis/internal/policy"
)

// echoServer answers with what it received, as JSON.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", "yes")
		if r.URL.Path == "/missing" {
			w.WriteHeader(404)
		}
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body),
			"auth": r.Header.Get("Authorization"), "custom": r.Header.Values("X-Custom"),
			"type": r.Header.Get("Content-Type"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSendRequest(t *testing.T) {
	srv := echoServer(t)
	resp := `((IResponse)context.Variables[&quot;r&quot;])`
	field := func(name string) string {
		return `@(` + resp + `.Body.As&lt;JObject&gt;()[&quot;` + name + `&quot;].ToString())`
	}
	tests := []struct {
		name    string
		policy  string
		headers map[string]string
		body    string // client request body
		probe   string // expression whose value is checked
		want    string
	}{
		{
			name: "new request with method, headers and body (documented shape)",
			policy: `<send-request mode="new" response-variable-name="r" timeout="20" ignore-error="false">
				<set-url>` + srv.URL + `/validate?x=1</set-url>
				<set-method>POST</set-method>
				<set-header name="Content-Type" exists-action="override"><value>application/x-www-form-urlencoded</value></set-header>
				<set-body>@($"token={context.Request.Headers.GetValueOrDefault("X-Token","")}")</set-body>
			</send-request>`,
			headers: map[string]string{"X-Token": "abc"},
			probe:   `@(` + resp + `.StatusCode + " " + ` + resp + `.Body.As&lt;JObject&gt;(true)["method"] + " " + ` + resp + `.Body.As&lt;JObject&gt;(true)["body"] + " " + ` + resp + `.Body.As&lt;JObject&gt;()["type"])`,
			want:    "200 POST token=abc application/x-www-form-urlencoded",
		},
		{
			name:   "default method is GET",
			policy: `<send-request mode="new" response-variable-name="r"><set-url>` + srv.URL + `/a</set-url></send-request>`,
			probe:  field("method"), want: "GET",
		},
		{
			name: "set-header append, skip and several values",
			policy: `<send-request mode="new" response-variable-name="r">
				<set-url>` + srv.URL + `/h</set-url>
				<set-header name="X-Custom" exists-action="append"><value>one</value><value>@("two")</value></set-header>
				<set-header name="X-Custom" exists-action="skip"><value>three</value></set-header>
			</send-request>`,
			probe: `@(string.Join("|", ` + resp + `.Body.As&lt;JObject&gt;()["custom"].ToObject&lt;string[]&gt;()))`, want: "one|two",
		},
		{
			name: "copy mode takes the incoming request",
			policy: `<send-request mode="copy" response-variable-name="r">
				<set-url>` + srv.URL + `/copied</set-url>
			</send-request>`,
			headers: map[string]string{"Authorization": "Bearer in"},
			body:    "client body",
			probe:   `@(` + resp + `.Body.As&lt;JObject&gt;(true)["auth"] + "/" + ` + resp + `.Body.As&lt;JObject&gt;()["body"])`,
			want:    "Bearer in/client body",
		},
		{
			name:   "response headers",
			policy: `<send-request mode="new" response-variable-name="r"><set-url>` + srv.URL + `/a</set-url></send-request>`,
			probe:  `@(` + resp + `.Headers.GetValueOrDefault("X-Echo",""))`, want: "yes",
		},
		{
			name:   "an error status is a response, not a failure",
			policy: `<send-request mode="new" response-variable-name="r"><set-url>` + srv.URL + `/missing</set-url></send-request>`,
			probe:  `@(` + resp + `.StatusCode.ToString())`, want: "404",
		},
		{
			name: "authentication-basic inside send-request",
			policy: `<send-request mode="new" response-variable-name="r"><set-url>` + srv.URL + `/a</set-url>
				<authentication-basic username="user1" password="pass123" /></send-request>`,
			probe: field("auth"), want: "Basic dXNlcjE6cGFzczEyMw==",
		},
		{
			name:   "ignore-error leaves a null response",
			policy: `<send-request mode="new" response-variable-name="r" ignore-error="true"><set-url>http://127.0.0.1:1/nothing</set-url></send-request>`,
			probe:  `@(context.Variables["r"] == null ? "null" : "set")`, want: "null",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := mustPipeline(t, Deps{EventHub: probeDeps(&buf)}, inboundDoc(tt.policy+probe(tt.probe)))
			ctx := request(tt.headers, "")
			ctx.Request.Method = "POST"
			ctx.Request.URL.Path = "/orig"
			ctx.Request.Body.Set([]byte(tt.body))
			if got := runCtx(p, ctx, &statusBackend{}); got != 200 {
				t.Fatalf("status %d, LastError %+v", got, ctx.LastError)
			}
			if got := lastProbe(t, &buf); got != tt.want {
				t.Errorf("expression saw %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSendRequestFailures(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()
	tests := []struct {
		name, policy, reason, detail string
	}{
		{"timeout", `<send-request mode="new" response-variable-name="r" timeout="1"><set-url>` + slow.URL + `</set-url></send-request>`, ReasonTimeout, "did not answer within 1s"},
		{"connection refused", `<send-request mode="new" response-variable-name="r"><set-url>http://` + deadAddr + `/</set-url></send-request>`, ReasonBackendConnectionFailure, "failed"},
		{"not http", `<send-request mode="new" response-variable-name="r"><set-url>@("file:///etc/passwd")</set-url></send-request>`, ReasonBackendConnectionFailure, "is not an http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPipeline(t, Deps{}, inboundDoc(tt.policy))
			ctx := request(nil, "")
			b := &statusBackend{}
			if got := runCtx(p, ctx, b); got != 500 {
				t.Fatalf("status %d, want 500", got)
			}
			le := ctx.LastError
			if le.Source != "send-request" || le.Reason != tt.reason || !strings.Contains(le.Message, tt.detail) {
				t.Errorf("LastError = %+v, want reason %s and %q", le, tt.reason, tt.detail)
			}
			if b.count() != 0 {
				t.Error("the pipeline went on to the backend after send-request failed")
			}
		})
	}
}

func TestSendRequestLoadErrors(t *testing.T) {
	tests := []struct{ name, policy, want string }{
		{"new without url", `<send-request mode="new" response-variable-name="r" />`, "needs a <set-url>"},
		{"bad mode", `<send-request mode="clone"><set-url>http://x</set-url></send-request>`, `mode must be "new" or "copy"`},
		{"bad timeout", `<send-request timeout="0"><set-url>http://x</set-url></send-request>`, "from 1 to"},
		{"two urls", `<send-request><set-url>http://x</set-url><set-url>http://y</set-url></send-request>`, "second <set-url>"},
		{"unknown child", `<send-request><set-url>http://x</set-url><proxy url="http://p"/></send-request>`, "has no child element <proxy>"},
		{"bad exists-action", `<send-request><set-url>http://x</set-url><set-header name="a" exists-action="replace"><value>1</value></set-header></send-request>`, "exists-action must be"},
		{"response variable expression", `<send-request response-variable-name="@(&quot;r&quot;)"><set-url>http://x</set-url></send-request>`, "does not accept policy expressions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildPipeline(t, Deps{}, inboundDoc(tt.policy), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// In outbound, mode="copy" copies the request's method, URL and headers but not its body.
func TestSendRequestCopyInOutbound(t *testing.T) {
	srv := echoServer(t)
	var buf bytes.Buffer
	p := mustPipeline(t, Deps{EventHub: probeDeps(&buf)}, `<policies><inbound/><backend><forward-request/></backend>
		<outbound>
			<send-request mode="copy" response-variable-name="r"><set-url>`+srv.URL+`/audit</set-url></send-request>
			`+probe(`@(((IResponse)context.Variables["r"]).Body.As&lt;string&gt;())`)+`
		</outbound></policies>`)
	ctx := request(map[string]string{"X-Custom": "kept"}, "")
	ctx.Request.Method = "PUT"
	ctx.Request.Body.Set([]byte("request body"))
	if got := runCtx(p, ctx, &statusBackend{}); got != 200 {
		t.Fatalf("status %d: %+v", got, ctx.LastError)
	}
	var echo map[string]any
	if err := json.Unmarshal([]byte(lastProbe(t, &buf)), &echo); err != nil {
		t.Fatal(err)
	}
	if echo["method"] != "PUT" || echo["body"] != "" || fmt.Sprint(echo["custom"]) != "[kept]" {
		t.Errorf("the copied request = %v", echo)
	}
}

// authentication-certificate inside send-request presents the client certificate.
func TestSendRequestClientCertificate(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	certs := map[string]*policy.Certificate{"client-cert": selfSigned(t, "client-cert", testRSA()[1], true)}
	var buf bytes.Buffer
	deps := Deps{EventHub: probeDeps(&buf), SendRequest: SendRequestDeps{Client: srv.Client()}}
	for _, tt := range []struct{ name, child, want string }{
		{"with certificate", `<authentication-certificate certificate-id="client-cert" />`, "200 client-cert"},
		{"without", "", "401 no client certificate\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := buildPipeline(t, deps, inboundDoc(`<send-request mode="new" response-variable-name="r">
				<set-url>`+srv.URL+`</set-url>`+tt.child+`</send-request>`+
				probe(`@(((IResponse)context.Variables["r"]).StatusCode + " " + ((IResponse)context.Variables["r"]).Body.As&lt;string&gt;())`)), certs)
			if err != nil {
				t.Fatal(err)
			}
			ctx := request(nil, "")
			if got := runCtx(p, ctx, &statusBackend{}); got != 200 {
				t.Fatalf("status %d: %+v", got, ctx.LastError)
			}
			if got := lastProbe(t, &buf); got != tt.want {
				t.Errorf("the server saw %q, want %q", got, tt.want)
			}
		})
	}
}

// A send-request answer is read up to SendRequestDeps.MaxResponseBytes: one byte more fails
// the request with a message naming the limit, never an unbounded read into memory.
func TestSendRequestResponseLimit(t *testing.T) {
	const limit = 1024
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := limit
		if r.URL.Path == "/over" {
			n = limit + 1
		}
		if r.URL.Path == "/huge" {
			n = 64 * limit
		}
		w.Write(bytes.Repeat([]byte("x"), n))
	}))
	defer srv.Close()
	tests := []struct {
		name, path string
		status     int
	}{
		{"at the limit", "/at", 200},
		{"one byte over", "/over", 500},
		{"far over", "/huge", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			deps := Deps{EventHub: probeDeps(&buf), SendRequest: SendRequestDeps{Client: srv.Client(), MaxResponseBytes: limit}}
			p := mustPipeline(t, deps, inboundDoc(`<send-request mode="new" response-variable-name="r"><set-url>`+srv.URL+tt.path+`</set-url></send-request>`+
				probe(`@(((IResponse)context.Variables["r"]).Body.As<string>().Length.ToString())`)))
			ctx := request(nil, "")
			if got := runCtx(p, ctx, &statusBackend{}); got != tt.status {
				t.Fatalf("status %d, want %d (%+v)", got, tt.status, ctx.LastError)
			}
			if tt.status == 200 {
				if got := lastProbe(t, &buf); got != fmt.Sprint(limit) {
					t.Errorf("body length %s, want %d", got, limit)
				}
				return
			}
			le := ctx.LastError
			if le.Source != "send-request" || le.Reason != ReasonBackendConnectionFailure || !strings.Contains(le.Message, "the answer is larger than 1024 bytes") {
				t.Errorf("LastError = %+v", le)
			}
			if body, _ := ctx.Response.Body.Bytes(); !strings.Contains(string(body), `"statusCode": 500`) {
				t.Errorf("client answer %s, want APIM's error body", body)
			}
		})
	}
}
