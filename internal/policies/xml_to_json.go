package policies

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"portcullis/internal/policy"
)

// xmlToJSON is xml-to-json: an XML body becomes JSON the way Json.NET's SerializeXNode writes
// it: attributes as "@name", text beside attributes as "#text", repeated elements as arrays,
// empty elements as null. kind="direct" keeps the XML declaration as "?xml";
// kind="javascript-friendly" leaves it out.
type xmlToJSON struct {
	target         messageTarget
	direct         bool
	apply          *policy.Value // always | content-type-xml
	considerAccept *policy.Value // nil: true
	alwaysArray    bool
}

func compileXMLToJSON(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "kind", "apply", "consider-accept-header", "always-array-child-elements")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	if err := onlyIn(el, c, policy.SectionInbound, policy.SectionOutbound, policy.SectionOnError); err != nil {
		return nil, err
	}
	x := &xmlToJSON{target: sectionTarget(c)}
	kind, _, err := r.constant("kind", true)
	if err != nil {
		return nil, err
	}
	switch strings.TrimSpace(kind) {
	case "direct":
		x.direct = true
	case "javascript-friendly":
	default:
		a, _ := el.Attr("kind")
		return nil, policy.Errorf(a.Pos, "<xml-to-json> kind must be javascript-friendly or direct, found %q", kind)
	}
	if x.apply, err = r.value("apply", true); err != nil {
		return nil, err
	}
	if !x.apply.IsExpr() {
		if _, err := parseApply(x.apply.Const, "content-type-xml"); err != nil {
			return nil, policy.Errorf(x.apply.Pos, "<xml-to-json> %v", err)
		}
	}
	if x.considerAccept, err = r.boolValue("consider-accept-header"); err != nil {
		return nil, err
	}
	if x.alwaysArray, err = r.constBool("always-array-child-elements", false); err != nil {
		return nil, err
	}
	return x, nil
}

func (x *xmlToJSON) Run(ctx *policy.Context) error {
	h := targetHeader(ctx, x.target)
	ok, err := conversionApplies(ctx, h, x.apply, x.considerAccept, "content-type-xml", "xml", "json")
	if err != nil || !ok {
		return err
	}
	body := targetBody(ctx, x.target)
	data, err := body.Bytes()
	if err != nil {
		return err
	}
	out, err := xmlDocumentToJSON(data, x.direct, x.alwaysArray)
	if err != nil {
		return fmt.Errorf("xml-to-json: %w", err)
	}
	body.Set(out)
	h.Set("Content-Type", "application/json")
	return nil
}

// xnode is an element being converted: its attributes, text and children in order.
type xnode struct {
	name     string
	attrs    []xml.Attr
	text     strings.Builder
	children []*xnode
}

func xmlDocumentToJSON(data []byte, direct, alwaysArray bool) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var root *xnode
	var stack []*xnode
	var decl string
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the body is not XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target == "xml" {
				decl = string(t.Inst)
			}
		case xml.StartElement:
			if len(stack) >= maxJSONDepth {
				return nil, fmt.Errorf("the XML nests deeper than %d levels", maxJSONDepth)
			}
			n := &xnode{name: qualified(t.Name), attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("the XML has more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("the body is not XML: unexpected end tag")
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil || len(stack) > 0 {
		return nil, fmt.Errorf("the body is not a complete XML document")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	if direct && decl != "" {
		b.WriteString(`"?xml":{`)
		for i, a := range declAttrs(decl) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, "@"+a[0])
			b.WriteByte(':')
			writeJSONString(&b, a[1])
		}
		b.WriteString("},")
	}
	writeJSONString(&b, root.name)
	b.WriteByte(':')
	writeXNode(&b, root, alwaysArray)
	b.WriteByte('}')
	return b.Bytes(), nil
}

func qualified(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

func declAttrs(inst string) [][2]string {
	var out [][2]string
	for _, f := range strings.Fields(inst) {
		k, v, ok := strings.Cut(f, "=")
		if ok {
			out = append(out, [2]string{k, strings.Trim(v, `"'`)})
		}
	}
	return out
}

func writeXNode(b *bytes.Buffer, n *xnode, alwaysArray bool) {
	text := strings.TrimSpace(n.text.String())
	if len(n.attrs) == 0 && len(n.children) == 0 {
		if text == "" {
			b.WriteString("null")
		} else {
			writeJSONString(b, text)
		}
		return
	}
	b.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	for _, a := range n.attrs {
		sep()
		writeJSONString(b, "@"+qualified(a.Name))
		b.WriteByte(':')
		writeJSONString(b, a.Value)
	}
	if text != "" {
		sep()
		b.WriteString(`"#text":`)
		writeJSONString(b, text)
	}
	// Children of one name become one property; several, or alwaysArray, make it an array.
	var order []string
	groups := map[string][]*xnode{}
	for _, c := range n.children {
		if _, ok := groups[c.name]; !ok {
			order = append(order, c.name)
		}
		groups[c.name] = append(groups[c.name], c)
	}
	for _, name := range order {
		sep()
		writeJSONString(b, name)
		b.WriteByte(':')
		g := groups[name]
		if len(g) == 1 && !alwaysArray {
			writeXNode(b, g[0], alwaysArray)
			continue
		}
		b.WriteByte('[')
		for i, c := range g {
			if i > 0 {
				b.WriteByte(',')
			}
			writeXNode(b, c, alwaysArray)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}
