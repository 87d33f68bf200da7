package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFindWalksUp: the corpus is found from a folder nested below the one that holds
// shared/corpus, and not at all where no folder above holds it.
func TestFindWalksUp(t *testing.T) {
	top := t.TempDir()
	nested := filepath.Join(top, "repo", "internal", "pkg")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(nested)
	if got := Find("entra"); got != "" {
		t.Fatalf("found %q with no shared/corpus above", got)
	}
	if err := os.MkdirAll(filepath.Join(top, "shared", "corpus"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := Find("entra"), filepath.Join(top, "shared", "corpus", "entra"); got != want {
		t.Fatalf("Find = %q, want %q", got, want)
	}
}
