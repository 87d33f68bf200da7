package graph

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"portcullis/internal/directory"
)

// Graph's JSON shapes (Microsoft Graph v1.0). Output types always carry every property the
// resource shows by default, with null or [] where Portcullis keeps no value.

func graphTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05Z")
	return &s
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type applicationJSON struct {
	ID                     string                   `json:"id"`
	DeletedDateTime        *string                  `json:"deletedDateTime"`
	AppID                  string                   `json:"appId"`
	CreatedDateTime        *string                  `json:"createdDateTime"`
	Description            *string                  `json:"description"`
	DisplayName            string                   `json:"displayName"`
	IdentifierURIs         []string                 `json:"identifierUris"`
	IsFallbackPublicClient *bool                    `json:"isFallbackPublicClient"`
	Notes                  *string                  `json:"notes"`
	PublisherDomain        *string                  `json:"publisherDomain"`
	SignInAudience         string                   `json:"signInAudience"`
	Tags                   []string                 `json:"tags"`
	API                    apiJSON                  `json:"api"`
	AppRoles               []appRoleJSON            `json:"appRoles"`
	KeyCredentials         []keyCredentialJSON      `json:"keyCredentials"`
	PasswordCredentials    []passwordCredentialJSON `json:"passwordCredentials"`
	PublicClient           redirectsJSON            `json:"publicClient"`
	RequiredResourceAccess []requiredAccessJSON     `json:"requiredResourceAccess"`
	SPA                    redirectsJSON            `json:"spa"`
	Web                    webJSON                  `json:"web"`
}

type apiJSON struct {
	AcceptMappedClaims          *bool                 `json:"acceptMappedClaims"`
	KnownClientApplications     []string              `json:"knownClientApplications"`
	RequestedAccessTokenVersion *int                  `json:"requestedAccessTokenVersion"`
	OAuth2PermissionScopes      []permissionScopeJSON `json:"oauth2PermissionScopes"`
	PreAuthorizedApplications   []json.RawMessage     `json:"preAuthorizedApplications"`
}

type permissionScopeJSON struct {
	AdminConsentDescription string `json:"adminConsentDescription"`
	AdminConsentDisplayName string `json:"adminConsentDisplayName"`
	ID                      string `json:"id"`
	IsEnabled               bool   `json:"isEnabled"`
	Type                    string `json:"type"`
	UserConsentDescription  string `json:"userConsentDescription"`
	UserConsentDisplayName  string `json:"userConsentDisplayName"`
	Value                   string `json:"value"`
}

type appRoleJSON struct {
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	Description        string   `json:"description"`
	DisplayName        string   `json:"displayName"`
	ID                 string   `json:"id"`
	IsEnabled          bool     `json:"isEnabled"`
	Origin             string   `json:"origin"`
	Value              string   `json:"value"`
}

type keyCredentialJSON struct {
	CustomKeyIdentifier *string `json:"customKeyIdentifier"`
	DisplayName         string  `json:"displayName"`
	EndDateTime         *string `json:"endDateTime"`
	Key                 *string `json:"key"`
	KeyID               string  `json:"keyId"`
	StartDateTime       *string `json:"startDateTime"`
	Type                string  `json:"type"`
	Usage               string  `json:"usage"`
}

type passwordCredentialJSON struct {
	CustomKeyIdentifier *string `json:"customKeyIdentifier"`
	DisplayName         string  `json:"displayName"`
	EndDateTime         *string `json:"endDateTime"`
	Hint                string  `json:"hint"`
	KeyID               string  `json:"keyId"`
	SecretText          *string `json:"secretText"`
	StartDateTime       *string `json:"startDateTime"`
}

type redirectsJSON struct {
	RedirectURIs []string `json:"redirectUris"`
}

type webJSON struct {
	HomePageURL           *string           `json:"homePageUrl"`
	LogoutURL             *string           `json:"logoutUrl"`
	RedirectURIs          []string          `json:"redirectUris"`
	ImplicitGrantSettings implicitGrantJSON `json:"implicitGrantSettings"`
}

type implicitGrantJSON struct {
	EnableAccessTokenIssuance bool `json:"enableAccessTokenIssuance"`
	EnableIDTokenIssuance     bool `json:"enableIdTokenIssuance"`
}

type requiredAccessJSON struct {
	ResourceAppID  string               `json:"resourceAppId"`
	ResourceAccess []resourceAccessJSON `json:"resourceAccess"`
}

type resourceAccessJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

