package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"portcullis/internal/config"
	"portcullis/internal/keys"
	"portcullis/internal/tokenclient"
	"portcullis/internal/tokenclient/inspect"
	"portcullis/internal/tokenclient/policycheck"
)

// entraAuthority is where a tenant alone points, as MSAL's default authority does.
const entraAuthority = "https://login.microsoftonline.com"

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Get tokens as a client app does (client credentials, device code, sign-in), and decode them",
		Long: `Get access tokens from Portcullis's identity service or any Entra-compatible authority,
as a client application would, and decode tokens for reading.

The commands read PORTCULLIS_TOKEN_URL, PORTCULLIS_TENANT_ID, PORTCULLIS_CLIENT_ID,
PORTCULLIS_CLIENT_SECRET, PORTCULLIS_SCOPE and PORTCULLIS_CA_FILE when the matching flag is
absent, so after "source portcullis-data/dev.env" a plain "portcullis token get" works.
The user sign-ins (device, login) take their client from PORTCULLIS_PUBLIC_CLIENT_ID.`,
	}
	cmd.AddCommand(newTokenGetCommand(), newTokenDeviceCommand(), newTokenLoginCommand(), newTokenDecodeCommand())
	return cmd
}

// acquireFlags are what every acquiring sub-command needs to reach an authority.
type acquireFlags struct {
	tokenURL, authority, tenant string
	clientID                    string
	scopes                      []string
	resource                    string
	caFiles                     []string
	output                      string
	timeout                     time.Duration
}

func (f *acquireFlags) register(cmd *cobra.Command, defaultTimeout time.Duration, clientIDEnv string) {
	fs := cmd.Flags()
	fs.StringVar(&f.tokenURL, "token-url", "", "token endpoint URL (env PORTCULLIS_TOKEN_URL)")
	fs.StringVar(&f.authority, "authority", "", "authority URL https://host/{tenant} (Portcullis's identity URL, or "+entraAuthority+"/{tenant})")
	fs.StringVar(&f.tenant, "tenant", "", "tenant ID or domain, when the authority URL names none (env PORTCULLIS_TENANT_ID)")
	fs.StringVar(&f.clientID, "client-id", "", "the client application's ID (env "+clientIDEnv+")")
	fs.StringSliceVar(&f.scopes, "scope", nil, "scope(s) to ask for, e.g. api://<app-id>/.default (env PORTCULLIS_SCOPE; repeat or separate with spaces)")
	fs.StringVar(&f.resource, "resource", "", "v1 endpoints: the resource (Application ID URI) instead of --scope")
	fs.StringSliceVar(&f.caFiles, "ca-file", nil, "extra CA certificate (PEM) to trust, e.g. Portcullis's local CA (env PORTCULLIS_CA_FILE)")
	fs.StringVarP(&f.output, "output", "o", "token", "what to print: token (the access token alone) or json (the whole response)")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, "give up after this long")
}

