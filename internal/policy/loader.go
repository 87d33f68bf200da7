package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Loader reads policy documents and compiles them into pipelines. Set its fields before the
// first call; it is safe for concurrent use afterwards. One Loader serves one configuration:
// a reload builds a new one.
type Loader struct {
	// NamedValues replace {{name}} in attribute values and text. An undefined one is a load
	// error, except inside a Liquid set-body.
	NamedValues map[string]string
	// FragmentsDir holds fragment-id.xml for <include-fragment fragment-id="fragment-id"/>.
	FragmentsDir string
	// Registry maps element names to compilers (policies.Registry).
	Registry Registry
	// Expressions compiles @(...) and @{...}; nil makes every expression a load error.
	Expressions ExpressionCompiler
	// Certificates are gateway.certificates by id.
	Certificates map[string]*Certificate
	// MaxDocumentSize bounds each file in bytes; 0 means DefaultMaxDocumentSize.
	MaxDocumentSize int64

	mu            sync.Mutex
	fragments     map[string]*fragment
	defaultGlobal *Document
}

// Document is one loaded policy document: <policies> with its sections, or a <fragment>.
// Fragments it includes are already spliced in, named values already substituted.
type Document struct {
	File string
	Root *Element
	// Fragment is true for a <fragment> document, which is included, never compiled alone.
	Fragment bool

	sections [numSections]*Element // nil: the section is absent

	mu       sync.Mutex
	compiled map[string]*compiledDocument // by scope
}

// Section returns the section element called name (inbound, backend, outbound, on-error),
// or false when the document does not have it.
func (d *Document) Section(name string) (*Element, bool) {
	i := sectionIndex(name)
	if i < 0 || d.sections[i] == nil {
		return nil, false
	}
	return d.sections[i], true
}

// fragment is a loaded fragment file, its own includes resolved.
type fragment struct {
	elements []*Element
	size     int // elements in the tree, fragments included
	err      error
}

// maxElements bounds the elements of one document once its fragments are spliced in, so
// fragments that include each other many times cannot multiply into an enormous pipeline.
const maxElements = 100_000

func (l *Loader) maxSize() int64 {
	if l.MaxDocumentSize > 0 {
		return l.MaxDocumentSize
	}
	return DefaultMaxDocumentSize
}

// LoadFile reads and loads the policy document at path.
func (l *Loader) LoadFile(path string) (*Document, error) {
	src, err := l.readFile(path)
	if err != nil {
		return nil, err
	}
	return l.Load(path, src)
}

func (l *Loader) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: "cannot read policy file: " + describeFSError(err), Err: err}
	}
	defer f.Close()
	limit := l.maxSize()
	src, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: "cannot read policy file: " + err.Error(), Err: err}
	}
	if int64(len(src)) > limit {
		return nil, &Error{Pos: Pos{File: path}, Msg: fmt.Sprintf("policy file is larger than the limit of %d bytes", limit)}
	}
	return src, nil
}

func describeFSError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return err.Error()
}

// Load loads a policy document from src; file names it in positions. The root is
// <policies> (sections inbound, backend, outbound, on-error, each optional and at most once)
// or <fragment>. Every error found is returned, as an ErrorList.
func (l *Loader) Load(file string, src []byte) (*Document, error) {
	if int64(len(src)) > l.maxSize() {
		return nil, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("policy document is larger than the limit of %d bytes", l.maxSize())}
	}
	p := newXMLParser(file, src, &namedValues{values: l.NamedValues})
	roots, err := p.parse(false)
	if err != nil {
		return nil, err
	}
	errs := []*Error(p.errs)
	root := roots[0]
	doc := &Document{File: file, Root: root}
	switch root.Name {
	case "policies":
		errs = append(errs, doc.readSections()...)
	case "fragment":
		doc.Fragment = true
		errs = append(errs, checkNoText(root)...)
	default:
		return nil, Errorf(root.Pos, "the root element is <%s>: a policy document has <policies> (or <fragment> for a fragment)", root.Name)
	}
	budget := maxElements - countElements(root)
	errs = append(errs, l.spliceFragments(root, nil, &budget)...)
	if !doc.Fragment {
		for i, sec := range doc.sections {
			if sec != nil {
				setPaths(sec.Children, "")
				errs = append(errs, checkSection(sec, i)...)
			}
		}
	}
	if err := errorsOrNil(errs); err != nil {
		return nil, err
	}
	return doc, nil
}

