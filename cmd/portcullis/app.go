package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// appFlags are the connection and output flags every `portcullis app` command shares.
type appFlags struct {
	admin, token, tenant, output string
}

func newAppCommand() *cobra.Command {
	f := &appFlags{}
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Register and configure applications, as the portal's App registrations steps do",
		Long: `Register and configure applications in a tenant, one portal step per command:
register an app, set its Application ID URI, add a scope or an app role, add a secret or a
certificate, grant a client permissions with admin consent, and delete.

The commands talk to a running instance's management API, never to its database:
--admin URL and --admin-token T (or PORTCULLIS_ADMIN_URL and PORTCULLIS_ADMIN_TOKEN). The
tenant is --tenant (or PORTCULLIS_TENANT_ID); it may be left out when there is only one.
An APP argument is a display name, a client (application) ID, an object ID or an
Application ID URI.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errors.New("name a sub-command: create, list, show, set-uri, add-scope, add-role, add-secret, add-cert, grant, set-token-version, add-redirect, public-flows, remove-secret, remove-cert or delete (see portcullis app --help)")}
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.admin, "admin", "", "management API base URL (default $PORTCULLIS_ADMIN_URL)")
	pf.StringVar(&f.token, "admin-token", "", "management API token (default $PORTCULLIS_ADMIN_TOKEN)")
	pf.StringVar(&f.tenant, "tenant", "", "tenant GUID or domain (default $PORTCULLIS_TENANT_ID)")
	pf.StringVarP(&f.output, "output", "o", "text", "output format: text or json (the management API's JSON)")
	cmd.AddCommand(
		appCreateCommand(f), appListCommand(f), appShowCommand(f), appSetURICommand(f),
		appAddScopeCommand(f), appAddRoleCommand(f), appAddSecretCommand(f), appAddCertCommand(f),
		appGrantCommand(f), appSetTokenVersionCommand(f), appDeleteCommand(f),
		appAddRedirectCommand(f), appPublicFlowsCommand(f), appRemoveSecretCommand(f), appRemoveCertCommand(f),
	)
	return cmd
}

// appRun wraps a command body: it checks the output flag, connects and runs.
func appRun(f *appFlags, body func(ctx context.Context, m *mgmt, out io.Writer, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if f.output != "text" && f.output != "json" {
			return usageError{fmt.Errorf("--output %q: use text or json", f.output)}
		}
		m, err := f.connect()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
		defer cancel()
		return body(ctx, m, cmd.OutOrStdout(), args)
	}
}

// mgmt is a client of the management API (Graph-compatible).
type mgmt struct {
	base   string // scheme://host[/tenants/{tid}]/v1.0
	host   string
	token  string
	tenant string
	json   bool
	http   *http.Client
}

func (f *appFlags) connect() (*mgmt, error) {
	admin := firstNonEmpty(f.admin, os.Getenv("PORTCULLIS_ADMIN_URL"))
	token := firstNonEmpty(f.token, os.Getenv("PORTCULLIS_ADMIN_TOKEN"))
	tenant := firstNonEmpty(f.tenant, os.Getenv("PORTCULLIS_TENANT_ID"))
	if admin == "" {
		return nil, usageError{errors.New("no management API given. Fix: pass --admin URL (for example http://127.0.0.1:9090) or set PORTCULLIS_ADMIN_URL")}
	}
	if token == "" {
		return nil, usageError{errors.New("no admin token given. Fix: pass --admin-token or set PORTCULLIS_ADMIN_TOKEN (the admin.token of the configuration)")}
	}
	u, err := url.Parse(strings.TrimRight(admin, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--admin %q is not an http(s) URL. Fix: give the admin listener's URL, such as http://127.0.0.1:9090", admin)}
	}
	base := u.String()
	if tenant != "" {
		base += "/tenants/" + url.PathEscape(tenant)
	}
	return &mgmt{base: base + "/v1.0", host: u.Host, token: token, tenant: tenant, json: f.output == "json",
		http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// graphFailure is an error answer of the management API.
type graphFailure struct {
	status        int
	code, message string
}

func (e *graphFailure) Error() string {
	switch {
	case e.status == http.StatusUnauthorized:
		return "the management API refused the admin token. Fix: pass the admin.token of the running instance with --admin-token or PORTCULLIS_ADMIN_TOKEN"
	case e.code == "Request_BadRequest" && strings.Contains(e.message, "No tenant given"):
		return "the instance has several tenants and none was named. Fix: pass --tenant or set PORTCULLIS_TENANT_ID"
	}
	return "the management API answered " + e.code + ": " + strings.TrimSuffix(e.message, ".")
}

// call sends one request; out (if not nil) receives the JSON answer, raw (if not nil) its bytes.
func (m *mgmt) call(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+m.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the management API at %s (%v). Fix: start `portcullis serve` with an admin: section and admin.token, or correct --admin / PORTCULLIS_ADMIN_URL", m.host, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the management API's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var ge struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &ge) == nil && ge.Error.Code != "" {
			return nil, &graphFailure{status: resp.StatusCode, code: ge.Error.Code, message: ge.Error.Message}
		}
		return nil, fmt.Errorf("the management API at %s answered HTTP %d without a Graph error body. Fix: check that --admin names the admin listener, not the gateway or the identity service", m.host, resp.StatusCode)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("the management API answered something that is not the expected JSON: %w", err)
		}
	}
	return raw, nil
}

// graphApp is the part of Graph's application the commands read; raw keeps the whole object
// so that a PATCH of a list sends back every property of its items.
type graphApp struct {
	ID             string   `json:"id"`
	AppID          string   `json:"appId"`
	DisplayName    string   `json:"displayName"`
	SignInAudience string   `json:"signInAudience"`
	IdentifierURIs []string `json:"identifierUris"`
	PublisherDom   *string  `json:"publisherDomain"`
	API            struct {
		RequestedAccessTokenVersion *int         `json:"requestedAccessTokenVersion"`
		Scopes                      []graphScope `json:"oauth2PermissionScopes"`
	} `json:"api"`
	AppRoles               []graphRole       `json:"appRoles"`
	PasswordCredentials    []graphCredential `json:"passwordCredentials"`
	KeyCredentials         []graphCredential `json:"keyCredentials"`
	RequiredResourceAccess []graphRRA        `json:"requiredResourceAccess"`
	Web                    struct {
		RedirectURIs []string `json:"redirectUris"`
	} `json:"web"`
	PublicClient struct {
		RedirectURIs []string `json:"redirectUris"`
	} `json:"publicClient"`
	IsFallbackPublicClient *bool `json:"isFallbackPublicClient"`

	raw json.RawMessage
}

type graphScope struct {
	ID                      string `json:"id"`
	Value                   string `json:"value"`
	Type                    string `json:"type"`
	IsEnabled               bool   `json:"isEnabled"`
	AdminConsentDisplayName string `json:"adminConsentDisplayName"`
	AdminConsentDescription string `json:"adminConsentDescription"`
	UserConsentDisplayName  string `json:"userConsentDisplayName"`
	UserConsentDescription  string `json:"userConsentDescription"`
}

type graphRole struct {
	ID                 string   `json:"id"`
	Value              string   `json:"value"`
	DisplayName        string   `json:"displayName"`
	Description        string   `json:"description"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	IsEnabled          bool     `json:"isEnabled"`
}