// client builds the token client from flags and environment. clientIDEnv lists the variables
// to try, in order, when --client-id is absent. The user flows read PORTCULLIS_PUBLIC_CLIENT_ID
// only: dev.env's PORTCULLIS_CLIENT_ID is a confidential client, which cannot use them.
func (f *acquireFlags) client(clientIDEnv ...string) (*tokenclient.Client, tokenclient.Target, error) {
	var target tokenclient.Target
	if f.output != "token" && f.output != "json" {
		return nil, target, usageError{fmt.Errorf("--output %q: use token or json", f.output)}
	}
	if f.timeout <= 0 {
		return nil, target, usageError{fmt.Errorf("--timeout %v: give a positive duration such as 2m", f.timeout)}
	}
	if f.tokenURL != "" && f.authority != "" {
		return nil, target, usageError{errors.New("give --token-url or --authority, not both")}
	}
	for _, s := range f.scopes {
		target.Scopes = append(target.Scopes, strings.Fields(s)...)
	}
	target.Resource = f.resource
	if len(target.Scopes) == 0 && target.Resource == "" {
		target.Scopes = strings.Fields(os.Getenv("PORTCULLIS_SCOPE"))
	}
	if len(target.Scopes) == 0 && target.Resource == "" {
		return nil, target, usageError{errors.New("say what the token is for: --scope api://<app-id>/.default (or PORTCULLIS_SCOPE)")}
	}
	if len(target.Scopes) > 0 && target.Resource != "" {
		return nil, target, usageError{errors.New("give --scope or --resource, not both")}
	}
	version := 2
	if target.Resource != "" {
		version = 1
	}
	tenant := firstNonEmpty(f.tenant, os.Getenv("PORTCULLIS_TENANT_ID"))
	var ep tokenclient.Endpoints
	var err error
	switch {
	case f.tokenURL != "":
		ep, err = tokenclient.FromTokenURL(f.tokenURL)
	case f.authority != "":
		ep, err = tokenclient.FromAuthority(f.authority, f.tenant, version)
		if err != nil && f.tenant == "" && tenant != "" {
			// An authority without a tenant takes PORTCULLIS_TENANT_ID.
			if alt, altErr := tokenclient.FromAuthority(f.authority, tenant, version); altErr == nil {
				ep, err = alt, nil
			}
		}
	case os.Getenv("PORTCULLIS_TOKEN_URL") != "":
		ep, err = tokenclient.FromTokenURL(os.Getenv("PORTCULLIS_TOKEN_URL"))
	case tenant != "":
		ep, err = tokenclient.FromAuthority(entraAuthority, tenant, version)
	default:
		return nil, target, usageError{errors.New("say where to get the token: --authority https://host/{tenant}, --token-url URL, or PORTCULLIS_TOKEN_URL (source the dev.env that portcullis dev writes)")}
	}
	if err != nil {
		return nil, target, err
	}
	clientID := f.clientID
	for _, env := range clientIDEnv {
		clientID = firstNonEmpty(clientID, os.Getenv(env))
	}
	if clientID == "" {
		return nil, target, usageError{fmt.Errorf("give the client application's ID: --client-id ID (or %s)", strings.Join(clientIDEnv, " or "))}
	}
	caFiles := f.caFiles
	if len(caFiles) == 0 && os.Getenv("PORTCULLIS_CA_FILE") != "" {
		caFiles = filepath.SplitList(os.Getenv("PORTCULLIS_CA_FILE"))
	}
	httpTimeout := min(f.timeout, tokenclient.DefaultTimeout)
	hc, err := tokenclient.NewHTTPClient(caFiles, httpTimeout)
	if err != nil {
		return nil, target, fmt.Errorf("%w. Fix: give --ca-file (or PORTCULLIS_CA_FILE) the path of a PEM CA certificate", err)
	}
	return &tokenclient.Client{Endpoints: ep, ClientID: clientID, HTTP: hc}, target, nil
}

// usageArgs makes a wrong number of arguments a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// printToken writes the access token alone (for $(...)) or the whole response.
func printToken(w io.Writer, output string, tok *tokenclient.Token) error {
	if output == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, tok.Raw, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	}
	_, err := fmt.Fprintln(w, tok.AccessToken)
	return err
}

// stopped explains an acquisition that ended with its context: the --timeout or Ctrl-C.
func stopped(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("gave up after %v without a token. Fix: raise --timeout, or check that the authority answers", timeout)
	case errors.Is(err, context.Canceled):
		return errors.New("interrupted before a token arrived")
	}
	return err
}

