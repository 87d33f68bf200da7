package policy

import (
	"fmt"
)

// defaultGlobalPolicy is APIM's policy for "All APIs" when none is configured: forward the
// request, nothing else. A section a global document leaves out is taken from here.
const defaultGlobalPolicy = `<policies>
	<inbound/>
	<backend>
		<forward-request/>
	</backend>
	<outbound/>
	<on-error/>
</policies>`

// ScopedDocument is one level of the scope chain.
type ScopedDocument struct {
	Scope string // ScopeGlobal, ScopeProduct, ScopeAPI or ScopeOperation
	Doc   *Document
}

// compiledSection is one section of one document, compiled: its steps, and where <base/>
// stood among them.
type compiledSection struct {
	present bool
	steps   []Step
	base    int // index in steps where the parent's section goes; -1: no <base/>
}

type compiledDocument struct {
	sections [numSections]compiledSection
	err      error
}

// Compile builds the pipeline of one operation from its three scopes. A nil global is APIM's
// default global policy (forward-request in backend); a nil api or op inherits everything
// from the scope above, as if each of its sections held only <base/>.
func (l *Loader) Compile(global, api, op *Document) (*Pipeline, error) {
	return l.CompileScopes([]ScopedDocument{
		{Scope: ScopeGlobal, Doc: global},
		{Scope: ScopeAPI, Doc: api},
		{Scope: ScopeOperation, Doc: op},
	})
}

// CompileScopes builds a pipeline from a scope chain, broadest first; the first entry must be
// the global scope. Each document is compiled once per scope and its steps are shared by
// every pipeline that includes it. All errors found are returned, as an ErrorList.
func (l *Loader) CompileScopes(chain []ScopedDocument) (*Pipeline, error) {
	if len(chain) == 0 || chain[0].Scope != ScopeGlobal {
		return nil, fmt.Errorf("policy: the scope chain must start with the global scope")
	}
	levels := make([]*compiledDocument, len(chain))
	var errs []*Error
	for i, sd := range chain {
		doc := sd.Doc
		if doc == nil {
			if sd.Scope != ScopeGlobal {
				continue
			}
			d, err := l.defaultGlobalDocument()
			if err != nil {
				return nil, err
			}
			doc = d
		}
		cd := l.compileDocument(doc, sd.Scope)
		if cd.err != nil {
			errs = append(errs, Errors(cd.err)...)
			continue
		}
		levels[i] = cd
	}
	if err := errorsOrNil(errs); err != nil {
		return nil, err
	}
	if sd := chain[0]; sd.Doc != nil {
		// A section the global document leaves out is the default global's.
		def, err := l.defaultGlobalDocument()
		if err != nil {
			return nil, err
		}
		dcd := l.compileDocument(def, ScopeGlobal)
		if dcd.err != nil {
			return nil, dcd.err
		}
		levels = append([]*compiledDocument{dcd}, levels...)
	}
	p := &Pipeline{}
	for s := range numSections {
		p.sections[s] = mergeSection(levels, s)
	}
	return p, nil
}

// Check compiles doc on its own at scope, with no parent (a <base/> stands for nothing), and
// returns every error found. `portcullis check` uses it to report each file once.
func (l *Loader) Check(doc *Document, scope string) error {
	return l.compileDocument(doc, scope).err
}

func (l *Loader) defaultGlobalDocument() (*Document, error) {
	l.mu.Lock()
	d := l.defaultGlobal
	l.mu.Unlock()
	if d != nil {
		return d, nil
	}
	d, err := (&Loader{}).Load("(default global policy)", []byte(defaultGlobalPolicy))
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.defaultGlobal == nil {
		l.defaultGlobal = d
	}
	d = l.defaultGlobal
	l.mu.Unlock()
	return d, nil
}

// mergeSection resolves <base/> from the narrowest scope up: a section splices its parent's
// same section where its <base/> stands; without <base/> the parent's is dropped; an absent
// section takes its parent's whole.
func mergeSection(levels []*compiledDocument, s int) []Step {
	var out []Step
	var resolve func(i int)
	resolve = func(i int) {
		if i < 0 {
			return
		}
		cd := levels[i]
		if cd == nil || !cd.sections[s].present {
			resolve(i - 1)
			return
		}
		sec := cd.sections[s]
		if sec.base < 0 {
			out = append(out, sec.steps...)
			return
		}
		out = append(out, sec.steps[:sec.base]...)
		resolve(i - 1)
		out = append(out, sec.steps[sec.base:]...)
	}
	resolve(len(levels) - 1)
	return out
}

// compileDocument compiles each section of doc for scope, once.
func (l *Loader) compileDocument(doc *Document, scope string) *compiledDocument {
	doc.mu.Lock()
	defer doc.mu.Unlock()
	if cd, ok := doc.compiled[scope]; ok {
		return cd
	}
	cd := l.compileSections(doc, scope)
	if doc.compiled == nil {
		doc.compiled = map[string]*compiledDocument{}
	}
	doc.compiled[scope] = cd
	return cd
}

func (l *Loader) compileSections(doc *Document, scope string) *compiledDocument {
	cd := &compiledDocument{}
	if doc.Fragment {
		cd.err = Errorf(doc.Root.Pos, "%s is a fragment (<fragment>): include it with <include-fragment>, it cannot be a %s policy", doc.File, scope)
		return cd
	}
	var errs []*Error
	for s, sec := range doc.sections {
		if sec == nil {
			continue
		}
		c := &Compiler{
			Registry:     l.Registry,
			Expressions:  l.Expressions,
			Certificates: l.Certificates,
			Scope:        scope,
			Section:      sectionName(s),
		}
		out := compiledSection{present: true, base: -1, steps: make([]Step, 0, len(sec.Children))}
		for _, el := range sec.Children {
			if el.Name == "base" {
				if scope == ScopeGlobal {
					errs = append(errs, Errorf(el.Pos, "<base/> is not allowed at the global scope: it has no parent scope to inherit from"))
				}
				out.base = len(out.steps)
				continue
			}
			step, err := c.Step(el)
			if err != nil {
				errs = append(errs, Errors(err)...)
				if len(Errors(err)) == 0 {
					errs = append(errs, &Error{Pos: el.Pos, Msg: err.Error(), Err: err})
				}
				continue
			}
			out.steps = append(out.steps, step)
		}
		cd.sections[s] = out
	}
	cd.err = errorsOrNil(redactNamedValues(errs, l.NamedValues))
	return cd
}
