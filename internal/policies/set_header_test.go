package policies

import (
	"net/http"
	"strings"
	"testing"

	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
)

func TestSetHeader(t *testing.T) {
	tests := []struct {
		name     string
		inbound  string
		outbound string
		header   [][2]string
		// what the backend must receive (name → value, "" meaning absent) and the client
		backend map[string]string
		client  map[string]string
		clientN map[string]int // header lines the client gets
	}{
		{name: "override replaces the client's value (APIM's default action)",
			inbound: `<set-header name="X-Tenant" exists-action="override"><value>contoso</value></set-header>`,
			header:  [][2]string{{"X-Tenant", "evil"}},
			backend: map[string]string{"X-Tenant": "contoso"}},
		{name: "no exists-action means override",
			inbound: `<set-header name="X-Tenant"><value>contoso</value></set-header>`,
			header:  [][2]string{{"X-Tenant", "evil"}},
			backend: map[string]string{"X-Tenant": "contoso"}},
		{name: "skip keeps an existing header",
			inbound: `<set-header name="X-Tenant" exists-action="skip"><value>contoso</value></set-header>`,
			header:  [][2]string{{"X-Tenant", "fabrikam"}},
			backend: map[string]string{"X-Tenant": "fabrikam"}},
		{name: "skip adds an absent header",
			inbound: `<set-header name="X-Tenant" exists-action="skip"><value>contoso</value></set-header>`,
			backend: map[string]string{"X-Tenant": "contoso"}},
		{name: "append joins with the existing value",
			inbound: `<set-header name="X-Trail" exists-action="append"><value>gw</value></set-header>`,
			header:  [][2]string{{"X-Trail", "client"}},
			backend: map[string]string{"X-Trail": "client,gw"}},
		{name: "delete removes it",
			inbound: `<set-header name="X-Secret" exists-action="delete"/>`,
			header:  [][2]string{{"X-Secret", "s3cret"}},
			backend: map[string]string{"X-Secret": ""}},
		{name: "several values become one comma-joined header",
			inbound: `<set-header name="X-Multi" exists-action="override"><value>a</value><value>b</value></set-header>`,
			backend: map[string]string{"X-Multi": "a,b"}},
		{name: "name and value from expressions",
			inbound: `<set-header name="@("X-" + "Method")" exists-action="override"><value>@(context.Request.Method + " " + context.Request.OriginalUrl.Path)</value></set-header>`,
			backend: map[string]string{"X-Method": "GET /api/orders/42"}},
		{name: "documented example: forward the gateway host to the backend",
			inbound: `<set-header name="X-Forwarded-Host" exists-action="override"><value>@(context.Request.OriginalUrl.Host)</value></set-header>`,
			backend: map[string]string{"X-Forwarded-Host": "gw.example"}},
		{name: "documented example: correlation id from the request id",
			inbound: `<set-header name="x-correlation-id" exists-action="skip"><value>@{ return context.RequestId.ToString(); }</value></set-header>`,
			backend: map[string]string{"x-correlation-id": "6a1f3c2e-0000-4000-8000-00000000000a"}},
		{name: "in outbound it edits the client's response",
			outbound: `<set-header name="X-Powered-By" exists-action="override"><value>Portcullis</value></set-header>
<set-header name="Content-Type" exists-action="override"><value>application/json</value></set-header>`,
			client: map[string]string{"X-Powered-By": "Portcullis", "Content-Type": "application/json"}},
		{name: "Set-Cookie values stay separate lines",
			outbound: `<set-header name="Set-Cookie" exists-action="override"><value>a=1</value><value>b=2</value></set-header>`,
			clientN:  map[string]int{"Set-Cookie": 2}},
		{name: "dates stay separate lines",
			outbound: `<set-header name="Expires" exists-action="override"><value>Thu, 01 Jan 2026 00:00:00 GMT</value><value>0</value></set-header>`,
			clientN:  map[string]int{"Expires": 2}},
		{name: "the Server header of a response cannot be removed",
			outbound: `<set-header name="Server" exists-action="override"><value>gw</value></set-header><set-header name="Server" exists-action="delete"/>`,
			client:   map[string]string{"Server": "gw"}},
		{name: "outbound delete removes a backend header",
			outbound: `<set-header name="Content-Type" exists-action="delete"/>`,
			client:   map[string]string{"Content-Type": ""}},
		{name: "exists-action from an expression",
			inbound: `<set-header name="X-Tenant" exists-action="@(context.Request.Method == "GET" ? "skip" : "override")"><value>contoso</value></set-header>`,
			header:  [][2]string{{"X-Tenant", "fabrikam"}},
			backend: map[string]string{"X-Tenant": "fabrikam"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, nil)
			ctx := runFlow(t, Deps{}, flowDoc(tt.inbound, tt.outbound, ""), srv, call{path: "/orders/42", header: tt.header})
			if ctx.Response.StatusCode != 200 {
				t.Fatalf("status %d: %s", ctx.Response.StatusCode, responseBody(t, ctx))
			}
			got := srv.last(t)
			for name, want := range tt.backend {
				if v := strings.Join(got.Header.Values(name), "|"); v != want {
					t.Errorf("backend %s = %q, want %q", name, v, want)
				}
			}
			for name, want := range tt.client {
				if v := responseHeader(ctx, name); v != want {
					t.Errorf("client %s = %q, want %q", name, v, want)
				}
			}
			for name, n := range tt.clientN {
				if got := len(ctx.Response.Header.Values(name)); got != n {
					t.Errorf("client gets %d %s lines, want %d", got, name, n)
				}
			}
		})
	}
}

