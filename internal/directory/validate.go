package directory

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// ErrInvalid marks a value the directory refuses (a bad GUID, a permission value with a space,
// two scopes with one value). The message says which field and why.
var ErrInvalid = errors.New("invalid")

// invalid builds an error wrapping ErrInvalid.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Sign-in audiences Graph accepts.
var signInAudiences = []string{"AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"}

// Member types of an app role.
const (
	MemberTypeUser        = "User"
	MemberTypeApplication = "Application"
)

// Scope types.
const (
	ScopeTypeUser  = "User"
	ScopeTypeAdmin = "Admin"
)

// Resource access types in requiredResourceAccess.
const (
	AccessScope = "Scope"
	AccessRole  = "Role"
)

// Consent types of a permission grant, and principal types of an app role assignment.
const (
	ConsentAllPrincipals      = "AllPrincipals"
	ConsentPrincipal          = "Principal"
	PrincipalServicePrincipal = "ServicePrincipal"
	PrincipalUser             = "User"
	PrincipalGroup            = "Group"
)

// DefaultAccessRoleID is the app role id of an assignment that grants access without a role.
const DefaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

// IsGUID reports whether s is a GUID in its 36-character form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// NewID returns a random GUID for a new object.
func NewID() string { return uuid.NewString() }

// idNamespace scopes StableID's name-based GUIDs to Portcullis.
var idNamespace = uuid.MustParse("6d9f3c1e-8a4b-4f0e-9c2d-5b7a1e3f0c4d")

// StableID returns a name-based (version 5) GUID: the same parts give the same GUID on every
// run and every machine, so a seed file produces the same scope and role ids everywhere.
func StableID(parts ...string) string {
	return uuid.NewSHA1(idNamespace, []byte(strings.Join(parts, "\x00"))).String()
}

// CheckSignInAudience validates a signInAudience value.
func CheckSignInAudience(a string) error {
	for _, s := range signInAudiences {
		if a == s {
			return nil
		}
	}
	return invalid("signInAudience %q is not one of %s", a, strings.Join(signInAudiences, ", "))
}

// CheckPermissionValue validates a scope or app role value: what lands in scp and roles.
func CheckPermissionValue(v string) error {
	switch {
	case v == "":
		return invalid("permission value is empty")
	case len(v) > 120:
		return invalid("permission value %q is longer than 120 characters", v)
	case strings.HasPrefix(v, "."):
		return invalid("permission value %q starts with a dot", v)
	case strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f || r > 0x7e }):
		return invalid("permission value %q has a space or a character outside printable ASCII", v)
	}
	return nil
}

// CheckIdentifierURI validates an Application ID URI: absolute, one of the schemes Entra
// accepts, no fragment, no wildcard.
func CheckIdentifierURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return invalid("identifier URI %q is not an absolute URI", s)
	}
	switch strings.ToLower(u.Scheme) {
	case "api", "https", "urn", "ms-appx":
	default:
		return invalid("identifier URI %q: the scheme must be api, https, urn or ms-appx", s)
	}
	if u.Fragment != "" || strings.Contains(s, "#") || strings.Contains(s, "*") {
		return invalid("identifier URI %q must not have a fragment or a wildcard", s)
	}
	if u.Opaque == "" && u.Host == "" && u.Scheme != "urn" {
		return invalid("identifier URI %q has no host", s)
	}
	return nil
}

// CheckRedirectURI validates a redirect URI: absolute, no fragment; http only on loopback
// hosts (RFC 8252) except for the custom schemes native apps use.
func CheckRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return invalid("redirect URI %q is not an absolute URI", s)
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return invalid("redirect URI %q must not have a fragment", s)
	}
	if strings.Contains(u.Host, "*") {
		return invalid("redirect URI %q must not have a wildcard", s)
	}
	if strings.EqualFold(u.Scheme, "http") {
		switch u.Hostname() {
		case "localhost", "127.0.0.1", "::1":
		default:
			return invalid("redirect URI %q: http is allowed only for localhost; use https", s)
		}
	}
	if (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https")) && u.Host == "" {
		return invalid("redirect URI %q has no host", s)
	}
	return nil
}

