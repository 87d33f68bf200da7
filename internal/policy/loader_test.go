package policy

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestNamedValues(t *testing.T) {
	nv := map[string]string{
		"tenant-id":  "3f5b1c2e",
		"client.id":  "abc",
		"now-expr":   `@(DateTime.UtcNow.ToString())`,
		"Secret_Key": "s3cr3t",
		"markup":     `<not> & "parsed"`,
	}
	tests := []struct {
		name      string
		src       string
		elem      string
		wantAttr  string
		wantText  string
		wantInner string
		wantErr   string
	}{
		{name: "in an attribute", src: `<v a="https://login/{{tenant-id}}/v2.0"/>`, elem: "v", wantAttr: "https://login/3f5b1c2e/v2.0"},
		{name: "in text", src: `<v>{{client.id}}</v>`, elem: "v", wantText: "abc"},
		{name: "inside an expression's string", src: `<v a="@(&quot;{{client.id}}&quot; + x)"/>`, elem: "v", wantAttr: `@("abc" + x)`},
		{name: "inside an interpolated string", src: `<v>@($"{{tenant-id}}-{x}")</v>`, elem: "v", wantText: `@($"3f5b1c2e-{x}")`},
		{name: "a named value that is an expression", src: `<v a="{{now-expr}}"/>`, elem: "v", wantAttr: `@(DateTime.UtcNow.ToString())`},
		{name: "substituted values are not parsed as XML", src: `<v a="{{markup}}">{{markup}}</v>`, elem: "v", wantAttr: `<not> & "parsed"`, wantText: `<not> & "parsed"`},
		{name: "not a reference: spaces or other characters", src: `<v>{{ tenant-id }} {{"a", 1}}</v>`, elem: "v", wantText: `{{ tenant-id }} {{"a", 1}}`},
		{name: "undefined", src: "<v>\n  x {{missing}}</v>", wantErr: "p.xml:2:5: named value {{missing}} is not defined in gateway.named-values"},
		{name: "undefined, differing in case", src: `<v a="{{secret_key}}"/>`, wantErr: "p.xml:1:7: named value {{secret_key}} is not defined (names are case-sensitive: did you mean {{Secret_Key}}?)"},
		{name: "every undefined one is reported", src: "<v a=\"{{one}}\">\n{{two}}</v>", wantErr: "p.xml:1:7: named value {{one}} is not defined in gateway.named-values\np.xml:2:1: named value {{two}} is not defined in gateway.named-values"},
		{name: "liquid keeps what names no named value", src: `<set-body template="liquid">{"t":"{{tenant-id}}","n":"{{body.name}}"}<x a="{{context.Request.Method}}"/></set-body>`,
			elem: "set-body", wantText: `{"t":"3f5b1c2e","n":"{{body.name}}"}`, wantInner: `{"t":"3f5b1c2e","n":"{{body.name}}"}<x a="{{context.Request.Method}}"/>`},
		{name: "non-liquid set-body reports them", src: `<set-body>{{body.name}}</set-body>`, wantErr: "p.xml:1:11: named value {{body.name}} is not defined in gateway.named-values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newXMLParser("p.xml", []byte(tt.src), &namedValues{values: nv})
			roots, err := p.parse(false)
			if err == nil {
				err = errorsOrNil(p.errs)
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error\n got %v\nwant %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Fatalf("error reveals a named value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			el := find(roots[0], tt.elem)
			if tt.wantAttr != "" && el.Attrs[0].Value != tt.wantAttr {
				t.Errorf("attribute %q, want %q", el.Attrs[0].Value, tt.wantAttr)
			}
			if tt.wantText != "" && el.Text != tt.wantText {
				t.Errorf("text %q, want %q", el.Text, tt.wantText)
			}
			if tt.wantInner != "" && el.Inner != tt.wantInner {
				t.Errorf("inner %q, want %q", el.Inner, tt.wantInner)
			}
		})
	}
}

func TestLoadDocumentStructure(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{"all sections", "<policies><inbound/><backend/><outbound/><on-error/></policies>", ""},
		{"no sections", "<policies/>", ""},
		{"fragment", "<fragment><mark/></fragment>", ""},
		{"wrong root", "<policy/>", "d.xml:1:1: the root element is <policy>: a policy document has <policies> (or <fragment> for a fragment)"},
		{"unknown section", "<policies>\n<inbound/>\n<outbund/>\n</policies>", "d.xml:3:1: <outbund> cannot appear in <policies>: the sections are inbound, backend, outbound and on-error"},
		{"section twice", "<policies><inbound/>\n<inbound/></policies>", "d.xml:2:1: a second <inbound> section (the first is at 1:11)"},
		{"text in a section", "<policies><inbound> hello </inbound></policies>", `d.xml:1:21: unexpected text in <inbound>: "hello"`},
		{"text in policies", "<policies>oops<inbound/></policies>", `d.xml:1:11: unexpected text in <policies>: "oops"`},
		{"attribute on a section", `<policies><inbound x="1"/></policies>`, "d.xml:1:23: section <inbound> takes no attributes (found x)"},
		{"two bases", "<policies><inbound><base/>\n<base/></inbound></policies>", "d.xml:2:1: a second <base/> in <inbound> (the first is at 1:20)"},
		{"base with content", `<policies><inbound><base x="1"/></inbound></policies>`, "d.xml:1:20: <base/> takes no attributes and no content"},
		{"several errors at once", "<policies>\n<inbound><base/><base/></inbound>\n<backend><validate-jwt/></backend>\n</policies>",
			"d.xml:2:17: a second <base/> in <inbound> (the first is at 2:10)\nd.xml:3:10: <validate-jwt> is not allowed in the backend section (it belongs in inbound)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Loader{Registry: testRegistry()}
			doc, err := l.Load("d.xml", []byte(tt.src))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if doc.Root == nil {
					t.Fatal("no root")
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error\n got %v\nwant %s", err, tt.wantErr)
			}
			if doc != nil {
				t.Error("a document was returned with the error")
			}
		})
	}
}

