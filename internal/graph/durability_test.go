package graph_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"portcullis/internal/config"
	"portcullis/internal/directory"
	"portcullis/internal/graph"
	"portcullis/internal/store/sqlite"
)

const childEnv = "PORTCULLIS_GRAPH_CHILD_DB"

// TestKillDuringManagementWrites runs the management API in a child process, streams
// registrations at it, kills it with SIGKILL mid-stream and checks that every registration the
// API acknowledged (201) is in the store afterwards, whole.
func TestKillDuringManagementWrites(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		return
	}
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := directory.Seed(context.Background(), s, &config.Identity{Tenants: []config.Tenant{{ID: tenantID}}}, ""); err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestManagementChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var base string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			base = u
			break
		}
	}
	if base == "" {
		t.Fatal("the child never started its server")
	}

	var (
		mu    sync.Mutex
		acked = map[string]string{} // object id → display name
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	const writers = 3
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				name := fmt.Sprintf("app-%d-%d", w, i)
				body, _ := json.Marshal(map[string]any{"displayName": name, "identifierUris": []string{"api://" + name}})
				req, _ := http.NewRequest("POST", base+"/v1.0/applications", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(graph.TenantHeader, tenantID)
				res, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				var created struct {
					ID string `json:"id"`
				}
				err = json.NewDecoder(res.Body).Decode(&created)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated || err != nil {
					return
				}
				mu.Lock()
				acked[created.ID] = name
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 150 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	wg.Wait()

	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatalf("the store does not open after kill -9: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if len(acked) < 150 {
		t.Fatalf("only %d writes were acknowledged before the kill", len(acked))
	}
	for id, name := range acked {
		app, err := s.Application(ctx, tenantID, id)
		if err != nil {
			t.Fatalf("acknowledged registration %s (%s) lost: %v", id, name, err)
		}
		if app.DisplayName != name {
			t.Fatalf("registration %s half-written: %+v", id, app)
		}
		if byURI, err := s.ApplicationByIdentifierURI(ctx, tenantID, "api://"+name); err != nil || byURI.ID != id {
			t.Fatalf("registration %s lost its identifier URI: %v", id, err)
		}
	}
	// Whatever else was written is whole too: each application with its URI.
	all, err := s.Applications(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if len(a.IdentifierURIs) != 1 {
			t.Fatalf("unacknowledged registration half-written: %+v", a)
		}
		if _, err := s.ApplicationByIdentifierURI(ctx, tenantID, a.IdentifierURIs[0]); err != nil {
			t.Fatalf("registration %s without its URI row: %v", a.ID, err)
		}
	}
}

// TestManagementChild is TestKillDuringManagementWrites's server process.
func TestManagementChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("runs only as TestKillDuringManagementWrites's child process")
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("listening http://%s\n", ln.Addr())
	srv := &http.Server{Handler: graph.New(s, graph.Options{}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	time.Sleep(time.Minute) // until killed; bounded in case the parent dies first
}
