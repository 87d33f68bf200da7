package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

type harness struct {
	opt  options
	work string
	self string // this program, re-run in its roles
	bin  string // the portcullis binary under test

	idp         *idp
	token       string
	tokensFile  string
	backendAddr string
	backend     *process
	running     []*process

	last  *process // the system under test started last
	extra extra

	bareVerify time.Duration
	bareSign   float64 // signatures per second on one core
}

// result is one scenario's median run.
type result struct {
	name, what string
	rps        float64
	p50, p99   time.Duration
	failures   int
	note       string
}

func (h *harness) prepare(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	h.self = self
	h.bin = filepath.Join(h.work, "portcullis")
	fmt.Fprintln(os.Stderr, "building portcullis...")
	build := exec.CommandContext(ctx, "go", "build", "-o", h.bin, "./cmd/portcullis")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/portcullis (run the benchmark from the repository root): %w", err)
	}
	if h.idp, err = newIDP(); err != nil {
		return err
	}
	if h.token, err = h.idp.token(0); err != nil {
		return err
	}
	if h.backendAddr, err = freePort(); err != nil {
		return err
	}
	if h.backend, err = startPinned(h.work, "backend", h.opt.sutCPU, self, "-role", "backend", "-listen", h.backendAddr); err != nil {
		return err
	}
	if err := waitListening(ctx, h.backendAddr, 10*time.Second); err != nil {
		return err
	}
	return nil
}

// roleNumber runs a measuring role on the system-under-test core and reads its number.
func (h *harness) roleNumber(ctx context.Context, role string) (float64, error) {
	out, err := exec.CommandContext(ctx, "taskset", "-c", h.opt.sutCPU, h.self, "-role", role).Output()
	if err != nil {
		return 0, fmt.Errorf("role %s: %w", role, err)
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}

func (h *harness) stopAll() {
	for _, p := range h.running {
		p.stop()
	}
	h.backend.stop()
	if h.idp != nil {
		_ = h.idp.srv.Close()
	}
}

// scenario describes one measurement: how to start the system under test and what to load.
type scenario struct {
	name, what string
	start      func(ctx context.Context) (url string, stop func(), err error)
	stop       func() // set once started
	headers    []string
	script     string // wrk Lua script
}

// runScenarios starts every selected system, then measures them in rounds: each round runs
// every scenario once, and a row is the median of its rounds. Interleaving matters more than
// the number of runs on a shared VM, where a machine's speed drifts over minutes: the targets
// are ratios between rows, and rows measured minutes apart would compare two machines.
func (h *harness) runScenarios(ctx context.Context) ([]result, error) {
	results, err := h.measureInRounds(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*result{}
	for i := range results {
		byName[results[i].name] = &results[i]
	}
	return h.extras(ctx, results, byName)
}

func (h *harness) measureInRounds(ctx context.Context) ([]result, error) {
	type live struct {
		s    scenario
		url  string
		runs []wrkResult
	}
	var all []*live
	defer func() {
		for _, l := range all {
			if l.s.stop != nil {
				l.s.stop()
			}
		}
	}()
	for _, s := range h.scenarios() {
		if h.opt.only != "" && !slices.Contains(strings.Split(h.opt.only, ","), s.name) {
			continue
		}
		fmt.Fprintf(os.Stderr, "starting %s: %s\n", s.name, s.what)
		url, stop, err := s.start(ctx)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.name, err)
		}
		s.stop = stop
		all = append(all, &live{s: s, url: url})
	}
	// The bare RSA rates are measured in every round too: two targets are ratios to them.
	var verifyNs, signNs []float64
	for round := 1; round <= h.opt.runs; round++ {
		fmt.Fprintf(os.Stderr, "round %d of %d\n", round, h.opt.runs)
		for _, l := range all {
			r, err := runWrk(ctx, h.opt, l.url, l.s.headers, l.s.script)
			if err != nil {
				return nil, fmt.Errorf("scenario %s: %w", l.s.name, err)
			}
			l.runs = append(l.runs, r)
		}
		v, err := h.roleNumber(ctx, "verify")
		if err != nil {
			return nil, err
		}
		sg, err := h.roleNumber(ctx, "sign")
		if err != nil {
			return nil, err
		}
		verifyNs, signNs = append(verifyNs, v), append(signNs, sg)
	}
	slices.Sort(verifyNs)
	slices.Sort(signNs)
	h.bareVerify = time.Duration(verifyNs[len(verifyNs)/2])
	h.bareSign = 1e9 / signNs[len(signNs)/2]
	var results []result
	for _, l := range all {
		results = append(results, median(l.s, l.runs))
	}
	return results, nil
}

// median is the scenario's run of median throughput.
func median(s scenario, runs []wrkResult) result {
	slices.SortFunc(runs, func(a, b wrkResult) int {
		switch {
		case a.rps < b.rps:
			return -1
		case a.rps > b.rps:
			return 1
		}
		return 0
	})
	m := runs[len(runs)/2]
	return result{name: s.name, what: s.what, rps: m.rps, p50: m.p50, p99: m.p99, failures: m.non2xx + m.errors}
}

func (h *harness) scenarios() []scenario {
	// Every scenario sends the same request, token included, so that the ratios compare the
	// work done on it and not the size of what is sent.
	bearer := "Authorization: Bearer " + h.token
	return []scenario{
		{name: "limit", what: "load generator straight to the backend", start: func(context.Context) (string, func(), error) {
			return "http://" + h.backendAddr + "/echo/item", func() {}, nil
		}, headers: []string{bearer}},
		{name: "nginx", what: "nginx as a plain reverse proxy", start: h.startNginx, headers: []string{bearer}},
		{name: "haproxy-jwt", what: "HAProxy verifying RS256 with jwt_verify", start: h.startHAProxy, headers: []string{bearer}},
		{name: "portcullis", what: "Portcullis, no policy", start: h.portcullis(1, false), headers: []string{bearer}},
		{name: "portcullis-jwt", what: "Portcullis, the article's validate-jwt, one token reused", start: h.portcullis(1, true), headers: []string{bearer}},
		{name: "portcullis-jwt-distinct", what: "Portcullis, validate-jwt, a new token on every request", start: h.portcullisDistinct, script: filepath.Join(h.work, "tokens.lua")},
		{name: "portcullis-1000-apis", what: "Portcullis, no policy, 1,000 APIs of 10 operations", start: h.portcullis(1000, false), headers: []string{bearer}},
		{name: "identity", what: "identity service, client-credentials tokens", start: h.startIdentity, script: filepath.Join(h.work, "token.lua")},
	}
}
