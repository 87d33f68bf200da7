package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"portcullis/internal/tokenclient/inspect"
	"portcullis/internal/tokenclient/tokenclienttest"
)

// tokenEnv lists the variables the token commands read; tests start from none of them.
var tokenEnv = []string{"PORTCULLIS_TOKEN_URL", "PORTCULLIS_TENANT_ID", "PORTCULLIS_CLIENT_ID", "PORTCULLIS_PUBLIC_CLIENT_ID",
	"PORTCULLIS_CLIENT_SECRET", "PORTCULLIS_SCOPE", "PORTCULLIS_CA_FILE"}

func clearTokenEnv(t *testing.T) {
	for _, v := range tokenEnv {
		t.Setenv(v, "")
	}
}

// syncBuffer is a writer that Main can write to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errOut syncBuffer
	code = Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeClientCert(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "client-app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	return certFile, keyFile, cert
}

func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTokenGet(t *testing.T) {
	const secret = "cli-secret-value"
	certFile, keyFile, cert := writeClientCert(t)
	a := tokenclienttest.New(t, tokenclienttest.Config{Secret: secret, Certificate: cert})
	ca := a.CAFile(t)
	scope := tokenclienttest.APIURI + "/.default"
	base := []string{"token", "get", "--authority", a.Authority(), "--ca-file", ca, "--client-id", tokenclienttest.ClientID}
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantAud  string // when the output is a token
		wantOut  string // substring of stdout otherwise
		wantErr  string // substring of stderr
	}{
		{name: "secret", args: append(base, "--client-secret", secret, "--scope", scope), wantAud: tokenclienttest.APIAppID},
		{name: "secret with HTTP Basic", args: append(base, "--client-secret", secret, "--basic", "--scope", scope), wantAud: tokenclienttest.APIAppID},
		{name: "certificate", args: append(base, "--certificate", certFile, "--key", keyFile, "--scope", scope), wantAud: tokenclienttest.APIAppID},
		{name: "v1 resource", args: append(base, "--client-secret", secret, "--resource", tokenclienttest.APIURI), wantAud: tokenclienttest.APIAppID},
		{name: "everything from dev.env", args: []string{"token", "get"}, wantAud: tokenclienttest.APIAppID,
			env: map[string]string{"PORTCULLIS_TOKEN_URL": a.TokenURL(), "PORTCULLIS_CLIENT_ID": tokenclienttest.ClientID,
				"PORTCULLIS_CLIENT_SECRET": secret, "PORTCULLIS_SCOPE": scope, "PORTCULLIS_CA_FILE": ca, "PORTCULLIS_TENANT_ID": tokenclienttest.TenantID}},
		{name: "tenant and authority host apart", args: []string{"token", "get", "--authority", a.Server.URL, "--tenant", tokenclienttest.TenantID, "--ca-file", ca,
			"--client-id", tokenclienttest.ClientID, "--client-secret", secret, "--scope", scope}, wantAud: tokenclienttest.APIAppID},
		{name: "host-only authority takes PORTCULLIS_TENANT_ID", args: []string{"token", "get", "--authority", a.Server.URL, "--ca-file", ca,
			"--client-id", tokenclienttest.ClientID, "--client-secret", secret, "--scope", scope}, wantAud: tokenclienttest.APIAppID,
			env: map[string]string{"PORTCULLIS_TENANT_ID": tokenclienttest.TenantID}},
		{name: "authority tenant wins over PORTCULLIS_TENANT_ID", args: append(base, "--client-secret", secret, "--scope", scope), wantAud: tokenclienttest.APIAppID,
			env: map[string]string{"PORTCULLIS_TENANT_ID": "another-tenant"}},
		{name: "json output", args: append(base, "--client-secret", secret, "--scope", scope, "-o", "json"), wantOut: `"token_type": "Bearer"`},
		{name: "wrong secret", args: append(base, "--client-secret", "not-the-secret", "--scope", scope), wantCode: 1,
			wantErr: "portcullis: AADSTS7000215: Invalid client secret provided. Fix: check the client secret"},
		{name: "scope without .default", args: append(base, "--client-secret", secret, "--scope", tokenclienttest.APIURI+"/Files.Read"), wantCode: 1,
			wantErr: "Fix: client credentials need a scope ending in /.default"},
		{name: "local CA not trusted", args: []string{"token", "get", "--authority", a.Authority(), "--client-id", tokenclienttest.ClientID, "--client-secret", secret, "--scope", scope},
			wantCode: 1, wantErr: "Fix: trust the server's CA with --ca-file"},
		{name: "CA file missing", args: append(base[:2:2], "--authority", a.Authority(), "--ca-file", filepath.Join(t.TempDir(), "none.pem"), "--client-id", "x", "--client-secret", secret, "--scope", scope),
			wantCode: 1, wantErr: "unusable CA file"},
		{name: "no scope", args: append(base, "--client-secret", secret), wantCode: 2, wantErr: "--scope api://<app-id>/.default"},
		{name: "no authority", args: []string{"token", "get", "--client-id", "x", "--client-secret", secret, "--scope", scope}, wantCode: 2, wantErr: "say where to get the token"},
		{name: "no credential", args: append(base, "--scope", scope), wantCode: 2, wantErr: "give a credential"},
		{name: "secret and certificate", args: append(base, "--client-secret", secret, "--certificate", certFile, "--scope", scope), wantCode: 2, wantErr: "not both"},
		{name: "bad output", args: append(base, "--client-secret", secret, "--scope", scope, "-o", "yaml"), wantCode: 2, wantErr: "use token or json"},
		{name: "http authority off loopback", args: []string{"token", "get", "--authority", "http://idp.example/t", "--client-id", "x", "--client-secret", secret, "--scope", scope},
			wantCode: 1, wantErr: "use https"},
		{name: "zero timeout", args: append(base, "--client-secret", secret, "--scope", scope, "--timeout", "0s"), wantCode: 2, wantErr: "give a positive duration"},
		{name: "unknown flag", args: append(base, "--client-secrett", secret), wantCode: 2, wantErr: "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearTokenEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, out, errOut := runMain(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, errOut)
			}
			if strings.Contains(errOut, secret) || strings.Contains(errOut, "not-the-secret") {
				t.Errorf("stderr reveals the secret: %s", errOut)
			}
			if tc.wantErr != "" {
				if !strings.Contains(errOut, tc.wantErr) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
					t.Errorf("stderr %q\nwant one line containing %q", errOut, tc.wantErr)
				}
				if out != "" {
					t.Errorf("stdout %q on failure, want nothing", out)
				}
				return
			}
			if tc.wantOut != "" {
				if !strings.Contains(out, tc.wantOut) {
					t.Errorf("stdout %q lacks %q", out, tc.wantOut)
				}
				return
			}
			if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 || errOut != "" {
				t.Fatalf("stdout %q, stderr %q: want only the token and a newline", out, errOut)
			}
			if aud := payload(t, out)["aud"]; aud != tc.wantAud {
				t.Errorf("aud %v, want %v", aud, tc.wantAud)
			}
		})
	}
}