// readSections checks <policies>' children and records the sections.
func (d *Document) readSections() []*Error {
	var errs []*Error
	errs = append(errs, checkNoText(d.Root)...)
	for _, el := range d.Root.Children {
		i := sectionIndex(el.Name)
		if i < 0 {
			errs = append(errs, Errorf(el.Pos, "<%s> cannot appear in <policies>: the sections are inbound, backend, outbound and on-error", el.Name))
			continue
		}
		if prev := d.sections[i]; prev != nil {
			errs = append(errs, Errorf(el.Pos, "a second <%s> section (the first is at %d:%d)", el.Name, prev.Pos.Line, prev.Pos.Col))
			continue
		}
		if len(el.Attrs) > 0 {
			errs = append(errs, Errorf(el.Attrs[0].Pos, "section <%s> takes no attributes (found %s)", el.Name, el.Attrs[0].Name))
		}
		errs = append(errs, checkNoText(el)...)
		d.sections[i] = el
	}
	return errs
}

// checkNoText reports character data in an element that holds only elements.
func checkNoText(el *Element) []*Error {
	if strings.TrimSpace(el.Text) == "" {
		return nil
	}
	return []*Error{Errorf(el.TextPos, "unexpected text in <%s>: %q", el.Name, excerpt(strings.TrimSpace(el.Text)))}
}

// checkSection checks <base/> and which policies the section may hold.
func checkSection(sec *Element, section int) []*Error {
	var errs []*Error
	var base *Element
	for _, el := range sec.Children {
		if el.Name != "base" {
			continue
		}
		if base != nil {
			errs = append(errs, Errorf(el.Pos, "a second <base/> in <%s> (the first is at %d:%d)", sec.Name, base.Pos.Line, base.Pos.Col))
			continue
		}
		base = el
		if len(el.Attrs) > 0 || len(el.Children) > 0 || strings.TrimSpace(el.Text) != "" {
			errs = append(errs, Errorf(el.Pos, "<base/> takes no attributes and no content"))
		}
	}
	walkPolicies(sec.Children, func(el *Element) {
		if el.Name == "base" {
			return
		}
		allowed, known := allowedSections(el.Name)
		if known && !allowed.has(section) {
			errs = append(errs, Errorf(el.Pos, "<%s> is not allowed in the %s section (it belongs in %s)", el.Name, sectionName(section), allowed))
		}
	})
	return errs
}

// walkPolicies calls fn for each policy statement in els, including those nested in choose,
// retry and limit-concurrency.
func walkPolicies(els []*Element, fn func(*Element)) {
	for _, el := range els {
		fn(el)
		for _, c := range el.Children {
			if !containsPolicies(el.Name, c.Name) {
				continue
			}
			if el.Name == "choose" {
				walkPolicies(c.Children, fn)
			} else {
				walkPolicies([]*Element{c}, fn)
			}
		}
	}
}

// setPaths gives each element its LastError.Path: name[n] for the n-th sibling of that
// name, joined with '/' below its parent.
func setPaths(els []*Element, parent string) {
	count := map[string]int{}
	for _, el := range els {
		count[el.Name]++
		el.path = el.Name + "[" + strconv.Itoa(count[el.Name]) + "]"
		if parent != "" {
			el.path = parent + "/" + el.path
		}
		if len(el.Children) > 0 {
			setPaths(el.Children, el.path)
		}
	}
}

// spliceFragments replaces each <include-fragment> below el with the fragment's elements.
// stack holds the fragment ids being included, to refuse a cycle.
// budget is how many more elements the document may receive.
func (l *Loader) spliceFragments(el *Element, stack []string, budget *int) []*Error {
	var errs []*Error
	var out []*Element
	changed := false
	for _, c := range el.Children {
		if c.Name != "include-fragment" {
			errs = append(errs, l.spliceFragments(c, stack, budget)...)
			out = append(out, c)
			continue
		}
		changed = true
		els, err := l.includeFragment(c, stack, budget)
		if err != nil {
			errs = append(errs, Errors(err)...)
			continue
		}
		out = append(out, els...)
	}
	if changed {
		el.Children = out
	}
	return errs
}

