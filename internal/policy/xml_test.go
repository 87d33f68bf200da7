package policy

import (
	"strings"
	"testing"
)

func parseOne(t *testing.T, src string) *Element {
	t.Helper()
	roots, err := newXMLParser("p.xml", []byte(src), nil).parse(false)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return roots[0]
}

// find returns the first element called name, depth first.
func find(el *Element, name string) *Element {
	if el.Name == name {
		return el
	}
	for _, c := range el.Children {
		if f := find(c, name); f != nil {
			return f
		}
	}
	return nil
}

func TestParsePositions(t *testing.T) {
	src := "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" +
		"<!-- a comment -- with dashes -->\n" +
		"<policies>\n" +
		"  <inbound>\n" +
		"\t<set-header name=\"X-Α\" exists-action='override'>\n" + // tab and a non-ASCII name
		"      <value>  one</value>\n" +
		"    </set-header>\n" +
		"  </inbound>\n" +
		"</policies>\n"
	root := parseOne(t, src)
	tests := []struct {
		name string
		got  Pos
		want Pos
	}{
		{"root", root.Pos, Pos{"p.xml", 3, 1}},
		{"inbound", find(root, "inbound").Pos, Pos{"p.xml", 4, 3}},
		{"set-header", find(root, "set-header").Pos, Pos{"p.xml", 5, 2}},
		{"name value", find(root, "set-header").Attrs[0].Pos, Pos{"p.xml", 5, 20}},
		{"exists-action value (after a two-byte character)", find(root, "set-header").Attrs[1].Pos, Pos{"p.xml", 5, 40}},
		{"value", find(root, "value").Pos, Pos{"p.xml", 6, 7}},
		{"value text", find(root, "value").TextPos, Pos{"p.xml", 6, 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("position %v, want %v", tt.got, tt.want)
			}
		})
	}
	if a := find(root, "set-header").Attrs; a[0].Value != "X-Α" || a[1].Value != "override" {
		t.Errorf("attributes %+v", a)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		elem      string
		wantText  string
		wantAttr  string // value of the element's first attribute, when it has one
		wantInner string // checked when not empty
	}{
		{"entities in text", `<v>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#65;&#x42;</v>`, "v", `a <b> & "c" 'd' AB`, "", ""},
		{"entities in attribute", `<v a="&lt;&amp;&quot;&#x263A;"/>`, "v", "", `<&"☺`, ""},
		{"CDATA kept verbatim", `<v>x<![CDATA[<a & b>]]>y</v>`, "v", "x<a & b>y", "", ""},
		{"comments left out of text", `<v>a<!-- c -->b</v>`, "v", "ab", "", ""},
		{"CRLF becomes LF", "<v>a\r\nb\rc</v>", "v", "a\nb\nc", "", ""},
		{"text around children", `<v>a<c/>b<c>x</c>c</v>`, "v", "abc", "", ""},
		{"inner keeps the raw source", `<set-body>  <a x="1">&amp;</a> </set-body>`, "set-body", "   ", "", `  <a x="1">&amp;</a> `},
		{"single-quoted attribute with double quotes", `<v a='say "hi"'/>`, "v", "", `say "hi"`, ""},
		{"greater-than is fine in text and attributes", `<v a="a>b">x > y</v>`, "v", "x > y", "a>b", ""},
		{"namespaced names", `<xsl:stylesheet xmlns:xsl="u"><xsl:template/></xsl:stylesheet>`, "xsl:stylesheet", "", "u", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := find(parseOne(t, tt.src), tt.elem)
			if el.Text != tt.wantText {
				t.Errorf("text %q, want %q", el.Text, tt.wantText)
			}
			if tt.wantAttr != "" && (len(el.Attrs) == 0 || el.Attrs[0].Value != tt.wantAttr) {
				t.Errorf("attributes %+v, want first %q", el.Attrs, tt.wantAttr)
			}
			if tt.wantInner != "" && el.Inner != tt.wantInner {
				t.Errorf("inner %q, want %q", el.Inner, tt.wantInner)
			}
		})
	}
}