func TestTokenDevice(t *testing.T) {
	clearTokenEnv(t)
	a := tokenclienttest.New(t, tokenclienttest.Config{Device: tokenclienttest.DeviceScript{Pending: 1, Interval: 1}})
	t.Setenv("PORTCULLIS_PUBLIC_CLIENT_ID", tokenclienttest.PublicClientID)
	code, out, errOut := runMain("token", "device", "--authority", a.Authority(), "--ca-file", a.CAFile(t),
		"--scope", tokenclienttest.APIURI+"/Files.Read")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "enter the code "+tokenclienttest.UserCode) || !strings.Contains(errOut, a.Server.URL+"/devicelogin") {
		t.Errorf("stderr does not tell the user what to do: %s", errOut)
	}
	if scp := payload(t, out)["scp"]; scp != tokenclienttest.Scope {
		t.Errorf("scp %v, want %s", scp, tokenclienttest.Scope)
	}
	if n := len(a.Polls()); n != 2 {
		t.Errorf("%d polls, want 2 (one pending, one success)", n)
	}
}

func TestTokenDeviceDeclined(t *testing.T) {
	clearTokenEnv(t)
	a := tokenclienttest.New(t, tokenclienttest.Config{Device: tokenclienttest.DeviceScript{Outcome: "access_denied", Interval: 1}})
	code, out, errOut := runMain("token", "device", "--authority", a.Authority(), "--ca-file", a.CAFile(t),
		"--client-id", tokenclienttest.PublicClientID, "--scope", tokenclienttest.APIURI+"/Files.Read")
	if code != 1 || out != "" || !strings.Contains(errOut, "portcullis: AADSTS70020: The user declined the authorization request. Fix: sign in again") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

var urlLine = regexp.MustCompile(`(?m)^(https://\S+/authorize\?\S+)$`)

func TestTokenLogin(t *testing.T) {
	clearTokenEnv(t)
	a := tokenclienttest.New(t, tokenclienttest.Config{})
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"token", "login", "--no-browser", "--authority", a.Authority(), "--ca-file", a.CAFile(t),
			"--client-id", tokenclienttest.PublicClientID, "--scope", tokenclienttest.APIURI + "/Files.Read", "--timeout", "20s"}, &out, &errOut)
	}()
	// Play the browser: wait for the printed address, follow it and its redirect to the callback.
	var authorizeURL string
	for deadline := time.Now().Add(10 * time.Second); authorizeURL == ""; time.Sleep(10 * time.Millisecond) {
		if m := urlLine.FindStringSubmatch(errOut.String()); m != nil {
			authorizeURL = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sign-in address printed; stderr: %s", errOut.String())
		}
	}
	resp, err := a.Server.Client().Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "You are signed in") {
		t.Errorf("callback page %d: %s", resp.StatusCode, page)
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if scp := payload(t, out.String())["scp"]; scp != tokenclienttest.Scope {
		t.Errorf("scp %v, want %s", scp, tokenclienttest.Scope)
	}
}

