package expr

import (
	"encoding/xml"
	"strings"
)

// System.Xml's DOM (XmlDocument, XmlNode, XmlElement, XmlAttribute) as a view over the
// LINQ to XML tree of xml.go, with the small XPath subset policies use to pick nodes.

// XmlDocument is System.Xml.XmlDocument; root is nil until LoadXml.
type XmlDocument struct{ root *XElement }

type xmlNodeKind uint8

const (
	xmlElementNode xmlNodeKind = iota
	xmlTextNode
	xmlAttributeNode
	xmlDocumentNode
)

// xmlNode is one XmlNode: an element, a text node or an attribute of el.
type xmlNode struct {
	kind xmlNodeKind
	el   *XElement // the element; the owner element of a text node or an attribute
	text string    // a text node's text
	attr xml.Attr  // an attribute
}

// xmlAttrs is XmlAttributeCollection, the attributes of one element.
type xmlAttrs struct{ el *XElement }

var xmlNodeTypeNames = [...]string{"XmlElement", "XmlText", "XmlAttribute", "XmlDocument"}

func (n *xmlNode) String() string     { return "System.Xml." + xmlNodeTypeNames[n.kind] }
func (d *XmlDocument) String() string { return "System.Xml.XmlDocument" }
func (a *xmlAttrs) String() string    { return "System.Xml.XmlAttributeCollection" }

func elementNode(el *XElement) any {
	if el == nil {
		return nil
	}
	return &xmlNode{kind: xmlElementNode, el: el}
}

// docNode is the document as a node: an element without a name whose one child is the root.
func docNode(root *XElement) *xmlNode {
	if root == nil {
		return &xmlNode{kind: xmlDocumentNode, el: &XElement{}}
	}
	return &xmlNode{kind: xmlDocumentNode, el: &XElement{Children: []any{root}}}
}

// stripWhitespace drops whitespace-only text, as XmlDocument does unless PreserveWhitespace,
// and forgets the source text so that OuterXml serialises what is kept.
func stripWhitespace(x *XElement) {
	x.raw = ""
	kept := x.Children[:0]
	for _, c := range x.Children {
		switch v := c.(type) {
		case string:
			if strings.TrimSpace(v) == "" {
				continue
			}
		case *XElement:
			stripWhitespace(v)
		}
		kept = append(kept, c)
	}
	x.Children = kept
}

func (n *xmlNode) innerText() string {
	switch n.kind {
	case xmlTextNode:
		return n.text
	case xmlAttributeNode:
		return n.attr.Value
	}
	return n.el.Value()
}

func (n *xmlNode) outerXML() string {
	switch n.kind {
	case xmlTextNode:
		return xmlEscape(n.text)
	case xmlAttributeNode:
		return n.attr.Name.Local + `="` + xmlEscape(n.attr.Value) + `"`
	case xmlDocumentNode:
		return n.innerXML()
	}
	return n.el.String()
}

func (n *xmlNode) innerXML() string {
	switch n.kind {
	case xmlTextNode, xmlAttributeNode:
		return n.outerXML()
	}
	var b strings.Builder
	for _, c := range n.el.Children {
		switch v := c.(type) {
		case string:
			b.WriteString(xmlEscape(v))
		case *XElement:
			b.WriteString(v.String())
		}
	}
	return b.String()
}

func (n *xmlNode) name() string {
	switch n.kind {
	case xmlTextNode:
		return "#text"
	case xmlAttributeNode:
		return n.attr.Name.Local
	case xmlDocumentNode:
		return "#document"
	}
	return n.el.Local
}

func (n *xmlNode) children() []any {
	if n.kind != xmlElementNode && n.kind != xmlDocumentNode {
		return []any{}
	}
	out := make([]any, 0, len(n.el.Children))
	for _, c := range n.el.Children {
		switch v := c.(type) {
		case string:
			out = append(out, &xmlNode{kind: xmlTextNode, el: n.el, text: v})
		case *XElement:
			out = append(out, elementNode(v))
		}
	}
	return out
}

