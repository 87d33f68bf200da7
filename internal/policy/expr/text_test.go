package expr

import (
	"strings"
	"testing"

	"portcullis/internal/policy"
)

// TestValueText checks that a policy value computed by an expression reads as .NET prints it,
// not as Go's default formatting would.
func TestValueText(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"large double", `@(1000000.0)`, "1000000"},
		{"bool", `@(1 == 1)`, "True"},
		{"string", `@("a" + "b")`, "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile(tc.src, policy.Pos{File: "t.xml", Line: 1, Col: 1})
			if err != nil {
				t.Fatal(err)
			}
			got, err := policy.Value{Expr: e}.String(&policy.Context{Request: &policy.Request{}, Response: &policy.Response{}, Variables: map[string]any{}})
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestJPropertyRemove removes a property read from an object, as a corpus sample filters a
// response body; a property made apart from any object has no parent to leave.
func TestJPropertyRemove(t *testing.T) {
	ctx := &policy.Context{Request: &policy.Request{}, Response: &policy.Response{}, Variables: map[string]any{}}
	tests := []struct{ name, src, want string }{
		{"read from an object", `@{ var o = JObject.Parse("{\"a\":1,\"b\":2}"); o.Property("a").Remove(); return o.ToString(Newtonsoft.Json.Formatting.None); }`, `{"b":2}`},
		{"from Properties()", `@{ var o = JObject.Parse("{\"a\":1,\"b\":2}"); foreach (var p in o.Properties().ToList()) { if (p.Name == "b") { p.Remove(); } } return o.ToString(Newtonsoft.Json.Formatting.None); }`, `{"a":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile(tc.src, policy.Pos{File: "t.xml", Line: 1, Col: 1})
			if err != nil {
				t.Fatal(err)
			}
			got, err := policy.Value{Expr: e}.String(ctx)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	e, err := Compile(`@{ var p = new JProperty("x", 1); p.Remove(); return "removed"; }`, policy.Pos{File: "t.xml", Line: 1, Col: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Eval(ctx); err == nil || !strings.Contains(err.Error(), "parent is missing") {
		t.Errorf("removing a property without a parent: %v", err)
	}
}
