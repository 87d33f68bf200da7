package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandLineMistakes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string // the one line Main prints
	}{
		{name: "unknown command", args: []string{"serv"}, status: exitUsage,
			stderr: `portcullis: "serv" is not a command of portcullis: use app, check, completion, dev, keys, policy, serve, token or version (see portcullis --help)`},
		{name: "group without its sub-command", args: []string{"token"}, status: exitUsage,
			stderr: "portcullis: portcullis token needs a sub-command: decode, device, get or login (see portcullis token --help)"},
		{name: "unknown sub-command", args: []string{"token", "client-credentials"}, status: exitUsage,
			stderr: `portcullis: "client-credentials" is not a command of portcullis token: use decode, device, get or login (see portcullis token --help)`},
		{name: "argument to a command that takes none", args: []string{"version", "now"}, status: exitUsage,
			stderr: `portcullis: unknown command "now" for "portcullis version" (see portcullis version --help)`},
		{name: "too many arguments", args: []string{"token", "decode", "a", "b"}, status: exitUsage,
			stderr: "portcullis: accepts at most 1 arg(s), received 2 (see portcullis token decode --help)"},
		{name: "unknown flag", args: []string{"serve", "--confg", "x.yaml"}, status: exitUsage,
			stderr: "portcullis: unknown flag: --confg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := Main(tt.args, &stdout, &stderr)
			if status != tt.status || strings.TrimSpace(stderr.String()) != tt.stderr || stdout.Len() != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", status, stdout.String(), stderr.String(), tt.status, tt.stderr)
			}
		})
	}
	t.Run("dev with a data folder it cannot create", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "a-file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		status := Main([]string{"dev", "--data", filepath.Join(file, "data")}, &stdout, &stderr)
		want := "portcullis: cannot create the data folder " + filepath.Join(file, "data") + ": not a directory. Fix: pass --data with a folder you can write to"
		if status != exitInvalid || strings.TrimSpace(stderr.String()) != want {
			t.Errorf("exit %d, stderr %q; want 1 and %q", status, stderr.String(), want)
		}
	})
	t.Run("root alone prints its help", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if status := Main(nil, &stdout, &stderr); status != exitOK || !strings.Contains(stdout.String(), "Available Commands:") {
			t.Errorf("exit %d, stdout %q", status, stdout.String())
		}
	})
}
