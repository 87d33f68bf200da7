package policies

import (
	"net/netip"
	"strings"
	"testing"
)

// onErrorEcho copies context.LastError into response headers, so tests can read what APIM's
// on-error would see.
const onErrorEcho = `<set-header name="X-Source" exists-action="override"><value>@(context.LastError.Source)</value></set-header>
<set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>
<set-header name="X-Message" exists-action="override"><value>@(context.LastError.Message)</value></set-header>`

func TestCheckHeader(t *testing.T) {
	policyXML := `<check-header name="X-Api-Version" failed-check-httpcode="400" failed-check-error-message="Bad version" ignore-case="true">
  <value>v1</value><value>v2</value>
</check-header>`
	tests := []struct {
		name       string
		inbound    string
		header     [][2]string
		wantStatus int
		wantReason string
		wantDetail string
	}{
		{"an allowed value passes", policyXML, [][2]string{{"X-Api-Version", "v2"}}, 200, "", ""},
		{"ignore-case compares without case", policyXML, [][2]string{{"X-Api-Version", "V1"}}, 200, "", ""},
		{"missing header", policyXML, nil, 400, ReasonHeaderNotFound, "Header X-Api-Version was not found in the request. Access denied."},
		{"value not allowed", policyXML, [][2]string{{"X-Api-Version", "v3"}}, 400, ReasonHeaderValueNotAllowed, "Header X-Api-Version value of v3 is not allowed. Access denied."},
		{"case matters without ignore-case",
			`<check-header name="X-Api-Version" failed-check-httpcode="400" failed-check-error-message="Bad version" ignore-case="false"><value>v1</value></check-header>`,
			[][2]string{{"X-Api-Version", "V1"}}, 400, ReasonHeaderValueNotAllowed, ""},
		{"no values: presence is enough",
			`<check-header name="X-Key" failed-check-httpcode="401" failed-check-error-message="Missing key" ignore-case="false"/>`,
			[][2]string{{"X-Key", "anything"}}, 200, "", ""},
		{"documented example: basic authorization header value, not repeated",
			`<check-header name="Authorization" failed-check-httpcode="401" failed-check-error-message="Not authorized" ignore-case="false"><value>Basic dXNlcjpwYXNz</value></check-header>`,
			[][2]string{{"Authorization", "Basic c2VjcmV0OnNlY3JldA=="}}, 401, ReasonHeaderValueNotAllowed, "Header Authorization value of (not shown) is not allowed. Access denied."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, nil)
			ctx := runFlow(t, Deps{}, flowDoc(tt.inbound, "", onErrorEcho), srv, call{path: "/x", header: tt.header})
			if ctx.Response.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", ctx.Response.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				if srv.count() != 1 {
					t.Error("the request did not reach the backend")
				}
				return
			}
			if srv.count() != 0 {
				t.Error("a refused request reached the backend")
			}
			if responseHeader(ctx, "X-Source") != "check-header" || responseHeader(ctx, "X-Reason") != tt.wantReason {
				t.Errorf("LastError source %q reason %q", responseHeader(ctx, "X-Source"), responseHeader(ctx, "X-Reason"))
			}
			if tt.wantDetail != "" && responseHeader(ctx, "X-Message") != tt.wantDetail {
				t.Errorf("LastError.Message %q, want %q", responseHeader(ctx, "X-Message"), tt.wantDetail)
			}
			if strings.Contains(responseBody(t, ctx), "c2VjcmV0") || strings.Contains(responseHeader(ctx, "X-Message"), "c2VjcmV0") {
				t.Error("a credential was repeated")
			}
			code, msg := errorBody(t, ctx)
			if code != tt.wantStatus || (msg != "Bad version" && msg != "Not authorized") {
				t.Errorf("error body %d %q", code, msg)
			}
		})
	}
	for _, tt := range []struct{ name, inbound, want string }{
		{"no ignore-case", `<check-header name="X" failed-check-httpcode="401" failed-check-error-message="m"/>`, "needs an ignore-case attribute"},
		{"no status", `<check-header name="X" failed-check-error-message="m" ignore-case="true"/>`, "needs a failed-check-httpcode attribute"},
		{"status not a number", `<check-header name="X" failed-check-httpcode="abc" failed-check-error-message="m" ignore-case="true"/>`, "expected a whole number"},
		{"outside inbound", "", ""},
	} {
		t.Run("load error: "+tt.name, func(t *testing.T) {
			doc, want := flowDoc(tt.inbound, "", ""), tt.want
			if tt.inbound == "" {
				doc, want = flowDoc("", `<check-header name="X" failed-check-httpcode="401" failed-check-error-message="m" ignore-case="true"/>`, ""), "not allowed in the outbound section"
			}
			_, err := compileDoc(t, Deps{}, doc)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want %q", err, want)
			}
		})
	}
}

