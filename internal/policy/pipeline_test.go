package policy

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// doc writes a <policies> document from section bodies; a section given as "-" is left out.
func doc(inbound, backend, outbound, onError string) string {
	var b strings.Builder
	b.WriteString("<policies>")
	for i, body := range []string{inbound, backend, outbound, onError} {
		if body == "-" {
			continue
		}
		name := sectionName(i)
		b.WriteString("<" + name + ">" + body + "</" + name + ">")
	}
	b.WriteString("</policies>")
	return b.String()
}

// runTrace compiles the three scopes ("" = no document) and returns what ran, one string per
// section, e.g. "G1,A1 | forward | O1 | ".
func runTrace(t *testing.T, global, api, op string) string {
	t.Helper()
	l := &Loader{Registry: testRegistry()}
	load := func(name, src string) *Document {
		if src == "" {
			return nil
		}
		return mustLoad(t, l, name, src)
	}
	p, err := l.Compile(load("global.xml", global), load("api.xml", api), load("op.xml", op))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var parts []string
	for _, section := range []string{SectionInbound, SectionBackend, SectionOutbound, SectionOnError} {
		ctx := newTestContext()
		for _, s := range p.Steps(section) {
			if err := s.Run(ctx); err != nil {
				t.Fatalf("%s: %v", section, err)
			}
		}
		parts = append(parts, strings.Join(trace(ctx), ","))
	}
	return strings.Join(parts, " | ")
}

func TestBaseMerging(t *testing.T) {
	mark := func(names ...string) string {
		var b strings.Builder
		for _, n := range names {
			if n == "base" {
				b.WriteString("<base/>")
				continue
			}
			b.WriteString(`<mark name="` + n + `"/>`)
		}
		return b.String()
	}
	global := doc(mark("G1"), mark("GB", "forward"), mark("GO"), mark("GE"))
	tests := []struct {
		name            string
		global, api, op string
		want            string
	}{
		{"no documents: APIM's default global forwards", "", "", "",
			" | forward |  | "},
		{"base first everywhere", global,
			doc(mark("base", "A1"), mark("base"), mark("base", "AO"), mark("base", "AE")),
			doc(mark("base", "O1"), mark("base"), mark("base", "OO"), mark("base", "OE")),
			"G1,A1,O1 | GB,forward | GO,AO,OO | GE,AE,OE"},
		{"base last and in the middle", global,
			doc(mark("A1", "base", "A2"), mark("base"), mark("AO", "base"), mark("base")),
			doc(mark("O1", "base"), mark("base"), mark("base"), mark("base")),
			"O1,A1,G1,A2 | GB,forward | AO,GO | GE"},
		{"operation without base drops API and global", global,
			doc(mark("base", "A1"), mark("base"), mark("base"), mark("base")),
			doc(mark("O1"), mark("base"), mark("base"), mark("base")),
			"O1 | GB,forward | GO | GE"},
		{"API without base drops global, operation still inherits API", global,
			doc(mark("A1"), mark("base"), mark("base"), mark("base")),
			doc(mark("base", "O1"), mark("base"), mark("base"), mark("base")),
			"A1,O1 | GB,forward | GO | GE"},
		{"an empty backend means no backend call", global,
			doc(mark("base"), "", mark("base"), mark("base")), "",
			"G1 | (none) | GO | GE"},
		{"an absent section inherits the whole parent section", global,
			doc(mark("base", "A1"), "-", "-", "-"),
			doc("-", "-", "-", "-"),
			"G1,A1 | GB,forward | GO | GE"},
		{"a global document without backend keeps the default forward-request",
			doc(mark("G1"), "-", "-", "-"), "", "",
			"G1 | forward |  | "},
		{"no API document: the operation inherits global directly", global, "",
			doc(mark("base", "O1"), mark("base"), mark("base"), mark("base")),
			"G1,O1 | GB,forward | GO | GE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runTrace(t, tt.global, tt.api, tt.op)
			want := strings.ReplaceAll(tt.want, "(none)", "")
			if got != want {
				t.Errorf("ran %q\nwant %q", got, want)
			}
		})
	}
}

