package expr

import (
	"testing"
)

func benchExpr(b *testing.B, src, want string) {
	ctx := testContext(b)
	x := mustCompile(b, src)
	v, err := x.Eval(ctx)
	if err != nil || v != want {
		b.Fatalf("Eval = %v, %v; want %s", v, err, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := x.Eval(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// The counter key of flexible throttling: the token's subject.
func BenchmarkSubjectFromHeader(b *testing.B) {
	benchExpr(b, `@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)`, "user-42")
}

// A choose on a claim of the token validate-jwt stored.
func BenchmarkClaimCheck(b *testing.B) {
	ctx := testContext(b)
	x := mustCompile(b, `@(((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("roles","").Contains("admin"))`)
	v, err := x.Eval(ctx)
	if err != nil || v != true {
		b.Fatalf("Eval = %v, %v", v, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := x.Eval(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLastErrorCheck(b *testing.B) {
	ctx := testContext(b)
	x := mustCompile(b, `@(context.LastError.Source == "validate-jwt" && context.LastError.Reason == "TokenExpired")`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Eval(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConstant(b *testing.B) {
	benchExpr(b, `@("Bearer " + "x")`, "Bearer x")
}

func BenchmarkBlockWithLoop(b *testing.B) {
	benchExpr(b, `@{ foreach (var c in context.Request.Headers.GetValueOrDefault("Cookie", "").Split(';')) { var t = c.Trim(); if (t.StartsWith("session=")) { return t.Substring(8); } } return "none"; }`, "abc")
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(`@{ var jwt = (Jwt)context.Variables["valid-jwt"]; return Array.Exists(jwt.Claims["permissions"], e => e == "sendEmail"); }`, pos()); err != nil {
			b.Fatal(err)
		}
	}
}

// The same expression when every request brings a token the memo has not seen, so each
// evaluation decodes.
func BenchmarkSubjectFromHeaderUncached(b *testing.B) {
	ctx := testContext(b)
	x := mustCompile(b, `@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)`)
	var toks []string
	for range 64 {
		toks = append(toks, "Bearer "+signedToken(b, testClaims))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// 64 distinct tokens cycle through 16 memo slots, so nearly every lookup misses
		ctx.Request.Header.Set("Authorization", toks[i%len(toks)])
		i++
		if v, err := x.Eval(ctx); err != nil || v != "user-42" {
			b.Fatal(v, err)
		}
	}
}