// commandContext stops on Ctrl-C and after timeout.
func commandContext(cmd *cobra.Command, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

func newTokenGetCommand() *cobra.Command {
	var f acquireFlags
	var secret, certFile, keyFile string
	var basic bool
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Get an app-only token with client credentials (a secret or a certificate)",
		Example: `  portcullis token get --authority https://127.0.0.1:9443/<tenant-id> --ca-file portcullis-data/tls/ca.pem \
      --client-id <client-app-id> --client-secret "$SECRET" --scope api://<backend-app-id>/.default
  curl -H "Authorization: Bearer $(portcullis token get)" "$PORTCULLIS_API_URL"   # with dev.env sourced`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, target, err := f.client("PORTCULLIS_CLIENT_ID")
			if err != nil {
				return err
			}
			switch {
			case secret != "" && certFile != "":
				return usageError{errors.New("give --client-secret or --certificate, not both")}
			case keyFile != "" && certFile == "":
				return usageError{errors.New("--key needs --certificate")}
			case certFile != "":
				cert, err := tokenclient.LoadCertificate(certFile, keyFile)
				if err != nil {
					return err
				}
				c.Credential = cert
			default:
				secret = firstNonEmpty(secret, os.Getenv("PORTCULLIS_CLIENT_SECRET"))
				if secret == "" {
					return usageError{errors.New("give a credential: --client-secret S (or PORTCULLIS_CLIENT_SECRET), or --certificate cert.pem --key key.pem")}
				}
				c.Credential = tokenclient.ClientSecret{Value: secret, Basic: basic}
			}
			ctx, cancel := commandContext(cmd, f.timeout)
			defer cancel()
			tok, err := c.ClientCredentials(ctx, target)
			if err != nil {
				return stopped(err, f.timeout)
			}
			return printToken(cmd.OutOrStdout(), f.output, tok)
		},
	}
	f.register(cmd, time.Minute, "PORTCULLIS_CLIENT_ID")
	fs := cmd.Flags()
	fs.StringVar(&secret, "client-secret", "", "client secret (env PORTCULLIS_CLIENT_SECRET, which keeps it out of the process list)")
	fs.StringVar(&certFile, "certificate", "", "PEM certificate registered on the application, for a signed client assertion")
	fs.StringVar(&keyFile, "key", "", "PEM RSA private key of --certificate (default: the certificate file itself)")
	fs.BoolVar(&basic, "basic", false, "send the secret with HTTP Basic (client_secret_basic) instead of in the body")
	return cmd
}

func newTokenDeviceCommand() *cobra.Command {
	var f acquireFlags
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Sign a user in with the device code flow: prints a code and a URL, then waits",
		Example: `  portcullis token device --authority https://127.0.0.1:9443/<tenant-id> --ca-file portcullis-data/tls/ca.pem \
      --client-id <public-client-id> --scope api://<backend-app-id>/Files.Read`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, target, err := f.client("PORTCULLIS_PUBLIC_CLIENT_ID")
			if err != nil {
				return err
			}
			ctx, cancel := commandContext(cmd, f.timeout)
			defer cancel()
			dc, err := c.StartDeviceCode(ctx, target)
			if err != nil {
				return stopped(err, f.timeout)
			}
			stderr := cmd.ErrOrStderr()
			fmt.Fprintln(stderr, dc.Instructions())
			fmt.Fprintf(stderr, "Waiting for the sign-in (the code expires %s)...\n", inspect.Relative(dc.ExpiresAt, time.Now()))
			tok, err := c.PollDeviceCode(ctx, dc)
			if err != nil {
				return stopped(err, f.timeout)
			}
			fmt.Fprintln(stderr, "Signed in.")
			return printToken(cmd.OutOrStdout(), f.output, tok)
		},
	}
	f.register(cmd, 15*time.Minute, "PORTCULLIS_PUBLIC_CLIENT_ID")
	return cmd
}

func newTokenLoginCommand() *cobra.Command {
	var f acquireFlags
	var redirect, prompt, loginHint, secret string
	var noBrowser bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign a user in with the authorization code flow and PKCE, through a browser and a local callback",
		Example: `  portcullis token login --authority https://127.0.0.1:9443/<tenant-id> --ca-file portcullis-data/tls/ca.pem \
      --client-id <public-client-id> --scope api://<backend-app-id>/Files.Read`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, target, err := f.client("PORTCULLIS_PUBLIC_CLIENT_ID")
			if err != nil {
				return err
			}
			if secret != "" {
				c.Credential = tokenclient.ClientSecret{Value: secret}
			}
			stderr := cmd.ErrOrStderr()
			ctx, cancel := commandContext(cmd, f.timeout)
			defer cancel()
			opts := tokenclient.LoginOptions{
				RedirectURI: redirect, Prompt: prompt, LoginHint: loginHint,
				Open: func(u string) error {
					fmt.Fprintf(stderr, "Sign in at this address (waiting for the browser to come back):\n%s\n", u)
					if !noBrowser {
						if err := openBrowser(ctx, u); err != nil {
							fmt.Fprintf(stderr, "Could not open a browser (%v); open the address above yourself.\n", err)
						}
					}
					return nil
				},
			}
			tok, err := c.Login(ctx, target, opts)
			if err != nil {
				return stopped(err, f.timeout)
			}
			fmt.Fprintln(stderr, "Signed in.")
			return printToken(cmd.OutOrStdout(), f.output, tok)
		},
	}
	f.register(cmd, 5*time.Minute, "PORTCULLIS_PUBLIC_CLIENT_ID")
	fs := cmd.Flags()
	fs.StringVar(&redirect, "redirect-uri", tokenclient.DefaultRedirectURI, "loopback redirect URI registered on the application; without a port a free one is used")
	fs.BoolVar(&noBrowser, "no-browser", false, "print the sign-in address without opening a browser")
	fs.StringVar(&prompt, "prompt", "", "prompt parameter: login, consent, select_account or none")
	fs.StringVar(&loginHint, "login-hint", "", "user name to pre-fill on the sign-in page")
	fs.StringVar(&secret, "client-secret", "", "secret of a confidential (web) client; public clients have none")
	return cmd
}