// withStdin makes content standard input; "/dev/null" stands for a character device (what a
// terminal is), since a test has no terminal.
func withStdin(t *testing.T, content string) {
	t.Helper()
	p := "/dev/null"
	if content != p {
		p = filepath.Join(t.TempDir(), "stdin")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = old; f.Close() })
}

func TestTokenDecode(t *testing.T) {
	clearTokenEnv(t)
	a := tokenclienttest.New(t, tokenclienttest.Config{Secret: "s"})
	code, tok, errOut := runMain("token", "get", "--token-url", a.TokenURL(), "--ca-file", a.CAFile(t),
		"--client-id", tokenclienttest.ClientID, "--client-secret", "s", "--scope", tokenclienttest.APIURI+"/.default")
	if code != 0 {
		t.Fatalf("token get: exit %d: %s", code, errOut)
	}
	parsed, err := inspect.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	missing := filepath.Join(t.TempDir(), "missing.xml")
	var want bytes.Buffer
	if err := parsed.Render(&want, at); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  string // exact
		wantHas  []string
		wantErr  string
	}{
		{name: "argument, judged later with --at", args: []string{tok, "--at", at.Format(time.RFC3339)}, wantOut: want.String()},
		{name: "standard input", stdin: tok, args: []string{"--at", at.Format(time.RFC3339)}, wantOut: want.String()},
		{name: "dash reads standard input, now", stdin: "Bearer " + tok, args: []string{"-"},
			wantHas: []string{"Status: valid for another 59m", "Version: v2.0", "Kind: app-only", "aud  " + tokenclienttest.APIAppID}},
		{name: "unix seconds for --at", args: []string{tok, "--at", "1"}, wantHas: []string{"NOT YET VALID"}},
		{name: "garbage", args: []string{"hello"}, wantCode: 1, wantErr: "portcullis: not a JWT: expected header.payload.signature (three base64url parts separated by dots), found 1 part(s). Fix: pass the access token itself"},
		{name: "empty standard input", stdin: "\n", wantCode: 1, wantErr: "not a JWT: the input is empty"},
		{name: "a terminal on standard input", stdin: "/dev/null", wantCode: 2, wantErr: "give the token as an argument, or pipe it on standard input"},
		{name: "bad --at", args: []string{tok, "--at", "tomorrow"}, wantCode: 2, wantErr: "--at \"tomorrow\""},
		{name: "two tokens", args: []string{tok, tok}, wantCode: 2, wantErr: "accepts at most 1 arg"},
		// A file that cannot be read is named alone, not as a place "missing.xml:0:0" in it.
		{name: "missing --policy file", args: []string{tok, "--policy", missing}, wantCode: 1,
			wantErr: "portcullis: " + missing + ": cannot read policy file: no such file\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			withStdin(t, tc.stdin)
			code, out, errOut := runMain(append([]string{"token", "decode"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.wantCode, errOut)
			}
			if tc.wantErr != "" {
				if !strings.Contains(errOut, tc.wantErr) {
					t.Errorf("stderr %q\nwant %q", errOut, tc.wantErr)
				}
				return
			}
			if tc.wantOut != "" && out != tc.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tc.wantOut)
			}
			for _, h := range tc.wantHas {
				if !strings.Contains(out, h) {
					t.Errorf("stdout lacks %q:\n%s", h, out)
				}
			}
		})
	}
}

func TestTokenLoginGivesUp(t *testing.T) {
	clearTokenEnv(t)
	a := tokenclienttest.New(t, tokenclienttest.Config{})
	code, out, errOut := runMain("token", "login", "--no-browser", "--authority", a.Authority(), "--ca-file", a.CAFile(t),
		"--client-id", tokenclienttest.PublicClientID, "--scope", tokenclienttest.APIURI+"/Files.Read", "--timeout", "300ms")
	if code != 1 || out != "" || !strings.Contains(errOut, "portcullis: gave up after 300ms without a token. Fix: raise --timeout") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
