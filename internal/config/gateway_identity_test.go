package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadManagedIdentityAndLoggers(t *testing.T) {
	t.Setenv("PORTCULLIS_TEST_MI_SECRET", "mi-secret")
	tests := []struct {
		name  string
		yaml  string
		want  string // an error line; empty: valid
		check func(t *testing.T, g *Gateway)
	}{
		{
			name: "valid",
			yaml: `gateway:
  managed-identity:
    authority: https://127.0.0.1:9443
    tenant-id: 3f5b1c2e-0000-4000-8000-000000000001
    client-id: gw
    client-secret: ${PORTCULLIS_TEST_MI_SECRET}
    user-assigned:
      - {client-id: gw-2, client-secret: other}
  loggers:
    events: {file: logs/events.jsonl}
    console: {stdout: true}
`,
			check: func(t *testing.T, g *Gateway) {
				mi := g.ManagedIdentity
				if mi.ClientSecret != "mi-secret" || len(mi.UserAssigned) != 1 || mi.UserAssigned[0].ClientID != "gw-2" {
					t.Errorf("managed-identity = %+v", mi)
				}
				if f := g.Loggers["events"].File; !filepath.IsAbs(f) || !strings.HasSuffix(f, filepath.Join("logs", "events.jsonl")) {
					t.Errorf("logger file %q is not resolved against the configuration's folder", f)
				}
				if !g.Loggers["console"].Stdout {
					t.Error("console logger lost stdout")
				}
			},
		},
		{name: "identity without secret", yaml: "gateway:\n  managed-identity:\n    tenant-id: t\n    client-id: c\n", want: "managed-identity needs client-secret"},
		{name: "identity authority not a URL", yaml: "gateway:\n  managed-identity:\n    authority: login\n    tenant-id: t\n    client-id: c\n    client-secret: s\n", want: `authority "login" must be an absolute http(s) URL`},
		{name: "user-assigned without secret", yaml: "gateway:\n  managed-identity:\n    tenant-id: t\n    client-id: c\n    client-secret: s\n    user-assigned:\n      - client-id: x\n", want: "needs client-id and client-secret"},
		{name: "logger with both", yaml: "gateway:\n  loggers:\n    x: {file: a.log, stdout: true}\n", want: `logger "x" takes file or stdout: true, not both`},
		{name: "logger with neither", yaml: "gateway:\n  loggers:\n    x: {}\n", want: `logger "x" needs file: PATH or stdout: true`},
		{name: "logger folder missing", yaml: "gateway:\n  loggers:\n    x: {file: nowhere/a.log}\n", want: "does not exist"},
		{name: "unknown logger key", yaml: "gateway:\n  loggers:\n    x: {path: a.log}\n", want: `unknown key "path"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeTree(t, map[string]string{"portcullis.yaml": tt.yaml, "logs/.keep": ""})
			cfg, err := Load("portcullis.yaml")
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error = %v, want %q", err, tt.want)
				}
				if strings.Contains(err.Error(), "mi-secret") {
					t.Errorf("the error repeats the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg.Gateway)
		})
	}
}