func TestIPFilter(t *testing.T) {
	allow := `<ip-filter action="allow"><address>198.51.100.4</address><address-range from="10.1.0.0" to="10.1.255.255"/><address>2001:db8::1</address></ip-filter>`
	forbid := `<ip-filter action="forbid"><address-range from="192.0.2.0" to="192.0.2.255"/></ip-filter>`
	tests := []struct {
		name, inbound, ip string
		wantStatus        int
		wantReason        string
	}{
		{"allowed address", allow, "198.51.100.4", 200, ""},
		{"allowed range", allow, "10.1.42.7", 200, ""},
		{"allowed IPv6", allow, "2001:db8::1", 200, ""},
		{"IPv4-mapped IPv6 caller matches the IPv4 entry", allow, "::ffff:198.51.100.4", 200, ""},
		{"outside the allow list", allow, "10.2.0.1", 403, ReasonCallerIPNotAllowed},
		{"forbidden range", forbid, "192.0.2.200", 403, ReasonCallerIPBlocked},
		{"outside the forbidden range", forbid, "192.0.3.1", 200, ""},
		{"action from an expression", `<ip-filter action="@(context.Request.Method == "GET" ? "forbid" : "allow")"><address>198.51.100.4</address></ip-filter>`, "198.51.100.4", 403, ReasonCallerIPBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, nil)
			ctx := runFlow(t, Deps{}, flowDoc(tt.inbound, "", onErrorEcho), srv, call{path: "/x", ip: tt.ip})
			if ctx.Response.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", ctx.Response.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				if srv.count() != 0 || responseHeader(ctx, "X-Reason") != tt.wantReason || responseHeader(ctx, "X-Source") != "ip-filter" {
					t.Errorf("calls %d, LastError %q/%q", srv.count(), responseHeader(ctx, "X-Source"), responseHeader(ctx, "X-Reason"))
				}
			}
		})
	}
	t.Run("an unknown caller address is FailedToParseCallerIP", func(t *testing.T) {
		p, err := compileDoc(t, Deps{}, flowDoc(allow, "", ""))
		if err != nil {
			t.Fatal(err)
		}
		ctx := newFlowContext(t, nil, call{path: "/x"})
		ctx.Request.IPAddress = netip.Addr{}
		_ = p.Run(ctx)
		if ctx.Response.StatusCode != 403 || ctx.LastError.Reason != ReasonFailedToParseCallerIP {
			t.Errorf("status %d LastError %+v", ctx.Response.StatusCode, ctx.LastError)
		}
	})
	t.Run("the caller's address is named in the refusal", func(t *testing.T) {
		ctx := runFlow(t, Deps{}, flowDoc(allow, "", ""), nil, call{path: "/x", ip: "10.2.0.1"})
		if _, msg := errorBody(t, ctx); msg != "Caller IP address 10.2.0.1 is not allowed. Access denied." {
			t.Errorf("message %q", msg)
		}
	})
	for _, tt := range []struct{ name, inbound, want string }{
		{"bad action", `<ip-filter action="deny"><address>1.2.3.4</address></ip-filter>`, "action must be allow or forbid"},
		{"no addresses", `<ip-filter action="allow"/>`, "needs at least one <address>"},
		{"bad address", `<ip-filter action="allow"><address>1.2.3</address></ip-filter>`, `"1.2.3" is not an IP address`},
		{"reversed range", `<ip-filter action="allow"><address-range from="10.0.0.9" to="10.0.0.1"/></ip-filter>`, "is not a range"},
		{"mixed families", `<ip-filter action="allow"><address-range from="10.0.0.1" to="::1"/></ip-filter>`, "is not a range"},
	} {
		t.Run("load error: "+tt.name, func(t *testing.T) {
			_, err := compileDoc(t, Deps{}, flowDoc(tt.inbound, "", ""))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
