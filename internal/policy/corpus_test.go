package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"portcullis/internal/corpus"
)

// corpusNotWellFormed are the corpus documents that are not well-formed even to APIM, with
// why; they must fail, with an error at the given line.
var corpusNotWellFormed = map[string]struct {
	line   int
	reason string
}{
	// The docs example writes placeholders <tenant-name> and <tenant-id> raw inside the
	// openid-config url attribute.
	"azure-docs__validate-jwt-policy__ex4_entra-customer-tenant-ciam.xml": {2, "raw '<' in a plain attribute value"},
	// A tool that re-serialised this file split the rewrite-uri template expression into
	// attributes (latlong="" lat="" lng=""): its C# brackets no longer close.
	"snippets__examples__Call_out_to_an_HTTP_endpoint_and_cache_the_response.policy.xml": {41, "corrupted expression: '[' never closes"},
}

// TestCorpusXML reads every real APIM policy document of the corpus at the XML level (bare
// snippets may have several top-level elements) and lists the ones that fail.
func TestCorpusXML(t *testing.T) {
	dir := corpus.Find("apim-policies")
	if dir == "" {
		t.Skip("corpus not found: ../shared/corpus/apim-policies is absent beside the repository")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no policy documents in %s (%v)", dir, err)
	}
	sort.Strings(files)
	var failed []string
	for _, f := range files {
		name := filepath.Base(f)
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		roots, perr := newXMLParser(name, src, nil).parse(true)
		want, expectFail := corpusNotWellFormed[name]
		switch {
		case perr != nil && !expectFail:
			failed = append(failed, perr.Error())
		case perr == nil && expectFail:
			t.Errorf("%s parsed, but it is listed as not well-formed (%s)", name, want.reason)
		case perr != nil && expectFail:
			if errs := Errors(perr); len(errs) == 0 || errs[0].Pos.Line != want.line {
				t.Errorf("%s: error %v, want one at line %d (%s)", name, perr, want.line, want.reason)
			}
		default:
			if len(roots) == 0 || roots[0].Name == "" {
				t.Errorf("%s: parsed to no element", name)
			}
			for _, r := range roots {
				failed = append(failed, checkExpressionBoundaries(r)...)
			}
		}
	}
	t.Logf("%d documents, %d fail at the XML level (plus %d known not well-formed)", len(files), len(failed), len(corpusNotWellFormed))
	if len(failed) > 0 {
		t.Errorf("documents APIM accepts that the loader refuses:\n%s", strings.Join(failed, "\n"))
	}
}

// checkExpressionBoundaries reports values that start as a policy expression but do not end
// with its closing bracket: a sign that the loader cut an expression short or ran past it.
func checkExpressionBoundaries(el *Element) []string {
	var bad []string
	check := func(what string, pos Pos, v string) {
		v = strings.TrimSpace(v)
		if !strings.HasPrefix(v, "@(") && !strings.HasPrefix(v, "@{") {
			return
		}
		want := ")"
		if v[1] == '{' {
			want = "}"
		}
		if !strings.HasSuffix(v, want) {
			bad = append(bad, fmt.Sprintf("%v: %s holds an expression that does not end with %s: %q", pos, what, want, excerpt(v[max(0, len(v)-30):])))
		}
	}
	for _, a := range el.Attrs {
		check("attribute "+a.Name+" of <"+el.Name+">", a.Pos, a.Value)
	}
	if len(el.Children) == 0 {
		check("the text of <"+el.Name+">", el.TextPos, el.Text)
	}
	for _, c := range el.Children {
		bad = append(bad, checkExpressionBoundaries(c)...)
	}
	return bad
}

// TestCorpusLoad loads every corpus document as a user would: placeholder values for the
// named values it references, an empty fragment for each fragment it includes, and a bare
// snippet wrapped in <policies><inbound>. Sections, <base/>, named values and fragments must
// all load; compiling is for the policies' own tests.
func TestCorpusLoad(t *testing.T) {
	dir := corpus.Find("apim-policies")
	if dir == "" {
		t.Skip("corpus not found: ../shared/corpus/apim-policies is absent beside the repository")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	namedValue := regexp.MustCompile(`\{\{([A-Za-z0-9._-]+)\}\}`)
	fragmentID := regexp.MustCompile(`fragment-id="([^"]+)"`)
	fragments := t.TempDir()
	loaded := 0
	for _, f := range files {
		name := filepath.Base(f)
		if _, skip := corpusNotWellFormed[name]; skip {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		nv := map[string]string{}
		for _, m := range namedValue.FindAllStringSubmatch(string(src), -1) {
			nv[m[1]] = "placeholder"
		}
		for _, m := range fragmentID.FindAllStringSubmatch(string(src), -1) {
			if err := os.WriteFile(filepath.Join(fragments, m[1]+".xml"), []byte("<fragment/>"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		roots, err := newXMLParser(name, src, nil).parse(true)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(roots) > 1 || (roots[0].Name != "policies" && roots[0].Name != "fragment") {
			src = append(append([]byte("<policies><inbound>"), src...), "</inbound></policies>"...)
		}
		l := &Loader{NamedValues: nv, FragmentsDir: fragments}
		if _, err := l.Load(name, src); err != nil {
			t.Errorf("%v", err)
			continue
		}
		loaded++
	}
	t.Logf("%d of %d documents load (%d known not well-formed are left out)", loaded, len(files), len(corpusNotWellFormed))
}
