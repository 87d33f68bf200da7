package policy

import (
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary documents to the loader and the compiler (seeds in
// testdata/fuzz/FuzzLoad). Whatever the input: no panic; an error is a positioned *Error
// inside the document; a loaded document has positions inside the document and compiles or
// fails with positioned errors; a compiled pipeline runs.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`<policies><inbound><mark/></inbound></policies>`))
	f.Fuzz(func(t *testing.T, src []byte) {
		l := &Loader{Registry: testRegistry(), NamedValues: map[string]string{"known": "v"}, MaxDocumentSize: 1 << 16}
		lines := strings.Count(string(src), "\n") + 1
		checkPos := func(what string, p Pos) {
			if p.File != "f.xml" || p.Line < 1 || p.Line > lines || p.Col < 1 {
				t.Fatalf("%s at %v outside the document (%d lines)", what, p, lines)
			}
		}
		doc, err := l.Load("f.xml", src)
		if err != nil {
			errs := Errors(err)
			if len(errs) == 0 {
				t.Fatalf("error without a position: %v", err)
			}
			for _, e := range errs {
				if e.Pos.Line == 0 && strings.Contains(e.Msg, "larger than the limit") {
					continue
				}
				checkPos("error", e.Pos)
			}
			return
		}
		var walk func(*Element)
		walk = func(el *Element) {
			checkPos("<"+el.Name+">", el.Pos)
			checkPos("text of <"+el.Name+">", el.TextPos)
			for _, a := range el.Attrs {
				checkPos("attribute "+a.Name, a.Pos)
			}
			for _, c := range el.Children {
				walk(c)
			}
		}
		walk(doc.Root)
		if doc.Fragment {
			return
		}
		p, err := l.Compile(nil, doc, nil)
		if err != nil {
			for _, e := range Errors(err) {
				checkPos("compile error", e.Pos)
			}
			return
		}
		p.Run(newTestContext())
	})
}