// Check validates the application's own consistency: GUIDs, permission values, unique ids and
// values, member types, URIs. It does not look at other objects (identifier URIs unique in the
// tenant are the store's job).
func (a *Application) Check() error {
	if strings.TrimSpace(a.DisplayName) == "" {
		return invalid("displayName is empty")
	}
	if len(a.DisplayName) > 256 {
		return invalid("displayName is longer than 256 characters")
	}
	if a.AppID != "" && !IsGUID(a.AppID) {
		return invalid("appId %q is not a GUID", a.AppID)
	}
	if a.SignInAudience != "" {
		if err := CheckSignInAudience(a.SignInAudience); err != nil {
			return err
		}
	}
	switch a.AccessTokenVersion {
	case 0, 1, 2:
	default:
		return invalid("api.requestedAccessTokenVersion must be 1 or 2, found %d", a.AccessTokenVersion)
	}
	seenURI := map[string]bool{}
	for _, u := range a.IdentifierURIs {
		if err := CheckIdentifierURI(u); err != nil {
			return err
		}
		if seenURI[u] {
			return invalid("identifier URI %q is listed twice", u)
		}
		seenURI[u] = true
	}
	for _, list := range [][]string{a.RedirectURIs, a.PublicRedirectURIs, a.SPARedirectURIs} {
		for _, u := range list {
			if err := CheckRedirectURI(u); err != nil {
				return err
			}
		}
	}
	ids := map[string]string{}
	takeID := func(id, what string) error {
		if !IsGUID(id) {
			return invalid("%s: id %q is not a GUID", what, id)
		}
		key := strings.ToLower(id)
		if other, ok := ids[key]; ok {
			return invalid("%s: id %s is already used by %s", what, id, other)
		}
		ids[key] = what
		return nil
	}
	values := map[string]bool{}
	for _, s := range a.Scopes {
		what := fmt.Sprintf("scope %q", s.Value)
		if err := CheckPermissionValue(s.Value); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := takeID(s.ID, what); err != nil {
			return err
		}
		if values[s.Value] {
			return invalid("scope value %q is used twice", s.Value)
		}
		values[s.Value] = true
		if s.Type != ScopeTypeUser && s.Type != ScopeTypeAdmin {
			return invalid("%s: type must be User or Admin, found %q", what, s.Type)
		}
	}
	values = map[string]bool{}
	for _, r := range a.AppRoles {
		what := fmt.Sprintf("app role %q", r.Value)
		if err := CheckPermissionValue(r.Value); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := takeID(r.ID, what); err != nil {
			return err
		}
		if values[r.Value] {
			return invalid("app role value %q is used twice", r.Value)
		}
		values[r.Value] = true
		if len(r.AllowedMemberTypes) == 0 {
			return invalid("%s: allowedMemberTypes is empty (User, Application or both)", what)
		}
		for _, m := range r.AllowedMemberTypes {
			if m != MemberTypeUser && m != MemberTypeApplication {
				return invalid("%s: allowedMemberTypes has %q; use User or Application", what, m)
			}
		}
	}
	for _, p := range a.Passwords {
		if !IsGUID(p.KeyID) {
			return invalid("password credential keyId %q is not a GUID", p.KeyID)
		}
		if _, err := ParseSecretHash(p.Hash); err != nil {
			return invalid("password credential %s: %v", p.KeyID, err)
		}
	}
	for _, k := range a.Certificates {
		if !IsGUID(k.KeyID) {
			return invalid("key credential keyId %q is not a GUID", k.KeyID)
		}
		if len(k.DER) == 0 {
			return invalid("key credential %s has no certificate", k.KeyID)
		}
	}
	for _, rra := range a.RequiredResourceAccess {
		if !IsGUID(rra.ResourceAppID) {
			return invalid("requiredResourceAccess: resourceAppId %q is not a GUID", rra.ResourceAppID)
		}
		for _, ra := range rra.Access {
			if !IsGUID(ra.ID) {
				return invalid("requiredResourceAccess: resourceAccess id %q is not a GUID", ra.ID)
			}
			if ra.Type != AccessScope && ra.Type != AccessRole {
				return invalid("requiredResourceAccess: resourceAccess type must be Scope or Role, found %q", ra.Type)
			}
		}
	}
	return nil
}

// ScopeByValue finds an exposed scope by value.
func (a *Application) ScopeByValue(value string) (*Scope, bool) {
	for i := range a.Scopes {
		if a.Scopes[i].Value == value {
			return &a.Scopes[i], true
		}
	}
	return nil, false
}

// AppRoleByValue finds an app role by value.
func (a *Application) AppRoleByValue(value string) (*AppRole, bool) {
	for i := range a.AppRoles {
		if a.AppRoles[i].Value == value {
			return &a.AppRoles[i], true
		}
	}
	return nil, false
}

// AppRoleByID finds an app role by id (case-insensitive GUID).
func (a *Application) AppRoleByID(id string) (*AppRole, bool) {
	for i := range a.AppRoles {
		if strings.EqualFold(a.AppRoles[i].ID, id) {
			return &a.AppRoles[i], true
		}
	}
	return nil, false
}

// Allows reports whether the role can be assigned to a member of type t (User or Application).
func (r *AppRole) Allows(t string) bool {
	for _, m := range r.AllowedMemberTypes {
		if m == t {
			return true
		}
	}
	return false
}
