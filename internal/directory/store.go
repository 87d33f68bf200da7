package directory

import (
	"context"
	"time"
)

// Store persists the directory. Every method is one transaction; Update runs several in one,
// so a failed request changes nothing. Lookups that find nothing return ErrNotFound; creating
// what exists returns ErrConflict. Implementations: store/sqlite (the embedded default).
type Store interface {
	Reader
	// Update runs fn in one write transaction; an error from fn rolls it back.
	Update(ctx context.Context, fn func(tx Writer) error) error
	Close() error
}

// Reader is the read side of the directory.
type Reader interface {
	// Tenant finds a tenant by GUID or by one of its domains (case-insensitive).
	Tenant(ctx context.Context, idOrDomain string) (*Tenant, error)
	Tenants(ctx context.Context) ([]Tenant, error)

	Application(ctx context.Context, tenantID, objectID string) (*Application, error)
	ApplicationByAppID(ctx context.Context, tenantID, appID string) (*Application, error)
	// ApplicationByIdentifierURI matches an identifier URI exactly.
	ApplicationByIdentifierURI(ctx context.Context, tenantID, uri string) (*Application, error)
	Applications(ctx context.Context, tenantID string) ([]Application, error)

	ServicePrincipal(ctx context.Context, tenantID, objectID string) (*ServicePrincipal, error)
	ServicePrincipalByAppID(ctx context.Context, tenantID, appID string) (*ServicePrincipal, error)
	ServicePrincipals(ctx context.Context, tenantID string) ([]ServicePrincipal, error)

	// PermissionGrants lists delegated grants; empty clientID or resourceID match all.
	PermissionGrants(ctx context.Context, tenantID, clientID, resourceID string) ([]PermissionGrant, error)
	// AppRoleAssignments lists assignments; empty principalID or resourceID match all.
	AppRoleAssignments(ctx context.Context, tenantID, principalID, resourceID string) ([]AppRoleAssignment, error)

	User(ctx context.Context, tenantID, objectID string) (*User, error)
	// UserByName finds a user by userPrincipalName (case-insensitive).
	UserByName(ctx context.Context, tenantID, upn string) (*User, error)
	Users(ctx context.Context, tenantID string) ([]User, error)

	SigningKeys(ctx context.Context, tenantID string) ([]SigningKey, error)

	// Grant reads protocol state (refresh-token families, codes) by its key.
	Grant(ctx context.Context, kind, key string) (*GrantRecord, error)
}

// Writer is the write side, used inside Update.
type Writer interface {
	Reader
	PutTenant(ctx context.Context, t *Tenant) error
	// PutApplication creates or replaces the application with t.ID.
	PutApplication(ctx context.Context, a *Application) error
	DeleteApplication(ctx context.Context, tenantID, objectID string) error
	PutServicePrincipal(ctx context.Context, sp *ServicePrincipal) error
	DeleteServicePrincipal(ctx context.Context, tenantID, objectID string) error
	PutPermissionGrant(ctx context.Context, g *PermissionGrant) error
	DeletePermissionGrant(ctx context.Context, tenantID, id string) error
	PutAppRoleAssignment(ctx context.Context, a *AppRoleAssignment) error
	DeleteAppRoleAssignment(ctx context.Context, tenantID, id string) error
	PutUser(ctx context.Context, u *User) error
	DeleteUser(ctx context.Context, tenantID, objectID string) error
	PutSigningKey(ctx context.Context, k *SigningKey) error
	DeleteSigningKey(ctx context.Context, tenantID, id string) error
	PutGrant(ctx context.Context, g *GrantRecord) error
	DeleteGrant(ctx context.Context, kind, key string) error
	// DeleteGrantFamily removes every grant record of a family (refresh-token reuse).
	DeleteGrantFamily(ctx context.Context, family string) error
	// DeleteExpiredGrants removes records whose Expires is before now.
	DeleteExpiredGrants(ctx context.Context, now time.Time) error
}

// GrantRecord is protocol state the identity service keeps between requests: an authorization
// code, a device code, a refresh token. Key is a hash of the secret value, never the value.
type GrantRecord struct {
	Kind     string // "code", "device", "refresh"
	Key      string
	Family   string // refresh-token family (the first grant's id)
	TenantID string
	Data     []byte // the grant's own JSON
	Used     bool
	Expires  time.Time
}