func TestBaseAtGlobalScope(t *testing.T) {
	l := &Loader{Registry: testRegistry()}
	g := mustLoad(t, l, "global.xml", "<policies><inbound>\n  <base/></inbound></policies>")
	_, err := l.Compile(g, nil, nil)
	if err == nil || err.Error() != "global.xml:2:3: <base/> is not allowed at the global scope: it has no parent scope to inherit from" {
		t.Fatalf("error %v", err)
	}
	if err := l.Check(g, ScopeAPI); err != nil {
		t.Fatalf("the same document at API scope: %v", err)
	}
}

func TestUnknownElementsAreLoadErrors(t *testing.T) {
	l := &Loader{Registry: testRegistry()}
	src := "<policies>\n<inbound>\n  <mark/>\n  <validate-azure-ad-token tenant-id=\"x\"/>\n</inbound>\n<outbound>\n  <choose><when condition=\"true\">\n    <set-bodyy/>\n  </when></choose>\n  <base/>\n</outbound>\n</policies>"
	api := mustLoad(t, l, "api.xml", src)
	_, err := l.Compile(nil, api, nil)
	want := "api.xml:4:3: policy element <validate-azure-ad-token> is not supported\napi.xml:8:5: policy element <set-bodyy> is not supported"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	if errs := Errors(err); len(errs) != 2 || errs[1].Pos != (Pos{"api.xml", 8, 5}) {
		t.Fatalf("Errors() = %v", errs)
	}
	// The same document compiled again answers the same errors (compiled once per scope).
	_, err2 := l.Compile(nil, api, nil)
	if err2 == nil || err2.Error() != want {
		t.Fatalf("second compile: %v", err2)
	}
	if err := l.Check(api, ScopeAPI); err == nil || err.Error() != want {
		t.Fatalf("Check: %v", err)
	}
}

func TestCompileErrorsOfPoliciesCarryPositions(t *testing.T) {
	reg := testRegistry()
	reg["plain-error"] = func(el *Element, c *Compiler) (Step, error) {
		return nil, errors.New("calls must be a number")
	}
	l := &Loader{Registry: reg}
	api := mustLoad(t, l, "api.xml", "<policies><inbound>\n <plain-error/>\n <fail status=\"x\"/></inbound></policies>")
	_, err := l.Compile(nil, api, nil)
	want := "api.xml:2:2: <plain-error>: calls must be a number\napi.xml:3:16: status must be a number"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
}

func TestExpressionsNeedACompiler(t *testing.T) {
	reg := testRegistry()
	reg["valued"] = func(el *Element, c *Compiler) (Step, error) {
		if _, err := c.TextValue(el); err != nil {
			return nil, err
		}
		return StepFunc(func(*Context) error { return nil }), nil
	}
	l := &Loader{Registry: reg}
	api := mustLoad(t, l, "api.xml", "<policies><inbound><valued>\n   @(context.Request.Method)</valued></inbound></policies>")
	_, err := l.Compile(nil, api, nil)
	if err == nil || err.Error() != "api.xml:2:4: policy expressions are not supported yet" {
		t.Fatalf("error %v (an expression in text reports its own position)", err)
	}
}

