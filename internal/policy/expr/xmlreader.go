package expr

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// System.Xml's forward-only XmlReader over a StringReader, as a cursor over the nodes of a
// document parsed once with xml.go; XNode.ReadFrom hands the current element to LINQ to XML.

// stringReader is System.IO.StringReader: text only, for XmlReader.Create.
type stringReader struct{ s string }

func (s *stringReader) String() string { return "System.IO.StringReader" }

type readerNode struct {
	kind  int // an XmlNodeType value
	el    *XElement
	text  string
	depth int
	end   int // for an element: the index of its EndElement node (itself when empty)
}

// xmlReader is System.Xml.XmlReader positioned at nodes[pos]; pos -1 is before the first.
type xmlReader struct {
	nodes    []readerNode
	prefixes map[*XElement]string
	pos      int
	eof      bool
}

func (x *xmlReader) String() string { return "System.Xml.XmlReader" }

// XmlNodeType values used by the reader.
const (
	xntNone        = 0
	xntElement     = 1
	xntText        = 3
	xntWhitespace  = 13
	xntEndElement  = 15
	xntDeclaration = 17
)

var xmlNodeTypeValues = []string{"None", "Element", "Attribute", "Text", "CDATA", "EntityReference", "Entity",
	"ProcessingInstruction", "Comment", "Document", "DocumentType", "DocumentFragment", "Notation", "Whitespace",
	"SignificantWhitespace", "EndElement", "EndEntity", "XmlDeclaration"}

func newXMLReader(s string) (*xmlReader, error) {
	root, err := parseXML(s)
	if err != nil {
		return nil, err
	}
	r := &xmlReader{pos: -1, prefixes: map[*XElement]string{}}
	// element names as written (soap:Envelope): the raw tokens come in the tree's order;
	// before the root, the declaration and whitespace are nodes too
	var prefixes []string
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) || err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			prefixes = append(prefixes, t.Name.Space)
		case xml.ProcInst:
			if len(prefixes) == 0 && t.Target == "xml" {
				r.nodes = append(r.nodes, readerNode{kind: xntDeclaration, text: strings.TrimSpace(string(t.Inst))})
			}
		case xml.CharData:
			if len(prefixes) == 0 && strings.TrimSpace(string(t)) == "" {
				r.nodes = append(r.nodes, readerNode{kind: xntWhitespace, text: string(t)})
			}
		}
	}
	var walk func(el *XElement, depth int)
	walk = func(el *XElement, depth int) {
		if len(prefixes) > 0 {
			if prefixes[0] != "" {
				r.prefixes[el] = prefixes[0]
			}
			prefixes = prefixes[1:]
		}
		i := len(r.nodes)
		r.nodes = append(r.nodes, readerNode{kind: xntElement, el: el, depth: depth, end: i})
		if len(el.Children) == 0 {
			return
		}
		for _, c := range el.Children {
			switch v := c.(type) {
			case string:
				kind := xntText
				if strings.TrimSpace(v) == "" {
					kind = xntWhitespace
				}
				r.nodes = append(r.nodes, readerNode{kind: kind, el: el, text: v, depth: depth + 1})
			case *XElement:
				walk(v, depth+1)
			}
		}
		r.nodes[i].end = len(r.nodes)
		r.nodes = append(r.nodes, readerNode{kind: xntEndElement, el: el, depth: depth})
	}
	walk(root, 0)
	return r, nil
}

func (x *xmlReader) cur() *readerNode {
	if x.pos < 0 || x.eof || x.pos >= len(x.nodes) {
		return nil
	}
	return &x.nodes[x.pos]
}

func (x *xmlReader) read() bool {
	if x.eof {
		return false
	}
	x.pos++
	if x.pos >= len(x.nodes) {
		x.eof = true
		return false
	}
	return true
}

func (x *xmlReader) name() string {
	n := x.cur()
	if n == nil || (n.kind != xntElement && n.kind != xntEndElement) {
		if n != nil && n.kind == xntDeclaration {
			return "xml"
		}
		return ""
	}
	if p := x.prefixes[n.el]; p != "" {
		return p + ":" + n.el.Local
	}
	return n.el.Local
}

