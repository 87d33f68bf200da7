package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"portcullis/internal/directory"
)

// queryer is what both the read pool and a write transaction offer.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements directory.Reader over q.
type reader struct{ q queryer }

// one reads the doc column of the single row query returns into v.
func one[T any](ctx context.Context, q queryer, what, query string, args ...any) (*T, error) {
	var doc string
	err := q.QueryRowContext(ctx, query, args...).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", what, directory.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	v := new(T)
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return nil, fmt.Errorf("sqlite: %s: stored document: %w", what, err)
	}
	return v, nil
}

// many reads the doc column of every row query returns.
func many[T any](ctx context.Context, q queryer, what, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		var v T
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			return nil, fmt.Errorf("sqlite: %s: stored document: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

func (r *reader) Tenant(ctx context.Context, idOrDomain string) (*directory.Tenant, error) {
	return one[directory.Tenant](ctx, r.q, "tenant "+idOrDomain, `
SELECT doc FROM tenants WHERE id = ?1
UNION ALL
SELECT t.doc FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE d.domain = ?1
LIMIT 1`, strings.TrimSpace(idOrDomain))
}

func (r *reader) Tenants(ctx context.Context) ([]directory.Tenant, error) {
	return many[directory.Tenant](ctx, r.q, "tenants", `SELECT doc FROM tenants ORDER BY rowid`)
}

func (r *reader) Application(ctx context.Context, tenantID, objectID string) (*directory.Application, error) {
	return one[directory.Application](ctx, r.q, "application "+objectID,
		`SELECT doc FROM applications WHERE tenant_id = ? AND id = ?`, tenantID, objectID)
}

func (r *reader) ApplicationByAppID(ctx context.Context, tenantID, appID string) (*directory.Application, error) {
	return one[directory.Application](ctx, r.q, "application with appId "+appID,
		`SELECT doc FROM applications WHERE tenant_id = ? AND app_id = ?`, tenantID, appID)
}

func (r *reader) ApplicationByIdentifierURI(ctx context.Context, tenantID, uri string) (*directory.Application, error) {
	return one[directory.Application](ctx, r.q, "application with identifier URI "+uri, `
SELECT a.doc FROM application_uris u JOIN applications a ON a.tenant_id = u.tenant_id AND a.id = u.application_id
WHERE u.tenant_id = ? AND u.uri = ?`, tenantID, uri)
}

func (r *reader) Applications(ctx context.Context, tenantID string) ([]directory.Application, error) {
	return many[directory.Application](ctx, r.q, "applications",
		`SELECT doc FROM applications WHERE tenant_id = ? ORDER BY rowid`, tenantID)
}

func (r *reader) ServicePrincipal(ctx context.Context, tenantID, objectID string) (*directory.ServicePrincipal, error) {
	return one[directory.ServicePrincipal](ctx, r.q, "service principal "+objectID,
		`SELECT doc FROM service_principals WHERE tenant_id = ? AND id = ?`, tenantID, objectID)
}

func (r *reader) ServicePrincipalByAppID(ctx context.Context, tenantID, appID string) (*directory.ServicePrincipal, error) {
	return one[directory.ServicePrincipal](ctx, r.q, "service principal with appId "+appID,
		`SELECT doc FROM service_principals WHERE tenant_id = ? AND app_id = ?`, tenantID, appID)
}

func (r *reader) ServicePrincipals(ctx context.Context, tenantID string) ([]directory.ServicePrincipal, error) {
	return many[directory.ServicePrincipal](ctx, r.q, "service principals",
		`SELECT doc FROM service_principals WHERE tenant_id = ? ORDER BY rowid`, tenantID)
}

func (r *reader) PermissionGrants(ctx context.Context, tenantID, clientID, resourceID string) ([]directory.PermissionGrant, error) {
	return many[directory.PermissionGrant](ctx, r.q, "permission grants", `
SELECT doc FROM permission_grants
WHERE tenant_id = ?1 AND (?2 = '' OR client_id = ?2) AND (?3 = '' OR resource_id = ?3)
ORDER BY rowid`, tenantID, clientID, resourceID)
}

func (r *reader) AppRoleAssignments(ctx context.Context, tenantID, principalID, resourceID string) ([]directory.AppRoleAssignment, error) {
	return many[directory.AppRoleAssignment](ctx, r.q, "app role assignments", `
SELECT doc FROM app_role_assignments
WHERE tenant_id = ?1 AND (?2 = '' OR principal_id = ?2) AND (?3 = '' OR resource_id = ?3)
ORDER BY rowid`, tenantID, principalID, resourceID)
}

func (r *reader) User(ctx context.Context, tenantID, objectID string) (*directory.User, error) {
	return one[directory.User](ctx, r.q, "user "+objectID,
		`SELECT doc FROM users WHERE tenant_id = ? AND id = ?`, tenantID, objectID)
}

func (r *reader) UserByName(ctx context.Context, tenantID, upn string) (*directory.User, error) {
	return one[directory.User](ctx, r.q, "user "+upn,
		`SELECT doc FROM users WHERE tenant_id = ? AND upn = ?`, tenantID, upn)
}

func (r *reader) Users(ctx context.Context, tenantID string) ([]directory.User, error) {
	return many[directory.User](ctx, r.q, "users",
		`SELECT doc FROM users WHERE tenant_id = ? ORDER BY rowid`, tenantID)
}

func (r *reader) SigningKeys(ctx context.Context, tenantID string) ([]directory.SigningKey, error) {
	return many[directory.SigningKey](ctx, r.q, "signing keys",
		`SELECT doc FROM signing_keys WHERE tenant_id = ? ORDER BY rowid`, tenantID)
}

func (r *reader) Grant(ctx context.Context, kind, key string) (*directory.GrantRecord, error) {
	var (
		g       directory.GrantRecord
		used    int
		expires sql.NullInt64
	)
	err := r.q.QueryRowContext(ctx,
		`SELECT kind, key, family, tenant_id, data, used, expires FROM grants WHERE kind = ? AND key = ?`, kind, key).
		Scan(&g.Kind, &g.Key, &g.Family, &g.TenantID, &g.Data, &used, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		// The key is a hash, but it still stays out of error text.
		return nil, fmt.Errorf("%s grant: %w", kind, directory.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s grant: %w", kind, err)
	}
	g.Used = used != 0
	if expires.Valid {
		g.Expires = time.Unix(0, expires.Int64).UTC()
	}
	return &g, nil
}
