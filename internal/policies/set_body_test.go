package policies

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestSetBody(t *testing.T) {
	jsonBackend := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id": 42, "name": "Widget", "tags": ["a", "b"], "owner": {"email": "ann@contoso.example"}}`)
	}
	tests := []struct {
		name              string
		inbound, outbound string
		body              string
		header            [][2]string
		params            map[string]string
		wantBackendBody   string // "" skips
		wantClientBody    string // "" skips
	}{
		{name: "text replaces the request body",
			inbound: `<set-body>{"fixed": true}</set-body>`, body: `{"x":1}`,
			wantBackendBody: `{"fixed": true}`},
		{name: "an expression reads the JSON body (documented example)",
			inbound:         `<set-body>@{ var b = context.Request.Body.As<JObject>(preserveContent: true); b["seen"] = true; return b.ToString(); }</set-body>`,
			body:            `{"a":1}`,
			wantBackendBody: "{\n  \"a\": 1,\n  \"seen\": true\n}"},
		{name: "an expression returning a JObject writes its JSON",
			inbound:         `<set-body>@(new JObject(new JProperty("method", context.Request.Method)))</set-body>`,
			wantBackendBody: "{\n  \"method\": \"GET\"\n}"},
		{name: "outbound replaces the client's body",
			outbound: `<set-body>@("status " + context.Response.StatusCode)</set-body>`, wantClientBody: "status 200"},
		{name: "Liquid reads the response body and filters it (documented example)",
			outbound:       `<set-body template="liquid">{"title": "{{body.name | Upcase}}", "mail": "{{body.owner.email}}", "first": "{{body.tags[0]}}", "n": {{body.tags.size}}, "missing": "{{body.nope | Default: 'none'}}"}</set-body>`,
			wantClientBody: `{"title": "WIDGET", "mail": "ann@contoso.example", "first": "a", "n": 2, "missing": "none"}`},
		{name: "Liquid with if/elsif/else and for",
			outbound:       `<set-body template="liquid">{% if body.id > 100 %}big{% elsif body.id == 42 %}answer{% else %}small{% endif %}:{% for t in body.tags %}[{{t}}]{% endfor %}</set-body>`,
			wantClientBody: `answer:[a][b]`},
		{name: "Liquid reads the context: method, header, matched parameter",
			inbound:         `<set-body template="liquid">{"m": "{{context.Request.Method}}", "ua": "{{context.Request.Headers["User-Agent"]}}", "email": "{{context.Request.MatchedParameters["emailAddress"]}}"}</set-body>`,
			header:          [][2]string{{"User-Agent", "tester/1"}},
			params:          map[string]string{"emailAddress": "bob@contoso.example"},
			wantBackendBody: `{"m": "GET", "ua": "tester/1", "email": "bob@contoso.example"}`},
		{name: "Liquid lists the request headers (corpus example)",
			outbound:       `<set-body template="liquid">{% for header in context.Request.Headers %}{{- header.Key }}: {{ header.Value }};{% endfor %}</set-body>`,
			header:         [][2]string{{"X-A", "1"}, {"X-B", "2"}, {"X-A", "3"}},
			wantClientBody: "X-A: 1,3;X-B: 2;"},
		{name: "Liquid reads a JSON variable set by an expression (corpus example)",
			inbound: `<set-variable name="jsonResponse" value="@(new JObject(new JProperty("value1", "V1"), new JProperty("value3", "V3")))"/>`,
			outbound: `<set-body template="liquid">{%- assign vars = context.Variables["jsonResponse"] -%}
<data val1="{{ vars['value1'] }}" val3="{{ vars['value3'] }}" /></set-body>`,
			wantClientBody: `<data val1="V1" val3="V3" />`},
		{name: "Liquid walks an XML body from its root, without namespace prefixes",
			inbound:         `<set-body template="liquid">{"id": "{{body.Envelope.Body.GetOrder.id}}", "currency": "{{body.envelope.body.getorder.total["@currency"]}}"}</set-body>`,
			body:            `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetOrder><id>42</id><total currency="EUR">9.5</total></GetOrder></s:Body></s:Envelope>`,
			wantBackendBody: `{"id": "42", "currency": "EUR"}`},
		{name: "find-and-replace in the request body",
			inbound: `<find-and-replace from="internal.example" to="public.example"/>`, body: "see internal.example and internal.example",
			wantBackendBody: "see public.example and public.example"},
		{name: "find-and-replace in the response body with expressions",
			outbound:       `<find-and-replace from="@("Wid" + "get")" to="@(context.Api.Name)"/>`,
			wantClientBody: `{"id": 42, "name": "orders", "tags": ["a", "b"], "owner": {"email": "ann@contoso.example"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, jsonBackend)
			ctx := runFlow(t, Deps{}, flowDoc(tt.inbound, tt.outbound, ""), srv,
				call{method: "GET", path: "/orders/42", body: tt.body, header: tt.header, params: tt.params})
			if ctx.Response.StatusCode != 200 {
				t.Fatalf("status %d: %s", ctx.Response.StatusCode, responseBody(t, ctx))
			}
			if tt.wantBackendBody != "" {
				if got := srv.last(t).Body; got != tt.wantBackendBody {
					t.Errorf("backend body\n%q\nwant\n%q", got, tt.wantBackendBody)
				}
			}
			if tt.wantClientBody != "" {
				if got := responseBody(t, ctx); got != tt.wantClientBody {
					t.Errorf("client body\n%q\nwant\n%q", got, tt.wantClientBody)
				}
			}
		})
	}
}

func TestSetBodyLoadErrors(t *testing.T) {
	tests := []struct{ name, inbound, want string }{
		{"unknown template", `<set-body template="razor">x</set-body>`, `template must be liquid or none`},
		{"Liquid syntax error at its line", "<set-body template=\"liquid\">\nok\n{% if body.x %}never closed</set-body>", "api.xml:5:"},
		{"unknown Liquid filter", `<set-body template="liquid">{{ body.x | Shout }}</set-body>`, "filter Shout is not supported"},
		{"unknown Liquid tag", `<set-body template="liquid">{% include 'x' %}</set-body>`, "{% include %} is not supported"},
		{"bad xsi-nil", `<set-body xsi-nil="empty">x</set-body>`, "xsi-nil must be blank or null"},
		{"find-and-replace without to", `<find-and-replace from="a"/>`, "needs a to attribute"},
		{"set-method with a space", `<set-method>GE T</set-method>`, "is not a valid HTTP method"},
		{"set-status code out of range", `<set-status code="700" reason="x"/>`, "expected a number from 100 to 599"},
		{"mock-response in backend", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := flowDoc(tt.inbound, "", "")
			want := tt.want
			if tt.inbound == "" {
				doc = "<policies><backend><mock-response/></backend></policies>"
				want = "not allowed in the backend section"
			}
			_, err := compileDoc(t, Deps{}, doc)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want %q", err, want)
			}
		})
	}
}

func TestSetMethodStatusAndMockResponse(t *testing.T) {
	t.Run("set-method and set-body turn a GET into a POST (documented example)", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		ctx := runFlow(t, Deps{}, flowDoc(`<set-body>@("{\"from\":\"" + context.Request.Method + "\"}")</set-body><set-method>POST</set-method>`, "", ""), srv, call{path: "/x"})
		if ctx.Response.StatusCode != 200 {
			t.Fatalf("status %d", ctx.Response.StatusCode)
		}
		if got := srv.last(t); got.Method != "POST" || got.Body != `{"from":"GET"}` {
			t.Errorf("backend saw %s %q", got.Method, got.Body)
		}
	})
	t.Run("set-method from an expression", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		runFlow(t, Deps{}, flowDoc(`<set-method>@(context.Request.Headers.GetValueOrDefault("X-Method", "PUT"))</set-method>`, "", ""), srv,
			call{path: "/x", header: [][2]string{{"X-Method", "DELETE"}}})
		if got := srv.last(t).Method; got != "DELETE" {
			t.Errorf("backend method %s", got)
		}
	})
	t.Run("set-status in outbound changes what the client gets", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		ctx := runFlow(t, Deps{}, flowDoc("", `<set-status code="202" reason="Queued"/>`, ""), srv, call{path: "/x"})
		if ctx.Response.StatusCode != 202 || ctx.Response.StatusReason != "Queued" || responseBody(t, ctx) != "backend" {
			t.Errorf("got %d %q %q", ctx.Response.StatusCode, ctx.Response.StatusReason, responseBody(t, ctx))
		}
	})
	t.Run("set-status from an expression, reason defaulted", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		ctx := runFlow(t, Deps{}, flowDoc("", `<set-status code="@(context.Response.StatusCode + 1)"/>`, ""), srv, call{path: "/x"})
		if ctx.Response.StatusCode != 201 || ctx.Response.StatusReason != "Created" {
			t.Errorf("got %d %q", ctx.Response.StatusCode, ctx.Response.StatusReason)
		}
	})
	t.Run("mock-response answers without the backend", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		ctx := runFlow(t, Deps{}, flowDoc(`<mock-response status-code="201" content-type="application/json"/>`, `<set-header name="X-Outbound" exists-action="override"><value>ran</value></set-header>`, ""), srv, call{path: "/x"})
		if ctx.Response.StatusCode != 201 || responseHeader(ctx, "Content-Type") != "application/json" {
			t.Errorf("got %d %q", ctx.Response.StatusCode, responseHeader(ctx, "Content-Type"))
		}
		if srv.count() != 0 || responseHeader(ctx, "X-Outbound") != "" {
			t.Error("mock-response did not end the pipeline")
		}
	})
	t.Run("mock-response defaults to 200", func(t *testing.T) {
		ctx := runFlow(t, Deps{}, flowDoc(`<mock-response/>`, "", ""), nil, call{path: "/x"})
		if ctx.Response.StatusCode != 200 {
			t.Errorf("got %d", ctx.Response.StatusCode)
		}
	})
	t.Run("a JSON error body stays JSON", func(t *testing.T) {
		ctx := runFlow(t, Deps{}, flowDoc(`<set-status code="@(int.Parse("x"))"/>`, "", ""), nil, call{path: "/x"})
		var v map[string]any
		if ctx.Response.StatusCode != 500 || json.Unmarshal([]byte(responseBody(t, ctx)), &v) != nil {
			t.Errorf("got %d %q", ctx.Response.StatusCode, responseBody(t, ctx))
		}
	})
}
