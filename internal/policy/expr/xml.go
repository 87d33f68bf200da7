package expr

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// XElement is LINQ to XML's XElement: a name, attributes, text and child elements.
type XElement struct {
	Space, Local string
	Attrs        []xml.Attr
	Children     []any // *XElement or string (text)
	parent       *XElement
	raw          string // the source text of a parsed element
}

// XDocument is LINQ to XML's XDocument.
type XDocument struct {
	Root *XElement
	raw  string
}

// XNamespace is an XML namespace; ns + "local" names an element in it.
type XNamespace struct{ URI string }

// XAttribute is an attribute of an element.
type XAttribute struct {
	Space, Local, Value string
}

func (x *XElement) String() string {
	if x.raw != "" {
		return x.raw
	}
	var b strings.Builder
	x.write(&b)
	return b.String()
}

func (d *XDocument) String() string { return d.Root.String() }
func (n XNamespace) String() string { return n.URI }
func (a *XAttribute) String() string {
	return a.Local + `="` + xmlEscape(a.Value) + `"`
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (x *XElement) write(b *strings.Builder) {
	b.WriteString("<" + x.Local)
	if x.Space != "" && (x.parent == nil || x.parent.Space != x.Space) {
		b.WriteString(` xmlns="` + xmlEscape(x.Space) + `"`)
	}
	for _, a := range x.Attrs {
		b.WriteString(" " + a.Name.Local + `="` + xmlEscape(a.Value) + `"`)
	}
	if len(x.Children) == 0 {
		b.WriteString(" />")
		return
	}
	b.WriteByte('>')
	for _, c := range x.Children {
		switch v := c.(type) {
		case string:
			b.WriteString(xmlEscape(v))
		case *XElement:
			if v.raw != "" {
				b.WriteString(v.raw)
			} else {
				v.write(b)
			}
		}
	}
	b.WriteString("</" + x.Local + ">")
}

// Value is the concatenated text of the element and its descendants.
func (x *XElement) Value() string {
	var b strings.Builder
	var walk func(e *XElement)
	walk = func(e *XElement) {
		for _, c := range e.Children {
			switch v := c.(type) {
			case string:
				b.WriteString(v)
			case *XElement:
				walk(v)
			}
		}
	}
	walk(x)
	return b.String()
}

// xname splits an XName written as "{namespace}local" or "local".
func xname(v any) (space, local string, err error) {
	switch n := v.(type) {
	case string:
		if strings.HasPrefix(n, "{") {
			if i := strings.IndexByte(n, '}'); i > 0 {
				return n[1:i], n[i+1:], nil
			}
		}
		return "", n, nil
	case *xName:
		return n.space, n.local, nil
	}
	return "", "", throw("ArgumentException", "an XML name must be a string, not %s", typeName(v))
}

// xName is XElement.Name.
type xName struct{ space, local string }

func (n *xName) String() string {
	if n.space == "" {
		return n.local
	}
	return "{" + n.space + "}" + n.local
}

func (x *XElement) matches(space, local string) bool { return x.Space == space && x.Local == local }

func (x *XElement) elements() []*XElement {
	var out []*XElement
	for _, c := range x.Children {
		if el, ok := c.(*XElement); ok {
			out = append(out, el)
		}
	}
	return out
}

func (x *XElement) descendants(out []*XElement) []*XElement {
	for _, el := range x.elements() {
		out = append(out, el)
		out = el.descendants(out)
	}
	return out
}

const maxXMLDepth = 128

// parseXML reads one XML document. encoding/xml resolves no external entities.
func parseXML(s string) (*XElement, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	var root, cur *XElement
	var starts []int64
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, throw("XmlException", "the XML is not well formed")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(starts) >= maxXMLDepth {
				return nil, throw("XmlException", "the XML is nested too deeply")
			}
			el := &XElement{Space: t.Name.Space, Local: t.Name.Local, parent: cur}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				el.Attrs = append(el.Attrs, a)
			}
			if cur == nil {
				if root != nil {
					return nil, throw("XmlException", "the XML has more than one root element")
				}
				root = el
			} else {
				cur.Children = append(cur.Children, el)
			}
			cur = el
			starts = append(starts, off)
		case xml.EndElement:
			cur.raw = s[starts[len(starts)-1]:d.InputOffset()]
			starts = starts[:len(starts)-1]
			cur = cur.parent
		case xml.CharData:
			if cur != nil {
				text := string(t)
				if n := len(cur.Children); n > 0 {
					if prev, ok := cur.Children[n-1].(string); ok {
						cur.Children[n-1] = prev + text
						continue
					}
				}
				cur.Children = append(cur.Children, text)
			}
		}
	}
	if root == nil {
		return nil, throw("XmlException", "the XML has no root element")
	}
	return root, nil
}

