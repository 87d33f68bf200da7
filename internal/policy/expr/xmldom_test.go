package expr

import (
	"errors"
	"strings"
	"testing"

	"portcullis/internal/policy"
)

const delegationKey = `<?xml version="1.0" encoding="utf-8"?>
<UserDelegationKey>
  <SignedOid>oid-1</SignedOid>
  <SignedTid>tid-2</SignedTid>
  <SignedStart>2026-11-25T00:00:00Z</SignedStart>
  <Value>c2VjcmV0</Value>
  <Items kind="list"><Item id="a">one</Item><Item id="b">two</Item><Group><Item id="c">three</Item></Group></Items>
</UserDelegationKey>`

// TestXmlDocument reads System.Xml's DOM with the XPath subset, against a body in a variable.
func TestXmlDocument(t *testing.T) {
	load := `XmlDocument d = new XmlDocument(); d.LoadXml((string)context.Variables["xml"]); `
	tests := []struct{ name, src, want string }{
		{"absolute path from the root element", `@{ ` + load + `return d.DocumentElement.SelectSingleNode("/UserDelegationKey/SignedOid").InnerText; }`, "oid-1"},
		{"absolute path from the document", `@{ ` + load + `return d.SelectSingleNode("/UserDelegationKey/Value").InnerText; }`, "c2VjcmV0"},
		{"relative child path", `@{ ` + load + `return d.DocumentElement.SelectSingleNode("Items/Item").InnerText; }`, "one"},
		{"descendants anywhere", `@{ ` + load + `return string.Join(",", d.SelectNodes("//Item").Cast<XmlNode>().Select(n => n.InnerText)); }`, "one,two,three"},
		{"descendants below a path", `@{ ` + load + `return d.SelectNodes("/UserDelegationKey/Items//Item").Count; }`, "3"},
		{"attribute step", `@{ ` + load + `return d.SelectSingleNode("//Group/Item/@id").Value; }`, "c"},
		{"wildcard and parent", `@{ ` + load + `return d.SelectSingleNode("/UserDelegationKey/Items/*/../@kind").Value; }`, "list"},
		{"missing node is null", `@{ ` + load + `return d.SelectSingleNode("/UserDelegationKey/Nope") == null; }`, "True"},
		{"wrong root is null", `@{ ` + load + `return d.SelectSingleNode("/Other/SignedOid") == null; }`, "True"},
		{"attributes indexer", `@{ ` + load + `var it = d.SelectSingleNode("//Item"); return it.Attributes["id"]?.Value + "|" + (it.Attributes["nope"]?.Value ?? "none") + "|" + it.Attributes.Count; }`, "a|none|1"},
		{"get attribute", `@{ ` + load + `var it = (XmlElement)d.SelectSingleNode("//Item"); return it.GetAttribute("id") + "|" + it.GetAttribute("nope").Length + "|" + it.HasAttribute("id"); }`, "a|0|True"},
		{"names", `@{ ` + load + `var r = d.DocumentElement; return r.Name + "|" + r.LocalName + "|" + r.FirstChild.Name + "|" + r.FirstChild.FirstChild.Name + "|" + d.Name; }`, "UserDelegationKey|UserDelegationKey|SignedOid|#text|#document"},
		{"values", `@{ ` + load + `var r = d.DocumentElement; return (r.Value == null) + "|" + r.FirstChild.FirstChild.Value; }`, "True|oid-1"},
		{"child nodes skip whitespace", `@{ ` + load + `return d.DocumentElement.ChildNodes.Count + "|" + d.DocumentElement.LastChild.Name; }`, "5|Items"},
		{"foreach over child nodes", `@{ ` + load + `var s = ""; foreach (XmlNode n in d.SelectSingleNode("//Items").ChildNodes) { s += n.Name + ";"; } return s; }`, "Item;Item;Group;"},
		{"outer and inner xml", `@{ ` + load + `var g = d.SelectSingleNode("//Group"); return g.OuterXml + "|" + g.InnerXml; }`, `<Group><Item id="c">three</Item></Group>|<Item id="c">three</Item>`},
		{"escaping", `@{ var d = new XmlDocument(); d.LoadXml("<a x=\"1&amp;2\">&lt;b&gt;</a>"); return d.DocumentElement.InnerText + "|" + d.DocumentElement.OuterXml + "|" + d.DocumentElement.Attributes["x"].Value; }`, `<b>|<a x="1&amp;2">&lt;b&gt;</a>|1&2`},
		{"is and as", `@{ ` + load + `XmlNode n = d.DocumentElement; return (n is XmlElement) + "|" + (n.FirstChild.FirstChild is XmlElement) + "|" + (d.SelectSingleNode("//Item/@id") is XmlAttribute); }`, "True|False|True"},
		{"relative from a node", `@{ ` + load + `var items = d.SelectSingleNode("//Items"); return items.SelectSingleNode("./Group/Item").InnerText + "|" + items.SelectNodes("Item").Count; }`, "three|2"},
	}
	ctx := testContext(t)
	ctx.Variables["xml"] = delegationKey
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evalString(t, tc.src, ctx); got != tc.want {
				t.Errorf("Eval(%s) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}

// TestXmlDocumentRefusals checks that unsupported XPath and bad XML fail with a precise
// exception, and that a large document cannot escape the evaluator's budget.
func TestXmlDocumentRefusals(t *testing.T) {
	load := `var d = new XmlDocument(); d.LoadXml((string)context.Variables["xml"]); `
	tests := []struct{ name, src, exception, msg string }{
		{"predicate", `@{ ` + load + `return d.SelectSingleNode("//Item[@id='b']"); }`, "NotSupportedException", `the XPath "//Item[@id='b']" is not supported`},
		{"function", `@{ ` + load + `return d.SelectSingleNode("//Item/text()"); }`, "NotSupportedException", "is not supported"},
		{"axis", `@{ ` + load + `return d.SelectSingleNode("descendant::Item"); }`, "NotSupportedException", "is not supported"},
		{"prefix", `@{ ` + load + `return d.SelectSingleNode("/ns:UserDelegationKey"); }`, "NotSupportedException", "is not supported"},
		{"union", `@{ ` + load + `return d.SelectNodes("//Item|//Group"); }`, "NotSupportedException", "is not supported"},
		{"attribute in the middle", `@{ ` + load + `return d.SelectNodes("//@id/x"); }`, "NotSupportedException", "is not supported"},
		{"empty", `@{ ` + load + `return d.SelectNodes(""); }`, "XPathException", "empty"},
		{"malformed xml", `@{ var d = new XmlDocument(); d.LoadXml("<a><b></a>"); return d; }`, "XmlException", "not well formed"},
	}
	ctx := testContext(t)
	ctx.Variables["xml"] = delegationKey
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mustCompile(t, tc.src).Eval(ctx)
			var ex *Exception
			if !errors.As(err, &ex) || ex.Type != tc.exception || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Eval(%s) = %v, want %s with %q", tc.src, err, tc.exception, tc.msg)
			}
		})
	}
	t.Run("step limit", func(t *testing.T) {
		big := "<r>" + strings.Repeat("<i><j/></i>", 200000) + "</r>"
		lctx := testContext(t)
		lctx.Variables["xml"] = big
		_, err := mustCompile(t, `@{ `+load+`var n = 0; for (var k = 0; k < 100; k++) { n += d.SelectNodes("//j").Count; } return n; }`).Eval(lctx)
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("Eval = %v, want ErrLimit", err)
		}
	})
	t.Run("member not on XmlNode", func(t *testing.T) {
		_, err := Compile(`@{ var d = new XmlDocument(); return d.DocumentElement.FirstChild.GetAttribute("x"); }`, pos())
		var pe *policy.Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "XmlNode.GetAttribute is not available") {
			t.Fatalf("Compile = %v, want XmlNode.GetAttribute refused", err)
		}
	})
}

