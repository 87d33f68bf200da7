package policycheck

import (
	"path/filepath"
	"strings"
	"testing"

	"portcullis/internal/corpus"
	"portcullis/internal/policies"
	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
)

// Real policy documents from public repositories: every finding the checker makes about them
// must point into the file it looked at, with a line, and say error or warning.
func TestCorpusFindingsArePlaced(t *testing.T) {
	dir := corpus.Find("apim-policies")
	if dir == "" {
		t.Skip("corpus not found: ../shared/corpus/apim-policies is absent beside the repository")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no policy documents in %s (%v)", dir, err)
	}
	// Named values are unknown here, so every {{name}} is a finding: that is part of what is
	// checked (it must be placed too).
	c := &Checker{Loader: &policy.Loader{Registry: policies.Registry(policies.Deps{}), Expressions: expr.Compile}, Scope: policy.ScopeAPI}
	var warnings, errs int
	for _, f := range files {
		for _, x := range c.CheckFile(f) {
			if x.Pos.Line <= 0 || x.Msg == "" {
				t.Errorf("%s: finding without a line or a message: %+v", filepath.Base(f), x)
			}
			if x.Pos.File != f && !strings.HasPrefix(x.Pos.File, dir) {
				t.Errorf("%s: finding placed in %s", filepath.Base(f), x.Pos.File)
			}
			if x.Severity == Warning {
				warnings++
			} else {
				errs++
			}
		}
	}
	// The corpus is written for APIM, where sections without <base/> are common: some
	// warnings must come out, or the rule is not running.
	if warnings == 0 {
		t.Errorf("no warnings over %d corpus documents", len(files))
	}
	t.Logf("%d documents: %d errors, %d warnings", len(files), errs, warnings)
}