func (r *registry) buildXMLReader() {
	mk := func(name string, aliases ...string) *typeInfo {
		t := newType(name)
		r.alias(t, name)
		r.alias(t, aliases...)
		return t
	}
	sr := mk("StringReader", "System.IO.StringReader")
	sr.is = func(v any) bool { _, ok := v.(*stringReader); return ok }
	sr.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		if len(args) != 1 {
			return nil, throw("ArgumentException", "StringReader takes one string")
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, throw("ArgumentNullException", "StringReader needs a string")
		}
		return &stringReader{s: s}, nil
	}
	nt := mk("XmlNodeType", "System.Xml.XmlNodeType")
	enumValues(nt, "XmlNodeType", xmlNodeTypeValues...)
	xr := mk("XmlReader", "System.Xml.XmlReader")
	xr.is = func(v any) bool { _, ok := v.(*xmlReader); return ok }
	xr.smeth("Create", 1, 1, xr, func(e *env, args []any) (any, error) {
		s, ok := args[0].(*stringReader)
		if !ok {
			return nil, throw("NotSupportedException", "XmlReader.Create reads only a StringReader in policy expressions")
		}
		if err := e.charge(8 * len(s.s)); err != nil {
			return nil, err
		}
		return newXMLReader(s.s)
	})
	rd := func(recv any) (*xmlReader, error) { return recvAs[*xmlReader](recv) }
	xp := func(name string, ret *typeInfo, f func(x *xmlReader) any) {
		xr.prop(name, ret, func(e *env, recv any) (any, error) {
			x, err := rd(recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	xp("EOF", r.boolean, func(x *xmlReader) any { return x.eof })
	xp("Name", r.str, func(x *xmlReader) any { return x.name() })
	xp("LocalName", r.str, func(x *xmlReader) any {
		if n := x.cur(); n != nil && (n.kind == xntElement || n.kind == xntEndElement) {
			return n.el.Local
		}
		return x.name()
	})
	xp("NamespaceURI", r.str, func(x *xmlReader) any {
		if n := x.cur(); n != nil && (n.kind == xntElement || n.kind == xntEndElement) {
			return n.el.Space
		}
		return ""
	})
	xp("Value", r.str, func(x *xmlReader) any {
		if n := x.cur(); n != nil {
			return n.text
		}
		return ""
	})
	xp("NodeType", nt, func(x *xmlReader) any {
		k := xntNone
		if n := x.cur(); n != nil {
			k = n.kind
		}
		return Enum{Type: "XmlNodeType", Name: xmlNodeTypeValues[k], N: k}
	})
	xp("Depth", r.integer, func(x *xmlReader) any {
		if n := x.cur(); n != nil {
			return n.depth
		}
		return 0
	})
	xp("IsEmptyElement", r.boolean, func(x *xmlReader) any {
		n := x.cur()
		return n != nil && n.kind == xntElement && n.end == x.pos
	})
	xr.meth("Read", 0, 0, r.boolean, func(e *env, recv any, args []any) (any, error) {
		x, err := rd(recv)
		if err != nil {
			return nil, err
		}
		return x.read(), nil
	})
	xr.meth("MoveToContent", 0, 0, nt, func(e *env, recv any, args []any) (any, error) {
		x, err := rd(recv)
		if err != nil {
			return nil, err
		}
		if x.pos < 0 {
			x.read()
		}
		for n := x.cur(); n != nil && (n.kind == xntWhitespace || n.kind == xntDeclaration); n = x.cur() {
			if err := e.step(); err != nil {
				return nil, err
			}
			x.read()
		}
		k := xntNone
		if n := x.cur(); n != nil {
			k = n.kind
		}
		return Enum{Type: "XmlNodeType", Name: xmlNodeTypeValues[k], N: k}, nil
	})
	xr.meth("GetAttribute", 1, 1, r.str, func(e *env, recv any, args []any) (any, error) {
		x, err := rd(recv)
		if err != nil {
			return nil, err
		}
		name, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if n := x.cur(); n != nil && n.kind == xntElement {
			if a, ok := (&xmlAttrs{el: n.el}).find(name).(*xmlNode); ok {
				return a.attr.Value, nil
			}
		}
		return nil, nil
	})
	for _, name := range []string{"Close", "Dispose"} {
		xr.meth(name, 0, 0, nil, func(e *env, recv any, args []any) (any, error) {
			x, err := rd(recv)
			if err == nil {
				x.eof = true
			}
			return nil, err
		})
	}
	xn := mk("XNode", "System.Xml.Linq.XNode")
	xn.smeth("ReadFrom", 1, 1, r.types["XElement"], func(e *env, args []any) (any, error) {
		x, ok := args[0].(*xmlReader)
		if !ok {
			return nil, throw("ArgumentException", "XNode.ReadFrom needs an XmlReader")
		}
		n := x.cur()
		if n == nil || n.kind != xntElement {
			return nil, throw("InvalidOperationException", "the XmlReader must be on an element to read it")
		}
		cp := *n.el
		cp.parent = nil
		x.pos = n.end
		x.read()
		return &cp, e.charge(64)
	})
}