func (r *registry) buildXML() {
	mk := func(name string) *typeInfo {
		t := newType(name)
		r.alias(t, name, "System.Xml.Linq."+name)
		return t
	}
	xe, xd, xa, xn, xns := mk("XElement"), mk("XDocument"), mk("XAttribute"), mk("XName"), mk("XNamespace")
	xe.is = func(v any) bool { _, ok := v.(*XElement); return ok }
	xe.convert = func(v any) (any, bool) { x, ok := v.(*XElement); return x, ok }
	xd.is = func(v any) bool { _, ok := v.(*XDocument); return ok }
	xd.convert = func(v any) (any, bool) { x, ok := v.(*XDocument); return x, ok }
	xns.is = func(v any) bool { _, ok := v.(XNamespace); return ok }
	// string converts to XNamespace implicitly; a declaration XNamespace ns = "..." relies on it
	xns.valueType, xns.zero = true, XNamespace{}
	xns.convert = func(v any) (any, bool) {
		switch x := v.(type) {
		case XNamespace:
			return x, true
		case string:
			return XNamespace{URI: x}, true
		}
		return nil, false
	}
	// (string)element and (string)attribute read the value, as LINQ to XML's explicit casts do.
	strConvert := r.str.convert
	r.str.convert = func(v any) (any, bool) {
		switch x := v.(type) {
		case *XElement:
			return x.Value(), true
		case *XAttribute:
			return x.Value, true
		}
		return strConvert(v)
	}
	parse := func(e *env, s string) (*XElement, error) {
		if err := e.charge(4 * len(s)); err != nil {
			return nil, err
		}
		return parseXML(s)
	}
	xe.smeth("Parse", 1, 2, xe, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		return parse(e, s)
	})
	xd.smeth("Parse", 1, 2, xd, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		root, err := parse(e, s)
		if err != nil {
			return nil, err
		}
		return &XDocument{Root: root, raw: s}, nil
	})
	xns.smeth("Get", 1, 1, xns, func(e *env, args []any) (any, error) {
		s, err := sarg(args, 0)
		return XNamespace{URI: s}, err
	})
	xns.sprop("None", xns, func(*env) (any, error) { return XNamespace{}, nil })
	xns.prop("NamespaceName", r.str, func(e *env, recv any) (any, error) {
		n, err := recvAs[XNamespace](recv)
		return n.URI, err
	})
	xe.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		if len(args) == 0 {
			return nil, throw("ArgumentException", "XElement needs a name")
		}
		space, local, err := xname(args[0])
		if err != nil {
			return nil, err
		}
		el := &XElement{Space: space, Local: local}
		for _, c := range flattenArgs(args[1:]) {
			switch v := c.(type) {
			case nil:
			case *XElement:
				cp := *v
				cp.parent = el
				el.Children = append(el.Children, &cp)
			case *XAttribute:
				el.Attrs = append(el.Attrs, xml.Attr{Name: xml.Name{Space: v.Space, Local: v.Local}, Value: v.Value})
			default:
				el.Children = append(el.Children, toStr(c))
			}
		}
		return el, e.charge(64)
	}
	xa.ctor = func(e *env, _ []*typeInfo, args []any) (any, error) {
		if len(args) != 2 {
			return nil, throw("ArgumentException", "XAttribute needs a name and a value")
		}
		space, local, err := xname(args[0])
		if err != nil {
			return nil, err
		}
		return &XAttribute{Space: space, Local: local, Value: toStr(args[1])}, nil
	}

	elem := func(recv any) (*XElement, error) {
		switch x := recv.(type) {
		case *XElement:
			return x, nil
		case *XDocument:
			// a document's children are its root
			return &XElement{Children: []any{x.Root}}, nil
		}
		return nil, errWrongRecv
	}
	for _, t := range []*typeInfo{xe, xd} {
		t.meth("Element", 1, 1, xe, func(e *env, recv any, args []any) (any, error) {
			x, err := elem(recv)
			if err != nil {
				return nil, err
			}
			space, local, err := xname(args[0])
			if err != nil {
				return nil, err
			}
			for _, c := range x.elements() {
				if c.matches(space, local) {
					return c, nil
				}
			}
			return nil, nil
		})
		list := func(name string, f func(x *XElement) []*XElement) {
			t.meth(name, 0, 1, r.array, func(e *env, recv any, args []any) (any, error) {
				x, err := elem(recv)
				if err != nil {
					return nil, err
				}
				all := f(x)
				if err := e.charge(16 * len(all)); err != nil {
					return nil, err
				}
				out := []any{}
				for _, c := range all {
					if len(args) == 1 {
						space, local, err := xname(args[0])
						if err != nil {
							return nil, err
						}
						if !c.matches(space, local) {
							continue
						}
					}
					out = append(out, c)
				}
				return out, nil
			})
		}
		list("Elements", (*XElement).elements)
		list("Descendants", func(x *XElement) []*XElement { return x.descendants(nil) })
		t.meth("ToString", 0, 1, r.str, func(e *env, recv any, args []any) (any, error) { return toStr(recv), nil })
	}
	xd.prop("Root", xe, func(e *env, recv any) (any, error) {
		d, err := recvAs[*XDocument](recv)
		if err != nil {
			return nil, err
		}
		return d.Root, nil
	})
	xf := func(name string, ret *typeInfo, f func(x *XElement) any) {
		xe.prop(name, ret, func(e *env, recv any) (any, error) {
			x, err := recvAs[*XElement](recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	xf("Value", r.str, func(x *XElement) any { return x.Value() })
	xf("Name", xn, func(x *XElement) any { return &xName{space: x.Space, local: x.Local} })
	xf("HasElements", r.boolean, func(x *XElement) any { return len(x.elements()) > 0 })
	xf("HasAttributes", r.boolean, func(x *XElement) any { return len(x.Attrs) > 0 })
	xf("IsEmpty", r.boolean, func(x *XElement) any { return len(x.Children) == 0 })
	xf("Parent", xe, func(x *XElement) any {
		if x.parent == nil || x.parent.Local == "" {
			return nil
		}
		return x.parent
	})
	xe.meth("Attribute", 1, 1, xa, func(e *env, recv any, args []any) (any, error) {
		x, err := recvAs[*XElement](recv)
		if err != nil {
			return nil, err
		}
		space, local, err := xname(args[0])
		if err != nil {
			return nil, err
		}
		for _, a := range x.Attrs {
			if a.Name.Space == space && a.Name.Local == local {
				return &XAttribute{Space: a.Name.Space, Local: a.Name.Local, Value: a.Value}, nil
			}
		}
		return nil, nil
	})
	xe.meth("Attributes", 0, 0, r.array, func(e *env, recv any, args []any) (any, error) {
		x, err := recvAs[*XElement](recv)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(x.Attrs))
		for _, a := range x.Attrs {
			out = append(out, &XAttribute{Space: a.Name.Space, Local: a.Name.Local, Value: a.Value})
		}
		return out, nil
	})
	xa.prop("Value", r.str, func(e *env, recv any) (any, error) {
		a, err := recvAs[*XAttribute](recv)
		if err != nil {
			return nil, err
		}
		return a.Value, nil
	})
	xa.prop("Name", xn, func(e *env, recv any) (any, error) {
		a, err := recvAs[*XAttribute](recv)
		if err != nil {
			return nil, err
		}
		return &xName{space: a.Space, local: a.Local}, nil
	})
	xn.prop("LocalName", r.str, func(e *env, recv any) (any, error) {
		n, err := recvAs[*xName](recv)
		if err != nil {
			return nil, err
		}
		return n.local, nil
	})
	xn.prop("NamespaceName", r.str, func(e *env, recv any) (any, error) {
		n, err := recvAs[*xName](recv)
		if err != nil {
			return nil, err
		}
		return n.space, nil
	})
	xn.prop("Namespace", xns, func(e *env, recv any) (any, error) {
		n, err := recvAs[*xName](recv)
		if err != nil {
			return nil, err
		}
		return XNamespace{URI: n.space}, nil
	})
}
