package policies

import (
	"strings"
	"testing"
)

func TestRewriteURI(t *testing.T) {
	params := map[string]string{"id": "42", "format": "json"}
	tests := []struct {
		name, inbound, query string
		wantPath, wantQuery  string
	}{
		{"documented example: template with a parameter and a query",
			`<rewrite-uri template="/v2/Product.aspx?id={id}&amp;format=full"/>`, "", "/base/v2/Product.aspx", "id=42&format=full"},
		{"unmatched client parameters are copied by default",
			`<rewrite-uri template="/orders/{id}"/>`, "trace=1&lang=en", "/base/orders/42", "trace=1&lang=en"},
		{"copy-unmatched-params=false drops them",
			`<rewrite-uri template="/orders/{id}" copy-unmatched-params="false"/>`, "trace=1", "/base/orders/42", ""},
		{"a template parameter is not copied twice",
			`<rewrite-uri template="/orders/{id}?format={format}"/>`, "format=json&x=1", "/base/orders/42", "format=json&x=1"},
		{"copy-unmatched-params from an expression",
			`<rewrite-uri template="/orders/{id}" copy-unmatched-params="@(context.Request.Method != "GET")"/>`, "trace=1", "/base/orders/42", ""},
		{"documented example: unmatched parameters follow a plain template",
			`<rewrite-uri template="/put"/>`, "c=d", "/base/put", "c=d"},
		{"template from an expression",
			`<rewrite-uri template="@("/items/" + context.Request.MatchedParameters["id"])"/>`, "", "/base/items/42", ""},
		{"a relative template joins the service path",
			`<rewrite-uri template="search"/>`, "", "/base/search", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, nil)
			ctx := runFlow(t, Deps{}, flowDoc(tt.inbound, "", ""), srv, call{path: "/orders/42", query: tt.query, params: params})
			if ctx.Response.StatusCode != 200 {
				t.Fatalf("status %d: %s", ctx.Response.StatusCode, responseBody(t, ctx))
			}
			got := srv.last(t)
			if got.Path != tt.wantPath || got.Query != tt.wantQuery {
				t.Errorf("backend got %s?%s, want %s?%s", got.Path, got.Query, tt.wantPath, tt.wantQuery)
			}
			if ctx.Request.OriginalURL.Path != "/api/orders/42" {
				t.Errorf("OriginalUrl changed to %s", ctx.Request.OriginalURL.Path)
			}
		})
	}
	t.Run("a parameter the operation did not match fails the request", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		ctx := runFlow(t, Deps{}, flowDoc(`<rewrite-uri template="/orders/{orderId}"/>`, "", ""), srv, call{path: "/orders/42", params: params})
		if ctx.Response.StatusCode != 500 || srv.count() != 0 || ctx.LastError.Reason != ReasonTemplateParameterNotFound {
			t.Errorf("status %d, calls %d, LastError %+v", ctx.Response.StatusCode, srv.count(), ctx.LastError)
		}
	})
	for _, tt := range []struct{ name, inbound, want string }{
		{"absolute URL", `<rewrite-uri template="https://x.example/a"/>`, "set-backend-service changes the host"},
		{"unbalanced braces", `<rewrite-uri template="/a/{id"/>`, "unclosed {"},
		{"missing template", `<rewrite-uri/>`, "needs a template attribute"},
		{"not in outbound", "", ""},
	} {
		t.Run("load error: "+tt.name, func(t *testing.T) {
			doc, want := flowDoc(tt.inbound, "", ""), tt.want
			if tt.inbound == "" {
				doc, want = flowDoc("", `<rewrite-uri template="/a"/>`, ""), "not allowed in the outbound section"
			}
			_, err := compileDoc(t, Deps{}, doc)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want %q", err, want)
			}
		})
	}
}

func TestSetBackendService(t *testing.T) {
	primary := newBackendServer(t, nil)
	other := newBackendServer(t, nil)
	deps := Deps{Backends: map[string]string{"orders-v2": other.URL + "/v2/", "broken": "not a url"}}
	tests := []struct {
		name, inbound string
		header        [][2]string
		wantOther     bool
		wantPath      string
	}{
		{"base-url keeps the operation's path and query", `<set-backend-service base-url="` + other.URL + `/alt"/>`, nil, true, "/alt/orders/42"},
		{"backend-id from gateway.backends", `<set-backend-service backend-id="orders-v2"/>`, nil, true, "/v2/orders/42"},
		{"documented example: route on a header",
			`<choose><when condition="@(context.Request.Headers.GetValueOrDefault("X-Version","") == "2")"><set-backend-service base-url="` + other.URL + `/alt"/></when></choose>`,
			[][2]string{{"X-Version", "2"}}, true, "/alt/orders/42"},
		{"documented example: route on a header, not taken",
			`<choose><when condition="@(context.Request.Headers.GetValueOrDefault("X-Version","") == "2")"><set-backend-service base-url="` + other.URL + `/alt"/></when></choose>`,
			nil, false, "/base/orders/42"},
		{"backend-id from an expression", `<set-backend-service backend-id="@("orders-" + "v2")"/>`, nil, true, "/v2/orders/42"},
		{"then rewrite-uri applies to the new base", `<set-backend-service base-url="` + other.URL + `/alt"/><rewrite-uri template="/x/{id}"/>`, nil, true, "/alt/x/42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, beforeOther := primary.count(), other.count()
			ctx := runFlow(t, deps, flowDoc(tt.inbound, "", ""), primary, call{path: "/orders/42", query: "a=1", header: tt.header, params: map[string]string{"id": "42"}})
			if ctx.Response.StatusCode != 200 {
				t.Fatalf("status %d: %s", ctx.Response.StatusCode, responseBody(t, ctx))
			}
			srv := primary
			if tt.wantOther {
				srv = other
			}
			if primary.count()-before+other.count()-beforeOther != 1 || (tt.wantOther && other.count() == beforeOther) {
				t.Fatalf("the request went to the wrong backend")
			}
			if got := srv.last(t); got.Path != tt.wantPath || got.Query != "a=1" {
				t.Errorf("backend got %s?%s, want %s?a=1", got.Path, got.Query, tt.wantPath)
			}
		})
	}
	t.Run("an unknown backend-id from an expression fails the request", func(t *testing.T) {
		ctx := runFlow(t, deps, flowDoc(`<set-backend-service backend-id="@(context.Request.Headers.GetValueOrDefault("X-B","none"))"/>`, "", ""), primary, call{path: "/orders/42"})
		if ctx.Response.StatusCode != 500 || ctx.LastError.Reason != ReasonBackendNotFound {
			t.Errorf("status %d, LastError %+v", ctx.Response.StatusCode, ctx.LastError)
		}
	})
	for _, tt := range []struct{ name, inbound, want string }{
		{"unknown backend-id", `<set-backend-service backend-id="payments"/>`, `no backend "payments" is configured in gateway.backends`},
		{"backend with a bad URL", `<set-backend-service backend-id="broken"/>`, `is not an absolute http or https URL`},
		{"both attributes", `<set-backend-service base-url="https://a.example" backend-id="orders-v2"/>`, "not both"},
		{"neither attribute", `<set-backend-service/>`, "needs base-url or backend-id"},
		{"relative base-url", `<set-backend-service base-url="/api"/>`, "not an absolute http or https URL"},
		{"Service Fabric", `<set-backend-service backend-id="orders-v2" sf-partition-key="1"/>`, "Service Fabric backends are not supported"},
	} {
		t.Run("load error: "+tt.name, func(t *testing.T) {
			_, err := compileDoc(t, deps, flowDoc(tt.inbound, "", ""))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
