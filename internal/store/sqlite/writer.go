package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"portcullis/internal/directory"
)

// writer implements directory.Writer inside one transaction.
type writer struct{ reader }

var _ directory.Writer = (*writer)(nil)

// errMissingKey is returned for a value without the fields that identify it.
var errMissingKey = errors.New("missing identifier")

func docOf(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sqlite: encode: %w", err)
	}
	return string(b), nil
}

func requireKeys(what string, keys ...string) error {
	for _, k := range keys {
		if k == "" {
			return fmt.Errorf("sqlite: %s: %w", what, errMissingKey)
		}
	}
	return nil
}

// deleted turns "no row affected" into ErrNotFound.
func (w *writer) deleted(ctx context.Context, what, query string, args ...any) error {
	res, err := w.q.ExecContext(ctx, query, args...)
	if err != nil {
		return mapErr(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, directory.ErrNotFound)
	}
	return nil
}

func (w *writer) PutTenant(ctx context.Context, t *directory.Tenant) error {
	what := "tenant " + t.ID
	if err := requireKeys(what, t.ID); err != nil {
		return err
	}
	doc, err := docOf(t)
	if err != nil {
		return err
	}
	if _, err := w.q.ExecContext(ctx, `
INSERT INTO tenants (id, doc) VALUES (?1, ?2)
ON CONFLICT (id) DO UPDATE SET doc = ?2`, t.ID, doc); err != nil {
		return mapErr(what, err)
	}
	if _, err := w.q.ExecContext(ctx, `DELETE FROM tenant_domains WHERE tenant_id = ?`, t.ID); err != nil {
		return mapErr(what, err)
	}
	for _, d := range t.Domains {
		if _, err := w.q.ExecContext(ctx, `INSERT INTO tenant_domains (domain, tenant_id) VALUES (?, ?)`, d, t.ID); err != nil {
			return mapErr(what+" domain "+d, err)
		}
	}
	return nil
}

func (w *writer) PutApplication(ctx context.Context, a *directory.Application) error {
	what := "application " + a.ID
	if err := requireKeys(what, a.TenantID, a.ID, a.AppID); err != nil {
		return err
	}
	doc, err := docOf(a)
	if err != nil {
		return err
	}
	if _, err := w.q.ExecContext(ctx, `
INSERT INTO applications (tenant_id, id, app_id, doc) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (tenant_id, id) DO UPDATE SET app_id = ?3, doc = ?4`, a.TenantID, a.ID, a.AppID, doc); err != nil {
		return mapErr(what, err)
	}
	if _, err := w.q.ExecContext(ctx, `DELETE FROM application_uris WHERE tenant_id = ? AND application_id = ?`, a.TenantID, a.ID); err != nil {
		return mapErr(what, err)
	}
	for _, u := range a.IdentifierURIs {
		if _, err := w.q.ExecContext(ctx, `
INSERT INTO application_uris (tenant_id, uri, application_id) VALUES (?, ?, ?)
ON CONFLICT DO NOTHING`, a.TenantID, u, a.ID); err != nil {
			return mapErr(what, err)
		}
		// ON CONFLICT DO NOTHING lets an app list a URI twice; another app owning it is a conflict.
		var owner string
		if err := w.q.QueryRowContext(ctx, `SELECT application_id FROM application_uris WHERE tenant_id = ? AND uri = ?`,
			a.TenantID, u).Scan(&owner); err != nil {
			return mapErr(what, err)
		}
		if owner != a.ID {
			return fmt.Errorf("%s: identifier URI %s is used by application %s: %w", what, u, owner, directory.ErrConflict)
		}
	}
	return nil
}

func (w *writer) DeleteApplication(ctx context.Context, tenantID, objectID string) error {
	return w.deleted(ctx, "application "+objectID,
		`DELETE FROM applications WHERE tenant_id = ? AND id = ?`, tenantID, objectID)
}

func (w *writer) PutServicePrincipal(ctx context.Context, sp *directory.ServicePrincipal) error {
	what := "service principal " + sp.ID
	if err := requireKeys(what, sp.TenantID, sp.ID, sp.AppID); err != nil {
		return err
	}
	doc, err := docOf(sp)
	if err != nil {
		return err
	}
	_, err = w.q.ExecContext(ctx, `
INSERT INTO service_principals (tenant_id, id, app_id, doc) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (tenant_id, id) DO UPDATE SET app_id = ?3, doc = ?4`, sp.TenantID, sp.ID, sp.AppID, doc)
	return mapErr(what, err)
}

func (w *writer) DeleteServicePrincipal(ctx context.Context, tenantID, objectID string) error {
	return w.deleted(ctx, "service principal "+objectID,
		`DELETE FROM service_principals WHERE tenant_id = ? AND id = ?`, tenantID, objectID)
}