// openBrowser asks the desktop to open u; it does not wait for the browser.
func openBrowser(ctx context.Context, u string) error {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.CommandContext(ctx, "open", u)
	case "windows":
		c = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", u)
	default:
		c = exec.CommandContext(ctx, "xdg-open", u)
	}
	if err := c.Start(); err != nil {
		return err
	}
	go func() { _ = c.Wait() }() // reap the helper; its status does not matter
	return nil
}

func newTokenDecodeCommand() *cobra.Command {
	var at, policyFile, apiName, configFile string
	var namedValues, caFiles []string
	cmd := &cobra.Command{
		Use:   "decode [TOKEN]",
		Short: "Show a token's header and claims, with times in human form; with --policy, check it against validate-jwt",
		Long: `Show a token's header and claims, with times in human form (reads standard input without
TOKEN or with -). With --policy FILE, or --api NAME --config FILE, also evaluate the token
against that policy's <validate-jwt> check by check, as the gateway would, and exit 1 when the
gateway would refuse it.`,
		Example: `  portcullis token decode eyJ0eXAiOiJKV1Qi...
  portcullis token get | portcullis token decode
  portcullis token get | portcullis token decode --api echo-api --config portcullis.yaml
  portcullis token decode "$TOKEN" --policy policies/article.xml --named-value tenant-id=<tenant-id> --named-value backend-app-client-id=<app-id>`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			if at != "" {
				t, err := parseAt(at)
				if err != nil {
					return usageError{err}
				}
				now = t
			}
			if apiName != "" && configFile == "" {
				return usageError{errors.New("--api needs --config FILE, the configuration that publishes the API")}
			}
			if apiName != "" && policyFile != "" {
				return usageError{errors.New("give --policy FILE or --api NAME, not both")}
			}
			named, err := parseNamedValues(namedValues)
			if err != nil {
				return usageError{err}
			}
			raw, err := tokenArgument(cmd, args)
			if err != nil {
				return err
			}
			tok, err := inspect.Parse(raw)
			if err != nil {
				return fmt.Errorf("%w. Fix: pass the access token itself (the access_token value, three base64url parts separated by dots)", err)
			}
			out := cmd.OutOrStdout()
			if err := tok.Render(out, now); err != nil {
				return err
			}
			if policyFile == "" && apiName == "" {
				return nil
			}
			files, opts, err := policyContext(policyFile, apiName, configFile, named, caFiles)
			if err != nil {
				return err
			}
			opts.Now = func() time.Time { return now }
			opts.Progress = func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), msg) }
			ctx, cancel := commandContext(cmd, time.Minute)
			defer cancel()
			var refused []string
			fmt.Fprintln(out)
			for _, file := range files {
				results, err := policycheck.Evaluate(ctx, file, bareToken(raw), opts)
				if errors.Is(err, policycheck.ErrNoValidateJWT) && apiName != "" {
					continue
				}
				if err != nil {
					return err
				}
				for _, r := range results {
					if err := r.Render(out); err != nil {
						return err
					}
					if !r.Passed() {
						refused = append(refused, fmt.Sprintf("%d %s at %s", r.Status, r.Failure.Reason, r.Where))
					}
				}
			}
			if len(refused) > 0 {
				return fmt.Errorf("the gateway would refuse this token: %s", strings.Join(refused, "; "))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&at, "at", "", "judge the times as of this instant (RFC 3339, e.g. 2026-11-25T20:00:00Z, or Unix seconds) instead of now")
	fs.StringVar(&policyFile, "policy", "", "policy document whose <validate-jwt> the token is checked against")
	fs.StringVar(&apiName, "api", "", "check against the validate-jwt of this API's policies (global, API and operations) in --config")
	fs.StringVar(&configFile, "config", "", "configuration file: the API for --api, and named values, trust and authority aliases for both")
	fs.StringArrayVar(&namedValues, "named-value", nil, "name=value for {{name}} in --policy (repeat as needed)")
	fs.StringSliceVar(&caFiles, "ca-file", nil, "extra CA certificate (PEM) for fetching openid-config keys (env PORTCULLIS_CA_FILE)")
	return cmd
}