func scopesJSON(in []directory.Scope) []permissionScopeJSON {
	out := make([]permissionScopeJSON, 0, len(in))
	for _, s := range in {
		out = append(out, permissionScopeJSON{
			AdminConsentDescription: s.AdminConsentDescription, AdminConsentDisplayName: s.AdminConsentDisplayName,
			ID: s.ID, IsEnabled: s.Enabled, Type: s.Type, UserConsentDescription: s.UserConsentDescription,
			UserConsentDisplayName: s.UserConsentDisplayName, Value: s.Value,
		})
	}
	return out
}

func rolesJSON(in []directory.AppRole) []appRoleJSON {
	out := make([]appRoleJSON, 0, len(in))
	for _, r := range in {
		out = append(out, appRoleJSON{AllowedMemberTypes: orEmpty(r.AllowedMemberTypes), Description: r.Description,
			DisplayName: r.DisplayName, ID: r.ID, IsEnabled: r.Enabled, Origin: "Application", Value: r.Value})
	}
	return out
}

func keyCredentialOut(k directory.KeyCredential) keyCredentialJSON {
	thumb := k.Thumbprint
	return keyCredentialJSON{CustomKeyIdentifier: &thumb, DisplayName: k.DisplayName, EndDateTime: graphTime(k.End),
		KeyID: k.KeyID, StartDateTime: graphTime(k.Start), Type: "AsymmetricX509Cert", Usage: "Verify"}
}

func passwordCredentialOut(p directory.PasswordCredential) passwordCredentialJSON {
	return passwordCredentialJSON{DisplayName: p.DisplayName, EndDateTime: graphTime(p.End), Hint: p.Hint,
		KeyID: p.KeyID, StartDateTime: graphTime(p.Start)}
}

func applicationOut(a *directory.Application, t *directory.Tenant) applicationJSON {
	out := applicationJSON{
		ID: a.ID, AppID: a.AppID, CreatedDateTime: graphTime(a.CreatedAt), DisplayName: a.DisplayName,
		IdentifierURIs: orEmpty(a.IdentifierURIs), SignInAudience: a.SignInAudience, Tags: []string{},
		API: apiJSON{KnownClientApplications: []string{}, OAuth2PermissionScopes: scopesJSON(a.Scopes),
			PreAuthorizedApplications: []json.RawMessage{}},
		AppRoles:            rolesJSON(a.AppRoles),
		KeyCredentials:      []keyCredentialJSON{},
		PasswordCredentials: []passwordCredentialJSON{},
		PublicClient:        redirectsJSON{RedirectURIs: orEmpty(a.PublicRedirectURIs)},
		SPA:                 redirectsJSON{RedirectURIs: orEmpty(a.SPARedirectURIs)},
		Web:                 webJSON{RedirectURIs: orEmpty(a.RedirectURIs)},
	}
	if a.PublicClient {
		v := true
		out.IsFallbackPublicClient = &v
	}
	if len(t.Domains) > 0 {
		d := t.Domains[0]
		out.PublisherDomain = &d
	}
	if a.AccessTokenVersion != 0 {
		v := a.AccessTokenVersion
		out.API.RequestedAccessTokenVersion = &v
	}
	for _, k := range a.Certificates {
		out.KeyCredentials = append(out.KeyCredentials, keyCredentialOut(k))
	}
	for _, p := range a.Passwords {
		out.PasswordCredentials = append(out.PasswordCredentials, passwordCredentialOut(p))
	}
	out.RequiredResourceAccess = []requiredAccessJSON{}
	for _, r := range a.RequiredResourceAccess {
		rr := requiredAccessJSON{ResourceAppID: r.ResourceAppID, ResourceAccess: []resourceAccessJSON{}}
		for _, ra := range r.Access {
			rr.ResourceAccess = append(rr.ResourceAccess, resourceAccessJSON{ID: ra.ID, Type: ra.Type})
		}
		out.RequiredResourceAccess = append(out.RequiredResourceAccess, rr)
	}
	return out
}

type servicePrincipalJSON struct {
	ID                        string                `json:"id"`
	DeletedDateTime           *string               `json:"deletedDateTime"`
	AccountEnabled            bool                  `json:"accountEnabled"`
	AppDisplayName            string                `json:"appDisplayName"`
	AppID                     string                `json:"appId"`
	AppOwnerOrganizationID    string                `json:"appOwnerOrganizationId"`
	AppRoleAssignmentRequired bool                  `json:"appRoleAssignmentRequired"`
	DisplayName               string                `json:"displayName"`
	ServicePrincipalNames     []string              `json:"servicePrincipalNames"`
	ServicePrincipalType      string                `json:"servicePrincipalType"`
	SignInAudience            string                `json:"signInAudience"`
	Tags                      []string              `json:"tags"`
	AppRoles                  []appRoleJSON         `json:"appRoles"`
	OAuth2PermissionScopes    []permissionScopeJSON `json:"oauth2PermissionScopes"`
	KeyCredentials            []keyCredentialJSON   `json:"keyCredentials"`
	PasswordCredentials       []json.RawMessage     `json:"passwordCredentials"`
	ReplyURLs                 []string              `json:"replyUrls"`
}

