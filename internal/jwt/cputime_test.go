//go:build unix

package jwt

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time this process has used: on a shared machine it measures a
// benchmark's cost where wall time measures the neighbours' load too.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the process's CPU time per iteration since before as "cpu-ns/op".
func reportCPU(b *testing.B, before time.Duration) {
	if used := processCPU() - before; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