// includeFragment returns fresh copies of the elements of the fragment that inc names.
func (l *Loader) includeFragment(inc *Element, stack []string, budget *int) ([]*Element, error) {
	idAttr, ok := inc.Attr("fragment-id")
	if !ok {
		return nil, Errorf(inc.Pos, "<include-fragment> needs a fragment-id attribute")
	}
	for _, a := range inc.Attrs {
		if a.Name != "fragment-id" {
			return nil, Errorf(a.Pos, "<include-fragment> has no attribute %s (it takes only fragment-id)", a.Name)
		}
	}
	if len(inc.Children) > 0 || strings.TrimSpace(inc.Text) != "" {
		return nil, Errorf(inc.Pos, "<include-fragment> takes no content")
	}
	id := idAttr.Value
	if !validFragmentID(id) {
		return nil, Errorf(idAttr.Pos, "fragment-id %q is not a valid fragment name (letters, digits, '-', '_' and '.', not starting with '.')", id)
	}
	for i, s := range stack {
		if s == id {
			cycle := strings.Join(append(stack[i:], id), " → ")
			return nil, Errorf(inc.Pos, "fragment %q includes itself: %s", id, cycle)
		}
	}
	if l.FragmentsDir == "" {
		return nil, Errorf(inc.Pos, "fragment %q cannot be included: no fragments folder is configured (gateway.fragments)", id)
	}
	frag := l.fragment(id, append(stack, id))
	if frag.err != nil {
		var perr *Error
		if errors.As(frag.err, &perr) && perr.Pos.Line == 0 {
			return nil, &Error{Pos: inc.Pos, Msg: fmt.Sprintf("fragment %q: %s", id, perr.Msg), Err: frag.err}
		}
		return nil, frag.err
	}
	if *budget < 0 {
		return nil, nil // already over the bound, and reported
	}
	if *budget -= frag.size; *budget < 0 {
		return nil, Errorf(inc.Pos, "including fragment %q makes the document larger than %d elements", id, maxElements)
	}
	out := make([]*Element, len(frag.elements))
	for i, el := range frag.elements {
		out[i] = el.clone()
	}
	return out, nil
}

func validFragmentID(id string) bool {
	if id == "" || id[0] == '.' || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isNamedValueChar(id[i]) {
			return false
		}
	}
	return true
}

// fragment loads (once per Loader) the fragment file for id.
func (l *Loader) fragment(id string, stack []string) *fragment {
	l.mu.Lock()
	f, ok := l.fragments[id]
	l.mu.Unlock()
	if ok {
		return f
	}
	f = l.loadFragment(id, stack)
	l.mu.Lock()
	if l.fragments == nil {
		l.fragments = map[string]*fragment{}
	}
	l.fragments[id] = f
	l.mu.Unlock()
	return f
}

func (l *Loader) loadFragment(id string, stack []string) *fragment {
	path := filepath.Join(l.FragmentsDir, id+".xml")
	src, err := l.readFile(path)
	if err != nil {
		var perr *Error
		if errors.As(err, &perr) {
			perr.Msg = strings.Replace(perr.Msg, "policy file", "fragment file "+path, 1)
		}
		return &fragment{err: err}
	}
	p := newXMLParser(path, src, &namedValues{values: l.NamedValues})
	roots, err := p.parse(false)
	if err != nil {
		return &fragment{err: err}
	}
	errs := []*Error(p.errs)
	root := roots[0]
	if root.Name != "fragment" {
		return &fragment{err: Errorf(root.Pos, "the root element of a fragment file is <fragment>, not <%s>", root.Name)}
	}
	errs = append(errs, checkNoText(root)...)
	budget := maxElements - countElements(root)
	errs = append(errs, l.spliceFragments(root, stack, &budget)...)
	if err := errorsOrNil(errs); err != nil {
		return &fragment{err: err}
	}
	return &fragment{elements: root.Children, size: countElements(root) - 1}
}

func countElements(el *Element) int {
	n := 1
	for _, c := range el.Children {
		n += countElements(c)
	}
	return n
}

// clone copies an element tree, so each inclusion of a fragment gets its own paths.
func (e *Element) clone() *Element {
	c := *e
	c.Attrs = append([]Attr(nil), e.Attrs...)
	if e.Children != nil {
		c.Children = make([]*Element, len(e.Children))
		for i, ch := range e.Children {
			c.Children[i] = ch.clone()
		}
	}
	return &c
}