// servicePrincipalOut shows the service principal with what it inherits from its application
// (nil when the application is not in this tenant).
func servicePrincipalOut(sp *directory.ServicePrincipal, app *directory.Application, tenantID string) servicePrincipalJSON {
	out := servicePrincipalJSON{
		ID: sp.ID, AccountEnabled: sp.AccountEnabled, AppDisplayName: sp.DisplayName, AppID: sp.AppID,
		AppOwnerOrganizationID: tenantID, AppRoleAssignmentRequired: sp.AppRoleAssignmentRequired, DisplayName: sp.DisplayName,
		ServicePrincipalNames: []string{sp.AppID}, ServicePrincipalType: "Application", Tags: []string{},
		AppRoles: []appRoleJSON{}, OAuth2PermissionScopes: []permissionScopeJSON{}, KeyCredentials: []keyCredentialJSON{},
		PasswordCredentials: []json.RawMessage{}, ReplyURLs: []string{}, SignInAudience: "AzureADMyOrg",
	}
	if app != nil {
		out.AppDisplayName = app.DisplayName
		out.ServicePrincipalNames = append(out.ServicePrincipalNames, app.IdentifierURIs...)
		out.AppRoles = rolesJSON(app.AppRoles)
		out.OAuth2PermissionScopes = scopesJSON(app.Scopes)
		out.SignInAudience = app.SignInAudience
		out.ReplyURLs = append(append(append([]string{}, app.RedirectURIs...), app.PublicRedirectURIs...), app.SPARedirectURIs...)
	}
	return out
}

type appRoleAssignmentJSON struct {
	ID                   string  `json:"id"`
	DeletedDateTime      *string `json:"deletedDateTime"`
	AppRoleID            string  `json:"appRoleId"`
	CreatedDateTime      *string `json:"createdDateTime"`
	PrincipalDisplayName string  `json:"principalDisplayName"`
	PrincipalID          string  `json:"principalId"`
	PrincipalType        string  `json:"principalType"`
	ResourceDisplayName  string  `json:"resourceDisplayName"`
	ResourceID           string  `json:"resourceId"`
}

type permissionGrantJSON struct {
	ClientID    string  `json:"clientId"`
	ConsentType string  `json:"consentType"`
	ID          string  `json:"id"`
	PrincipalID *string `json:"principalId"`
	ResourceID  string  `json:"resourceId"`
	Scope       string  `json:"scope"`
}

func permissionGrantOut(g *directory.PermissionGrant) permissionGrantJSON {
	out := permissionGrantJSON{ClientID: g.ClientID, ConsentType: g.ConsentType, ID: g.ID, ResourceID: g.ResourceID, Scope: g.Scope}
	if g.PrincipalID != "" {
		p := g.PrincipalID
		out.PrincipalID = &p
	}
	return out
}

type userJSON struct {
	ID                string   `json:"id"`
	BusinessPhones    []string `json:"businessPhones"`
	DisplayName       string   `json:"displayName"`
	GivenName         *string  `json:"givenName"`
	JobTitle          *string  `json:"jobTitle"`
	Mail              *string  `json:"mail"`
	MobilePhone       *string  `json:"mobilePhone"`
	OfficeLocation    *string  `json:"officeLocation"`
	PreferredLanguage *string  `json:"preferredLanguage"`
	Surname           *string  `json:"surname"`
	UserPrincipalName string   `json:"userPrincipalName"`
	AccountEnabled    bool     `json:"accountEnabled"`
	CreatedDateTime   *string  `json:"createdDateTime"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func userOut(u *directory.User) userJSON {
	return userJSON{ID: u.ID, BusinessPhones: []string{}, DisplayName: u.DisplayName, GivenName: optional(u.GivenName),
		Mail: optional(u.Mail), Surname: optional(u.Surname), UserPrincipalName: u.UserPrincipalName,
		AccountEnabled: u.AccountEnabled, CreatedDateTime: graphTime(u.CreatedAt)}
}

// isEmptyJSON reports whether a raw value is absent, null, "", false, 0, [] or an object of
// such values: what a client sends back for a property Portcullis does not keep.
func isEmptyJSON(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	return emptyValue(v)
}

func emptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, e := range x {
			if !emptyValue(e) {
				return false
			}
		}
		return true
	}
	return false
}

// decodeBase64 accepts standard base64, padded or not (Graph's Edm.Binary).
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
