// Package cputime measures the CPU time the process has used, for benchmarks run on a shared
// machine: wall time there measures the neighbours' load too, process CPU time measures only
// the code under test.
package cputime
