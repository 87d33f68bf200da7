package cputime

import (
	"runtime"
	"testing"
	"time"
)

// TestProcessCountsWork: work this process does shows up in its CPU time. The loop spins
// until it does (or, failing, for ten seconds), so a busy machine only makes it longer.
func TestProcessCountsWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no getrusage here: Process is 0 by design")
	}
	before := Process()
	for deadline := time.Now().Add(10 * time.Second); Process()-before < 5*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("ten seconds of spinning added %v of CPU time", Process()-before)
		}
	}
}