func TestSectionRules(t *testing.T) {
	tests := []struct {
		section, policy string
		ok              bool
	}{
		{"inbound", "validate-jwt", true},
		{"backend", "validate-jwt", false},
		{"outbound", "validate-jwt", false},
		{"on-error", "validate-jwt", false},
		{"backend", "forward-request", true},
		{"inbound", "forward-request", false},
		{"outbound", "forward-request", false},
		{"on-error", "forward-request", false},
		{"backend", "set-backend-service", true},
		{"outbound", "set-backend-service", false},
		{"backend", "set-query-parameter", true},
		{"on-error", "set-query-parameter", false},
		{"on-error", "mock-response", true},
		{"backend", "mock-response", false},
		{"outbound", "rewrite-uri", false},
		{"on-error", "set-header", true},
		{"on-error", "return-response", true},
		{"outbound", "cors", false},
		{"backend", "rate-limit-by-key", false},
		{"on-error", "ip-filter", false},
		{"outbound", "mark", true}, // a policy the reference does not restrict
	}
	for _, tt := range tests {
		t.Run(tt.policy+" in "+tt.section, func(t *testing.T) {
			src := "<policies><" + tt.section + ">\n  <" + tt.policy + "/>\n</" + tt.section + "></policies>"
			_, err := (&Loader{}).Load("s.xml", []byte(src))
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "s.xml:2:3: <"+tt.policy+"> is not allowed in the "+tt.section+" section") {
				t.Fatalf("error %v, want a section error at 2:3", err)
			}
		})
	}
	t.Run("nested in choose", func(t *testing.T) {
		src := "<policies><outbound><choose><when condition=\"true\">\n<forward-request/></when></choose></outbound></policies>"
		_, err := (&Loader{}).Load("s.xml", []byte(src))
		if err == nil || err.Error() != "s.xml:2:1: <forward-request> is not allowed in the outbound section (it belongs in backend)" {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("children of return-response are its settings, not policies", func(t *testing.T) {
		src := `<policies><on-error><return-response><set-header name="a"/><set-body>x</set-body><set-query-parameter name="q"/></return-response></on-error></policies>`
		if _, err := (&Loader{}).Load("s.xml", []byte(src)); err != nil {
			t.Fatal(err)
		}
	})
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestIncludeFragment(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "headers.xml", "<fragment>\n  <mark name=\"F1\"/>\n  <include-fragment fragment-id=\"inner\"/>\n</fragment>")
	writeFile(t, dir, "inner.xml", "<fragment><mark name=\"F2\"/><fail message=\"from fragment\"/></fragment>")
	writeFile(t, dir, "loop-a.xml", `<fragment><include-fragment fragment-id="loop-b"/></fragment>`)
	writeFile(t, dir, "loop-b.xml", `<fragment><include-fragment fragment-id="loop-a"/></fragment>`)
	writeFile(t, dir, "self.xml", `<fragment><include-fragment fragment-id="self"/></fragment>`)
	writeFile(t, dir, "notfrag.xml", `<policies/>`)
	writeFile(t, dir, "broken.xml", "<fragment>\n<mark></fragment>")
	writeFile(t, dir, "nv.xml", `<fragment><mark name="{{who}}"/></fragment>`)
	l := &Loader{Registry: testRegistry(), FragmentsDir: dir, NamedValues: map[string]string{"who": "named"}}

	t.Run("spliced in place, nested, twice", func(t *testing.T) {
		doc := mustLoad(t, l, "api.xml", `<policies><inbound>
			<mark name="A"/>
			<include-fragment fragment-id="headers"/>
			<choose><when condition="true"><include-fragment fragment-id="nv"/></when></choose>
			<include-fragment fragment-id="headers"/>
		</inbound></policies>`)
		p, err := l.Compile(nil, doc, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := newTestContext()
		p.Run(ctx)
		got := strings.Join(trace(ctx), ",")
		if got != "A,F1,F2,fail" {
			t.Errorf("trace %s", got)
		}
		if ctx.LastError == nil || ctx.LastError.Path != "fail[1]" {
			t.Errorf("LastError %+v, want path fail[1] (the first fail in the section)", ctx.LastError)
		}
		inbound, _ := doc.Section("inbound")
		var names []string
		for _, el := range inbound.Children {
			names = append(names, el.Path())
		}
		want := "mark[1] mark[2] mark[3] fail[1] choose[1] mark[4] mark[5] fail[2]"
		if strings.Join(names, " ") != want {
			t.Errorf("paths %s, want %s", strings.Join(names, " "), want)
		}
		if p := inbound.Children[4].Children[0].Children[0].Path(); p != "choose[1]/when[1]/mark[1]" {
			t.Errorf("nested path %s", p)
		}
		if a, _ := inbound.Children[4].Children[0].Children[0].Attr("name"); a.Value != "named" {
			t.Errorf("named value in a fragment: %q", a.Value)
		}
		if pos := inbound.Children[1].Pos; pos.File != filepath.Join(dir, "headers.xml") || pos.Line != 2 {
			t.Errorf("a fragment's element keeps its own position, got %v", pos)
		}
	})
	errTests := []struct {
		name, id, want string
	}{
		{"missing", "nope", "api.xml:1:20: fragment \"nope\": cannot read fragment file " + filepath.Join(dir, "nope.xml") + ": no such file"},
		// A cycle is reported where it closes: at the include inside the fragment.
		{"cycle", "loop-a", filepath.Join(dir, "loop-b.xml") + ":1:11: fragment \"loop-a\" includes itself: loop-a → loop-b → loop-a"},
		{"self", "self", filepath.Join(dir, "self.xml") + ":1:11: fragment \"self\" includes itself: self → self"},
		{"wrong root", "notfrag", filepath.Join(dir, "notfrag.xml") + ":1:1: the root element of a fragment file is <fragment>, not <policies>"},
		{"broken fragment", "broken", filepath.Join(dir, "broken.xml") + ":2:7: end tag </fragment> does not match <mark> opened at 2:1"},
		{"path escape", "../etc/passwd", `api.xml:1:51: fragment-id "../etc/passwd" is not a valid fragment name (letters, digits, '-', '_' and '.', not starting with '.')`},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			src := `<policies><inbound><include-fragment fragment-id="` + tt.id + `"/></inbound></policies>`
			_, err := l.Load("api.xml", []byte(src))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error\n got %v\nwant %s", err, tt.want)
			}
		})
	}
	t.Run("no fragments folder", func(t *testing.T) {
		_, err := (&Loader{}).Load("api.xml", []byte(`<policies><inbound><include-fragment fragment-id="x"/></inbound></policies>`))
		if err == nil || !strings.Contains(err.Error(), "no fragments folder is configured") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("a fragment cannot be a scope's policy", func(t *testing.T) {
		frag := mustLoad(t, l, "f.xml", "<fragment><mark/></fragment>")
		_, err := l.Compile(nil, frag, nil)
		if err == nil || !strings.Contains(err.Error(), "f.xml:1:1: f.xml is a fragment") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "api.xml", "<policies>\n<inbound><mark/></inbound></policies>")
	l := &Loader{Registry: testRegistry()}
	doc, err := l.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if in, ok := doc.Section("inbound"); !ok || in.Pos != (Pos{path, 2, 1}) {
		t.Fatalf("inbound section %v %v", in, ok)
	}
	_, err = l.LoadFile(filepath.Join(dir, "absent.xml"))
	if err == nil || err.Error() != filepath.Join(dir, "absent.xml")+": cannot read policy file: no such file" {
		t.Fatalf("error %v", err)
	}
	big := writeFile(t, dir, "big.xml", "<policies>"+strings.Repeat(" ", 100)+"</policies>")
	l.MaxDocumentSize = 50
	if _, err := l.LoadFile(big); err == nil || !strings.Contains(err.Error(), "larger than the limit of 50 bytes") {
		t.Fatalf("error %v", err)
	}
}

func TestLoadBounds(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "leaf.xml", "<fragment>"+strings.Repeat("<mark/>", 1000)+"</fragment>")
	writeFile(t, dir, "fan.xml", "<fragment>"+strings.Repeat(`<include-fragment fragment-id="leaf"/>`, 60)+"</fragment>")
	l := &Loader{Registry: testRegistry(), FragmentsDir: dir}
	t.Run("fragments that multiply", func(t *testing.T) {
		src := "<policies><inbound>\n" + strings.Repeat(`<include-fragment fragment-id="fan"/>`, 3) + "</inbound></policies>"
		_, err := l.Load("bomb.xml", []byte(src))
		if err == nil || err.Error() != `bomb.xml:2:38: including fragment "fan" makes the document larger than 100000 elements` {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("a fragment included within bounds", func(t *testing.T) {
		if _, err := l.Load("ok.xml", []byte(`<policies><inbound><include-fragment fragment-id="fan"/></inbound></policies>`)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("too many elements in one file", func(t *testing.T) {
		src := "<policies><inbound>" + strings.Repeat("<mark/>", maxElements) + "</inbound></policies>"
		_, err := l.Load("many.xml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), "the document has more than 100000 elements") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("a duplicate among many attributes", func(t *testing.T) {
		var b strings.Builder
		for i := range 40 {
			b.WriteString(` a` + strconv.Itoa(i) + `="x"`)
		}
		b.WriteString(` a7="again"`)
		_, err := l.Load("attrs.xml", []byte("<policies><inbound><mark"+b.String()+"/></inbound></policies>"))
		if err == nil || !strings.Contains(err.Error(), "attribute a7 appears twice in <mark>") {
			t.Fatalf("error %v", err)
		}
	})
}

// An error about the file as a whole names just the file, never a made-up "file:0:0".
func TestPosString(t *testing.T) {
	tests := []struct {
		name string
		pos  Pos
		want string
	}{
		{"a place in the file", Pos{"p.xml", 3, 7}, "p.xml:3:7"},
		{"the file as a whole", Pos{File: "missing.xml"}, "missing.xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.pos.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			err := Errorf(tt.pos, "cannot read policy file")
			if want := tt.want + ": cannot read policy file"; err.Error() != want {
				t.Fatalf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}