// TestParseExpressions covers the forms real APIM documents use, which a strict XML parser
// refuses: unescaped quotes, <, > and && inside @(...) and @{...}.
func TestParseExpressions(t *testing.T) {
	tests := []struct {
		name string
		src  string // an element <v>: its attribute a or its text holds the expression
		want string
	}{
		{"quotes in attribute",
			`<v a="@(context.Request.Headers.GetValueOrDefault("Authorization",""))"/>`,
			`@(context.Request.Headers.GetValueOrDefault("Authorization",""))`},
		{"&& and ! in attribute",
			`<v a="@(context.Request.Method == "POST" && !((Jwt)context.Variables["jwt"]).Claims["group"].Contains("finance"))"/>`,
			`@(context.Request.Method == "POST" && !((Jwt)context.Variables["jwt"]).Claims["group"].Contains("finance"))`},
		{"generics in attribute",
			`<v a="@(context.Variables.GetValueOrDefault<string>("x") != null)"/>`,
			`@(context.Variables.GetValueOrDefault<string>("x") != null)`},
		{"escaped quotes decode as usual",
			`<v a="@(context.Request.Method == &quot;POST&quot; &amp;&amp; true)"/>`,
			`@(context.Request.Method == "POST" && true)`},
		{"closing parenthesis inside a string",
			`<v a='@("a)b" + ")")'/>`,
			`@("a)b" + ")")`},
		{"escaped quote in a string",
			`<v a="@("say \"hi\")" + x)"/>`,
			`@("say \"hi\")" + x)`},
		{"verbatim string with doubled quotes and a backslash",
			`<v a="@(@"C:\dir\""quoted"")" + x)"/>`,
			`@(@"C:\dir\""quoted"")" + x)`},
		{"interpolated string with a nested string in a hole",
			`<v a="@($"signin-{context.Variables["cacheKey"]}-state")"/>`,
			`@($"signin-{context.Variables["cacheKey"]}-state")`},
		{"interpolated string with escaped braces",
			`<v a="@($"{{literal}} {x} )")"/>`,
			`@($"{{literal}} {x} )")`},
		{"verbatim interpolated string",
			`<v a="@($@"a""{x}"")" + @$"{y}")"/>`,
			`@($@"a""{x}"")" + @$"{y}")`},
		{"character literals",
			`<v a="@(x.Split(')')[0] + '"' + '\'')"/>`,
			`@(x.Split(')')[0] + '"' + '\'')`},
		{"statement block in attribute",
			"<v a=\"@{\n  var s = \"<a>\";\n  if (s.Length > 1 && s != \"}\") { return s; }\n  return \"\";\n}\"/>",
			"@{\n  var s = \"<a>\";\n  if (s.Length > 1 && s != \"}\") { return s; }\n  return \"\";\n}"},
		{"text expression with markup in strings and a line comment",
			"<v>@{\n  var xml = \"<?xml version=\\\"1.0\\\"?><soap:Body></soap:Body>\";\n  //var x = context.Request.Body.As<string>(preserveContent: true); \"unbalanced\n  return xml;\n}</v>",
			"@{\n  var xml = \"<?xml version=\\\"1.0\\\"?><soap:Body></soap:Body>\";\n  //var x = context.Request.Body.As<string>(preserveContent: true); \"unbalanced\n  return xml;\n}"},
		{"text expression with a block comment and a bare ampersand",
			"<v>@{ /* ) } \" */ return \"client_id=1&scope=x\"; }</v>",
			"@{ /* ) } \" */ return \"client_id=1&scope=x\"; }"},
		{"text expression with generics",
			`<v>@(context.Request.Body.As<JObject>(preserveContent: true)["a"].ToString())</v>`,
			`@(context.Request.Body.As<JObject>(preserveContent: true)["a"].ToString())`},
		{"text expression after blanks",
			"<v>\n    @(\"a\" + \"</v>\")\n</v>",
			"\n    @(\"a\" + \"</v>\")\n"},
		{"lambda with comparison",
			`<v a="@(jwt.Claims["roles"].Any(r => r == "admin" || r.Length < 3))"/>`,
			`@(jwt.Claims["roles"].Any(r => r == "admin" || r.Length < 3))`},
		{"a corrupted document's expression still ends where its brackets close",
			`<v a="@(context.Request.Headers.GetValueOrDefault("Key=""","scheme="" param="""))"/>`,
			`@(context.Request.Headers.GetValueOrDefault("Key=""","scheme="" param="""))`},
		{"not an expression: text that merely contains @(",
			`<v a="mail@(home)"/>`,
			`mail@(home)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := parseOne(t, tt.src)
			got := el.Text
			if a, ok := el.Attr("a"); ok {
				got = a.Value
			}
			if got != tt.want {
				t.Errorf("value\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"unclosed element", "<policies>\n  <inbound>\n", "p.xml:3:1: unclosed <inbound> (opened at 2:3): the document ends before </inbound>"},
		{"mismatched end tag", "<policies>\n  <inbound></outbound>\n</policies>", "p.xml:2:12: end tag </outbound> does not match <inbound> opened at 2:3"},
		{"second root", "<policies/>\n<policies/>", "p.xml:2:1: a second top-level element <policies> after <policies>: a policy document has one root element (<policies> or <fragment>)"},
		{"empty document", "  <!-- nothing -->\n", "p.xml:2:1: the document has no root element"},
		{"text outside the root", "hello <policies/>", `p.xml:1:1: text outside the root element: "hello <policies/>"`},
		{"raw < in a plain attribute", `<v a="https://<tenant>/x"/>`, "p.xml:1:15: '<' in the value of attribute a of <v> must be written &lt; (outside a policy expression)"},
		{"bare & in text", "<v>a & b</v>", "p.xml:1:6: a literal '&' must be written &amp; (outside a policy expression)"},
		{"bare & in attribute", `<v a="x?a=1&b=2"/>`, "p.xml:1:12: a literal '&' must be written &amp; (outside a policy expression)"},
		{"unknown entity", "<v>&nbsp;</v>", "p.xml:1:4: unknown entity &nbsp;: XML defines only &lt; &gt; &amp; &quot; &apos; and numeric references such as &#38;"},
		{"duplicate attribute", `<v a="1" a="2"/>`, "p.xml:1:10: attribute a appears twice in <v>"},
		{"unquoted attribute", `<v a=1/>`, "p.xml:1:6: the value of attribute a of <v> must be in quotes"},
		{"attribute without value", `<v a/>`, "p.xml:1:4: attribute a of <v> has no value: expected '=' after its name"},
		{"attributes without space", `<v a="1"b="2"/>`, `p.xml:1:9: expected whitespace, '>' or '/>' in <v>, found "b=\"2\"/>"`},
		{"unterminated attribute", `<v a="1/>`, "p.xml:1:6: the value of attribute a of <v> has no closing \""},
		{"unclosed start tag", `<v a="1"`, "p.xml:1:1: unclosed start tag <v>: the document ends before '>'"},
		{"DOCTYPE refused", `<!DOCTYPE x [<!ENTITY a "b">]><v/>`, "p.xml:1:1: a DOCTYPE declaration is not allowed in a policy document"},
		{"unclosed comment", "<v><!-- x </v>", "p.xml:1:4: unclosed comment: no --> before the end of the document"},
		{"unclosed CDATA", "<v><![CDATA[ x </v>", "p.xml:1:4: unclosed CDATA section: no ]]> before the end of the document"},
		{"expression that never closes", "<v>\n  @(context.Request.Method\n</v>", "p.xml:2:3: the policy expression @( never closes: no matching ')' before the end of the document"},
		{"mismatched bracket in an expression", `<v a="@(x[1)"/>`, "p.xml:1:12: ')' does not close the '[' at 1:10 in this policy expression (expected ']')"},
		{"string that never ends", "<v>@{ return @\"abc </v>", "p.xml:1:14: string literal in a policy expression never ends: no closing '\"' before the end of the document"},
		{"missing element name", "<v>< x/></v>", `p.xml:1:4: expected an element name after '<', found " x/></v>"`},
		{"malformed end tag", "<v></v x>", "p.xml:1:4: malformed end tag: expected </v>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newXMLParser("p.xml", []byte(tt.src), nil).parse(false)
			if err == nil {
				t.Fatalf("parsed %q without error", tt.src)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseDepthLimit(t *testing.T) {
	src := strings.Repeat("<a>", maxDepth+1) + strings.Repeat("</a>", maxDepth+1)
	_, err := newXMLParser("p.xml", []byte(src), nil).parse(false)
	if err == nil || !strings.Contains(err.Error(), "nested more than 256 deep") {
		t.Fatalf("error %v, want the nesting limit", err)
	}
	ok := strings.Repeat("<a>", maxDepth) + strings.Repeat("</a>", maxDepth)
	if _, err := newXMLParser("p.xml", []byte(ok), nil).parse(false); err != nil {
		t.Fatalf("nesting at the limit: %v", err)
	}
}

func TestLoadSizeLimit(t *testing.T) {
	l := &Loader{MaxDocumentSize: 64}
	src := "<policies><inbound>" + strings.Repeat(" ", 64) + "</inbound></policies>"
	_, err := l.Load("big.xml", []byte(src))
	if err == nil || err.Error() != "big.xml: policy document is larger than the limit of 64 bytes" {
		t.Fatalf("error %v", err)
	}
}

// TestParseHostileInputs are documents built to make a careless parser slow or deep: each
// must finish (the test's own time limit is the guard) with the expected outcome.
func TestParseHostileInputs(t *testing.T) {
	const n = 1 << 20
	tests := []struct {
		name    string
		src     string
		wantErr string // a substring; "" for success
	}{
		{"many lone char-literal quotes", `<v a="@(` + strings.Repeat(`'\`, n/2) + `)"/>`, ""},
		{"many bare ampersands in an expression", "<v>@(" + strings.Repeat("&", n) + ")</v>", ""},
		{"many ampersands without semicolons in text", "<v>" + strings.Repeat("&amp", n/4) + "</v>", "a literal '&' must be written &amp;"},
		{"many half named values", "<v>" + strings.Repeat("{{a", n/3) + "</v>", ""},
		{"one long line of elements", "<v>" + strings.Repeat(`<w a="1"/>`, maxElements-1) + "</v>", ""},
		{"deeply nested interpolations", `<v a="@(` + strings.Repeat(`$"{`, 40) + strings.Repeat(`}"`, 40) + `)"/>`, "interpolated strings nest more than 32 deep"},
		{"interpolations nested within the bound", `<v a="@(` + strings.Repeat(`$"{`, 30) + "x" + strings.Repeat(`}"`, 30) + `)"/>`, ""},
		{"deep brackets", `<v a="@` + strings.Repeat("(", n/2) + strings.Repeat(")", n/2) + `"/>`, ""},
		{"many unterminated strings on separate lines", "<v>@(" + strings.Repeat("\"\n", n/2) + ")</v>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newXMLParser("h.xml", []byte(tt.src), &namedValues{}).parse(false)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
