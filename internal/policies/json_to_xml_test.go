package policies

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestJSONToXML(t *testing.T) {
	backend := func(ct, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			io.WriteString(w, body)
		}
	}
	tests := []struct {
		name, policy, ct, body string
		accept                 string
		want, wantCT           string
	}{
		{"documented example: outbound JSON becomes XML", `<json-to-xml apply="always" consider-accept-header="false"/>`, "application/json",
			`{"order": {"id": 42, "lines": [{"sku": "a"}, {"sku": "b"}], "paid": true, "note": null, "tag": "x < y"}}`,
			"", `<Document><order><id>42</id><lines><sku>a</sku></lines><lines><sku>b</sku></lines><paid>true</paid><note /><tag>x &lt; y</tag></order></Document>`, "application/xml"},
		{"names XML does not allow are encoded", `<json-to-xml apply="always" consider-accept-header="false"/>`, "application/json",
			`{"first name": "Ann", "1st": 1}`, "", `<Document><first_x0020_name>Ann</first_x0020_name><_x0031_st>1</_x0031_st></Document>`, "application/xml"},
		{"apply=content-type-json leaves other bodies alone", `<json-to-xml apply="content-type-json" consider-accept-header="false"/>`, "text/plain",
			`{"a":1}`, "", `{"a":1}`, "text/plain"},
		{"consider-accept-header: converted when the client asks for XML", `<json-to-xml apply="always" consider-accept-header="true"/>`, "application/json",
			`{"a":1}`, "application/xml", `<Document><a>1</a></Document>`, "application/xml"},
		{"apply and consider-accept-header from expressions", `<json-to-xml apply="@(context.Request.Method == "GET" ? "always" : "content-type-json")" consider-accept-header="@(false)"/>`, "text/plain",
			`{"a":1}`, "application/json", `<Document><a>1</a></Document>`, "application/xml"},
		{"consider-accept-header: not converted when the client asks for JSON", `<json-to-xml apply="always" consider-accept-header="true"/>`, "application/json",
			`{"a":1}`, "application/json", `{"a":1}`, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, backend(tt.ct, tt.body))
			var h [][2]string
			if tt.accept != "" {
				h = append(h, [2]string{"Accept", tt.accept})
			}
			ctx := runFlow(t, Deps{}, flowDoc("", tt.policy, ""), srv, call{path: "/x", header: h})
			if got := responseBody(t, ctx); got != tt.want {
				t.Errorf("body\n%s\nwant\n%s", got, tt.want)
			}
			if got := responseHeader(ctx, "Content-Type"); got != tt.wantCT {
				t.Errorf("Content-Type %q, want %q", got, tt.wantCT)
			}
		})
	}
	t.Run("a body that is not JSON fails the request", func(t *testing.T) {
		srv := newBackendServer(t, backend("application/json", "{not json"))
		ctx := runFlow(t, Deps{}, flowDoc("", `<json-to-xml apply="always" consider-accept-header="false"/>`, ""), srv, call{path: "/x"})
		if ctx.Response.StatusCode != 500 || ctx.LastError.Source != "json-to-xml" {
			t.Errorf("status %d LastError %+v", ctx.Response.StatusCode, ctx.LastError)
		}
	})
	t.Run("inbound converts the request body", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		runFlow(t, Deps{}, flowDoc(`<json-to-xml apply="always" consider-accept-header="false"/>`, "", ""), srv, call{method: "POST", path: "/x", body: `{"a":"b"}`})
		if got := srv.last(t); got.Body != `<Document><a>b</a></Document>` || got.Header.Get("Content-Type") != "application/xml" {
			t.Errorf("backend got %q %q", got.Body, got.Header.Get("Content-Type"))
		}
	})
}

func TestXMLToJSON(t *testing.T) {
	xmlBody := `<?xml version="1.0" encoding="utf-8"?>
<order id="42" xmlns:x="urn:x"><line sku="a">2</line><line sku="b">1</line><note/><x:total>3</x:total></order>`
	tests := []struct {
		name, policy string
		want         string
	}{
		{"direct keeps the declaration, attributes and repeated elements",
			`<xml-to-json kind="direct" apply="always" consider-accept-header="false"/>`,
			`{"?xml":{"@version":"1.0","@encoding":"utf-8"},"order":{"@id":"42","@xmlns:x":"urn:x","line":[{"@sku":"a","#text":"2"},{"@sku":"b","#text":"1"}],"note":null,"x:total":"3"}}`},
		{"javascript-friendly leaves the declaration out",
			`<xml-to-json kind="javascript-friendly" apply="always" consider-accept-header="false"/>`,
			`{"order":{"@id":"42","@xmlns:x":"urn:x","line":[{"@sku":"a","#text":"2"},{"@sku":"b","#text":"1"}],"note":null,"x:total":"3"}}`},
		{"always-array-child-elements makes single children arrays",
			`<xml-to-json kind="javascript-friendly" apply="always" consider-accept-header="false" always-array-child-elements="true"/>`,
			`{"order":{"@id":"42","@xmlns:x":"urn:x","line":[{"@sku":"a","#text":"2"},{"@sku":"b","#text":"1"}],"note":[null],"x:total":["3"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				io.WriteString(w, xmlBody)
			})
			ctx := runFlow(t, Deps{}, flowDoc("", tt.policy, ""), srv, call{path: "/x"})
			got := responseBody(t, ctx)
			if got != tt.want {
				t.Errorf("body\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid([]byte(got)) || responseHeader(ctx, "Content-Type") != "application/json" {
				t.Errorf("not JSON: %q (%s)", got, responseHeader(ctx, "Content-Type"))
			}
		})
	}
	t.Run("apply=content-type-xml leaves JSON alone", func(t *testing.T) {
		srv := newBackendServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"a":1}`)
		})
		ctx := runFlow(t, Deps{}, flowDoc("", `<xml-to-json kind="direct" apply="content-type-xml" consider-accept-header="false"/>`, ""), srv, call{path: "/x"})
		if got := responseBody(t, ctx); got != `{"a":1}` {
			t.Errorf("body %q", got)
		}
	})
	for _, tt := range []struct{ name, policy, want string }{
		{"no kind", `<xml-to-json apply="always"/>`, "needs a kind attribute"},
		{"bad kind", `<xml-to-json kind="pretty" apply="always"/>`, "kind must be javascript-friendly or direct"},
		{"bad apply", `<xml-to-json kind="direct" apply="sometimes"/>`, "apply must be always or content-type-xml"},
		{"json-to-xml in backend", "", ""},
		{"json-to-xml namespace options", `<json-to-xml apply="always" namespace-prefix="x"/>`, "namespace-prefix is not supported"},
	} {
		t.Run("load error: "+tt.name, func(t *testing.T) {
			doc, want := flowDoc("", tt.policy, ""), tt.want
			if tt.policy == "" {
				doc, want = `<policies><backend><json-to-xml apply="always"/><forward-request/></backend></policies>`, "not allowed in the backend section"
			}
			_, err := compileDoc(t, Deps{}, doc)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
