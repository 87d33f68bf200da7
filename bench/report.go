package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// extra holds the measurements that are not a wrk table row.
type extra struct {
	rate                  int           // fixed rate of the latency comparison
	limitP99, jwtP99      time.Duration // p99 at that rate
	nginxP99              time.Duration // the proxy floor's, for reference
	rssKiB, rssConns      int
	latencyErr, memoryErr error
}

func (h *harness) extras(ctx context.Context, results []result, by map[string]*result) ([]result, error) {
	jwt := by["portcullis-jwt"]
	if jwt == nil {
		return results, nil
	}
	x := &h.extra
	x.rate = int(jwt.rps / 2)
	fmt.Fprintf(os.Stderr, "latency at a fixed %d requests/s: the limit, Portcullis with validate-jwt and nginx, alternately...\n", x.rate)
	x.limitP99, x.jwtP99, x.nginxP99, x.latencyErr = h.fixedRateComparison(ctx)

	fmt.Fprintln(os.Stderr, "resident memory at 1,000 keep-alive connections...")
	url, stop, err := h.portcullis(1, true)(ctx)
	if err != nil {
		return nil, err
	}
	addr := strings.TrimPrefix(strings.TrimSuffix(url, "/echo/item"), "http://")
	out, err := exec.CommandContext(ctx, "taskset", "-c", h.opt.loadCPU, h.self, "-role", "conns", "-addr", addr,
		"-n", "1000", "-hold", "2s", "-H", "Authorization: Bearer "+h.token).Output()
	if err == nil {
		x.rssConns, _ = strconv.Atoi(strings.TrimSpace(string(out)))
		x.rssKiB, x.memoryErr = h.last.peakRSS()
	} else {
		x.memoryErr = fmt.Errorf("opening connections: %w", err)
	}
	stop()
	return results, nil
}

// fixedRateComparison measures the p99 at the fixed rate of the limit, of Portcullis with the
// article's validate-jwt and, for reference, of the nginx proxy floor, in alternation, runs
// times each, and returns the median of each.
func (h *harness) fixedRateComparison(ctx context.Context) (limit, jwt, nginx time.Duration, err error) {
	header := "Authorization: Bearer " + h.token
	targets := []struct {
		name  string
		start func(context.Context) (string, func(), error)
		url   string
		p99s  []time.Duration
	}{
		{name: "limit", start: func(context.Context) (string, func(), error) {
			return "http://" + h.backendAddr + "/echo/item", func() {}, nil
		}},
		{name: "portcullis-jwt", start: h.portcullis(1, true)},
		{name: "nginx", start: h.startNginx},
	}
	for i := range targets {
		url, stop, err := targets[i].start(ctx)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s: %w", targets[i].name, err)
		}
		defer stop()
		targets[i].url = url
	}
	for range h.opt.runs {
		for i := range targets {
			p99, err := h.fixedRateP99(ctx, targets[i].url, header)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("%s: %w", targets[i].name, err)
			}
			targets[i].p99s = append(targets[i].p99s, p99)
		}
	}
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	return med(targets[0].p99s), med(targets[1].p99s), med(targets[2].p99s), nil
}

func (h *harness) fixedRateP99(ctx context.Context, url, header string) (time.Duration, error) {
	args := []string{"-c", h.opt.loadCPU, h.self, "-role", "rate", "-url", url, "-rate", strconv.Itoa(h.extra.rate), "-duration", h.opt.duration.String()}
	if header != "" {
		args = append(args, "-H", header)
	}
	out, err := exec.CommandContext(ctx, "taskset", args...).Output()
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return 0, fmt.Errorf("rate role printed %q", out)
	}
	if f[2] != "1" {
		return 0, fmt.Errorf("some requests failed at the fixed rate (success ratio %s)", f[2])
	}
	p99, err := strconv.ParseInt(f[1], 10, 64)
	return time.Duration(p99), err
}

