package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"portcullis/internal/directory"
	"portcullis/internal/identity"
	"portcullis/internal/store/sqlite"
)

// TestKeysCommands runs `portcullis keys` against a management API served by the identity
// service's keys handler over real SQLite.
func TestKeysCommands(t *testing.T) {
	const tid = "3f5b1c2e-0000-4000-8000-000000000001"
	st, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Update(ctx, func(tx directory.Writer) error {
		return tx.PutTenant(ctx, &directory.Tenant{ID: tid, Domains: []string{"contoso.example"}, CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := identity.New(identity.Options{Store: st, PublicURL: "https://127.0.0.1:9443"})
	if err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(srv.KeysHandler("admin-token"))
	defer admin.Close()

	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	kidOf := func(out, status string) string {
		m := regexp.MustCompile(`(?m)^(\S+)\s+` + status + `\s`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %s key in:\n%s", status, out)
		}
		return m[1]
	}

	code, out, errOut := run("keys", "list", "--admin", admin.URL, "--admin-token", "admin-token", "--tenant", tid)
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	current, next := kidOf(out, "current"), kidOf(out, "next")

	t.Setenv("PORTCULLIS_ADMIN_URL", admin.URL)
	t.Setenv("PORTCULLIS_ADMIN_TOKEN", "admin-token")
	t.Setenv("PORTCULLIS_TENANT_ID", "contoso.example")
	code, out, errOut = run("keys", "rotate")
	if code != 0 {
		t.Fatalf("rotate: exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "Rotated the signing keys of tenant "+tid) {
		t.Errorf("rotate output:\n%s", out)
	}
	if kidOf(out, "current") != next || kidOf(out, "previous") != current {
		t.Errorf("after rotation:\n%s\nwant %s current and %s previous", out, next, current)
	}

	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{name: "wrong token", args: []string{"keys", "list", "--admin-token", "nope"}, wantCode: 1, wantErr: "the management API refused the admin token"},
		{name: "unknown tenant", args: []string{"keys", "list", "--tenant", "nosuch.example"}, wantCode: 1, wantErr: "Tenant 'nosuch.example' was not found"},
		{name: "no admin URL", args: []string{"keys", "list"}, env: map[string]string{"PORTCULLIS_ADMIN_URL": ""}, wantCode: 2, wantErr: "--admin"},
		{name: "no sub-command", args: []string{"keys"}, wantCode: 2, wantErr: "list or rotate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, _, errOut := run(tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.wantCode, tc.wantErr)
			}
		})
	}
}