func (a *xmlAttrs) find(name string) any {
	for _, at := range a.el.Attrs {
		if at.Name.Local == name && (at.Name.Space == "" || strings.Contains(name, ":")) {
			return &xmlNode{kind: xmlAttributeNode, el: a.el, attr: at}
		}
	}
	return nil
}

// xpathStep is one step of a supported XPath: a child element name (or *), ".", "..", a
// descendant search (after //) or a final @attribute.
type xpathStep struct {
	name       string
	descendant bool
	attr       bool
}

func unsupportedXPath(path string) error {
	return throw("NotSupportedException", "the XPath %q is not supported in policy expressions: only element paths such as /a/b, a/b, //a, ./a, ../a and * ending in an optional @attribute are", path)
}

// parseXPath reads the XPath subset; anything else (predicates, functions, axes, unions,
// prefixes) is refused rather than guessed at.
func parseXPath(path string) (steps []xpathStep, absolute bool, err error) {
	p := strings.TrimSpace(path)
	if p == "" {
		return nil, false, throw("XPathException", "the XPath expression is empty")
	}
	if strings.ContainsAny(p, "[]()|:=<>!$,'\" \t\n") {
		return nil, false, unsupportedXPath(path)
	}
	if strings.HasPrefix(p, "/") {
		absolute = true
		p = p[1:]
		if p == "" {
			return nil, true, unsupportedXPath(path) // "/" is the document itself
		}
	}
	descendant := false
	if absolute && strings.HasPrefix(p, "/") {
		descendant, p = true, p[1:]
	}
	parts := strings.Split(p, "/")
	for i := 0; i < len(parts); i++ {
		part := parts[i]
		if part == "" {
			// "a//b": the empty part between two slashes
			if descendant || i == len(parts)-1 || i == 0 {
				return nil, false, unsupportedXPath(path)
			}
			descendant = true
			continue
		}
		st := xpathStep{name: part, descendant: descendant}
		descendant = false
		if strings.HasPrefix(part, "@") {
			if i != len(parts)-1 || !validXMLName(part[1:]) || st.descendant {
				return nil, false, unsupportedXPath(path)
			}
			st = xpathStep{name: part[1:], attr: true}
		} else if part != "*" && part != "." && part != ".." && !validXMLName(part) {
			return nil, false, unsupportedXPath(path)
		}
		if st.descendant && (part == "." || part == "..") {
			return nil, false, unsupportedXPath(path)
		}
		steps = append(steps, st)
	}
	return steps, absolute, nil
}

func validXMLName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f:
		case i > 0 && (r == '-' || r == '.' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}