type graphCredential struct {
	KeyID               string  `json:"keyId"`
	DisplayName         string  `json:"displayName"`
	Hint                string  `json:"hint"`
	SecretText          string  `json:"secretText"`
	CustomKeyIdentifier *string `json:"customKeyIdentifier"`
	EndDateTime         *string `json:"endDateTime"`
}

type graphRRA struct {
	ResourceAppID  string `json:"resourceAppId"`
	ResourceAccess []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"resourceAccess"`
}

func (m *mgmt) listApps(ctx context.Context, filter string) ([]graphApp, error) {
	path := "/applications"
	if filter != "" {
		path += "?$filter=" + url.QueryEscape(filter)
	}
	var list struct {
		Value []json.RawMessage `json:"value"`
	}
	if _, err := m.call(ctx, http.MethodGet, path, nil, &list); err != nil {
		return nil, err
	}
	apps := make([]graphApp, 0, len(list.Value))
	for _, raw := range list.Value {
		var a graphApp
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		a.raw = raw
		apps = append(apps, a)
	}
	return apps, nil
}

func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
			return false
		}
	}
	return true
}

// findApp resolves an APP argument: client ID, object ID, Application ID URI or display name.
func (m *mgmt) findApp(ctx context.Context, ref string) (*graphApp, error) {
	var filters []string
	switch {
	case isGUID(ref):
		filters = []string{"appId eq " + odataString(ref), "id eq " + odataString(ref)}
	case strings.Contains(ref, ":"):
		filters = []string{"identifierUris/any(u:u eq " + odataString(ref) + ")", "displayName eq " + odataString(ref)}
	default:
		filters = []string{"displayName eq " + odataString(ref)}
	}
	for _, f := range filters {
		apps, err := m.listApps(ctx, f)
		if err != nil {
			return nil, err
		}
		switch len(apps) {
		case 0:
			continue
		case 1:
			return &apps[0], nil
		default:
			ids := make([]string, 0, len(apps))
			for _, a := range apps {
				ids = append(ids, a.AppID)
			}
			return nil, fmt.Errorf("%d applications are named %q (client IDs %s). Fix: name the one you mean by its client ID", len(apps), ref, strings.Join(ids, ", "))
		}
	}
	return nil, fmt.Errorf("no application %q in %s. Fix: `portcullis app list` shows the registered applications", ref, m.tenantLabel())
}

func (m *mgmt) tenantLabel() string {
	if m.tenant == "" {
		return "the tenant"
	}
	return "tenant " + m.tenant
}

// reload reads the application again (after a change), for output.
func (m *mgmt) reload(ctx context.Context, id string) (*graphApp, error) {
	var a graphApp
	raw, err := m.call(ctx, http.MethodGet, "/applications/"+url.PathEscape(id), nil, &a)
	if err != nil {
		return nil, err
	}
	a.raw = raw
	return &a, nil
}

// patchList sends back a list property of the raw application with one item added.
func rawList(raw json.RawMessage, path ...string) ([]any, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, nil
		}
		cur = m[p]
	}
	list, _ := cur.([]any)
	return list, nil
}

// servicePrincipal returns the object id of the app's service principal, creating it when the
// tenant has none (as the portal does when it registers an app).
func (m *mgmt) servicePrincipal(ctx context.Context, appID string) (id string, tenantID string, err error) {
	var list struct {
		Value []struct {
			ID       string `json:"id"`
			TenantID string `json:"appOwnerOrganizationId"`
		} `json:"value"`
	}
	if _, err := m.call(ctx, http.MethodGet, "/servicePrincipals?$filter="+url.QueryEscape("appId eq "+odataString(appID)), nil, &list); err != nil {
		return "", "", err
	}
	if len(list.Value) > 0 {
		return list.Value[0].ID, list.Value[0].TenantID, nil
	}
	var sp struct {
		ID       string `json:"id"`
		TenantID string `json:"appOwnerOrganizationId"`
	}
	if _, err := m.call(ctx, http.MethodPost, "/servicePrincipals", map[string]any{"appId": appID, "accountEnabled": true}, &sp); err != nil {
		return "", "", err
	}
	return sp.ID, sp.TenantID, nil
}

// printJSON writes raw JSON indented.
func printJSON(out io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := out.Write(buf.Bytes())
	return err
}

func printValue(out io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return printJSON(out, raw)
}

var audiences = map[string]string{
	"AzureADMyOrg":                       "accounts in this organizational directory only (single tenant)",
	"AzureADMultipleOrgs":                "accounts in any organizational directory (multitenant)",
	"AzureADandPersonalMicrosoftAccount": "accounts in any organizational directory and personal Microsoft accounts",
	"PersonalMicrosoftAccount":           "personal Microsoft accounts only",
}

func appCreateCommand(f *appFlags) *cobra.Command {
	var audience string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Register an application (App registrations → New registration) and its service principal",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			name := args[0]
			if _, ok := audiences[audience]; !ok {
				return usageError{fmt.Errorf("--audience %q is not a supported account type. Fix: use AzureADMyOrg, AzureADMultipleOrgs, AzureADandPersonalMicrosoftAccount or PersonalMicrosoftAccount", audience)}
			}
			existing, err := m.listApps(ctx, "displayName eq "+odataString(name))
			if err != nil {
				return err
			}
			if len(existing) > 0 {
				return fmt.Errorf("an application named %q is already registered (client ID %s). Fix: use it (portcullis app show %q), or delete it first", name, existing[0].AppID, name)
			}
			var app graphApp
			raw, err := m.call(ctx, http.MethodPost, "/applications", map[string]any{"displayName": name, "signInAudience": audience}, &app)
			if err != nil {
				return err
			}
			_, tenantID, err := m.servicePrincipal(ctx, app.AppID)
			if err != nil {
				return fmt.Errorf("registered %q (client ID %s) but could not create its service principal: %w", name, app.AppID, err)
			}
			if m.json {
				return printJSON(out, raw)
			}
			fmt.Fprintf(out, "Registered %q.\n", name)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "  Application (client) ID:\t%s\n", app.AppID)
			fmt.Fprintf(tw, "  Object ID:\t%s\n", app.ID)
			fmt.Fprintf(tw, "  Directory (tenant) ID:\t%s\n", tenantID)
			fmt.Fprintf(tw, "  Supported account types:\t%s\n", audiences[audience])
			tw.Flush()
			fmt.Fprintf(out, "Next: expose an API with `portcullis app set-uri %s`, or add a secret with `portcullis app add-secret %s`.\n", quoteArg(name), quoteArg(name))
			return nil
		}),
	}
	cmd.Flags().StringVar(&audience, "audience", "AzureADMyOrg", "supported account types (signInAudience)")
	return cmd
}

// quoteArg quotes an argument for a shell when it needs it.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"$`\\!*?[](){};&|<>#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func appListCommand(f *appFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the registered applications (App registrations → All applications)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, _ []string) error {
			if m.json {
				raw, err := m.call(ctx, http.MethodGet, "/applications", nil, nil)
				if err != nil {
					return err
				}
				return printJSON(out, raw)
			}
			apps, err := m.listApps(ctx, "")
			if err != nil {
				return err
			}
			if len(apps) == 0 {
				fmt.Fprintf(out, "No applications are registered in %s. Register one with `portcullis app create NAME`.\n", m.tenantLabel())
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tAPPLICATION (CLIENT) ID\tAPPLICATION ID URI\tSECRETS\tCERTIFICATES")
			for _, a := range apps {
				uri := "-"
				if len(a.IdentifierURIs) > 0 {
					uri = a.IdentifierURIs[0]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", a.DisplayName, a.AppID, uri, len(a.PasswordCredentials), len(a.KeyCredentials))
			}
			return tw.Flush()
		}),
	}
}

