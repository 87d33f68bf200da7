// Command bench is Portcullis's load benchmark: on loopback, with the system under test and
// its backend pinned to one core and the load generator to the other, it measures the physical
// limit, nginx as a plain proxy, HAProxy verifying RS256 tokens, Portcullis in several
// configurations and the identity service's token rate, and writes the table to
// docs/benchmarks.md between markers.
//
//	go run ./bench                 # the whole run (installs nginx, haproxy, wrk when missing)
//	go run ./bench -quick          # shorter runs, for trying it out
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type options struct {
	duration    time.Duration
	connections int
	runs        int
	only        string
	doc         string
	noInstall   bool
	sutCPU      string
	loadCPU     string
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-role" {
		os.Exit(runRole(os.Args[2], os.Args[3:]))
	}
	var o options
	quick := flag.Bool("quick", false, "short runs (3s, one run each) for trying the harness")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measurement")
	flag.IntVar(&o.connections, "connections", 64, "concurrent keep-alive connections of the load generator")
	flag.IntVar(&o.runs, "runs", 3, "runs per scenario; the median is reported")
	flag.StringVar(&o.only, "only", "", "comma-separated scenario names to run (default: all)")
	flag.StringVar(&o.doc, "doc", "docs/benchmarks.md", "document whose generated section is rewritten (empty: print only)")
	flag.BoolVar(&o.noInstall, "no-install", false, "do not install missing Debian packages")
	flag.StringVar(&o.sutCPU, "sut-cpu", "0", "core for the system under test and its backend (taskset list)")
	flag.StringVar(&o.loadCPU, "load-cpu", "1", "core for the load generator")
	flag.Parse()
	if *quick {
		o.duration, o.runs = 3*time.Second, 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if err := ensureTools(o.noInstall); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "portcullis-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	h := &harness{opt: o, work: work}
	if err := h.prepare(ctx); err != nil {
		return err
	}
	defer h.stopAll()

	started := time.Now()
	results, err := h.runScenarios(ctx)
	if err != nil {
		return err
	}
	report := h.report(results, time.Since(started))
	fmt.Print(report)
	if o.doc == "" {
		return nil
	}
	return writeGenerated(o.doc, report)
}

// writeGenerated replaces the text between the generated-section markers of doc.
func writeGenerated(doc, report string) error {
	const begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
	old, err := os.ReadFile(doc)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(old)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	block := begin + "\n" + report + end
	switch {
	case i >= 0 && j > i:
		text = text[:i] + block + text[j+len(end):]
	default:
		text += "\n" + block + "\n"
	}
	if err := os.MkdirAll(filepath.Dir(doc), 0o755); err != nil {
		return err
	}
	return os.WriteFile(doc, []byte(text), 0o644)
}

func machineDescription() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				if _, v, ok := strings.Cut(line, ":"); ok {
					model = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s/%s, %s", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}
