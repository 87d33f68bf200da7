package expr

import (
	"errors"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"portcullis/internal/corpus"
	"portcullis/internal/policy"
)

// corpusSample is the last expression of the corpus document file that contains marker; the
// test is skipped where the corpus is absent and fails where the document or the expression is.
func corpusSample(t *testing.T, file, marker string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpus.Dir(t, "apim-policies"), file))
	if err != nil {
		t.Fatal(err)
	}
	var src string
	for _, ce := range extractExpressions(file, string(data)) {
		if strings.Contains(ce.src, marker) {
			src = ce.src
		}
	}
	if src == "" {
		t.Fatalf("no expression of %s contains %q", file, marker)
	}
	return src
}

// corpusExpressions reads every expression of the corpus; nil when it is absent.
func corpusExpressions(t testing.TB) []corpusExpr {
	dir := corpus.Find("apim-policies")
	if dir == "" {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	var all []corpusExpr
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, extractExpressions(filepath.Base(f), string(data))...)
	}
	return all
}

type corpusExpr struct {
	file string
	pos  policy.Pos
	src  string
}

var (
	xmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)
	namedValue = regexp.MustCompile(`\{\{[A-Za-z0-9._-]+\}\}`)
)

// exprEnd returns the length of the expression at the start of s ("@(" or "@{"), skipping
// C# literals, or -1 when it is not closed.
func exprEnd(s string) int {
	depth := 0
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			_, n, err := lexString(s, i, 0)
			if err != nil {
				return -1
			}
			i = n
			continue
		case c == '\'':
			_, n, err := lexChar(s, i, 0)
			if err != nil {
				i++
				continue
			}
			i = n
			continue
		case (c == '$' || c == '@') && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '$' || s[i+1] == '@'):
			j := i
			interp, verb := false, false
			for j < len(s) && (s[j] == '$' || s[j] == '@') {
				interp = interp || s[j] == '$'
				verb = verb || s[j] == '@'
				j++
			}
			if j < len(s) && s[j] == '"' {
				var n int
				var err error
				if interp {
					_, n, err = lexInterp(s, j, 0, verb)
				} else {
					_, n, err = lexVerbatim(s, j, 0)
				}
				if err != nil {
					return -1
				}
				i = n
				continue
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			k := strings.IndexByte(s[i:], '\n')
			if k < 0 {
				return -1
			}
			i += k
			continue
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			k := strings.Index(s[i+2:], "*/")
			if k < 0 {
				return -1
			}
			i += k + 4
			continue
		case c == '(' || c == '{' || c == '[':
			depth++
		case c == ')' || c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}

func lineCol(s string, off int) (int, int) {
	line := 1 + strings.Count(s[:off], "\n")
	col := off - strings.LastIndexByte(s[:off], '\n')
	return line, col
}

// extractExpressions finds every policy expression of an APIM policy file: attribute values
// and element text that start with @( or @{, as the policy loader compiles them.
func extractExpressions(file, text string) []corpusExpr {
	text = xmlComment.ReplaceAllStringFunc(text, func(c string) string {
		return strings.Map(func(r rune) rune {
			if r == '\n' {
				return r
			}
			return ' '
		}, c)
	})
	var out []corpusExpr
	for i := 0; i < len(text); i++ {
		if text[i] != '@' || i+1 >= len(text) || (text[i+1] != '(' && text[i+1] != '{') {
			continue
		}
		line, col := lineCol(text, i)
		pos := policy.Pos{File: file, Line: line, Col: col}
		// Attribute values and element text alike run to the bracket that closes the
		// expression: APIM's loader reads expressions before XML quoting, so samples put raw
		// quotes inside quoted attributes.
		// element text, possibly inside CDATA
		rest := text[i:]
		if k := strings.Index(rest, "]]>"); k >= 0 && strings.HasSuffix(strings.TrimRight(text[:i], " \t\r\n"), "<![CDATA[") {
			src := strings.TrimSpace(rest[:k])
			out = append(out, corpusExpr{file: file, pos: pos, src: src})
			i += k
			continue
		}
		decoded := html.UnescapeString(rest)
		n := exprEnd(decoded)
		if n < 0 {
			out = append(out, corpusExpr{file: file, pos: pos, src: strings.TrimSpace(decoded[:min(len(decoded), 200)])})
			continue
		}
		out = append(out, corpusExpr{file: file, pos: pos, src: decoded[:n]})
		// skip the raw text the expression covered (entities make raw text longer)
		raw := 0
		for dec := 0; dec < n && i+raw < len(text); raw++ {
			if text[i+raw] == '&' {
				if k := strings.IndexByte(text[i+raw:], ';'); k > 0 && k < 10 {
					raw += k
				}
			}
			dec++
		}
		i += raw - 1
	}
	return out
}

