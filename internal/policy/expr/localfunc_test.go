package expr

import (
	"errors"
	"strings"
	"testing"

	"portcullis/internal/policy"
)

func evalString(t *testing.T, src string, ctx *policy.Context) string {
	t.Helper()
	x := mustCompile(t, src)
	v, err := x.Eval(ctx)
	if err != nil {
		t.Fatalf("Eval(%s): %v", src, err)
	}
	return toStr(v)
}

// TestLocalFunctions declares C# local functions inside @{ } and calls them.
func TestLocalFunctions(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"typed parameter and return", `@{ int Twice(int x) { return x * 2; } return Twice(21); }`, "42"},
		{"expression body", `@{ string Greet(string n) => "hi " + n; return Greet((string)context.Variables["name"]); }`, "hi alice"},
		{"declared after its caller", `@{ int A(int x) { return B(x) + 1; } int B(int x) { return x * 10; } return A(4); }`, "41"},
		{"recursion", `@{ int Fact(int n) { if (n <= 1) { return 1; } return n * Fact(n - 1); } return Fact(10); }`, "3628800"},
		{"recursion keeps each frame's locals", `@{ int Sum(int n) { var here = n; if (n == 0) { return 0; } var rest = Sum(n - 1); return here + rest; } return Sum(5); }`, "15"},
		{"sees and changes enclosing variables", `@{ var total = 0; void Add(int x) { total += x; } Add(2); Add(3); return total; }`, "5"},
		{"void with return", `@{ var s = ""; void Put(string x) { if (x == "") { return; } s += x; } Put("a"); Put(""); Put("b"); return s; }`, "ab"},
		{"parameter converts to its type", `@{ long Big(long x) { return x * 3000000000L; } return Big(2); }`, "6000000000"},
		{"static modifier", `@{ static bool Even(int x) => x % 2 == 0; return Even(4) && !Even(3); }`, "True"},
		{"nested block scope", `@{ var r = 0; if (true) { int Inc(int x) => x + 1; r = Inc(1); } return r; }`, "2"},
		{"short cast truncates", `@(((short)0x12345).ToString() + "|" + (short)65535 + "|" + (ushort)(-1) + "|" + (sbyte)200)`, "9029|-1|65535|-56"},
		{"byte order swap", `@{
			short Swap16(short h) { return (short)((((int)h & 0xFF) << 8) | (int)((h >> 8) & 0xFF)); }
			int Swap32(int h) { return (((int)Swap16((short)h) & 0xFFFF) << 16) | ((int)Swap16((short)(h >> 16)) & 0xFFFF); }
			return Swap32(-1 << 8).ToString("X8");
		}`, "00FFFFFF"},
	}
	ctx := testContext(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evalString(t, tc.src, ctx); got != tc.want {
				t.Errorf("Eval(%s) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}

// TestLocalFunctionLimits checks that recursion cannot escape the evaluator's budget.
func TestLocalFunctionLimits(t *testing.T) {
	tests := []struct{ name, src string }{
		{"endless recursion", `@{ int F(int x) { return F(x + 1); } return F(0); }`},
		{"mutual recursion", `@{ bool A(int x) => B(x); bool B(int x) => A(x); return A(1); }`},
		{"wide recursion", `@{ int F(int d) { if (d == 0) { return 1; } return F(d - 1) + F(d - 1); } return F(40); }`},
	}
	ctx := testContext(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mustCompile(t, tc.src).Eval(ctx)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("Eval(%s) = %v, want ErrLimit", tc.src, err)
			}
		})
	}
}

// TestLocalFunctionLoadErrors checks the refusals of local functions C# or Portcullis reject.
func TestLocalFunctionLoadErrors(t *testing.T) {
	tests := []struct{ name, src, msg string }{
		{"wrong arity", `@{ int F(int x) => x; return F(1, 2); }`, "local function F takes 1 arguments, not 2"},
		{"declared twice", `@{ int F(int x) => x; int F(int y) => y; return 1; }`, "the local function 'F' is declared twice"},
		{"used as a value", `@{ int F(int x) => x; var g = F; return 1; }`, "can only be called"},
		{"ref parameter", `@{ void F(ref int x) { } return 1; }`, "ref parameters of local functions are not available"},
		{"default value", `@{ int F(int x = 1) => x; return F(2); }`, "default parameter values of local functions are not available"},
		{"out of scope", `@{ if (true) { int F(int x) => x; } return F(1); }`, "the method 'F' does not exist"},
		{"unknown parameter type", `@{ int F(Foo x) => 1; return 1; }`, "Foo"},
		{"duplicate parameter", `@{ int F(int x, int x) => x; return 1; }`, "the parameter 'x' is declared twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.src, pos())
			var pe *policy.Error
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Compile(%s) = %v, want a *policy.Error with %q", tc.src, err, tc.msg)
			}
		})
	}
}

// TestLocalFunctionMissingReturn is a non-void local function that falls off its end.
func TestLocalFunctionMissingReturn(t *testing.T) {
	x := mustCompile(t, `@{ int F(int x) { if (x > 0) { return x; } } return F(0); }`)
	_, err := x.Eval(testContext(t))
	var ex *Exception
	if !errors.As(err, &ex) || ex.Type != "InvalidOperationException" {
		t.Fatalf("Eval = %v, want InvalidOperationException", err)
	}
}

// TestApplicationGatewayIPFilter runs the corpus sample that checks X-Forwarded-For against
// private CIDR ranges with local functions that swap byte order.
func TestApplicationGatewayIPFilter(t *testing.T) {
	src := corpusSample(t, "snippets__examples__Filter_on_IP_Address_when_using_Application_Gateway.policy.xml", "HostToNetworkOrder")
	x := mustCompile(t, src)
	tests := []struct{ name, header, want string }{
		{"10/8", "10.33.215.173", "{{ipValidated}}"},
		{"with port", "192.168.4.5:5123", "{{ipValidated}}"},
		{"172.16/12 upper edge", "172.31.255.255", "{{ipValidated}}"},
		{"just outside 172.16/12", "172.32.0.1", "172.32.0.1"},
		{"public", "203.0.113.9", "203.0.113.9"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			if tc.header != "" {
				ctx.Request.Header.Add("X-Forwarded-For", tc.header)
			}
			v, err := x.Eval(ctx)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if got := toStr(v); got != tc.want {
				t.Errorf("X-Forwarded-For %q gives %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}