// A value with a line break would let a policy smuggle a header: refused at load when it is
// constant, and an ExpressionValueEvaluationFailure (500) before the backend when computed.
func TestSetHeaderLineBreaks(t *testing.T) {
	srv := newBackendServer(t, nil)
	doc := flowDoc(`<set-header name="X-Echo" exists-action="override"><value>@(context.Request.Headers.GetValueOrDefault("X-In", ""))</value></set-header>`, "",
		`<set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>`)
	ctx := runFlow(t, Deps{}, doc, srv, call{path: "/x", header: [][2]string{{"X-In", "a\r\nX-Injected: 1"}}})
	if ctx.Response.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", ctx.Response.StatusCode)
	}
	if srv.count() != 0 {
		t.Error("the request reached the backend")
	}
	if got := responseHeader(ctx, "X-Reason"); got != policy.ReasonExpressionValueEvaluationFailure {
		t.Errorf("LastError.Reason = %q", got)
	}
	if _, ok := ctx.Response.Header.Get("X-Injected"); ok {
		t.Error("a header was injected")
	}
}

func TestSetHeaderLoadErrors(t *testing.T) {
	tests := []struct{ name, inbound, want string }{
		{"transport header", `<set-header name="Content-Length" exists-action="override"><value>1</value></set-header>`, "belongs to the connection"},
		{"bad exists-action", `<set-header name="X" exists-action="replace"><value>1</value></set-header>`, "exists-action must be override, skip, append or delete"},
		{"invalid name", `<set-header name="X Y" exists-action="override"><value>1</value></set-header>`, "not a valid header name"},
		{"line break in a constant", "<set-header name=\"X\"><value>a&#13;&#10;b</value></set-header>", "line break"},
		{"unknown attribute", `<set-header name="X" action="override"/>`, "has no attribute action"},
		{"unknown child", `<set-header name="X"><values>1</values></set-header>`, "has no child element <values>"},
		{"missing name", `<set-header exists-action="delete"/>`, "needs a name attribute"},
		{"set-query-parameter without name", `<set-query-parameter exists-action="delete"/>`, "needs a name attribute"},
		{"set-query-parameter in outbound", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := flowDoc(tt.inbound, "", "")
			want := tt.want
			if tt.inbound == "" {
				doc = flowDoc("", `<set-query-parameter name="a" exists-action="delete"/>`, "")
				want = "not allowed in the outbound section"
			}
			_, err := compileDoc(t, Deps{}, doc)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want %q", err, want)
			}
			if !strings.Contains(err.Error(), "api.xml:") {
				t.Errorf("error %q has no position", err)
			}
		})
	}
}

func TestSetQueryParameter(t *testing.T) {
	tests := []struct {
		name, inbound, query, want string
	}{
		{"override", `<set-query-parameter name="api-version" exists-action="override"><value>2024-01-01</value></set-query-parameter>`, "api-version=old&x=1", "x=1&api-version=2024-01-01"},
		{"skip keeps", `<set-query-parameter name="api-version" exists-action="skip"><value>2024-01-01</value></set-query-parameter>`, "api-version=old", "api-version=old"},
		{"skip adds", `<set-query-parameter name="api-version" exists-action="skip"><value>2024-01-01</value></set-query-parameter>`, "", "api-version=2024-01-01"},
		{"append adds a pair", `<set-query-parameter name="tag" exists-action="append"><value>b</value></set-query-parameter>`, "tag=a", "tag=a&tag=b"},
		{"delete", `<set-query-parameter name="code" exists-action="delete"/>`, "code=secret&x=1", "x=1"},
		{"values are escaped", `<set-query-parameter name="q" exists-action="override"><value>a b&amp;c</value></set-query-parameter>`, "", "q=a+b%26c"},
		{"documented example: context to the backend", `<set-query-parameter name="x-product-name" exists-action="override"><value>@(context.Api.Name)</value></set-query-parameter>`, "", "x-product-name=orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, nil)
			ctx := runFlow(t, Deps{}, flowDoc(tt.inbound, "", ""), srv, call{path: "/orders", query: tt.query})
			if ctx.Response.StatusCode != 200 {
				t.Fatalf("status %d", ctx.Response.StatusCode)
			}
			if got := srv.last(t).Query; got != tt.want {
				t.Errorf("backend query %q, want %q", got, tt.want)
			}
		})
	}
}

// BenchmarkSetHeaderFromToken is the corpus's common shape: a header from the token's subject.
func BenchmarkSetHeaderFromToken(b *testing.B) {
	p, err := (&policyLoaderForBench{}).pipeline(b, `<set-header name="X-User" exists-action="override"><value>@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)</value></set-header>`)
	if err != nil {
		b.Fatal(err)
	}
	steps := p.Steps(policy.SectionInbound)
	token := "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."
	ctx := &policy.Context{Request: &policy.Request{Method: "GET"}, Response: &policy.Response{}}
	b.ReportAllocs()
	for b.Loop() {
		ctx.Request.Header.Reset()
		ctx.Request.Header.Add("Authorization", token)
		for _, s := range steps {
			if err := s.Run(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if v, _ := ctx.Request.Header.Get("X-User"); v != "alice" {
		b.Fatalf("X-User = %q", v)
	}
}

type policyLoaderForBench struct{}

func (policyLoaderForBench) pipeline(b *testing.B, inbound string) (*policy.Pipeline, error) {
	l := &policy.Loader{Registry: Registry(Deps{}), Expressions: expr.Compile}
	d, err := l.Load("bench.xml", []byte("<policies><inbound>"+inbound+"</inbound></policies>"))
	if err != nil {
		return nil, err
	}
	return l.Compile(nil, d, nil)
}