// refusalSubject pulls the missing type or member out of a load error.
var refusalPatterns = []*regexp.Regexp{
	regexp.MustCompile(`^(?:new )?(\S+) is not available`),
	regexp.MustCompile(`^the (?:member|method|name) '([^']+)'`),
	regexp.MustCompile(`^(\S+) cannot be set`),
	regexp.MustCompile(`^(\S+) is a property, not a method`),
	regexp.MustCompile(`^(local functions|typeof)`),
	regexp.MustCompile(`^(typeof)`),
}

func refusalSubject(msg string) string {
	for _, re := range refusalPatterns {
		if m := re.FindStringSubmatch(msg); m != nil {
			return m[1]
		}
	}
	return "syntax: " + msg
}

func TestCorpusExpressionsCompile(t *testing.T) {
	corpus.Dir(t, "apim-policies")
	all := corpusExpressions(t)
	if len(all) < 100 {
		t.Fatalf("found only %d expressions in the corpus; the extractor is broken", len(all))
	}
	compiled, templated, failed := 0, 0, 0
	exceptions := map[string]int{}
	refused := map[string]int{}
	examples := map[string]string{}
	for _, x := range all {
		if strings.Contains(x.src, "${") || strings.Contains(x.src, "%{") {
			templated++ // Terraform/Bicep placeholders: not a policy until rendered
			continue
		}
		src := namedValue.ReplaceAllString(x.src, "1")
		compiledExpr, err := Compile(src, x.pos)
		if err == nil {
			compiled++
			// Running it against a request must give a value or an exception, never a crash.
			if _, err := compiledExpr.Eval(testContext(t)); err != nil {
				if strings.Contains(err.Error(), "internal error") {
					t.Errorf("%s: evaluation panicked: %v", x.pos, err)
				}
				var ex *Exception
				if errors.As(err, &ex) {
					exceptions[ex.Type]++
				}
				failed++
			}
			continue
		}
		var pe *policy.Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: refusal is not a *policy.Error: %v", x.pos, err)
			continue
		}
		if pe.Pos.File != x.pos.File || pe.Pos.Line < x.pos.Line || pe.Msg == "" {
			t.Errorf("%s: refusal without a precise position or message: %v", x.pos, err)
		}
		subject := refusalSubject(pe.Msg)
		refused[subject]++
		if _, ok := examples[subject]; !ok {
			examples[subject] = pe.Error()
		}
	}
	total := len(all) - templated
	share := float64(compiled) / float64(total)
	t.Logf("corpus: %d expressions (%d with template placeholders left out); %d compile (%.1f%%)", total, templated, compiled, 100*share)
	t.Logf("evaluated against a sample request: %d ran, %d threw (%v)", compiled-failed, failed, exceptions)
	type kv struct {
		k string
		n int
	}
	var top []kv
	for k, n := range refused {
		top = append(top, kv{k, n})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n || top[i].n == top[j].n && top[i].k < top[j].k })
	for i, e := range top {
		if i == 25 {
			break
		}
		t.Logf("refused %3d× %s   e.g. %s", e.n, e.k, examples[e.k])
	}
	if share < 0.9 {
		t.Errorf("only %.1f%% of the corpus expressions compile; want at least 90%%", 100*share)
	}
}
