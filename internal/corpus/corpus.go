package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Find returns shared/corpus/name from the nearest folder above the working directory that
// holds shared/corpus, or "" when none does. Only the corpus itself must exist: a missing
// name inside it is left for the test to report, so that CI notices it.
func Find(name string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		root := filepath.Join(dir, "shared", "corpus")
		if st, err := os.Stat(root); err == nil && st.IsDir() {
			return filepath.Join(root, name)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Dir is Find for a test that cannot run without the corpus: where it is absent, t is
// skipped with a message that says so.
func Dir(t testing.TB, name string) string {
	t.Helper()
	dir := Find(name)
	if dir == "" {
		t.Skipf("the public test corpus (shared/corpus beside the repository) is absent: %s is not available here", name)
	}
	return dir
}
