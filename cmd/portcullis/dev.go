package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"portcullis/internal/directory"
	"portcullis/internal/identity"
)

// devFlags are portcullis dev's options.
type devFlags struct {
	data           string
	reset          bool
	gatewayListen  string
	identityListen string
	adminListen    string
}

func newDevCommand() *cobra.Command {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole system on this machine with the article's steps already done",
		Long: `Runs the identity service, the gateway, the admin API and a sample backend in one process.
The first run seeds a tenant where the article's steps are done: backend-app exposes the scope
Files.Read and the app role Files.Read.All, client-app holds a secret and an admin-consented
permission to call it, other-api is a second API (to show a token for the wrong audience), a
public client and a user can sign in, and /echo on the gateway is protected by the article's
validate-jwt policy. It prints the commands that get a token and call the API, and writes them
as variables to DATA/dev.env. A second run reuses everything; --reset starts over.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.data, "data", "./portcullis-data", "data folder: the store, keys, the local CA, the generated configuration and dev.env")
	fs.BoolVar(&f.reset, "reset", false, "delete the data folder's contents first and seed a new tenant")
	fs.StringVar(&f.gatewayListen, "gateway-listen", "127.0.0.1:8080", "gateway address")
	fs.StringVar(&f.identityListen, "identity-listen", "127.0.0.1:9443", "identity service address (HTTPS)")
	fs.StringVar(&f.adminListen, "admin-listen", "127.0.0.1:9090", "admin API address")
	return cmd
}

// devSeed is what the first run generates and every later run reuses. Only these values are
// kept; URLs follow the listen addresses of each run.
type devSeed struct {
	TenantID       string `json:"tenantId"`
	BackendAppID   string `json:"backendAppId"`
	OtherAPIAppID  string `json:"otherApiAppId"`
	ClientAppID    string `json:"clientAppId"`
	PublicClientID string `json:"publicClientId"`
	ClientSecret   string `json:"clientSecret"`
	Username       string `json:"username"`
	Password       string `json:"password"`
	AdminToken     string `json:"adminToken"`
}

const (
	devSeedFile   = "dev-seed.json"
	devEnvFile    = "dev.env"
	devConfigFile = "portcullis.yaml"
	devPolicyFile = "policies/echo.xml"
	devDomain     = "contoso.example"
)

func runDev(ctx context.Context, f devFlags, stdout, stderr io.Writer) error {
	for _, a := range []struct{ flag, addr string }{{"--gateway-listen", f.gatewayListen}, {"--identity-listen", f.identityListen}, {"--admin-listen", f.adminListen}} {
		if _, port, err := net.SplitHostPort(a.addr); err != nil || port == "0" {
			return usageError{fmt.Errorf("%s %q: give host:port with a fixed port, e.g. 127.0.0.1:8080", a.flag, a.addr)}
		}
	}
	data, err := filepath.Abs(f.data)
	if err != nil {
		return err
	}
	if f.reset {
		if err := resetDataDir(data); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(data, "policies"), 0o700); err != nil {
		return fmt.Errorf("cannot create the data folder %s: %w. Fix: pass --data with a folder you can write to", data, unwrapPath(err))
	}
	seed, fresh, err := loadOrCreateDevSeed(data)
	if err != nil {
		return err
	}
	if fresh {
		fmt.Fprintf(stdout, "Seeding a new tenant %s in %s...\n", seed.TenantID, data)
	} else {
		fmt.Fprintf(stdout, "Reusing tenant %s from %s (--reset starts over)\n", seed.TenantID, data)
	}

	publicURL := identity.PublicURLFromListen(f.identityListen)
	host, _, _ := net.SplitHostPort(f.identityListen)
	// The gateway trusts the local CA, so it must exist before the configuration that names it
	// is loaded; the identity role reuses it.
	if _, _, err := identity.LocalTLS(data, []string{host}); err != nil {
		return err
	}

	backend, err := startSampleBackend()
	if err != nil {
		return err
	}
	defer backend.Close()

	configPath := filepath.Join(data, devConfigFile)
	if err := writeDevFiles(data, seed, f, publicURL, "http://"+backend.Addr); err != nil {
		return err
	}

	env := devEnv(data, seed, f, publicURL)
	return serveFile(ctx, configPath, stdout, stderr, func() error {
		if err := writeEnvFile(filepath.Join(data, devEnvFile), env); err != nil {
			return err
		}
		printDevGuide(stdout, data, seed, env, invocation())
		return nil
	})
}

// resetDataDir empties a data folder that dev mode made, refusing any other folder.
func resetDataDir(data string) error {
	entries, err := os.ReadDir(data)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--reset: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(data, devSeedFile)); err != nil {
		return fmt.Errorf("--reset: %s was not made by portcullis dev (no %s in it); delete it yourself or choose another --data", data, devSeedFile)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(data, e.Name())); err != nil {
			return fmt.Errorf("--reset: %w", err)
		}
	}
	return nil
}

func loadOrCreateDevSeed(data string) (*devSeed, bool, error) {
	path := filepath.Join(data, devSeedFile)
	raw, err := os.ReadFile(path)
	if err == nil {
		var s devSeed
		if err := json.Unmarshal(raw, &s); err != nil || s.TenantID == "" || s.ClientSecret == "" {
			return nil, false, fmt.Errorf("%s is damaged; run portcullis dev --reset to start over", path)
		}
		return &s, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	secret, err := directory.GenerateSecret()
	if err != nil {
		return nil, false, err
	}
	s := &devSeed{
		TenantID:       directory.NewID(),
		BackendAppID:   directory.NewID(),
		OtherAPIAppID:  directory.NewID(),
		ClientAppID:    directory.NewID(),
		PublicClientID: directory.NewID(),
		ClientSecret:   secret,
		Username:       "alice@" + devDomain,
		Password:       randomText(18),
		AdminToken:     randomText(32),
	}
	out, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return nil, false, fmt.Errorf("writing %s: %w", path, err)
	}
	return s, true, nil
}

// randomText is n random bytes in base64url: passwords and tokens for the local tenant.
func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// writeDevFiles writes the configuration dev mode serves and the article's policy. They are
// ordinary files: `portcullis serve --config DATA/portcullis.yaml` runs the same system
// (without the sample backend).
func writeDevFiles(data string, s *devSeed, f devFlags, publicURL, backendURL string) error {
	policy := fmt.Sprintf(`<!-- The article's policy, unchanged: login.microsoftonline.com is mapped to the local
     identity service by gateway.authority-aliases in portcullis.yaml. -->
<policies>
    <inbound>
        <base />
        <validate-jwt header-name="Authorization" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized. Access token is missing or invalid.">
            <openid-config url="https://login.microsoftonline.com/%s/v2.0/.well-known/openid-configuration" />
            <required-claims>
                <claim name="aud">
                    <value>%s</value>
                </claim>
            </required-claims>
        </validate-jwt>
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>
`, s.TenantID, s.BackendAppID)
	if err := os.WriteFile(filepath.Join(data, devPolicyFile), []byte(policy), 0o644); err != nil {
		return err
	}
	hash, err := directory.HashPassword(s.Password)
	if err != nil {
		return err
	}
	config := fmt.Sprintf(`# Written by portcullis dev on every start; edit the policy files freely, but this file is
# replaced. Run the same system with: portcullis serve --config %[1]s
data: .

gateway:
  listen: %[2]s
  trust: [tls/ca.pem]
  authority-aliases:
    https://login.microsoftonline.com: %[3]s
  apis:
    - name: echo-api
      path: echo
      backend: %[4]s
      policy: %[5]s

identity:
  listen: %[6]s
  public-url: %[3]s
  tenants:
    - id: %[7]s
      domain: %[8]s
      applications:
        - name: backend-app
          app-id: %[9]s
          identifier-uris: [api://%[9]s]
          access-token-version: 2
          scopes:
            - value: Files.Read
              admin-consent-display-name: Read files
              admin-consent-description: Lets the app read files on behalf of the signed-in user
          app-roles:
            - value: Files.Read.All
              allowed-member-types: [Application, User]
        - name: other-api
          app-id: %[10]s
          identifier-uris: [api://%[10]s]
          access-token-version: 2
          app-roles:
            - value: Other.Read.All
              allowed-member-types: [Application]
        - name: client-app
          app-id: %[11]s
          secrets:
            - hash: %[12]s
          api-permissions:
            - api: backend-app
              scopes: [Files.Read]
              roles: [Files.Read.All]
              admin-consent: true
            - api: other-api
              roles: [Other.Read.All]
              admin-consent: true
        - name: public-client
          app-id: %[13]s
          public-client: true
          redirect-uris: [http://localhost]
          api-permissions:
            - api: backend-app
              scopes: [Files.Read]
              admin-consent: true
      users:
        - username: %[14]s
          display-name: Alice
          password-hash: %[15]s
          roles: {backend-app: [Files.Read.All]}

admin:
  listen: %[16]s
  token: %[17]s
`, filepath.Join(data, devConfigFile), f.gatewayListen, publicURL, backendURL, devPolicyFile,
		f.identityListen, s.TenantID, devDomain, s.BackendAppID, s.OtherAPIAppID, s.ClientAppID,
		directory.HashSecret(s.ClientSecret), s.PublicClientID, s.Username, strconv.Quote(hash),
		f.adminListen, s.AdminToken)
	// The file holds the admin token: readable by its owner only.
	return os.WriteFile(filepath.Join(data, devConfigFile), []byte(config), 0o600)
}

// devEnv is dev.env's content: CONTRACT.md's variables first, then dev mode's own.
func devEnv(data string, s *devSeed, f devFlags, publicURL string) [][2]string {
	gateway := "http://" + f.gatewayListen
	return [][2]string{
		{"PORTCULLIS_TENANT_ID", s.TenantID},
		{"PORTCULLIS_CLIENT_ID", s.ClientAppID},
		{"PORTCULLIS_CLIENT_SECRET", s.ClientSecret},
		{"PORTCULLIS_SCOPE", "api://" + s.BackendAppID + "/.default"},
		{"PORTCULLIS_TOKEN_URL", publicURL + "/" + s.TenantID + "/oauth2/v2.0/token"},
		{"PORTCULLIS_API_URL", gateway + "/echo/hello"},
		{"PORTCULLIS_CA_FILE", filepath.Join(data, "tls", "ca.pem")},
		{"PORTCULLIS_ADMIN_URL", "http://" + f.adminListen},
		{"PORTCULLIS_ADMIN_TOKEN", s.AdminToken},
		{"PORTCULLIS_AUTHORITY", publicURL + "/" + s.TenantID},
		{"PORTCULLIS_API_APP_ID", s.BackendAppID},
		{"PORTCULLIS_OTHER_SCOPE", "api://" + s.OtherAPIAppID + "/.default"},
		{"PORTCULLIS_PUBLIC_CLIENT_ID", s.PublicClientID},
		{"PORTCULLIS_USER_SCOPE", "api://" + s.BackendAppID + "/Files.Read"},
		{"PORTCULLIS_USERNAME", s.Username},
		{"PORTCULLIS_PASSWORD", s.Password},
	}
}

// writeEnvFile writes variables a POSIX shell can source: single-quoted, exported.
func writeEnvFile(path string, vars [][2]string) error {
	var b strings.Builder
	b.WriteString("# Written by portcullis dev. Source it: . ./portcullis-data/dev.env\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "export %s='%s'\n", v[0], strings.ReplaceAll(v[1], "'", `'\''`))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// readEnvFile reads a file writeEnvFile wrote.
func readEnvFile(path string) (map[string]string, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		name, value, _ := strings.Cut(line, "=")
		value = strings.ReplaceAll(strings.Trim(value, "'"), `'\''`, "'")
		out[name] = value
	}
	return out, sc.Err()
}

// invocation is how the printed commands call this program: its absolute path, or
// `go run ./cmd/portcullis` when it was started by go run (whose binary is deleted on exit).
func invocation() string {
	exe, err := os.Executable()
	if err != nil {
		return "portcullis"
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/portcullis"
	}
	if onPath, err := lookPath("portcullis"); err == nil && onPath == exe {
		return "portcullis"
	}
	return exe
}

func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return filepath.EvalSymlinks(p)
		}
	}
	return "", os.ErrNotExist
}

func printDevGuide(w io.Writer, data string, s *devSeed, env [][2]string, self string) {
	get := func(name string) string {
		for _, v := range env {
			if v[0] == name {
				return v[1]
			}
		}
		return ""
	}
	envPath := filepath.Join(data, devEnvFile)
	fmt.Fprintf(w, `
Portcullis dev is ready. The article's steps are done in tenant %s:
  backend-app    %s  (Application ID URI api://%s, scope Files.Read, app role Files.Read.All, v2.0 tokens)
  client-app     %s  (a secret and admin consent to call backend-app)
  other-api      %s  (a second API: its tokens have the wrong audience for /echo)
  public-client  %s  (device code and sign-in with PKCE)
  user           %s  password %s

  gateway    %s  (/echo is protected by %s)
  identity   %s
  admin      %s
  Local CA:  %s
  data:      %s  (every value below is in %s)

Try it (from this folder; Ctrl-C stops Portcullis):

  . %s

  # 1. No token: 401 {"statusCode": 401, "message": "Unauthorized. Access token is missing or invalid."}
  curl -i "$PORTCULLIS_API_URL"

  # 2. A token for backend-app, as client-app (client credentials)
  TOKEN=$(%s token get)
  #    or with curl alone:
  #    TOKEN=$(curl -s --cacert "$PORTCULLIS_CA_FILE" "$PORTCULLIS_TOKEN_URL" -d grant_type=client_credentials \
  #      -d client_id="$PORTCULLIS_CLIENT_ID" --data-urlencode client_secret="$PORTCULLIS_CLIENT_SECRET" \
  #      --data-urlencode scope="$PORTCULLIS_SCOPE" | sed -E 's/.*"access_token":"([^"]*)".*/\1/')

  # 3. With the token: 200 and the sample backend's echo of what it received
  curl -i -H "Authorization: Bearer $TOKEN" "$PORTCULLIS_API_URL"

  # 4. A token for other-api: 401, the audience is wrong
  OTHER=$(%s token get --scope "$PORTCULLIS_OTHER_SCOPE")
  curl -i -H "Authorization: Bearer $OTHER" "$PORTCULLIS_API_URL"

  # What is in a token, and why the policy refuses it
  %s token decode "$OTHER" --api echo-api --config %s

  # A user: sign in with the device code flow (prints a code to enter at %s/devicelogin)
  %s token device --scope "$PORTCULLIS_USER_SCOPE"

`, s.TenantID, s.BackendAppID, s.BackendAppID, s.ClientAppID, s.OtherAPIAppID, s.PublicClientID,
		s.Username, s.Password,
		strings.TrimSuffix(get("PORTCULLIS_API_URL"), "/echo/hello"), filepath.Join(data, devPolicyFile),
		get("PORTCULLIS_AUTHORITY"), get("PORTCULLIS_ADMIN_URL"), get("PORTCULLIS_CA_FILE"),
		data, envPath, envPath, self, self, self, filepath.Join(data, devConfigFile),
		strings.TrimSuffix(get("PORTCULLIS_AUTHORITY"), "/"+s.TenantID), self)
}

// sampleBackend is dev mode's backend API: it answers every request with what it received, so
// the gateway's forwarding can be seen. The Authorization header's value is not echoed.
type sampleBackend struct {
	Addr string
	srv  *http.Server
}

func startSampleBackend() (*sampleBackend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sample backend: %w", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers := map[string]string{}
		names := make([]string, 0, len(r.Header))
		for name := range r.Header {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			v := strings.Join(r.Header.Values(name), ", ")
			if strings.EqualFold(name, "Authorization") {
				v = fmt.Sprintf("(%d characters, not shown)", len(v))
			}
			headers[name] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"backend": "portcullis dev sample backend",
			"method":  r.Method,
			"path":    r.URL.Path,
			"query":   r.URL.RawQuery,
			"headers": headers,
		})
	})
	b := &sampleBackend{Addr: ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *sampleBackend) Close() { _ = b.srv.Close() }
