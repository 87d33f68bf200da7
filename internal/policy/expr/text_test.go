package expr

import (
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