// bareToken drops the space and "Bearer " that a token copied from a header carries.
func bareToken(raw string) string {
	s := strings.TrimSpace(raw)
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	return s
}

func parseNamedValues(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, nv := range list {
		name, value, ok := strings.Cut(nv, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("--named-value %q: use name=value", nv)
		}
		out[strings.TrimSpace(name)] = value
	}
	return out, nil
}

// policyContext gathers the policy files to check and what evaluating them needs from the
// configuration and the command line.
func policyContext(policyFile, apiName, configFile string, named map[string]string, caFiles []string) ([]string, policycheck.Options, error) {
	var opts policycheck.Options
	var files []string
	if policyFile != "" {
		files = append(files, policyFile)
	}
	opts.NamedValues = map[string]string{}
	if configFile != "" {
		cfg, err := config.Load(configFile)
		if err != nil {
			return nil, opts, err
		}
		if cfg.Gateway == nil {
			return nil, opts, fmt.Errorf("%s has no gateway section, so no API and no policies", configFile)
		}
		g := cfg.Gateway
		maps.Copy(opts.NamedValues, g.NamedValues)
		opts.Aliases = keys.Aliases(g.AuthorityAliases)
		caFiles = append(caFiles, g.Trust...)
		if apiName != "" {
			var names []string
			found := false
			for _, api := range g.APIs {
				names = append(names, api.Name)
				if api.Name != apiName {
					continue
				}
				found = true
				for _, f := range []string{g.Policy, api.Policy} {
					if f != "" {
						files = append(files, f)
					}
				}
				for _, op := range api.Operations {
					if op.Policy != "" {
						files = append(files, op.Policy)
					}
				}
			}
			if !found {
				return nil, opts, fmt.Errorf("%s publishes no API named %q (it has: %s)", configFile, apiName, strings.Join(names, ", "))
			}
			if len(files) == 0 {
				return nil, opts, fmt.Errorf("API %q in %s has no policy files", apiName, configFile)
			}
		}
	}
	maps.Copy(opts.NamedValues, named)
	if len(caFiles) == 0 && os.Getenv("PORTCULLIS_CA_FILE") != "" {
		caFiles = filepath.SplitList(os.Getenv("PORTCULLIS_CA_FILE"))
	}
	hc, err := tokenclient.NewHTTPClient(caFiles, 0)
	if err != nil {
		return nil, opts, err
	}
	opts.HTTP = hc
	return files, opts, nil
}

func parseAt(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q: use RFC 3339 (2026-11-25T20:00:00Z) or Unix seconds", s)
	}
	return t, nil
}

// tokenArgument is the token from the argument, or from standard input when there is none or
// it is "-".
func tokenArgument(cmd *cobra.Command, args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		return args[0], nil
	}
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return "", usageError{errors.New("give the token as an argument, or pipe it on standard input")}
		}
	}
	b, err := io.ReadAll(io.LimitReader(in, inspect.MaxTokenSize+1))
	if err != nil {
		return "", fmt.Errorf("reading the token from standard input: %w", err)
	}
	return string(b), nil
}