func (w *writer) PutPermissionGrant(ctx context.Context, g *directory.PermissionGrant) error {
	what := "permission grant " + g.ID
	if err := requireKeys(what, g.TenantID, g.ID, g.ClientID, g.ResourceID); err != nil {
		return err
	}
	doc, err := docOf(g)
	if err != nil {
		return err
	}
	_, err = w.q.ExecContext(ctx, `
INSERT INTO permission_grants (tenant_id, id, client_id, resource_id, doc) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (tenant_id, id) DO UPDATE SET client_id = ?3, resource_id = ?4, doc = ?5`,
		g.TenantID, g.ID, g.ClientID, g.ResourceID, doc)
	return mapErr(what, err)
}

func (w *writer) DeletePermissionGrant(ctx context.Context, tenantID, id string) error {
	return w.deleted(ctx, "permission grant "+id,
		`DELETE FROM permission_grants WHERE tenant_id = ? AND id = ?`, tenantID, id)
}

func (w *writer) PutAppRoleAssignment(ctx context.Context, a *directory.AppRoleAssignment) error {
	what := "app role assignment " + a.ID
	if err := requireKeys(what, a.TenantID, a.ID, a.PrincipalID, a.ResourceID); err != nil {
		return err
	}
	doc, err := docOf(a)
	if err != nil {
		return err
	}
	_, err = w.q.ExecContext(ctx, `
INSERT INTO app_role_assignments (tenant_id, id, principal_id, resource_id, doc) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (tenant_id, id) DO UPDATE SET principal_id = ?3, resource_id = ?4, doc = ?5`,
		a.TenantID, a.ID, a.PrincipalID, a.ResourceID, doc)
	return mapErr(what, err)
}

func (w *writer) DeleteAppRoleAssignment(ctx context.Context, tenantID, id string) error {
	return w.deleted(ctx, "app role assignment "+id,
		`DELETE FROM app_role_assignments WHERE tenant_id = ? AND id = ?`, tenantID, id)
}

func (w *writer) PutUser(ctx context.Context, u *directory.User) error {
	what := "user " + u.ID
	if err := requireKeys(what, u.TenantID, u.ID, u.UserPrincipalName); err != nil {
		return err
	}
	doc, err := docOf(u)
	if err != nil {
		return err
	}
	_, err = w.q.ExecContext(ctx, `
INSERT INTO users (tenant_id, id, upn, doc) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (tenant_id, id) DO UPDATE SET upn = ?3, doc = ?4`, u.TenantID, u.ID, u.UserPrincipalName, doc)
	return mapErr(what, err)
}

func (w *writer) DeleteUser(ctx context.Context, tenantID, objectID string) error {
	return w.deleted(ctx, "user "+objectID,
		`DELETE FROM users WHERE tenant_id = ? AND id = ?`, tenantID, objectID)
}

func (w *writer) PutSigningKey(ctx context.Context, k *directory.SigningKey) error {
	what := "signing key " + k.ID
	if err := requireKeys(what, k.TenantID, k.ID); err != nil {
		return err
	}
	doc, err := docOf(k)
	if err != nil {
		return err
	}
	_, err = w.q.ExecContext(ctx, `
INSERT INTO signing_keys (tenant_id, id, doc) VALUES (?1, ?2, ?3)
ON CONFLICT (tenant_id, id) DO UPDATE SET doc = ?3`, k.TenantID, k.ID, doc)
	return mapErr(what, err)
}

func (w *writer) DeleteSigningKey(ctx context.Context, tenantID, id string) error {
	return w.deleted(ctx, "signing key "+id,
		`DELETE FROM signing_keys WHERE tenant_id = ? AND id = ?`, tenantID, id)
}

func (w *writer) PutGrant(ctx context.Context, g *directory.GrantRecord) error {
	what := g.Kind + " grant"
	if err := requireKeys(what, g.Kind, g.Key); err != nil {
		return err
	}
	var expires any
	if !g.Expires.IsZero() {
		expires = g.Expires.UnixNano()
	}
	used := 0
	if g.Used {
		used = 1
	}
	_, err := w.q.ExecContext(ctx, `
INSERT INTO grants (kind, key, family, tenant_id, data, used, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (kind, key) DO UPDATE SET family = ?3, tenant_id = ?4, data = ?5, used = ?6, expires = ?7`,
		g.Kind, g.Key, g.Family, g.TenantID, g.Data, used, expires)
	return mapErr(what, err)
}

func (w *writer) DeleteGrant(ctx context.Context, kind, key string) error {
	return w.deleted(ctx, kind+" grant", `DELETE FROM grants WHERE kind = ? AND key = ?`, kind, key)
}

// DeleteGrantFamily removes every record of family. The empty family names no family: records
// stored without one are never swept up together.
func (w *writer) DeleteGrantFamily(ctx context.Context, family string) error {
	if family == "" {
		return nil
	}
	_, err := w.q.ExecContext(ctx, `DELETE FROM grants WHERE family = ?`, family)
	return mapErr("grant family", err)
}

// DeleteExpiredGrants removes records whose Expires is before now; records without an expiry
// stay.
func (w *writer) DeleteExpiredGrants(ctx context.Context, now time.Time) error {
	_, err := w.q.ExecContext(ctx, `DELETE FROM grants WHERE expires IS NOT NULL AND expires < ?`, now.UnixNano())
	return mapErr("expired grants", err)
}
