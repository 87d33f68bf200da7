package main

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	dir := filepath.Join("testdata", "policycheck")
	f := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name   string
		args   []string
		status int
	}{
		{name: "clean-v2", args: []string{"--named-value", "tenant-id=3f5b1c2e-0000-4000-8000-000000000001", f("clean.xml")}, status: exitOK},
		{name: "clean-v1", args: []string{f("v1-clean.xml")}, status: exitOK},
		{name: "named-values-from-config", args: []string{"--config", f("named.yaml"), f("clean.xml")}, status: exitOK},
		{name: "undefined-named-value", args: []string{f("clean.xml")}, status: exitInvalid},
		{name: "token-versions", args: []string{f("versions.xml")}, status: exitInvalid},
		{name: "missing-base", args: []string{"--scope", "operation", f("missing-base.xml")}, status: exitInvalid},
		{name: "missing-base-global-scope", args: []string{"--scope", "global", f("global.xml")}, status: exitOK},
		{name: "base-at-global-scope", args: []string{"--scope", "global", f("clean.xml"), "--named-value", "tenant-id=t"}, status: exitInvalid},
		{name: "unsupported-and-expression", args: []string{f("broken.xml")}, status: exitInvalid},
		{name: "several-files", args: []string{f("v1-clean.xml"), f("missing-base.xml"), f("no-such.xml")}, status: exitInvalid},
		{name: "no-files", args: nil, status: exitUsage},
		{name: "bad-scope", args: []string{"--scope", "tenant", f("v1-clean.xml")}, status: exitUsage},
		{name: "bad-named-value", args: []string{"--named-value", "tenant-id", f("v1-clean.xml")}, status: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := Main(append([]string{"policy", "check"}, tt.args...), &stdout, &stderr)
			if status != tt.status {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", status, tt.status, stdout.String(), stderr.String())
			}
			out := "status " + string(rune('0'+status)) + "\n-- stdout --\n" + stdout.String() + "-- stderr --\n" + stderr.String()
			checkGolden(t, "policycheck/"+tt.name, []byte(out))
		})
	}
}
