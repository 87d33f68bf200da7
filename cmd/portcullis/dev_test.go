package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDevGuide is the newcomer's path end to end: it builds the real binary, starts
// `portcullis dev`, and runs the commands the guide prints, exactly as printed, in a shell: no
// token gives the article's 401, the token from `portcullis token get` gives the backend's 200,
// a token for other-api gives 401, and `token decode --api` names the failing check. A second
// run reuses the tenant.
func TestDevGuide(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs dev mode")
	}
	for _, tool := range []string{"bash", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: .ci/run installs it", tool)
		}
	}
	work := t.TempDir()
	bin := filepath.Join(work, "portcullis")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	data := filepath.Join(work, "data")
	args := []string{"dev", "--data", data,
		"--gateway-listen", freeAddr(t), "--identity-listen", freeAddr(t), "--admin-listen", freeAddr(t)}
	guide, stop := startDev(t, bin, work, args)
	if !strings.Contains(guide, "Seeding a new tenant") {
		t.Fatalf("first run did not seed a tenant:\n%s", guide)
	}
	results := runGuide(t, work, guide)
	want := []struct {
		command  string
		contains []string
	}{
		{`curl -i "$PORTCULLIS_API_URL"`, []string{"HTTP/1.1 401", `{"statusCode": 401, "message": "Unauthorized. Access token is missing or invalid."}`, "Www-Authenticate: Bearer"}},
		{`curl -i -H "Authorization: Bearer $TOKEN" "$PORTCULLIS_API_URL"`, []string{"HTTP/1.1 200", "portcullis dev sample backend", `"path":"/hello"`}},
		{`curl -i -H "Authorization: Bearer $OTHER" "$PORTCULLIS_API_URL"`, []string{"HTTP/1.1 401", "Unauthorized. Access token is missing or invalid.", "Claim aud value of"}},
		{`token decode "$OTHER"`, []string{"FAIL  claim aud", "TokenClaimValueNotAllowed"}},
	}
	for _, w := range want {
		out, ok := results[w.command]
		if !ok {
			t.Errorf("the guide has no command %q; it ran:\n%v", w.command, commandList(results))
			continue
		}
		for _, c := range w.contains {
			if !strings.Contains(out, c) {
				t.Errorf("%s: output lacks %q:\n%s", w.command, c, out)
			}
		}
	}

	// A second run reuses the tenant and its secret.
	stop()
	first := tenantOf(t, data)
	guide, _ = startDev(t, bin, work, args)
	if !strings.Contains(guide, "Reusing tenant "+first) {
		t.Fatalf("second run did not reuse tenant %s:\n%s", first, guide)
	}
	results = runGuide(t, work, guide)
	if out := results[`curl -i -H "Authorization: Bearer $TOKEN" "$PORTCULLIS_API_URL"`]; !strings.Contains(out, "HTTP/1.1 200") {
		t.Errorf("after a restart the client's token is refused:\n%s", out)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startDev starts dev mode and returns its console once the guide is printed, and a function that
// stops it (called at the end of the test too).
func startDev(t *testing.T, bin, dir string, args []string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var console strings.Builder
	ready := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			console.WriteString(sc.Text() + "\n")
			done := strings.Contains(sc.Text(), "token device")
			mu.Unlock()
			if done {
				once.Do(func() { close(ready) })
			}
		}
		once.Do(func() { close(ready) })
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		stop()
		t.Fatalf("dev mode printed no guide within a minute; stderr:\n%s", stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(console.String(), "Try it") {
		stop()
		t.Fatalf("dev mode stopped without a guide:\n%s\nstderr:\n%s", console.String(), stderr.String())
	}
	return console.String(), stop
}

// runGuide runs the guide's commands, up to the device-code sign-in (which waits for a
// person), in one shell, as printed, and returns each command's output.
func runGuide(t *testing.T, dir, guide string) map[string]string {
	t.Helper()
	_, body, ok := strings.Cut(guide, "Try it")
	if !ok {
		t.Fatalf("no Try it section:\n%s", guide)
	}
	var commands []string
	for _, line := range strings.Split(body, "\n")[1:] {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.Contains(line, "token device") {
			break
		}
		commands = append(commands, line)
	}
	const sep = "\n@@end-of-command@@\n"
	var script strings.Builder
	for _, c := range commands {
		script.WriteString(c + " 2>&1\nprintf '" + strings.ReplaceAll(sep, "\n", `\n`) + "'\n")
	}
	out, err := exec.Command("bash", "-c", script.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("the guide's commands failed: %v\n%s", err, out)
	}
	parts := strings.Split(string(out), sep)
	results := map[string]string{}
	for i, c := range commands {
		if i < len(parts) {
			results[c] = parts[i]
		}
	}
	// Callers look commands up by a distinctive part.
	byPart := map[string]string{}
	for c, o := range results {
		byPart[c] = o
		if strings.Contains(c, "token decode") {
			byPart[`token decode "$OTHER"`] = o
		}
	}
	return byPart
}

func tenantOf(t *testing.T, data string) string {
	t.Helper()
	env, err := readEnvFile(filepath.Join(data, devEnvFile))
	if err != nil {
		t.Fatal(err)
	}
	return env["PORTCULLIS_TENANT_ID"]
}

func commandList(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