func appShowCommand(f *appFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show APP",
		Short: "Show an application's overview: client ID, Application ID URI, scopes, roles, credentials, permissions",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			if m.json {
				return printJSON(out, app.raw)
			}
			return m.printOverview(ctx, out, app)
		}),
	}
}

func (m *mgmt) printOverview(ctx context.Context, out io.Writer, app *graphApp) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Display name:\t%s\n", app.DisplayName)
	fmt.Fprintf(tw, "Application (client) ID:\t%s\n", app.AppID)
	fmt.Fprintf(tw, "Object ID:\t%s\n", app.ID)
	var sp struct {
		Value []struct {
			TenantID string `json:"appOwnerOrganizationId"`
		} `json:"value"`
	}
	if _, err := m.call(ctx, http.MethodGet, "/servicePrincipals?$filter="+url.QueryEscape("appId eq "+odataString(app.AppID)), nil, &sp); err == nil && len(sp.Value) > 0 {
		fmt.Fprintf(tw, "Directory (tenant) ID:\t%s\n", sp.Value[0].TenantID)
	} else {
		fmt.Fprintf(tw, "Service principal:\tnone (grants and tokens need one: `portcullis app grant` creates it)\n")
	}
	fmt.Fprintf(tw, "Supported account types:\t%s\n", firstNonEmpty(audiences[app.SignInAudience], app.SignInAudience))
	uri := "not set (`portcullis app set-uri` sets api://{client ID})"
	if len(app.IdentifierURIs) > 0 {
		uri = strings.Join(app.IdentifierURIs, ", ")
	}
	fmt.Fprintf(tw, "Application ID URI:\t%s\n", uri)
	version := "1 (v1.0 access tokens; api.requestedAccessTokenVersion is not set)"
	if v := app.API.RequestedAccessTokenVersion; v != nil {
		version = fmt.Sprintf("%d (v%d.0 access tokens)", *v, *v)
	}
	fmt.Fprintf(tw, "Access token version:\t%s\n", version)
	if app.IsFallbackPublicClient != nil && *app.IsFallbackPublicClient {
		fmt.Fprintf(tw, "Public client flows:\tallowed\n")
	}
	if len(app.Web.RedirectURIs)+len(app.PublicClient.RedirectURIs) > 0 {
		fmt.Fprintf(tw, "Redirect URIs:\t%s\n", strings.Join(append(slices.Clone(app.Web.RedirectURIs), app.PublicClient.RedirectURIs...), ", "))
	}
	tw.Flush()

	prefix := app.AppID
	if len(app.IdentifierURIs) > 0 {
		prefix = app.IdentifierURIs[0]
	}
	if len(app.API.Scopes) > 0 {
		fmt.Fprintln(out, "Scopes (Expose an API):")
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, s := range app.API.Scopes {
			who := "Admins only"
			if s.Type == "User" {
				who = "Admins and users"
			}
			fmt.Fprintf(tw, "  %s/%s\t%s\t%s\t%s\n", strings.TrimSuffix(prefix, "/"), s.Value, enabledWord(s.IsEnabled), who, s.AdminConsentDisplayName)
		}
		tw.Flush()
	}
	if len(app.AppRoles) > 0 {
		fmt.Fprintln(out, "App roles:")
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, r := range app.AppRoles {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Value, enabledWord(r.IsEnabled), strings.Join(r.AllowedMemberTypes, ", "))
		}
		tw.Flush()
	}
	if len(app.PasswordCredentials) > 0 {
		fmt.Fprintln(out, "Client secrets:")
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, c := range app.PasswordCredentials {
			fmt.Fprintf(tw, "  %s…\t%s\texpires %s\tsecret ID %s\n", c.Hint, firstNonEmpty(c.DisplayName, "-"), expiry(c.EndDateTime), c.KeyID)
		}
		tw.Flush()
	}
	if len(app.KeyCredentials) > 0 {
		fmt.Fprintln(out, "Certificates:")
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, c := range app.KeyCredentials {
			thumb := "-"
			if c.CustomKeyIdentifier != nil {
				thumb = thumbprintHex(*c.CustomKeyIdentifier)
			}
			fmt.Fprintf(tw, "  %s\t%s\texpires %s\n", thumb, c.DisplayName, expiry(c.EndDateTime))
		}
		tw.Flush()
	}
	if len(app.RequiredResourceAccess) > 0 {
		fmt.Fprintln(out, "API permissions:")
		all, err := m.listApps(ctx, "")
		if err != nil {
			return err
		}
		for _, rra := range app.RequiredResourceAccess {
			name, labels := rra.ResourceAppID, []string{}
			var res *graphApp
			for i := range all {
				if strings.EqualFold(all[i].AppID, rra.ResourceAppID) {
					res, name = &all[i], all[i].DisplayName
				}
			}
			for _, ra := range rra.ResourceAccess {
				labels = append(labels, permissionLabel(res, ra.ID, ra.Type))
			}
			fmt.Fprintf(out, "  %s: %s\n", name, strings.Join(labels, ", "))
		}
	}
	return nil
}

