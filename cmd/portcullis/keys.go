package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// keysFlags are the management-API connection flags of `portcullis keys`.
type keysFlags struct {
	admin, token, tenant string
	json                 bool
}

func newKeysCommand() *cobra.Command {
	var f keysFlags
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List and rotate a tenant's token-signing keys (through a running instance's management API)",
		Long: `List and rotate a tenant's token-signing keys. The commands talk to a running
instance's management API: --admin URL --admin-token T, or PORTCULLIS_ADMIN_URL and
PORTCULLIS_ADMIN_TOKEN; the tenant is --tenant or PORTCULLIS_TENANT_ID.

Rotation makes the published next key sign new tokens, publishes a new next key, and keeps
the old key published until every token it signed has expired.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("name a sub-command: list or rotate")}
		},
	}
	cmd.PersistentFlags().StringVar(&f.admin, "admin", "", "management API base URL (default $PORTCULLIS_ADMIN_URL)")
	cmd.PersistentFlags().StringVar(&f.token, "admin-token", "", "management API token (default $PORTCULLIS_ADMIN_TOKEN)")
	cmd.PersistentFlags().StringVar(&f.tenant, "tenant", "", "tenant GUID or domain (default $PORTCULLIS_TENANT_ID)")
	cmd.PersistentFlags().BoolVar(&f.json, "json", false, "print the management API's JSON")
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the published signing keys: next, current and previous",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return f.run(cmd.OutOrStdout(), http.MethodGet)
			},
		},
		&cobra.Command{
			Use:   "rotate",
			Short: "Rotate the signing keys: the next key starts signing and a new next key is published",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return f.run(cmd.OutOrStdout(), http.MethodPost)
			},
		},
	)
	return cmd
}

// keysListing is the management API's answer (identity.KeyList).
type keysListing struct {
	TenantID string `json:"tenantId"`
	Value    []struct {
		KeyID     string     `json:"kid"`
		Status    string     `json:"status"`
		CreatedAt time.Time  `json:"createdDateTime"`
		RetiresAt *time.Time `json:"retiresDateTime"`
	} `json:"value"`
}

func (f *keysFlags) run(out io.Writer, method string) error {
	admin := keysFirstSet(f.admin, os.Getenv("PORTCULLIS_ADMIN_URL"))
	token := keysFirstSet(f.token, os.Getenv("PORTCULLIS_ADMIN_TOKEN"))
	tenant := keysFirstSet(f.tenant, os.Getenv("PORTCULLIS_TENANT_ID"))
	if admin == "" {
		return usageError{errors.New("no management API given. Fix: pass --admin URL (for example http://127.0.0.1:9090) or set PORTCULLIS_ADMIN_URL")}
	}
	if token == "" {
		return usageError{errors.New("no admin token given. Fix: pass --admin-token or set PORTCULLIS_ADMIN_TOKEN (the admin.token of the configuration)")}
	}
	base, err := url.Parse(strings.TrimRight(admin, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return usageError{fmt.Errorf("--admin %q is not an http(s) URL. Fix: give the admin listener's URL, such as http://127.0.0.1:9090", admin)}
	}
	endpoint := base.String() + "/v1.0/portcullis/keys"
	if tenant != "" {
		endpoint = base.String() + "/tenants/" + url.PathEscape(tenant) + "/v1.0/portcullis/keys"
	}
	req, err := http.NewRequest(method, endpoint, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the management API at %s (%v). Fix: start `portcullis serve` with an admin: section and admin.token, or correct --admin / PORTCULLIS_ADMIN_URL", base.Host, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("management API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var ge struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(body, &ge) == nil && ge.Error.Code != "" {
			return &graphFailure{status: resp.StatusCode, code: ge.Error.Code, message: ge.Error.Message}
		}
		return fmt.Errorf("management API answered %d", resp.StatusCode)
	}
	if f.json {
		_, err := out.Write(body)
		return err
	}
	var list keysListing
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("management API answered something that is not a key list: %w", err)
	}
	if method == http.MethodPost {
		fmt.Fprintf(out, "Rotated the signing keys of tenant %s.\n", list.TenantID)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tSTATUS\tCREATED\tLEAVES KEY SET")
	for _, k := range list.Value {
		retires := "-"
		if k.RetiresAt != nil {
			retires = k.RetiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KeyID, k.Status, k.CreatedAt.UTC().Format(time.RFC3339), retires)
	}
	return tw.Flush()
}

func keysFirstSet(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
