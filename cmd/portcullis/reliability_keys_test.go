package main

// Nothing lost: the identity service's signing keys survive restarts and rotations, so that
// tokens issued before a restart stay valid at the gateway.

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"portcullis/internal/identity"
)

const (
	durableTenant  = "3f5b1c2e-0000-4000-8000-0000000000f1"
	durableBackend = "6c1f0d2a-0000-4000-8000-0000000000f2"
	durableClient  = "9d2e7a11-0000-4000-8000-0000000000f3"
)

// identityGateway is a folder with a configuration that runs the identity service on a fixed
// address, the gateway behind the article's policy trusting it, and the admin API with a
// token; the data folder is dir/data, so that every start reuses the same store.
type identityGateway struct {
	dir, config, identity, adminToken, secret string
	client                                    *http.Client
}

func newIdentityGateway(t *testing.T) *identityGateway {
	t.Helper()
	g := &identityGateway{dir: t.TempDir(), adminToken: "adm-" + randomText(24), secret: "cs~" + randomText(24)}
	backend := backendNamed(t, "echo")
	idAddr := freeAddr(t)
	g.identity = "https://" + idAddr
	if _, _, err := identity.LocalTLS(filepath.Join(g.dir, "data"), []string{idAddr}); err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(g.dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	g.client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	writeFiles(t, g.dir, map[string]string{
		"policies/global.xml":  forwardPolicy,
		"policies/article.xml": articlePolicy,
		"portcullis.yaml": fmt.Sprintf(`data: ./data
gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  named-values:
    tenant-id: %[1]s
    backend-app-client-id: %[2]s
  trust: [data/tls/ca.pem]
  authority-aliases:
    https://login.microsoftonline.com: %[3]s
  apis:
    - name: echo-api
      path: echo
      backend: %[4]s
      policy: policies/article.xml
identity:
  listen: %[5]s
  public-url: %[3]s
  token-lifetime: 1h
  tenants:
    - id: %[1]s
      domain: contoso.example
      applications:
        - name: backend-app
          app-id: %[2]s
          identifier-uris: [api://%[2]s]
          access-token-version: 2
          app-roles:
            - value: Files.Read.All
              allowed-member-types: [Application]
        - name: client-app
          app-id: %[6]s
          secrets:
            - value: %[7]s
          api-permissions:
            - api: backend-app
              roles: [Files.Read.All]
              admin-consent: true
admin:
  listen: 127.0.0.1:0
  token: %[8]s
`, durableTenant, durableBackend, g.identity, backend.URL, idAddr, durableClient, g.secret, g.adminToken),
	})
	g.config = filepath.Join(g.dir, "portcullis.yaml")
	return g
}

func (g *identityGateway) start(t *testing.T) *instance {
	t.Helper()
	in := startServe(t, g.config)
	waitReady(t, in.admin)
	return in
}

// token gets an app-only token with the client credentials grant.
func (g *identityGateway) token(t *testing.T) string {
	t.Helper()
	resp, err := g.client.PostForm(g.identity+"/"+durableTenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {durableClient}, "client_secret": {g.secret},
		"scope": {"api://" + durableBackend + "/.default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return out.AccessToken
}

// published lists the kids of the tenant's JWKS.
func (g *identityGateway) published(t *testing.T) []string {
	t.Helper()
	resp, err := g.client.Get(g.identity + "/" + durableTenant + "/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != 200 {
		t.Fatalf("JWKS: %d %v", resp.StatusCode, err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

// keyStatus is the management API's key list: kid → status.
func keyStatus(t *testing.T, in *instance, adminToken, method string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(method, in.admin+"/v1.0/portcullis/keys", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var list struct {
		Value []struct {
			Kid    string `json:"kid"`
			Status string `json:"status"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s keys: %d %s", method, resp.StatusCode, body)
	}
	out := map[string]string{}
	for _, k := range list.Value {
		out[k.Kid] = k.Status
	}
	return out
}

// kidOf reads a compact JWS's kid.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.SplitN(token, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// TestSigningKeysSurviveRestart: a token issued before a restart passes the gateway after it,
// and the key set published is the same; after a rotation through the management API and
// another restart, the current, next and previous keys are all still there, so that tokens
// signed before and after the rotation pass.
func TestSigningKeysSurviveRestart(t *testing.T) {
	g := newIdentityGateway(t)
	in := g.start(t)
	before := g.token(t)
	kids := g.published(t)
	if got := bearerGet(t, in.gateway+"/echo/x", before); got != 200 {
		t.Fatalf("token before the restart, first run: %d", got)
	}
	if code := in.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	in = g.start(t)
	if got := g.published(t); !slices.Equal(got, kids) {
		t.Errorf("JWKS after the restart %v, before %v", got, kids)
	}
	if got := bearerGet(t, in.gateway+"/echo/x", before); got != 200 {
		t.Errorf("token issued before the restart: %d, want 200", got)
	}
	if k1, k2 := kidOf(t, before), kidOf(t, g.token(t)); k1 != k2 {
		t.Errorf("the restart changed the signing key: %s, then %s", k1, k2)
	}

	rotated := keyStatus(t, in, g.adminToken, http.MethodPost)
	if rotated[kidOf(t, before)] != "previous" || len(rotated) != 3 {
		t.Fatalf("after the rotation: %v, want the old current key previous beside current and next", rotated)
	}
	after := g.token(t)
	if rotated[kidOf(t, after)] != "current" {
		t.Fatalf("a token after the rotation is signed with %s (%v)", kidOf(t, after), rotated)
	}
	if code := in.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	in = g.start(t)
	if got := keyStatus(t, in, g.adminToken, http.MethodGet); !maps.Equal(got, rotated) {
		t.Errorf("keys after the second restart %v, after the rotation %v", got, rotated)
	}
	var want []string
	for kid := range rotated {
		want = append(want, kid)
	}
	slices.Sort(want)
	if got := g.published(t); !slices.Equal(got, want) {
		t.Errorf("JWKS after the second restart %v, want %v", got, want)
	}
	for name, tok := range map[string]string{"before the rotation": before, "after the rotation": after, "now": g.token(t)} {
		if got := bearerGet(t, in.gateway+"/echo/x", tok); got != 200 {
			t.Errorf("token issued %s: %d after the restart, want 200", name, got)
		}
	}
}

// serveChildEnv names the configuration TestServeChild runs; unset, that test does nothing.
const serveChildEnv = "PORTCULLIS_RELIABILITY_SERVE_CONFIG"

// TestServeChild is TestSigningKeysSurviveKill's serve process.
func TestServeChild(t *testing.T) {
	cfg := os.Getenv(serveChildEnv)
	if cfg == "" {
		t.Skip("runs only as TestSigningKeysSurviveKill's child process")
	}
	os.Exit(Main([]string{"serve", "--config", cfg}, os.Stdout, io.Discard))
}

// TestSigningKeysSurviveKill: serve runs in a child process while two clients rotate the
// signing keys through the management API; the child is killed with SIGKILL mid-stream. On
// the next start every key a rotation acknowledged is still there, the set is whole (one
// current and one next key), and tokens signed before the kill pass the gateway.
func TestSigningKeysSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	g := newIdentityGateway(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$")
	cmd.Env = append(os.Environ(), serveChildEnv+"="+g.config)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	child := &instance{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := gatewayLine.FindStringSubmatch(sc.Text()); m != nil {
			child.gateway = m[1]
		}
		if m := adminLine.FindStringSubmatch(sc.Text()); m != nil {
			child.admin = m[1]
			break
		}
	}
	if child.admin == "" {
		t.Fatal("the child never started its admin listener")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	waitReady(t, child.admin)
	tokens := []string{g.token(t)}

	var (
		mu    sync.Mutex
		acked = map[string]bool{} // kids a rotation's answer listed
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 20 * time.Second}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				req, _ := http.NewRequest(http.MethodPost, child.admin+"/v1.0/portcullis/keys", nil)
				req.Header.Set("Authorization", "Bearer "+g.adminToken)
				resp, err := client.Do(req)
				if err != nil {
					return // the child is gone
				}
				var list struct {
					Value []struct {
						Kid string `json:"kid"`
					} `json:"value"`
				}
				err = json.NewDecoder(resp.Body).Decode(&list)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					return
				}
				mu.Lock()
				for _, k := range list.Value {
					acked[k.Kid] = true
				}
				mu.Unlock()
			}
		}()
	}
	for n := 0; ; n++ {
		mu.Lock()
		enough := len(acked) >= 12
		mu.Unlock()
		if enough {
			break
		}
		if n > 3000 {
			t.Fatal("the rotations were not acknowledged")
		}
		if n%20 == 0 {
			tokens = append(tokens, g.token(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	wg.Wait()

	in := g.start(t)
	keys := keyStatus(t, in, g.adminToken, http.MethodGet)
	for kid := range acked {
		if _, ok := keys[kid]; !ok {
			t.Errorf("acknowledged key %s lost after kill -9 (keys now %v)", kid, keys)
		}
	}
	t.Logf("%d keys acknowledged by rotations before the kill, %d after the restart; %d tokens checked", len(acked), len(keys), len(tokens))
	count := map[string]int{}
	for _, st := range keys {
		count[st]++
	}
	if count["current"] != 1 || count["next"] != 1 || count["previous"]+2 != len(keys) {
		t.Errorf("key set after kill -9 is not whole: %v", keys)
	}
	for i, tok := range tokens {
		if got := bearerGet(t, in.gateway+"/echo/x", tok); got != 200 {
			t.Errorf("token %d issued before the kill (kid %s): %d after the restart, want 200", i, kidOf(t, tok), got)
		}
	}
}