func enabledWord(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

func expiry(s *string) string {
	if s == nil {
		return "never"
	}
	return *s
}

// thumbprintHex shows a base64 SHA-1 thumbprint as the portal does: upper-case hex.
func thumbprintHex(b64 string) string {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return b64
	}
	return strings.ToUpper(fmt.Sprintf("%x", raw))
}

func permissionLabel(res *graphApp, id, typ string) string {
	kind := "delegated"
	if typ == "Role" {
		kind = "application"
	}
	if res != nil {
		for _, s := range res.API.Scopes {
			if strings.EqualFold(s.ID, id) && typ == "Scope" {
				return s.Value + " (" + kind + ")"
			}
		}
		for _, r := range res.AppRoles {
			if strings.EqualFold(r.ID, id) && typ == "Role" {
				return r.Value + " (" + kind + ")"
			}
		}
	}
	return id + " (" + kind + ")"
}

// patchApp sends a PATCH and prints the application as it is afterwards.
func (m *mgmt) patchApp(ctx context.Context, out io.Writer, app *graphApp, body map[string]any, done string) error {
	if _, err := m.call(ctx, http.MethodPatch, "/applications/"+url.PathEscape(app.ID), body, nil); err != nil {
		return err
	}
	after, err := m.reload(ctx, app.ID)
	if err != nil {
		return err
	}
	if m.json {
		return printJSON(out, after.raw)
	}
	fmt.Fprintln(out, done)
	return nil
}

func appSetURICommand(f *appFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "set-uri APP [URI]",
		Short: "Set the Application ID URI (Expose an API → Set); the default is api://{client ID}",
		Args:  usageArgs(cobra.RangeArgs(1, 2)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			uri := "api://" + app.AppID
			if len(args) == 2 {
				uri = args[1]
			}
			uris := []string{uri}
			for i, u := range app.IdentifierURIs {
				if i > 0 && u != uri {
					uris = append(uris, u)
				}
			}
			return m.patchApp(ctx, out, app, map[string]any{"identifierUris": uris},
				fmt.Sprintf("Application ID URI of %q: %s\nScopes are requested as %s/<scope>; client credentials use %s/.default.",
					app.DisplayName, uri, strings.TrimSuffix(uri, "/"), uri))
		}),
	}
}

func newGUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func appAddScopeCommand(f *appFlags) *cobra.Command {
	var displayName, description, userName, userDescription, who string
	var disabled bool
	cmd := &cobra.Command{
		Use:   "add-scope APP VALUE",
		Short: "Add a delegated permission (Expose an API → Add a scope)",
		Long: `Add a delegated permission (scope) that clients request as {Application ID URI}/VALUE.
As in the portal, an application without an Application ID URI gets api://{client ID} first.`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			value := args[1]
			typ := map[string]string{"Admins": "Admin", "AdminsAndUsers": "User"}[who]
			if typ == "" {
				return usageError{fmt.Errorf("--who-can-consent %q: use Admins or AdminsAndUsers", who)}
			}
			if displayName == "" || description == "" {
				return usageError{errors.New("a scope needs --admin-consent-display-name and --admin-consent-description, as the portal asks")}
			}
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			for _, s := range app.API.Scopes {
				if s.Value == value {
					return fmt.Errorf("%q already has the scope %q. Fix: choose another value, or delete the application's scope first", app.DisplayName, value)
				}
			}
			scopes, err := rawList(app.raw, "api", "oauth2PermissionScopes")
			if err != nil {
				return err
			}
			id, err := newGUID()
			if err != nil {
				return err
			}
			scopes = append(scopes, map[string]any{
				"id": id, "value": value, "type": typ, "isEnabled": !disabled,
				"adminConsentDisplayName": displayName, "adminConsentDescription": description,
				"userConsentDisplayName": userName, "userConsentDescription": userDescription,
			})
			body := map[string]any{"api": map[string]any{"oauth2PermissionScopes": scopes}}
			uri := ""
			if len(app.IdentifierURIs) == 0 {
				uri = "api://" + app.AppID
				body["identifierUris"] = []string{uri}
			} else {
				uri = app.IdentifierURIs[0]
			}
			done := fmt.Sprintf("Added the scope %s/%s to %q (%s).", strings.TrimSuffix(uri, "/"), value, app.DisplayName, enabledWord(!disabled))
			if len(app.IdentifierURIs) == 0 {
				done = fmt.Sprintf("Set the Application ID URI of %q to %s.\n", app.DisplayName, uri) + done
			}
			return m.patchApp(ctx, out, app, body, done)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&displayName, "admin-consent-display-name", "", "admin consent display name (required)")
	fl.StringVar(&description, "admin-consent-description", "", "admin consent description (required)")
	fl.StringVar(&userName, "user-consent-display-name", "", "user consent display name")
	fl.StringVar(&userDescription, "user-consent-description", "", "user consent description")
	fl.StringVar(&who, "who-can-consent", "Admins", "who can consent: Admins or AdminsAndUsers")
	fl.BoolVar(&disabled, "disabled", false, "add the scope disabled (State: Disabled)")
	return cmd
}

func appAddRoleCommand(f *appFlags) *cobra.Command {
	var memberTypes, displayName, description string
	var disabled bool
	cmd := &cobra.Command{
		Use:   "add-role APP VALUE",
		Short: "Add an app role (App roles → Create app role)",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			value := args[1]
			var types []string
			for _, t := range strings.Split(memberTypes, ",") {
				switch strings.ToLower(strings.TrimSpace(t)) {
				case "application", "applications":
					types = append(types, "Application")
				case "user", "users", "users/groups":
					types = append(types, "User")
				default:
					return usageError{fmt.Errorf("--member-types %q: list Application, User or both (Application,User)", memberTypes)}
				}
			}
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			for _, r := range app.AppRoles {
				if r.Value == value {
					return fmt.Errorf("%q already has the app role %q. Fix: choose another value", app.DisplayName, value)
				}
			}
			roles, err := rawList(app.raw, "appRoles")
			if err != nil {
				return err
			}
			id, err := newGUID()
			if err != nil {
				return err
			}
			roles = append(roles, map[string]any{
				"id": id, "value": value, "allowedMemberTypes": types, "isEnabled": !disabled,
				"displayName": firstNonEmpty(displayName, value), "description": firstNonEmpty(description, value),
			})
			return m.patchApp(ctx, out, app, map[string]any{"appRoles": roles},
				fmt.Sprintf("Added the app role %s to %q for %s (%s).", value, app.DisplayName, strings.Join(types, " and "), enabledWord(!disabled)))
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&memberTypes, "member-types", "Application", "allowed member types: Application, User, or Application,User")
	fl.StringVar(&displayName, "display-name", "", "display name (default: the value)")
	fl.StringVar(&description, "description", "", "description (default: the value)")
	fl.BoolVar(&disabled, "disabled", false, "add the role disabled")
	return cmd
}

