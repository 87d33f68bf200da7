package expr

import (
	"errors"
	"testing"
)

const soapEnvelope = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body><Order id="7"><Sku>A-1</Sku><Note/></Order></soap:Body>
</soap:Envelope>`

// TestXmlReader walks a document with XmlReader and hands elements to LINQ to XML.
func TestXmlReader(t *testing.T) {
	open := `using (XmlReader r = XmlReader.Create(new StringReader((string)context.Variables["xml"]))) { `
	tests := []struct{ name, src, want string }{
		{"move to content skips the declaration", `@{ ` + open + `return r.MoveToContent() + "|" + r.Name + "|" + r.LocalName + "|" + r.NamespaceURI; } }`, "Element|soap:Envelope|Envelope|http://schemas.xmlsoap.org/soap/envelope/"},
		{"node sequence", `@{ var s = ""; ` + open + `while (r.Read()) { s += r.NodeType + ":" + r.Name + r.Value + ";"; } return s + r.EOF; } }`,
			"XmlDeclaration:xmlversion=\"1.0\" encoding=\"utf-8\";Whitespace:\n;Element:soap:Envelope;Whitespace:\n  ;Element:soap:Body;Element:Order;Element:Sku;Text:A-1;EndElement:Sku;Element:Note;EndElement:Order;EndElement:soap:Body;Whitespace:\n;EndElement:soap:Envelope;True"},
		{"read from then continue", `@{ ` + open + `r.MoveToContent(); while (!r.EOF && r.Name != "Order") { r.Read(); } var el = XNode.ReadFrom(r) as XElement; return el.Element("Sku").Value + "|" + (el.Parent == null) + "|" + r.NodeType + ":" + r.Name; } }`, "A-1|True|EndElement:soap:Body"},
		{"attributes depth and empty elements", `@{ ` + open + `r.MoveToContent(); while (r.Name != "Order") { r.Read(); } var id = r.GetAttribute("id"); var d = r.Depth; while (r.Name != "Note") { r.Read(); } return id + "|" + d + "|" + r.IsEmptyElement + "|" + (r.NodeType == XmlNodeType.Element); } }`, "7|2|True|True"},
	}
	ctx := testContext(t)
	ctx.Variables["xml"] = soapEnvelope
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evalString(t, tc.src, ctx); got != tc.want {
				t.Errorf("Eval(%s) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
	errs := []struct{ name, src, exception string }{
		{"read from off an element", `@{ ` + open + `return XNode.ReadFrom(r); } }`, "InvalidOperationException"},
		{"malformed", `@(XmlReader.Create(new StringReader("<a>")))`, "XmlException"},
		{"not a string reader", `@(XmlReader.Create("https://example.com/x.xml"))`, "NotSupportedException"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mustCompile(t, tc.src).Eval(ctx)
			var ex *Exception
			if !errors.As(err, &ex) || ex.Type != tc.exception {
				t.Fatalf("Eval(%s) = %v, want %s", tc.src, err, tc.exception)
			}
		})
	}
}

// TestExtractValueFromXMLSample runs the corpus sample that finds an element with XmlReader.
func TestExtractValueFromXMLSample(t *testing.T) {
	src := corpusSample(t, "snippets__examples__Extract_value_from_XML.xml", "XmlReader")
	if got := evalString(t, src, testContext(t)); got != "ABCDEF123456789" {
		t.Errorf("the sample returned %q, want ABCDEF123456789", got)
	}
}
