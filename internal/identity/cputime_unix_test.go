//go:build unix

package identity

import (
	"syscall"
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