func appAddSecretCommand(f *appFlags) *cobra.Command {
	var name string
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "add-secret APP",
		Short: "Add a client secret (Certificates & secrets → New client secret); it is printed once",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			if expires <= 0 {
				return usageError{fmt.Errorf("--expires %v: give a positive duration such as 4380h (six months)", expires)}
			}
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			end := time.Now().UTC().Add(expires).Format(time.RFC3339)
			var cred graphCredential
			raw, err := m.call(ctx, http.MethodPost, "/applications/"+url.PathEscape(app.ID)+"/addPassword",
				map[string]any{"passwordCredential": map[string]any{"displayName": name, "endDateTime": end}}, &cred)
			if err != nil {
				return err
			}
			if m.json {
				return printJSON(out, raw)
			}
			fmt.Fprintf(out, "Added a client secret to %q. Copy it now: it is not shown again.\n", app.DisplayName)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "  Value:\t%s\n", cred.SecretText)
			fmt.Fprintf(tw, "  Secret ID:\t%s\n", cred.KeyID)
			fmt.Fprintf(tw, "  Expires:\t%s\n", expiry(cred.EndDateTime))
			fmt.Fprintf(tw, "  Client ID:\t%s\n", app.AppID)
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "description of the secret")
	cmd.Flags().DurationVar(&expires, "expires", 180*24*time.Hour, "lifetime (the portal's recommended 180 days by default)")
	return cmd
}