// TestUserDelegationSASSample runs the corpus sample's SAS body against a delegation key
// response, so every member it uses is exercised together.
func TestUserDelegationSASSample(t *testing.T) {
	src := corpusSample(t, "snippets__examples__Return_a_blob_URL_signed_with_a_user_delegation_SAS_token.xml", "XmlDocument")
	// The sample passes a string to DateTime.AddSeconds, which C# refuses; evaluation here
	// fails at that call with ArgumentException. With the number parsed, the rest runs.
	const bad = `AddSeconds((string)context.Request.MatchedParameters["storageAccountName"])`
	if !strings.Contains(src, bad) {
		t.Fatal("the sample no longer passes a string to AddSeconds; revisit this test")
	}
	ctx := testContext(t)
	ctx.Request.MatchedParameters = map[string]string{"storageAccountName": "60", "containerName": "c", "blobName": "b.txt"}
	ctx.Variables["blobUri"] = "https://acct.blob.core.windows.net/c/b.txt"
	resp := &policy.Response{StatusCode: 200}
	keyXML := `<?xml version="1.0" encoding="utf-8"?>
<UserDelegationKey>
  <SignedOid>oid-1</SignedOid>
  <SignedTid>tid-2</SignedTid>
  <SignedStart>2026-11-25T00:00:00Z</SignedStart>
  <SignedExpiry>2026-11-26T00:00:00Z</SignedExpiry>
  <SignedService>b</SignedService>
  <SignedVersion>2020-12-06</SignedVersion>
  <Value>c2VjcmV0</Value>
</UserDelegationKey>`
	resp.Body.Set([]byte(keyXML))
	ctx.Variables["userdelegationkey"] = resp
	_, err := mustCompile(t, src).Eval(ctx)
	var ex *Exception
	if !errors.As(err, &ex) || ex.Type != "ArgumentException" {
		t.Fatalf("the sample as written: Eval = %v, want ArgumentException from AddSeconds", err)
	}
	resp.Body.Set([]byte(keyXML)) // the first evaluation consumed it
	fixed := strings.Replace(src, bad, `AddSeconds(double.Parse((string)context.Request.MatchedParameters["storageAccountName"]))`, 1)
	v, err := mustCompile(t, fixed).Eval(ctx)
	if err != nil {
		t.Fatalf("Eval: %v", err)
	}
	got := toStr(v)
	for _, want := range []string{"https://acct.blob.core.windows.net/c/b.txt?sv=2020-12-06&sp=r&se=", "&skoid=oid-1&sktid=tid-2&skt=2026-11-25T00:00:00Z&ske=2026-11-26T00:00:00Z&sks=b&skv=2020-12-06&spr=https&sig="} {
		if !strings.Contains(got, want) {
			t.Errorf("URL %q lacks %q", got, want)
		}
	}
}
