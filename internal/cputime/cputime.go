package cputime

import (
	"testing"
	"time"
)

// ReportPerOp adds the process's CPU time per iteration since before (a Process reading) to
// b as "cpu-ns/op".
func ReportPerOp(b *testing.B, before time.Duration) {
	if used := Process() - before; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