// selectXPath evaluates path from n; every element visited costs a step.
func selectXPath(e *env, n *xmlNode, path string, single bool) ([]any, error) {
	steps, absolute, err := parseXPath(path)
	if err != nil {
		return nil, err
	}
	if n.kind == xmlTextNode || n.kind == xmlAttributeNode {
		return []any{}, nil
	}
	ctx := []*XElement{n.el}
	if absolute {
		top := n.el
		for top.parent != nil {
			top = top.parent
		}
		if n.kind == xmlDocumentNode {
			ctx = []*XElement{n.el}
		} else {
			ctx = []*XElement{{Children: []any{top}}}
		}
	}
	// parents of every element reached, to answer ".." (the virtual document has none)
	for si, st := range steps {
		if st.attr {
			var out []any
			for _, el := range ctx {
				if a := (&xmlAttrs{el: el}).find(st.name); a != nil {
					out = append(out, a)
				}
			}
			return orEmpty(out), nil
		}
		var next []*XElement
		seen := map[*XElement]bool{}
		add := func(el *XElement) error {
			if err := e.step(); err != nil {
				return err
			}
			if !seen[el] {
				seen[el] = true
				next = append(next, el)
			}
			return nil
		}
		match := func(el *XElement) bool {
			return st.name == "*" || el.Local == st.name && el.Space == ""
		}
		for _, el := range ctx {
			switch {
			case st.name == ".":
				if err := add(el); err != nil {
					return nil, err
				}
			case st.name == "..":
				if el.parent != nil {
					if err := add(el.parent); err != nil {
						return nil, err
					}
				}
			case st.descendant:
				for _, d := range el.descendants(nil) {
					if err := e.step(); err != nil {
						return nil, err
					}
					if match(d) {
						if err := add(d); err != nil {
							return nil, err
						}
					}
				}
			default:
				for _, c := range el.elements() {
					if match(c) {
						if err := add(c); err != nil {
							return nil, err
						}
					}
				}
			}
		}
		if err := e.charge(16 * len(next)); err != nil {
			return nil, err
		}
		ctx = next
		if single && si == len(steps)-1 && len(ctx) > 1 {
			ctx = ctx[:1]
		}
	}
	out := make([]any, 0, len(ctx))
	for _, el := range ctx {
		if el.Local == "" {
			var root *XElement
			if kids := el.elements(); len(kids) > 0 {
				root = kids[0]
			}
			out = append(out, docNode(root))
			continue
		}
		out = append(out, elementNode(el))
	}
	return out, nil
}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func (r *registry) buildXMLDOM() {
	mk := func(name string) *typeInfo {
		t := newType(name)
		r.alias(t, name, "System.Xml."+name)
		return t
	}
	doc, node, elem, attr, text, attrs := mk("XmlDocument"), mk("XmlNode"), mk("XmlElement"), mk("XmlAttribute"), mk("XmlText"), mk("XmlAttributeCollection")
	r.alias(r.list, "XmlNodeList", "System.Xml.XmlNodeList")
	nodeTypes := map[*typeInfo]func(n *xmlNode) bool{
		node: func(*xmlNode) bool { return true },
		elem: func(n *xmlNode) bool { return n.kind == xmlElementNode },
		attr: func(n *xmlNode) bool { return n.kind == xmlAttributeNode },
		text: func(n *xmlNode) bool { return n.kind == xmlTextNode },
	}
	for t, ok := range nodeTypes {
		t.is = func(v any) bool {
			if _, isDoc := v.(*XmlDocument); isDoc {
				return t == node
			}
			n, isNode := v.(*xmlNode)
			return isNode && ok(n)
		}
		t.convert = func(v any) (any, bool) { return v, t.is(v) }
	}
	doc.is = func(v any) bool { _, ok := v.(*XmlDocument); return ok }
	doc.convert = func(v any) (any, bool) { return v, doc.is(v) }
	attrs.is = func(v any) bool { _, ok := v.(*xmlAttrs); return ok }

	doc.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		if len(args) != 0 {
			return nil, throw("ArgumentException", "XmlDocument takes no arguments in policy expressions")
		}
		return &XmlDocument{}, e.charge(64)
	}
	doc.meth("LoadXml", 1, 1, nil, func(e *env, recv any, args []any) (any, error) {
		d, err := recvAs[*XmlDocument](recv)
		if err != nil {
			return nil, err
		}
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if err := e.charge(4 * len(s)); err != nil {
			return nil, err
		}
		root, err := parseXML(s)
		if err != nil {
			return nil, err
		}
		stripWhitespace(root)
		d.root = root
		return nil, nil
	})
	doc.prop("DocumentElement", elem, func(e *env, recv any) (any, error) {
		d, err := recvAs[*XmlDocument](recv)
		if err != nil {
			return nil, err
		}
		return elementNode(d.root), nil
	})
	asNode := func(recv any) (*xmlNode, error) {
		switch x := recv.(type) {
		case *xmlNode:
			return x, nil
		case *XmlDocument:
			return docNode(x.root), nil
		}
		return nil, errWrongRecv
	}
	for _, t := range []*typeInfo{doc, node, elem, attr, text} {
		np := func(name string, ret *typeInfo, f func(n *xmlNode) any) {
			t.prop(name, ret, func(e *env, recv any) (any, error) {
				n, err := asNode(recv)
				if err != nil {
					return nil, err
				}
				v := f(n)
				if s, ok := v.(string); ok {
					return s, e.charge(len(s))
				}
				return v, nil
			})
		}
		np("InnerText", r.str, func(n *xmlNode) any { return n.innerText() })
		np("InnerXml", r.str, func(n *xmlNode) any { return n.innerXML() })
		np("OuterXml", r.str, func(n *xmlNode) any { return n.outerXML() })
		np("Name", r.str, func(n *xmlNode) any { return n.name() })
		np("LocalName", r.str, func(n *xmlNode) any { return n.name() })
		np("NamespaceURI", r.str, func(n *xmlNode) any {
			switch n.kind {
			case xmlElementNode:
				return n.el.Space
			case xmlAttributeNode:
				return n.attr.Name.Space
			}
			return ""
		})
		np("Value", r.str, func(n *xmlNode) any {
			switch n.kind {
			case xmlTextNode:
				return n.text
			case xmlAttributeNode:
				return n.attr.Value
			}
			return nil
		})
		np("ChildNodes", r.list, func(n *xmlNode) any { return &List{Items: n.children()} })
		np("HasChildNodes", r.boolean, func(n *xmlNode) any { return len(n.children()) > 0 })
		np("FirstChild", node, func(n *xmlNode) any {
			if c := n.children(); len(c) > 0 {
				return c[0]
			}
			return nil
		})
		np("LastChild", node, func(n *xmlNode) any {
			if c := n.children(); len(c) > 0 {
				return c[len(c)-1]
			}
			return nil
		})
		np("ParentNode", node, func(n *xmlNode) any {
			switch {
			case n.kind == xmlTextNode:
				return elementNode(n.el)
			case n.kind == xmlElementNode && n.el.parent != nil:
				return elementNode(n.el.parent)
			}
			return nil // an attribute, the document or the root's document (not kept)
		})
		np("Attributes", attrs, func(n *xmlNode) any {
			if n.kind != xmlElementNode {
				return nil
			}
			return &xmlAttrs{el: n.el}
		})
		sel := func(name string, ret *typeInfo, single bool) {
			t.meth(name, 1, 1, ret, func(e *env, recv any, args []any) (any, error) {
				n, err := asNode(recv)
				if err != nil {
					return nil, err
				}
				path, err := sarg(args, 0)
				if err != nil {
					return nil, err
				}
				out, err := selectXPath(e, n, path, single)
				if err != nil || !single {
					return &List{Items: out}, err
				}
				if len(out) == 0 {
					return nil, nil
				}
				return out[0], nil
			})
		}
		sel("SelectSingleNode", node, true)
		sel("SelectNodes", r.list, false)
	}
	elem.meth("GetAttribute", 1, 1, r.str, func(e *env, recv any, args []any) (any, error) {
		n, err := recvAs[*xmlNode](recv)
		if err != nil {
			return nil, err
		}
		name, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if a, ok := (&xmlAttrs{el: n.el}).find(name).(*xmlNode); ok {
			return a.attr.Value, nil
		}
		return "", nil
	})
	elem.meth("HasAttribute", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		n, err := recvAs[*xmlNode](recv)
		if err != nil {
			return nil, err
		}
		name, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		return (&xmlAttrs{el: n.el}).find(name) != nil, nil
	})
	attrs.prop("Count", r.integer, func(e *env, recv any) (any, error) {
		a, err := recvAs[*xmlAttrs](recv)
		if err != nil {
			return nil, err
		}
		return len(a.el.Attrs), nil
	})
	attrs.indexRet = attr
	attrs.index = func(e *env, recv any, args []any) (any, error) {
		a, err := recvAs[*xmlAttrs](recv)
		if err != nil {
			return nil, err
		}
		if len(args) != 1 {
			return nil, throw("ArgumentException", "XmlAttributeCollection takes one index")
		}
		switch k := args[0].(type) {
		case string:
			return a.find(k), nil
		case int:
			if k < 0 || k >= len(a.el.Attrs) {
				return nil, nil
			}
			return &xmlNode{kind: xmlAttributeNode, el: a.el, attr: a.el.Attrs[k]}, nil
		}
		return nil, invalidCast(args[0], "string")
	}
}

// xmlDOMType is the .NET type of a System.Xml value, for run-time dispatch.
func (r *registry) xmlDOMType(v any) *typeInfo {
	switch x := v.(type) {
	case *XmlDocument:
		return r.types["XmlDocument"]
	case *xmlNode:
		return r.types[xmlNodeTypeNames[x.kind]]
	case *xmlAttrs:
		return r.types["XmlAttributeCollection"]
	}
	return nil
}
