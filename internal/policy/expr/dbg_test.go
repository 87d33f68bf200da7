package expr

import (
	"testing"
	"portcullis/internal/policy"
)

func TestDbg(t *testing.T) {
	for _, s := range []string{`@(context.Request.Method)`, `@("a" + "b")`} {
		x, err := Compile(s, policy.Pos{File: "f", Line: 1, Col: 1})
		t.Logf("%q: %v %v", s, x, err)
	}
}
