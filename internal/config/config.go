package config

import "time"

// Config is the configuration file (CONTRACT.md §2). Field tags are the YAML keys; unknown keys
// are an error. Durations are Go duration strings ("24h", "90s").
type Config struct {
	Data     string    `yaml:"data"`
	Gateway  *Gateway  `yaml:"gateway"`
	Identity *Identity `yaml:"identity"`
	Admin    *Admin    `yaml:"admin"`
	Tracing  *Tracing  `yaml:"tracing"`

	// File is the absolute path of the file this was loaded from; paths in it are relative to
	// its folder.
	File string `yaml:"-"`
}

// Gateway is the gateway: section.
type Gateway struct {
	Listen           string            `yaml:"listen"`
	TLSListen        string            `yaml:"tls-listen"`
	TLS              *TLS              `yaml:"tls"`
	Policy           string            `yaml:"policy"`
	NamedValues      map[string]string `yaml:"named-values"`
	Certificates     map[string]string `yaml:"certificates"`
	Fragments        string            `yaml:"fragments"`
	Trust            []string          `yaml:"trust"`
	AuthorityAliases map[string]string `yaml:"authority-aliases"`
	KeyStaleness     string            `yaml:"key-staleness"`
	// WWWAuthenticate turns the RFC 6750 header on validate-jwt's 401s off when false.
	WWWAuthenticate *bool     `yaml:"www-authenticate"`
	Timeouts        *Timeouts `yaml:"timeouts"`
	Limits          *Limits   `yaml:"limits"`
	APIs            []API     `yaml:"apis"`
	// ManagedIdentity is the gateway's own identity for authentication-managed-identity.
	ManagedIdentity *ManagedIdentity `yaml:"managed-identity"`
	// Loggers are log-to-eventhub's sinks, by logger-id.
	Loggers map[string]Logger `yaml:"loggers"`
	// Backends are set-backend-service's backend-id targets, by id.
	Backends map[string]Backend `yaml:"backends"`

	// KeyStalenessDuration is KeyStaleness parsed (default 24h).
	KeyStalenessDuration time.Duration `yaml:"-"`
}

// ManagedIdentity stands in for Azure's managed identity: an app registration whose client
// credentials obtain the gateway's tokens (client credentials grant, v2.0 token endpoint).
type ManagedIdentity struct {
	// Authority is the token service's base URL (default https://login.microsoftonline.com;
	// authority-aliases apply).
	Authority    string                 `yaml:"authority"`
	TenantID     string                 `yaml:"tenant-id"`
	ClientID     string                 `yaml:"client-id"`
	ClientSecret string                 `yaml:"client-secret"`
	UserAssigned []UserAssignedIdentity `yaml:"user-assigned"`
}

// UserAssignedIdentity is an identity a policy names with client-id.
type UserAssignedIdentity struct {
	ClientID     string `yaml:"client-id"`
	ClientSecret string `yaml:"client-secret"`
}

// Logger is a log-to-eventhub sink: JSON lines appended to File, or written to standard output.
type Logger struct {
	File   string `yaml:"file"`
	Stdout bool   `yaml:"stdout"`
}

// Backend is a backend a policy names with set-backend-service backend-id: its base URL.
type Backend struct {
	URL string `yaml:"url"`
}

// Timeouts bound the gateway's waits (Go durations). Load fills the defaults.
type Timeouts struct {
	// Backend is how long forward-request waits for the backend's answer when the policy names
	// no timeout (APIM's default: 300s).
	Backend string `yaml:"backend"`
	// Read bounds reading one request's header and body from a client (slow clients).
	Read string `yaml:"read"`
	// Idle closes a keep-alive connection that sends no new request for this long.
	Idle string `yaml:"idle"`
	// Write bounds writing one response to a client.
	Write string `yaml:"write"`
	// Shutdown bounds the drain of in-flight requests on SIGTERM.
	Shutdown string `yaml:"shutdown"`

	BackendDuration, ReadDuration, IdleDuration, WriteDuration, ShutdownDuration time.Duration `yaml:"-"`
}

