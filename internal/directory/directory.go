package directory

import (
	"errors"
	"time"
)

// Tenant is a directory: a GUID and its domain names.
type Tenant struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Domains     []string  `json:"domains"` // the first is the default domain
	CreatedAt   time.Time `json:"createdDateTime"`
}

// Application is an app registration (Graph's application resource).
type Application struct {
	ID             string // object id
	TenantID       string
	AppID          string // client id
	DisplayName    string
	SignInAudience string // AzureADMyOrg, AzureADMultipleOrgs, ...
	IdentifierURIs []string
	// AccessTokenVersion is api.requestedAccessTokenVersion: 0 (absent) or 1 mean v1.0 tokens.
	AccessTokenVersion int
	Scopes             []Scope
	AppRoles           []AppRole
	Passwords          []PasswordCredential
	Certificates       []KeyCredential
	RedirectURIs       []string // web redirect URIs
	PublicRedirectURIs []string // publicClient.redirectUris
	SPARedirectURIs    []string
	// PublicClient is isFallbackPublicClient: the app has no secret and may use public flows.
	PublicClient           bool
	RequiredResourceAccess []RequiredResourceAccess
	CreatedAt              time.Time
}

// Scope is a delegated permission (api.oauth2PermissionScopes).
type Scope struct {
	ID                      string
	Value                   string
	Type                    string // User or Admin
	AdminConsentDisplayName string
	AdminConsentDescription string
	UserConsentDisplayName  string
	UserConsentDescription  string
	Enabled                 bool
}

// AppRole is an app role (appRoles).
type AppRole struct {
	ID                 string
	Value              string
	DisplayName        string
	Description        string
	AllowedMemberTypes []string // User, Application
	Enabled            bool
}

// PasswordCredential is a client secret. Only its hash is stored; the secret is shown once.
type PasswordCredential struct {
	KeyID       string
	DisplayName string
	Hint        string // the secret's first three characters, as Graph shows
	Hash        string // "sha256:<base64>"
	Start, End  time.Time
}

// KeyCredential is a certificate a client signs assertions with.
type KeyCredential struct {
	KeyID       string
	DisplayName string
	DER         []byte // the certificate
	Thumbprint  string // base64 SHA-1 (customKeyIdentifier)
	Start, End  time.Time
}

// RequiredResourceAccess is one API an app asks permissions of.
type RequiredResourceAccess struct {
	ResourceAppID string
	Access        []ResourceAccess
}

// ResourceAccess is one permission: Type "Scope" (delegated) or "Role" (application).
type ResourceAccess struct {
	ID   string
	Type string
}

// ServicePrincipal is an application's instance in a tenant.
type ServicePrincipal struct {
	ID             string
	TenantID       string
	AppID          string
	DisplayName    string
	AccountEnabled bool
	// AppRoleAssignmentRequired makes token issuance require an assignment.
	AppRoleAssignmentRequired bool
	CreatedAt                 time.Time
}

// PermissionGrant is delegated consent (oAuth2PermissionGrant).
type PermissionGrant struct {
	ID          string
	TenantID    string
	ClientID    string // client service principal id
	ConsentType string // AllPrincipals (admin consent) or Principal
	PrincipalID string // the user, for Principal
	ResourceID  string // resource service principal id
	Scope       string // space-separated scope values
}

// AppRoleAssignment gives a principal (client service principal or user) an app role of a
// resource.
type AppRoleAssignment struct {
	ID            string
	TenantID      string
	PrincipalID   string
	PrincipalType string // ServicePrincipal, User, Group
	ResourceID    string // resource service principal id
	AppRoleID     string
	CreatedAt     time.Time
}

// User is a member of a tenant who signs in with a password.
type User struct {
	ID                string
	TenantID          string
	UserPrincipalName string
	DisplayName       string
	GivenName         string
	Surname           string
	Mail              string
	PasswordHash      string // argon2id PHC string
	AccountEnabled    bool
	CreatedAt         time.Time
}

// SigningKey is a tenant's token-signing key.
type SigningKey struct {
	ID          string // kid (= x5t)
	TenantID    string
	PrivateDER  []byte // PKCS#8
	Certificate []byte // self-signed, DER
	Status      string // next, current, previous, retired
	CreatedAt   time.Time
	// NotAfter is when a previous key may be dropped: the last expiry of a token it signed.
	NotAfter time.Time
}

// Errors a Store returns; callers compare with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)