func appAddCertCommand(f *appFlags) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "add-cert APP FILE.pem",
		Short: "Upload a certificate for client assertions (Certificates & secrets → Upload certificate)",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			data, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("cannot read the certificate: %w. Fix: give the path of a PEM file with a CERTIFICATE block", err)
			}
			var der []byte
			for rest := data; ; {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				if b.Type == "CERTIFICATE" {
					der = b.Bytes
					break
				}
			}
			if der == nil {
				return fmt.Errorf("%s holds no PEM CERTIFICATE block. Fix: upload the public certificate (-----BEGIN CERTIFICATE-----), never the private key alone", args[1])
			}
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			key := map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(der)}
			if name != "" {
				key["displayName"] = name
			}
			var cred graphCredential
			raw, err := m.call(ctx, http.MethodPost, "/applications/"+url.PathEscape(app.ID)+"/addKey", map[string]any{"keyCredential": key}, &cred)
			if err != nil {
				return err
			}
			if m.json {
				return printJSON(out, raw)
			}
			thumb := ""
			if cred.CustomKeyIdentifier != nil {
				thumb = thumbprintHex(*cred.CustomKeyIdentifier)
			}
			fmt.Fprintf(out, "Added the certificate %s (thumbprint %s, expires %s) to %q.\n", cred.DisplayName, thumb, expiry(cred.EndDateTime), app.DisplayName)
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "description (default: the certificate's subject)")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func appGrantCommand(f *appFlags) *cobra.Command {
	var api, scopes, roles string
	var consent bool
	cmd := &cobra.Command{
		Use:   "grant CLIENT --api API [--scopes a,b] [--roles r] [--admin-consent]",
		Short: "Give a client permissions on an API (API permissions → Add a permission, Grant admin consent)",
		Long: `Add delegated permissions (--scopes) and application permissions (--roles) of API to the
client's API permissions (requiredResourceAccess), and with --admin-consent grant them for the
whole tenant: delegated ones as an oauth2PermissionGrant (AllPrincipals), application ones as
app role assignments to the client's service principal. Running it again adds what is missing.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			scopeList, roleList := splitList(scopes), splitList(roles)
			if api == "" {
				return usageError{errors.New("grant needs --api: the application whose permissions the client gets")}
			}
			if len(scopeList)+len(roleList) == 0 {
				return usageError{errors.New("grant needs --scopes (delegated) or --roles (application), or both")}
			}
			client, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			res, err := m.findApp(ctx, api)
			if err != nil {
				return err
			}
			return m.grant(ctx, out, client, res, scopeList, roleList, consent)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&api, "api", "", "the API application (name, client ID or Application ID URI)")
	fl.StringVar(&scopes, "scopes", "", "delegated permissions (scope values), comma-separated")
	fl.StringVar(&roles, "roles", "", "application permissions (app role values), comma-separated")
	fl.BoolVar(&consent, "admin-consent", false, "grant admin consent for the tenant")
	return cmd
}

func (m *mgmt) grant(ctx context.Context, out io.Writer, client, res *graphApp, scopes, roles []string, consent bool) error {
	type access struct{ ID, Type, Label string }
	var want []access
	var roleIDs []string
	for _, v := range scopes {
		i := slices.IndexFunc(res.API.Scopes, func(s graphScope) bool { return s.Value == v })
		if i < 0 {
			return fmt.Errorf("%q exposes no scope %q. Fix: add it with `portcullis app add-scope %s %s`, or pick one of: %s",
				res.DisplayName, v, quoteArg(res.DisplayName), quoteArg(v), scopeValues(res))
		}
		if !res.API.Scopes[i].IsEnabled {
			return fmt.Errorf("the scope %q of %q is disabled. Fix: enable it before granting it", v, res.DisplayName)
		}
		want = append(want, access{res.API.Scopes[i].ID, "Scope", v + " (delegated)"})
	}
	for _, v := range roles {
		i := slices.IndexFunc(res.AppRoles, func(r graphRole) bool { return r.Value == v })
		if i < 0 {
			return fmt.Errorf("%q has no app role %q. Fix: add it with `portcullis app add-role %s %s --member-types Application`, or pick one of: %s",
				res.DisplayName, v, quoteArg(res.DisplayName), quoteArg(v), roleValues(res))
		}
		r := res.AppRoles[i]
		if !slices.Contains(r.AllowedMemberTypes, "Application") {
			return fmt.Errorf("the app role %q of %q is for users only (allowedMemberTypes %s), so it cannot be an application permission. Fix: create a role that allows Application", v, res.DisplayName, strings.Join(r.AllowedMemberTypes, ", "))
		}
		if !r.IsEnabled {
			return fmt.Errorf("the app role %q of %q is disabled. Fix: enable it before granting it", v, res.DisplayName)
		}
		want = append(want, access{r.ID, "Role", v + " (application)"})
		roleIDs = append(roleIDs, r.ID)
	}

	// API permissions: requiredResourceAccess, merged.
	rras, err := rawList(client.raw, "requiredResourceAccess")
	if err != nil {
		return err
	}
	var entry map[string]any
	for _, x := range rras {
		if e, ok := x.(map[string]any); ok && strings.EqualFold(fmt.Sprint(e["resourceAppId"]), res.AppID) {
			entry = e
		}
	}
	if entry == nil {
		entry = map[string]any{"resourceAppId": res.AppID, "resourceAccess": []any{}}
		rras = append(rras, entry)
	}
	have, _ := entry["resourceAccess"].([]any)
	for _, w := range want {
		found := slices.ContainsFunc(have, func(x any) bool {
			e, _ := x.(map[string]any)
			return strings.EqualFold(fmt.Sprint(e["id"]), w.ID) && e["type"] == w.Type
		})
		if !found {
			have = append(have, map[string]any{"id": w.ID, "type": w.Type})
		}
	}
	entry["resourceAccess"] = have
	if _, err := m.call(ctx, http.MethodPatch, "/applications/"+url.PathEscape(client.ID), map[string]any{"requiredResourceAccess": rras}, nil); err != nil {
		return err
	}
	labels := make([]string, 0, len(want))
	for _, w := range want {
		labels = append(labels, w.Label)
	}
	result := map[string]any{"clientAppId": client.AppID, "resourceAppId": res.AppID, "adminConsent": consent}
	if !consent {
		if m.json {
			return printValue(out, result)
		}
		fmt.Fprintf(out, "Added to the API permissions of %q on %q: %s.\nNot consented yet: run again with --admin-consent to grant them for the tenant.\n",
			client.DisplayName, res.DisplayName, strings.Join(labels, ", "))
		return nil
	}

	clientSP, _, err := m.servicePrincipal(ctx, client.AppID)
	if err != nil {
		return err
	}
	resSP, _, err := m.servicePrincipal(ctx, res.AppID)
	if err != nil {
		return err
	}
	if len(scopes) > 0 {
		var grants struct {
			Value []struct {
				ID    string `json:"id"`
				Scope string `json:"scope"`
			} `json:"value"`
		}
		filter := fmt.Sprintf("clientId eq %s and resourceId eq %s and consentType eq 'AllPrincipals'", odataString(clientSP), odataString(resSP))
		if _, err := m.call(ctx, http.MethodGet, "/oauth2PermissionGrants?$filter="+url.QueryEscape(filter), nil, &grants); err != nil {
			return err
		}
		if len(grants.Value) > 0 {
			merged := strings.Fields(grants.Value[0].Scope)
			for _, s := range scopes {
				if !slices.Contains(merged, s) {
					merged = append(merged, s)
				}
			}
			if _, err := m.call(ctx, http.MethodPatch, "/oauth2PermissionGrants/"+url.PathEscape(grants.Value[0].ID),
				map[string]any{"scope": strings.Join(merged, " ")}, nil); err != nil {
				return err
			}
			result["oauth2PermissionGrantId"] = grants.Value[0].ID
		} else {
			var g struct {
				ID string `json:"id"`
			}
			if _, err := m.call(ctx, http.MethodPost, "/oauth2PermissionGrants", map[string]any{
				"clientId": clientSP, "consentType": "AllPrincipals", "resourceId": resSP, "scope": strings.Join(scopes, " "),
			}, &g); err != nil {
				return err
			}
			result["oauth2PermissionGrantId"] = g.ID
		}
	}
	if len(roleIDs) > 0 {
		var assigned struct {
			Value []struct {
				AppRoleID string `json:"appRoleId"`
			} `json:"value"`
		}
		if _, err := m.call(ctx, http.MethodGet, "/servicePrincipals/"+url.PathEscape(clientSP)+"/appRoleAssignments", nil, &assigned); err != nil {
			return err
		}
		ids := []string{}
		for _, roleID := range roleIDs {
			if slices.ContainsFunc(assigned.Value, func(a struct {
				AppRoleID string `json:"appRoleId"`
			}) bool {
				return strings.EqualFold(a.AppRoleID, roleID)
			}) {
				continue
			}
			var a struct {
				ID string `json:"id"`
			}
			if _, err := m.call(ctx, http.MethodPost, "/servicePrincipals/"+url.PathEscape(resSP)+"/appRoleAssignedTo", map[string]any{
				"principalId": clientSP, "resourceId": resSP, "appRoleId": roleID,
			}, &a); err != nil {
				return err
			}
			ids = append(ids, a.ID)
		}
		result["appRoleAssignmentIds"] = ids
	}
	if m.json {
		return printValue(out, result)
	}
	fmt.Fprintf(out, "Granted %q admin consent on %q: %s.\n", client.DisplayName, res.DisplayName, strings.Join(labels, ", "))
	uri := res.AppID
	if len(res.IdentifierURIs) > 0 {
		uri = res.IdentifierURIs[0]
	}
	if len(roleIDs) > 0 {
		fmt.Fprintf(out, "Client credentials: request the scope %s/.default with client ID %s.\n", strings.TrimSuffix(uri, "/"), client.AppID)
	}
	return nil
}

func scopeValues(a *graphApp) string {
	var v []string
	for _, s := range a.API.Scopes {
		v = append(v, s.Value)
	}
	if len(v) == 0 {
		return "(none yet)"
	}
	return strings.Join(v, ", ")
}

func roleValues(a *graphApp) string {
	var v []string
	for _, r := range a.AppRoles {
		v = append(v, r.Value)
	}
	if len(v) == 0 {
		return "(none yet)"
	}
	return strings.Join(v, ", ")
}

func appSetTokenVersionCommand(f *appFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "set-token-version APP 1|2",
		Short: "Set the access token version the API's tokens have (Manifest → api.requestedAccessTokenVersion)",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			var v int
			switch args[1] {
			case "1":
				v = 1
			case "2":
				v = 2
			default:
				return usageError{fmt.Errorf("token version %q: use 1 (v1.0 tokens) or 2 (v2.0 tokens)", args[1])}
			}
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			return m.patchApp(ctx, out, app, map[string]any{"api": map[string]any{"requestedAccessTokenVersion": v}},
				fmt.Sprintf("Access tokens for %q are now v%d.0 tokens (requestedAccessTokenVersion %d).", app.DisplayName, v, v))
		}),
	}
}

func appDeleteCommand(f *appFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete APP",
		Short: "Delete an application with its service principal, consent and role assignments",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			if _, err := m.call(ctx, http.MethodDelete, "/applications/"+url.PathEscape(app.ID), nil, nil); err != nil {
				return err
			}
			if m.json {
				return printValue(out, map[string]any{"id": app.ID, "appId": app.AppID, "displayName": app.DisplayName, "deleted": true})
			}
			fmt.Fprintf(out, "Deleted %q (client ID %s).\n", app.DisplayName, app.AppID)
			return nil
		}),
	}
}

func appAddRedirectCommand(f *appFlags) *cobra.Command {
	var platform string
	cmd := &cobra.Command{
		Use:   "add-redirect APP URI",
		Short: "Add a redirect URI (Authentication → Add a platform: web, spa or public for mobile and desktop)",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			property := map[string]string{"web": "web", "spa": "spa", "public": "publicClient"}[platform]
			if property == "" {
				return usageError{fmt.Errorf("--platform %q: use web, spa or public", platform)}
			}
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			uris, err := rawList(app.raw, property, "redirectUris")
			if err != nil {
				return err
			}
			if slices.Contains(uris, any(args[1])) {
				return fmt.Errorf("%q already has the %s redirect URI %s. Fix: nothing to do", app.DisplayName, platform, args[1])
			}
			uris = append(uris, args[1])
			return m.patchApp(ctx, out, app, map[string]any{property: map[string]any{"redirectUris": uris}},
				fmt.Sprintf("Added the %s redirect URI %s to %q.", platform, args[1], app.DisplayName))
		}),
	}
	cmd.Flags().StringVar(&platform, "platform", "web", "web (confidential, server-side), spa, or public (mobile and desktop)")
	return cmd
}

func appPublicFlowsCommand(f *appFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "public-flows APP on|off",
		Short: "Allow or refuse public client flows such as device code (Authentication → Allow public client flows)",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			on, ok := map[string]bool{"on": true, "yes": true, "true": true, "off": false, "no": false, "false": false}[strings.ToLower(args[1])]
			if !ok {
				return usageError{fmt.Errorf("%q: use on or off", args[1])}
			}
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			word := "refuses"
			if on {
				word = "allows"
			}
			return m.patchApp(ctx, out, app, map[string]any{"isFallbackPublicClient": on},
				fmt.Sprintf("%q now %s public client flows (isFallbackPublicClient %v).", app.DisplayName, word, on))
		}),
	}
}

func appRemoveSecretCommand(f *appFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-secret APP SECRET-ID",
		Short: "Delete a client secret (Certificates & secrets → Delete); SECRET-ID is shown by add-secret and show",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			if _, err := m.call(ctx, http.MethodPost, "/applications/"+url.PathEscape(app.ID)+"/removePassword", map[string]any{"keyId": args[1]}, nil); err != nil {
				return err
			}
			if m.json {
				return printValue(out, map[string]any{"appId": app.AppID, "keyId": args[1], "removed": true})
			}
			fmt.Fprintf(out, "Removed the client secret %s from %q.\n", args[1], app.DisplayName)
			return nil
		}),
	}
}

func appRemoveCertCommand(f *appFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-cert APP THUMBPRINT|KEY-ID",
		Short: "Delete a certificate (Certificates & secrets → Delete), named by its thumbprint or key ID",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: appRun(f, func(ctx context.Context, m *mgmt, out io.Writer, args []string) error {
			app, err := m.findApp(ctx, args[0])
			if err != nil {
				return err
			}
			keyID := ""
			for _, k := range app.KeyCredentials {
				thumb := ""
				if k.CustomKeyIdentifier != nil {
					thumb = thumbprintHex(*k.CustomKeyIdentifier)
				}
				if strings.EqualFold(k.KeyID, args[1]) || (thumb != "" && strings.EqualFold(thumb, strings.ReplaceAll(args[1], ":", ""))) {
					keyID = k.KeyID
				}
			}
			if keyID == "" {
				return fmt.Errorf("%q has no certificate %s. Fix: `portcullis app show %s` lists its certificates' thumbprints", app.DisplayName, args[1], quoteArg(app.DisplayName))
			}
			if _, err := m.call(ctx, http.MethodPost, "/applications/"+url.PathEscape(app.ID)+"/removeKey", map[string]any{"keyId": keyID}, nil); err != nil {
				return err
			}
			if m.json {
				return printValue(out, map[string]any{"appId": app.AppID, "keyId": keyID, "removed": true})
			}
			fmt.Fprintf(out, "Removed the certificate %s from %q.\n", args[1], app.DisplayName)
			return nil
		}),
	}
}
