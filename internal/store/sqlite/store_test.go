package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"portcullis/internal/directory"
	"portcullis/internal/store/storetest"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) directory.Store { return openTemp(t) })
}

func TestDurabilitySettings(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := context.Background()
	tests := []struct {
		name string
		db   *sql.DB
		want map[string]string
	}{
		{"writer", s.write, map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000"}},
		{"reader", s.read, map[string]string{"journal_mode": "wal", "synchronous": "2", "query_only": "1", "busy_timeout": "10000"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for pragma, want := range tc.want {
				var got string
				if err := tc.db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
				}
			}
		})
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode %o, want 600", perm)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tenant := &directory.Tenant{ID: "3f5b1c2e-0000-4000-8000-000000000001", Domains: []string{"contoso.example"}}
	if err := s.Update(ctx, func(tx directory.Writer) error { return tx.PutTenant(ctx, tenant) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.Tenant(ctx, "contoso.example"); err != nil {
		t.Fatalf("tenant after reopen: %v", err)
	}
	var version int
	if err := s.read.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != SchemaVersion() {
		t.Fatalf("schema version %d, want %d", version, SchemaVersion())
	}
}

func TestOpenDirCreatesTheDataFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "portcullis-data")
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Path() != filepath.Join(dir, FileName) {
		t.Fatalf("database at %s", s.Path())
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data folder: %v %v", fi, err)
	}
	if _, err := OpenDir(""); err == nil {
		t.Fatal("OpenDir(\"\") succeeded")
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Run("newer schema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), FileName)
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.write.Exec("UPDATE schema_version SET version = ?", SchemaVersion()+1); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err = Open(path)
		if err == nil || !strings.Contains(err.Error(), "newer") {
			t.Fatalf("Open of a newer schema: got %v, want a refusal naming the version", err)
		}
	})
	t.Run("missing folder", func(t *testing.T) {
		_, err := Open(filepath.Join(t.TempDir(), "absent", FileName))
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v, want os.ErrNotExist", err)
		}
	})
	t.Run("empty path", func(t *testing.T) {
		if _, err := Open(""); err == nil {
			t.Fatal("Open(\"\") succeeded")
		}
	})
}

// TestKillDuringWrites starts a child process that writes users one transaction at a time and
// reports each acknowledged write, kills it with SIGKILL mid-stream, and checks that every
// acknowledged write is in the database and that it opens cleanly.
func TestKillDuringWrites(t *testing.T) {
	if os.Getenv("PORTCULLIS_SQLITE_WRITER") != "" {
		return // the child's own run of this test: see TestHelperWriter
	}
	path := filepath.Join(t.TempDir(), FileName)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.v=false")
	cmd.Env = append(os.Environ(), "PORTCULLIS_SQLITE_WRITER="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack "))
		if err != nil {
			continue // test framework chatter
		}
		acked = n
		if acked >= 150 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if acked < 150 {
		t.Fatalf("the writer acknowledged only %d writes before it stopped", acked)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatalf("open after kill -9: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	users, err := s.Users(ctx, writerTenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) < acked {
		t.Fatalf("%d writes acknowledged, %d found after kill -9", acked, len(users))
	}
	for i := 1; i <= acked; i++ {
		u, err := s.User(ctx, writerTenant, fmt.Sprintf("user-%d", i))
		if err != nil {
			t.Fatalf("acknowledged write %d lost: %v", i, err)
		}
		if u.DisplayName != strings.Repeat("x", 200) {
			t.Fatalf("write %d half-written: %q", i, u.DisplayName)
		}
	}
}

const writerTenant = "3f5b1c2e-0000-4000-8000-00000000000a"

// TestHelperWriter is the child of TestKillDuringWrites; it does nothing in a normal run.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv("PORTCULLIS_SQLITE_WRITER")
	if path == "" {
		t.Skip("runs only as TestKillDuringWrites's child process")
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Update(ctx, func(tx directory.Writer) error {
		return tx.PutTenant(ctx, &directory.Tenant{ID: writerTenant})
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for i := 1; time.Now().Before(deadline); i++ {
		err := s.Update(ctx, func(tx directory.Writer) error {
			return tx.PutUser(ctx, &directory.User{ID: fmt.Sprintf("user-%d", i), TenantID: writerTenant,
				UserPrincipalName: fmt.Sprintf("user-%d@contoso.example", i), DisplayName: strings.Repeat("x", 200)})
		})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stdout, "ack %d\n", i)
	}
}

// benchStore is a store with one tenant and one application, the reads a token request does.
func benchStore(b *testing.B) (*Store, *directory.Application) {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), FileName))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	app := &directory.Application{ID: "e1000000-0000-4000-8000-000000000001", TenantID: writerTenant, AppID: "6c1f0d2a-0000-4000-8000-0000000000b1",
		DisplayName: "backend-app", IdentifierURIs: []string{"api://backend"},
		Scopes:    []directory.Scope{{ID: "a1000000-0000-4000-8000-000000000001", Value: "Files.Read", Type: "Admin", Enabled: true}},
		Passwords: []directory.PasswordCredential{{KeyID: "c1000000-0000-4000-8000-000000000001", Hash: directory.HashSecret("s")}}}
	err = s.Update(ctx, func(tx directory.Writer) error {
		return errors.Join(tx.PutTenant(ctx, &directory.Tenant{ID: writerTenant, Domains: []string{"contoso.example"}}), tx.PutApplication(ctx, app))
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, app
}

func BenchmarkApplicationByAppID(b *testing.B) {
	s, app := benchStore(b)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.ApplicationByAppID(ctx, writerTenant, app.AppID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTenantByDomain(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Tenant(ctx, "Contoso.Example"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutGrant is one durable write transaction (an authorization code or refresh token).
func BenchmarkPutGrant(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		err := s.Update(ctx, func(tx directory.Writer) error {
			return tx.PutGrant(ctx, &directory.GrantRecord{Kind: "refresh", Key: strconv.Itoa(i), Family: "f", Expires: time.Now().Add(time.Hour)})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