// errorCase runs one pipeline and checks LastError and the response.
func TestOnError(t *testing.T) {
	tests := []struct {
		name       string
		api        string
		wantTrace  string
		wantLast   *LastError
		wantStatus int
		wantHeader map[string]string
		golden     string // testdata/golden/<golden>.json holds the body; "" when on-error answered
		wantBody   string
	}{
		{
			name: "a failure skips the rest and runs on-error with LastError",
			api: doc(`<base/><mark name="I1"/><choose><when condition="false"/><when condition="true"><fail id="jwt-check" source="validate-jwt" status="401" reason="TokenExpired" message="Unauthorized. Access token is missing or invalid." detail="token expired at 10:00, now 10:06" header="WWW-Authenticate: Bearer error=&quot;invalid_token&quot;"/></when></choose><mark name="I2"/>`,
				`<base/>`, `<mark name="O1"/>`, `<mark name="E1"/>`),
			wantTrace: "I1,fail,E1",
			wantLast: &LastError{Source: "validate-jwt", Reason: "TokenExpired", Message: "token expired at 10:00, now 10:06",
				Scope: "api", Section: "inbound", Path: "choose[1]/when[2]/fail[1]", PolicyID: "jwt-check", StatusCode: 401},
			wantStatus: 401,
			wantHeader: map[string]string{"Content-Type": "application/json", "WWW-Authenticate": `Bearer error="invalid_token"`},
			golden:     "unauthorized",
		},
		{
			name:      "a plain error is ExpressionValueEvaluationFailure, 500",
			api:       doc(`<base/>`, `<base/>`, `<mark name="O1"/><boom/><mark name="O2"/>`, ``),
			wantTrace: "forward,O1,boom",
			wantLast: &LastError{Source: "boom", Reason: "ExpressionValueEvaluationFailure",
				Message: "Expression evaluation failed. Object reference not set to an instance of an object.",
				Scope:   "api", Section: "outbound", Path: "boom[1]", StatusCode: 500},
			wantStatus: 500,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			golden:     "expression-failure",
		},
		{
			name:       "on-error answers with return-response",
			api:        doc(`<fail status="403" message="Forbidden"/>`, `<base/>`, `<base/>`, `<mark name="E1"/><respond status="418"/><mark name="E2"/>`),
			wantTrace:  "fail,E1,respond",
			wantLast:   &LastError{Source: "fail", Message: "Forbidden", Scope: "api", Section: "inbound", Path: "fail[1]", StatusCode: 403},
			wantStatus: 418,
			wantBody:   "answered",
		},
		{
			name:       "a failure inside on-error answers the default 500",
			api:        doc(`<fail status="401" message="No"/>`, `<base/>`, `<base/>`, `<boom/><mark name="E2"/>`),
			wantTrace:  "fail,boom",
			wantLast:   &LastError{Source: "fail", Message: "No", Scope: "api", Section: "inbound", Path: "fail[1]", StatusCode: 401},
			wantStatus: 500,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			golden:     "on-error-failed",
		},
		{
			name:       "a message that needs JSON escaping",
			api:        doc(`<fail status="429" message="Rate limit is exceeded. &quot;Try&quot; again in 5 s &lt;\ok&gt; &#9;é"/>`, `<base/>`, `<base/>`, ``),
			wantTrace:  "fail",
			wantLast:   &LastError{Source: "fail", Message: "Rate limit is exceeded. \"Try\" again in 5 s <\\ok> \té", Scope: "api", Section: "inbound", Path: "fail[1]", StatusCode: 429},
			wantStatus: 429,
			golden:     "escaped-message",
		},
		{
			name:       "a failure with no status is a 500",
			api:        doc(`<fail status="0"/>`, `<base/>`, `<base/>`, ``),
			wantTrace:  "fail",
			wantLast:   &LastError{Source: "fail", Scope: "api", Section: "inbound", Path: "fail[1]", StatusCode: 500},
			wantStatus: 500,
			golden:     "no-status",
		},
		{
			name:       "return-response in inbound ends the pipeline without on-error",
			api:        doc(`<respond status="200"/><mark name="I2"/>`, `<base/>`, `<mark name="O1"/>`, `<mark name="E1"/>`),
			wantTrace:  "respond",
			wantStatus: 200,
			wantBody:   "answered",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Loader{Registry: testRegistry()}
			p, err := l.Compile(nil, mustLoad(t, l, "api.xml", tt.api), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := newTestContext()
			runErr := p.Run(ctx)
			if got := strings.Join(trace(ctx), ","); got != tt.wantTrace {
				t.Errorf("ran %s, want %s", got, tt.wantTrace)
			}
			if tt.wantLast == nil {
				if ctx.LastError != nil || runErr != nil {
					t.Errorf("LastError %+v, error %v; want none", ctx.LastError, runErr)
				}
			} else {
				if ctx.LastError == nil || *ctx.LastError != *tt.wantLast {
					t.Errorf("LastError\n got %+v\nwant %+v", ctx.LastError, tt.wantLast)
				}
				var se *StepError
				if !errors.As(runErr, &se) || se.Path != tt.wantLast.Path {
					t.Errorf("Run returned %v, want the step error at %s", runErr, tt.wantLast.Path)
				}
			}
			if ctx.Response.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", ctx.Response.StatusCode, tt.wantStatus)
			}
			for name, want := range tt.wantHeader {
				if got, _ := ctx.Response.Header.Get(name); got != want {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
			body, _ := ctx.Response.Body.Bytes()
			if tt.golden != "" {
				checkGolden(t, tt.golden, body)
			} else if string(body) != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
		})
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestErrorBody(t *testing.T) {
	tests := []struct {
		status  int
		message string
		golden  string
	}{
		{404, "Resource not found", "resource-not-found"},
		{401, "JWT not present.", "jwt-not-present"},
		{500, "line\nbreak \u2028 \x01 and invalid \xff utf-8", "control-characters"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			checkGolden(t, tt.golden, ErrorBody(tt.status, tt.message))
		})
	}
}

func TestPipelineWithoutResponse(t *testing.T) {
	l := &Loader{Registry: testRegistry()}
	p, err := l.Compile(nil, mustLoad(t, l, "api.xml", doc(`<fail status="401" message="x"/>`, "-", "-", "-")), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := &Context{Variables: map[string]any{}}
	p.Run(ctx)
	if ctx.Response == nil || ctx.Response.StatusCode != 401 {
		t.Fatalf("response %+v", ctx.Response)
	}
}

// BenchmarkPipelineRun measures the pipeline's own cost around trivial steps: it must not
// allocate.
func BenchmarkPipelineRun(b *testing.B) {
	nop := StepFunc(func(*Context) error { return nil })
	reg := Registry{
		"nop":             func(*Element, *Compiler) (Step, error) { return nop, nil },
		"forward-request": func(*Element, *Compiler) (Step, error) { return nop, nil },
	}
	l := &Loader{Registry: reg}
	api, err := l.Load("api.xml", []byte(doc(`<base/><nop/><nop/><nop/>`, `<base/>`, `<base/><nop/>`, `<base/>`)))
	if err != nil {
		b.Fatal(err)
	}
	p, err := l.Compile(nil, api, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := &Context{Response: &Response{}}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPipelineRunDoesNotAllocate guards what BenchmarkPipelineRun shows: a request that
// passes through costs the pipeline no allocation.
func TestPipelineRunDoesNotAllocate(t *testing.T) {
	nop := StepFunc(func(*Context) error { return nil })
	reg := Registry{
		"nop":             func(*Element, *Compiler) (Step, error) { return nop, nil },
		"forward-request": func(*Element, *Compiler) (Step, error) { return nop, nil },
	}
	l := &Loader{Registry: reg}
	g := mustLoad(t, l, "global.xml", doc(`<nop/>`, "-", `<nop/>`, `<nop/>`))
	api := mustLoad(t, l, "api.xml", doc(`<base/><choose/><nop/>`, `<base/>`, `<nop/><base/>`, `<base/>`))
	reg["choose"] = func(*Element, *Compiler) (Step, error) { return nop, nil }
	p, err := l.Compile(g, api, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Steps(SectionInbound)) + len(p.Steps(SectionBackend)) + len(p.Steps(SectionOutbound)); n != 6 {
		t.Fatalf("%d steps, want 6", n)
	}
	ctx := &Context{Response: &Response{}}
	if allocs := testing.AllocsPerRun(100, func() { p.Run(ctx) }); allocs != 0 {
		t.Errorf("Run allocates %v times per request", allocs)
	}
}

// TestExpressionPositions checks that the expression compiler is given the position of the
// @ that starts each expression, in attributes and in text.
func TestExpressionPositions(t *testing.T) {
	var got []string
	reg := testRegistry()
	reg["valued"] = func(el *Element, c *Compiler) (Step, error) {
		for _, a := range el.Attrs {
			if _, err := c.Value(a); err != nil {
				return nil, err
			}
		}
		if _, err := c.TextValue(el); err != nil {
			return nil, err
		}
		return StepFunc(func(*Context) error { return nil }), nil
	}
	l := &Loader{Registry: reg, Expressions: func(src string, pos Pos) (Expression, error) {
		got = append(got, pos.String()+" "+src)
		return nil, nil
	}}
	api := mustLoad(t, l, "api.xml", "<policies><inbound>\n<valued a=\"@(1)\" b=\"  @(2)\" c=\"\n   @{ return 3; }\">\n\n   @(4)  </valued></inbound></policies>")
	if _, err := l.Compile(nil, api, nil); err != nil {
		t.Fatal(err)
	}
	want := "api.xml:2:12 @(1) | api.xml:2:23 @(2) | api.xml:3:4 @{ return 3; } | api.xml:5:4 @(4)"
	if strings.Join(got, " | ") != want {
		t.Errorf("expressions compiled at\n %s\nwant\n %s", strings.Join(got, " | "), want)
	}
}
