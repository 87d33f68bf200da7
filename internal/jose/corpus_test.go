package jose

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// corpusDir finds the shared test corpus beside the repository (<repo>/../shared/corpus) by
// walking up from the working directory; the test is skipped where it is absent.
func corpusDir(t testing.TB, sub string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		candidate := filepath.Join(dir, "shared", "corpus")
		if st, err := os.Stat(candidate); err == nil && st.IsDir() {
			return filepath.Join(candidate, sub)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skipf("shared test corpus not found above the working directory; %s tests skipped", sub)
		}
		dir = parent
	}
}

func readCorpusJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading corpus file: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}