func (h *harness) report(results []result, took time.Duration) string {
	o := h.opt
	var b strings.Builder
	find := func(name string) *result {
		for i := range results {
			if results[i].name == name {
				return &results[i]
			}
		}
		return nil
	}
	limit, nginx := find("limit"), find("nginx")
	fmt.Fprintf(&b, "Machine: %s.  \n", machineDescription())
	fmt.Fprintf(&b, "Command: `go run ./bench -duration %s -connections %d -runs %d` (took %s). ", o.duration, o.connections, o.runs, took.Round(time.Second))
	fmt.Fprintf(&b, "The system under test and its backend share core %s; wrk (`-t1 -c%d`) runs on core %s. Every system runs at once, idle between its turns; the scenarios are measured in %d interleaved rounds and each row is the median of its rounds.\n\n", o.sutCPU, o.connections, o.loadCPU, o.runs)
	b.WriteString("| scenario | what | requests/s | p50 | p99 | × limit | × nginx | failed |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %s | %s | %s | %d |\n", r.name, r.what, r.rps, r.p50.Round(time.Microsecond), r.p99.Round(10*time.Microsecond), ratio(r.rps, limit), ratio(r.rps, nginx), r.failures)
	}
	fmt.Fprintf(&b, "\nBare RSA-2048 on one core, measured in each round (median): verification %s, signing %.0f/s.\n\n", h.bareVerify.Round(100*time.Nanosecond), h.bareSign)

	b.WriteString("| target | measured | needed | met |\n|---|---:|---:|:-:|\n")
	target := func(name string, measured, needed float64, format string, atMost bool) {
		met := measured >= needed
		if atMost {
			met = measured <= needed
		}
		mark := map[bool]string{true: "yes", false: "**no**"}[met]
		fmt.Fprintf(&b, "| %s | "+format+" | "+format+" | %s |\n", name, measured, needed, mark)
	}
	jwt, haproxy, distinct, plain, many, identity := find("portcullis-jwt"), find("haproxy-jwt"), find("portcullis-jwt-distinct"), find("portcullis"), find("portcullis-1000-apis"), find("identity")
	if jwt != nil && nginx != nil {
		target("validate-jwt, reused token, × nginx proxy", jwt.rps/nginx.rps, 0.8, "%.2f", false)
	}
	if x := h.extra; x.rate > 0 {
		if x.latencyErr != nil {
			fmt.Fprintf(&b, "| p99 added over limit at %d req/s | not measured: %v | ≤ 1 ms | **no** |\n", x.rate, x.latencyErr)
		} else {
			target(fmt.Sprintf("p99 added over limit at %d req/s (ms, median of %d alternated runs)", x.rate, h.opt.runs), float64(x.jwtP99-x.limitP99)/1e6, 1, "%.3f", true)
		}
	}
	if jwt != nil && haproxy != nil {
		target("validate-jwt, reused token, × HAProxy jwt_verify", jwt.rps/haproxy.rps, 1.5, "%.2f", false)
	}
	if distinct != nil && plain != nil && h.bareVerify > 0 {
		predicted := 1 / (1/plain.rps + h.bareVerify.Seconds())
		target(fmt.Sprintf("distinct tokens × predicted %.0f/s", predicted), distinct.rps/predicted, 0.8, "%.2f", false)
	}
	if many != nil && plain != nil {
		target("1,000 APIs × one API", many.rps/plain.rps, 0.95, "%.2f", false)
	}
	if identity != nil && h.bareSign > 0 {
		target("client credentials × bare signing rate", identity.rps/h.bareSign, 0.9, "%.2f", false)
	}
	if x := h.extra; x.rssConns > 0 || x.memoryErr != nil {
		if x.memoryErr != nil {
			fmt.Fprintf(&b, "| peak RSS at 1,000 connections | not measured: %v | ≤ 64 MiB | **no** |\n", x.memoryErr)
		} else {
			target(fmt.Sprintf("peak RSS at %d keep-alive connections (MiB)", x.rssConns), float64(x.rssKiB)/1024, 64, "%.1f", true)
		}
	}
	if x := h.extra; x.rate > 0 && x.latencyErr == nil {
		fmt.Fprintf(&b, "\nAt the fixed %d requests/s (medians of %d alternated runs): p99 of the limit %s, of Portcullis with validate-jwt %s, and of the nginx proxy floor %s (%.3f ms over the limit), for reference.\n",
			x.rate, h.opt.runs, x.limitP99.Round(time.Microsecond), x.jwtP99.Round(time.Microsecond), x.nginxP99.Round(time.Microsecond), float64(x.nginxP99-x.limitP99)/1e6)
	}
	for _, r := range results {
		if r.failures > 0 {
			fmt.Fprintf(&b, "\nWarning: %s had %d failed requests (non-2xx or socket errors); its figure is not valid.\n", r.name, r.failures)
		}
	}
	return b.String()
}

func ratio(v float64, base *result) string {
	if base == nil || base.rps == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v/base.rps)
}