// Limits bound what a client may send. Load fills the defaults.
type Limits struct {
	// MaxHeaderBytes bounds the request line and header (431 beyond it).
	MaxHeaderBytes int `yaml:"max-header-bytes"`
	// MaxBodyBytes bounds a request body (413 beyond it).
	MaxBodyBytes int64 `yaml:"max-body-bytes"`
}

// TLS names a certificate and its key (PEM files).
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// API is one published API.
type API struct {
	Name       string      `yaml:"name"`
	Path       string      `yaml:"path"`
	Backend    string      `yaml:"backend"`
	Policy     string      `yaml:"policy"`
	Operations []Operation `yaml:"operations"`
}

// Operation is one operation of an API.
type Operation struct {
	Name     string `yaml:"name"`
	Method   string `yaml:"method"`
	Template string `yaml:"template"`
	Policy   string `yaml:"policy"`

	// URLTemplate is Template parsed.
	URLTemplate Template `yaml:"-"`
}

// Identity is the identity: section.
type Identity struct {
	Listen        string   `yaml:"listen"`
	PublicURL     string   `yaml:"public-url"`
	TLS           *TLS     `yaml:"tls"`
	TokenLifetime string   `yaml:"token-lifetime"`
	Tenants       []Tenant `yaml:"tenants"`

	// TokenLifetimeDuration is TokenLifetime parsed; 0 means Entra's randomised 60-90 minutes.
	TokenLifetimeDuration time.Duration `yaml:"-"`
}

// Tenant is a tenant to seed.
type Tenant struct {
	ID           string        `yaml:"id"`
	Domain       string        `yaml:"domain"`
	Applications []Application `yaml:"applications"`
	Users        []User        `yaml:"users"`
}

// Application is an app registration to seed.
type Application struct {
	Name               string          `yaml:"name"`
	AppID              string          `yaml:"app-id"`
	IdentifierURIs     []string        `yaml:"identifier-uris"`
	AccessTokenVersion int             `yaml:"access-token-version"`
	Scopes             []Scope         `yaml:"scopes"`
	AppRoles           []AppRole       `yaml:"app-roles"`
	Secrets            []Secret        `yaml:"secrets"`
	Certificates       []string        `yaml:"certificates"`
	RedirectURIs       []string        `yaml:"redirect-uris"`
	PublicClient       bool            `yaml:"public-client"`
	APIPermissions     []APIPermission `yaml:"api-permissions"`
}

// Scope is a delegated permission to seed.
type Scope struct {
	Value                   string `yaml:"value"`
	AdminConsentDisplayName string `yaml:"admin-consent-display-name"`
	AdminConsentDescription string `yaml:"admin-consent-description"`
	Enabled                 *bool  `yaml:"enabled"`
}

// AppRole is an app role to seed.
type AppRole struct {
	Value              string   `yaml:"value"`
	AllowedMemberTypes []string `yaml:"allowed-member-types"`
}

// Secret is a client secret: the value, or its hash "sha256:<base64>".
type Secret struct {
	Value string `yaml:"value"`
	Hash  string `yaml:"hash"`
}

// APIPermission is requiredResourceAccess plus, optionally, admin consent.
type APIPermission struct {
	API          string   `yaml:"api"`
	Scopes       []string `yaml:"scopes"`
	Roles        []string `yaml:"roles"`
	AdminConsent bool     `yaml:"admin-consent"`
}

// User is a user to seed.
type User struct {
	Username     string              `yaml:"username"`
	DisplayName  string              `yaml:"display-name"`
	Password     string              `yaml:"password"`
	PasswordHash string              `yaml:"password-hash"`
	Roles        map[string][]string `yaml:"roles"`
}

// Admin is the admin: section.
type Admin struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
}
