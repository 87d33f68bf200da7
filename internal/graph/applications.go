package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"portcullis/internal/directory"
)

// appFinder looks an application up by object id or by appId.
type appFinder struct {
	key   string
	find  func(ctx context.Context, r directory.Reader, tenantID string) (*directory.Application, error)
	label string
}

func appByObjectID(id string) appFinder {
	return appFinder{key: id, label: id, find: func(ctx context.Context, r directory.Reader, tid string) (*directory.Application, error) {
		return r.Application(ctx, tid, id)
	}}
}

func appByAppID(appID string) appFinder {
	return appFinder{key: appID, label: "applications(appId='" + appID + "')", find: func(ctx context.Context, r directory.Reader, tid string) (*directory.Application, error) {
		return r.ApplicationByAppID(ctx, tid, appID)
	}}
}

func (f appFinder) load(ctx context.Context, r directory.Reader, tenantID string) (*directory.Application, error) {
	app, err := f.find(ctx, r, tenantID)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, objectNotFound(f.label)
	}
	return app, err
}

func (h *Handler) routeApplication(q *request, m string, f appFinder, rest []string) error {
	if len(rest) == 0 {
		switch m {
		case http.MethodGet:
			app, err := f.load(q.ctx, h.store, q.tenant.ID)
			if err != nil {
				return err
			}
			return q.entity(http.StatusOK, "applications/$entity", applicationOut(app, q.tenant))
		case http.MethodPatch:
			return h.patchApplication(q, f)
		case http.MethodDelete:
			return h.deleteApplication(q, f)
		}
		return methodNotAllowed(m)
	}
	if len(rest) == 1 && m == http.MethodPost {
		switch rest[0] {
		case "addPassword":
			return h.addPassword(q, f)
		case "removePassword":
			return h.removePassword(q, f)
		case "addKey":
			return h.addKey(q, f)
		case "removeKey":
			return h.removeKey(q, f)
		}
	}
	if len(rest) == 1 && slices.Contains([]string{"addPassword", "removePassword", "addKey", "removeKey"}, rest[0]) {
		return methodNotAllowed(m)
	}
	return notFound(fmt.Sprintf("Resource not found for the segment '%s'.", clip(rest[0])))
}

var applicationFilters = filterable[directory.Application]{
	"appId":          {values: func(a *directory.Application) []string { return []string{a.AppID} }},
	"id":             {values: func(a *directory.Application) []string { return []string{a.ID} }},
	"displayName":    {values: func(a *directory.Application) []string { return []string{a.DisplayName} }},
	"identifierUris": {collection: true, values: func(a *directory.Application) []string { return a.IdentifierURIs }},
}

func (h *Handler) listApplications(q *request) error {
	apps, err := h.store.Applications(q.ctx, q.tenant.ID)
	if err != nil {
		return err
	}
	apps, err = listQuery(q, apps, applicationFilters)
	if err != nil {
		return err
	}
	out := make([]applicationJSON, 0, len(apps))
	for i := range apps {
		out = append(out, applicationOut(&apps[i], q.tenant))
	}
	return q.collection("applications", out)
}

// applicationInput is the body of POST and PATCH /applications. Pointers tell "absent" from
// "set"; raw fields are Graph properties Portcullis does not keep, accepted only when empty.
type applicationInput struct {
	ID                     *string                 `json:"id"`
	AppID                  *string                 `json:"appId"`
	DisplayName            *string                 `json:"displayName"`
	SignInAudience         *string                 `json:"signInAudience"`
	IdentifierURIs         *[]string               `json:"identifierUris"`
	IsFallbackPublicClient *bool                   `json:"isFallbackPublicClient"`
	API                    *apiInput               `json:"api"`
	AppRoles               *[]appRoleJSON          `json:"appRoles"`
	RequiredResourceAccess *[]requiredAccessJSON   `json:"requiredResourceAccess"`
	Web                    *webInput               `json:"web"`
	SPA                    *redirectsJSON          `json:"spa"`
	PublicClient           *redirectsJSON          `json:"publicClient"`
	KeyCredentials         *[]keyCredentialInput   `json:"keyCredentials"`
	PasswordCredentials    *[]passwordCredentialIn `json:"passwordCredentials"`

	// Read-only: ignored.
	CreatedDateTime json.RawMessage `json:"createdDateTime"`
	DeletedDateTime json.RawMessage `json:"deletedDateTime"`
	PublisherDomain json.RawMessage `json:"publisherDomain"`
	// Not kept by Portcullis: accepted when empty.
	Description           json.RawMessage `json:"description"`
	Notes                 json.RawMessage `json:"notes"`
	Tags                  json.RawMessage `json:"tags"`
	GroupMembershipClaims json.RawMessage `json:"groupMembershipClaims"`
	OptionalClaims        json.RawMessage `json:"optionalClaims"`
	Info                  json.RawMessage `json:"info"`
}

type apiInput struct {
	RequestedAccessTokenVersion json.RawMessage        `json:"requestedAccessTokenVersion"`
	OAuth2PermissionScopes      *[]permissionScopeJSON `json:"oauth2PermissionScopes"`
	AcceptMappedClaims          json.RawMessage        `json:"acceptMappedClaims"`
	KnownClientApplications     json.RawMessage        `json:"knownClientApplications"`
	PreAuthorizedApplications   json.RawMessage        `json:"preAuthorizedApplications"`
}

type webInput struct {
	RedirectURIs          *[]string       `json:"redirectUris"`
	HomePageURL           json.RawMessage `json:"homePageUrl"`
	LogoutURL             json.RawMessage `json:"logoutUrl"`
	ImplicitGrantSettings json.RawMessage `json:"implicitGrantSettings"`
	RedirectURISettings   json.RawMessage `json:"redirectUriSettings"`
}

type keyCredentialInput struct {
	CustomKeyIdentifier json.RawMessage `json:"customKeyIdentifier"`
	DisplayName         *string         `json:"displayName"`
	EndDateTime         json.RawMessage `json:"endDateTime"`
	StartDateTime       json.RawMessage `json:"startDateTime"`
	Key                 *string         `json:"key"`
	KeyID               *string         `json:"keyId"`
	Type                *string         `json:"type"`
	Usage               *string         `json:"usage"`
}

type passwordCredentialIn struct {
	CustomKeyIdentifier json.RawMessage `json:"customKeyIdentifier"`
	DisplayName         *string         `json:"displayName"`
	EndDateTime         *time.Time      `json:"endDateTime"`
	StartDateTime       *time.Time      `json:"startDateTime"`
	Hint                json.RawMessage `json:"hint"`
	KeyID               json.RawMessage `json:"keyId"`
	SecretText          json.RawMessage `json:"secretText"`
}

// unsupported refuses a Graph property Portcullis does not keep, unless it is empty.
func unsupported(name string, raw json.RawMessage) error {
	if isEmptyJSON(raw) {
		return nil
	}
	return badRequest("Property '%s' is not supported by Portcullis; leave it out or empty.", name)
}

// apply changes app as the input says. Everything is checked before the caller stores it.
func (in *applicationInput) apply(app *directory.Application, creating bool) error {
	if in.ID != nil && (creating || !strings.EqualFold(*in.ID, app.ID)) {
		return badRequest("Property 'id' is read-only and cannot be set.")
	}
	if in.AppID != nil && (creating || !strings.EqualFold(*in.AppID, app.AppID)) {
		return badRequest("Property 'appId' is read-only and cannot be set.")
	}
	for _, u := range []struct {
		name string
		raw  json.RawMessage
	}{
		{"description", in.Description}, {"notes", in.Notes}, {"tags", in.Tags},
		{"groupMembershipClaims", in.GroupMembershipClaims}, {"optionalClaims", in.OptionalClaims}, {"info", in.Info},
	} {
		if err := unsupported(u.name, u.raw); err != nil {
			return err
		}
	}
	if in.DisplayName != nil {
		app.DisplayName = *in.DisplayName
	}
	if in.SignInAudience != nil {
		app.SignInAudience = *in.SignInAudience
	}
	if in.IdentifierURIs != nil {
		app.IdentifierURIs = slices.Clone(*in.IdentifierURIs)
	}
	if in.IsFallbackPublicClient != nil {
		app.PublicClient = *in.IsFallbackPublicClient
	}
	if in.API != nil {
		if err := errors.Join(unsupported("api.acceptMappedClaims", in.API.AcceptMappedClaims),
			unsupported("api.knownClientApplications", in.API.KnownClientApplications),
			unsupported("api.preAuthorizedApplications", in.API.PreAuthorizedApplications)); err != nil {
			return firstError(err)
		}
		if raw := in.API.RequestedAccessTokenVersion; len(raw) > 0 {
			// null is Graph's way back to the default (v1.0 tokens).
			var v *int
			if err := json.Unmarshal(raw, &v); err != nil {
				return badRequest("Property 'api.requestedAccessTokenVersion' must be 1, 2 or null.")
			}
			app.AccessTokenVersion = 0
			if v != nil {
				app.AccessTokenVersion = *v
			}
		}
		if in.API.OAuth2PermissionScopes != nil {
			scopes, err := scopesIn(*in.API.OAuth2PermissionScopes, app.Scopes)
			if err != nil {
				return err
			}
			app.Scopes = scopes
		}
	}
	if in.AppRoles != nil {
		roles, err := rolesIn(*in.AppRoles, app.AppRoles)
		if err != nil {
			return err
		}
		app.AppRoles = roles
	}
	if in.RequiredResourceAccess != nil {
		app.RequiredResourceAccess = nil
		for _, r := range *in.RequiredResourceAccess {
			rr := directory.RequiredResourceAccess{ResourceAppID: r.ResourceAppID}
			for _, ra := range r.ResourceAccess {
				rr.Access = append(rr.Access, directory.ResourceAccess{ID: ra.ID, Type: ra.Type})
			}
			app.RequiredResourceAccess = append(app.RequiredResourceAccess, rr)
		}
	}
	if in.Web != nil {
		if err := errors.Join(unsupported("web.homePageUrl", in.Web.HomePageURL), unsupported("web.logoutUrl", in.Web.LogoutURL),
			unsupported("web.implicitGrantSettings", in.Web.ImplicitGrantSettings),
			unsupported("web.redirectUriSettings", in.Web.RedirectURISettings)); err != nil {
			return firstError(err)
		}
		if in.Web.RedirectURIs != nil {
			app.RedirectURIs = slices.Clone(*in.Web.RedirectURIs)
		}
	}
	if in.SPA != nil {
		app.SPARedirectURIs = slices.Clone(in.SPA.RedirectURIs)
	}
	if in.PublicClient != nil {
		app.PublicRedirectURIs = slices.Clone(in.PublicClient.RedirectURIs)
	}
	if in.PasswordCredentials != nil {
		// Graph refuses secrets in PATCH; the same list sent back unchanged is harmless.
		if len(*in.PasswordCredentials) != len(app.Passwords) {
			return badRequest("Property 'passwordCredentials' cannot be set here: use addPassword and removePassword.")
		}
	}
	if in.KeyCredentials != nil {
		certs, err := keyCredentialsIn(*in.KeyCredentials, app.Certificates)
		if err != nil {
			return err
		}
		app.Certificates = certs
	}
	return nil
}

func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()[0]
	}
	return err
}

// scopesIn validates a new scope list against the old: as Graph requires, an enabled scope
// must be disabled (one PATCH) before it can be removed (another).
func scopesIn(in []permissionScopeJSON, old []directory.Scope) ([]directory.Scope, error) {
	out := make([]directory.Scope, 0, len(in))
	for _, s := range in {
		typ := s.Type
		if typ == "" {
			typ = directory.ScopeTypeUser
		}
		out = append(out, directory.Scope{ID: strings.ToLower(s.ID), Value: s.Value, Type: typ,
			AdminConsentDisplayName: s.AdminConsentDisplayName, AdminConsentDescription: s.AdminConsentDescription,
			UserConsentDisplayName: s.UserConsentDisplayName, UserConsentDescription: s.UserConsentDescription, Enabled: s.IsEnabled})
	}
	for _, o := range old {
		i := slices.IndexFunc(out, func(n directory.Scope) bool { return strings.EqualFold(n.ID, o.ID) })
		if o.Enabled && (i < 0 || out[i].Value != o.Value) {
			return nil, &apiError{http.StatusBadRequest, codeEnabledPerm,
				fmt.Sprintf("Permission (scope or role) '%s' cannot be deleted or have its value changed unless it is disabled first (isEnabled: false).", o.Value)}
		}
	}
	return out, nil
}

func rolesIn(in []appRoleJSON, old []directory.AppRole) ([]directory.AppRole, error) {
	out := make([]directory.AppRole, 0, len(in))
	for _, r := range in {
		if r.Origin != "" && r.Origin != "Application" {
			return nil, badRequest("App role '%s': origin must be Application.", clip(r.Value))
		}
		out = append(out, directory.AppRole{ID: strings.ToLower(r.ID), Value: r.Value, DisplayName: r.DisplayName,
			Description: r.Description, AllowedMemberTypes: slices.Clone(r.AllowedMemberTypes), Enabled: r.IsEnabled})
	}
	for _, o := range old {
		i := slices.IndexFunc(out, func(n directory.AppRole) bool { return strings.EqualFold(n.ID, o.ID) })
		if o.Enabled && (i < 0 || out[i].Value != o.Value) {
			return nil, &apiError{http.StatusBadRequest, codeEnabledPerm,
				fmt.Sprintf("Permission (scope or role) '%s' cannot be deleted or have its value changed unless it is disabled first (isEnabled: false).", o.Value)}
		}
	}
	return out, nil
}

// keyCredentialsIn replaces the certificate list: an entry naming an existing keyId without a
// key keeps that certificate; an entry with a key adds it.
func keyCredentialsIn(in []keyCredentialInput, old []directory.KeyCredential) ([]directory.KeyCredential, error) {
	var out []directory.KeyCredential
	for i, k := range in {
		if k.Type != nil && *k.Type != "AsymmetricX509Cert" {
			return nil, badRequest("keyCredentials[%d]: type must be AsymmetricX509Cert.", i)
		}
		if k.Usage != nil && *k.Usage != "Verify" {
			return nil, badRequest("keyCredentials[%d]: usage must be Verify (certificates verify client assertions).", i)
		}
		if k.Key == nil || *k.Key == "" {
			if k.KeyID == nil {
				return nil, badRequest("keyCredentials[%d]: a new key credential needs key (the base64 DER certificate).", i)
			}
			j := slices.IndexFunc(old, func(o directory.KeyCredential) bool { return strings.EqualFold(o.KeyID, *k.KeyID) })
			if j < 0 {
				return nil, badRequest("keyCredentials[%d]: no key credential with keyId '%s'.", i, clip(*k.KeyID))
			}
			out = append(out, old[j])
			continue
		}
		kc, err := keyCredentialFrom(k)
		if err != nil {
			return nil, badRequest("keyCredentials[%d]: %s", i, invalidMessage(err))
		}
		out = append(out, kc)
	}
	return out, nil
}

func keyCredentialFrom(k keyCredentialInput) (directory.KeyCredential, error) {
	der, err := decodeBase64(*k.Key)
	if err != nil {
		return directory.KeyCredential{}, fmt.Errorf("%w: key is not base64", directory.ErrInvalid)
	}
	name := ""
	if k.DisplayName != nil {
		name = *k.DisplayName
	}
	kc, err := directory.NewKeyCredential(der, name)
	if err != nil {
		return directory.KeyCredential{}, err
	}
	if k.KeyID != nil && *k.KeyID != "" {
		if !directory.IsGUID(*k.KeyID) {
			return directory.KeyCredential{}, fmt.Errorf("%w: keyId %q is not a GUID", directory.ErrInvalid, clip(*k.KeyID))
		}
		kc.KeyID = strings.ToLower(*k.KeyID)
	}
	return kc, nil
}

// store writes app after checking it, turning a taken identifier URI into Graph's message.
func storeApplication(ctx context.Context, tx directory.Writer, app *directory.Application) error {
	if err := app.Check(); err != nil {
		return err
	}
	err := tx.PutApplication(ctx, app)
	if errors.Is(err, directory.ErrConflict) {
		return badRequest("Another object with the same value for property identifierUris already exists.")
	}
	return err
}

func (h *Handler) createApplication(q *request) error {
	var in applicationInput
	if err := q.decode(&in); err != nil {
		return err
	}
	if in.DisplayName == nil || strings.TrimSpace(*in.DisplayName) == "" {
		return badRequest("Property 'displayName' is required when creating an application.")
	}
	now := q.now()
	app := &directory.Application{ID: directory.NewID(), TenantID: q.tenant.ID, AppID: directory.NewID(),
		SignInAudience: "AzureADMyOrg", CreatedAt: now}
	if err := in.apply(app, true); err != nil {
		return err
	}
	if err := q.update(func(tx directory.Writer) error { return storeApplication(q.ctx, tx, app) }); err != nil {
		return err
	}
	q.w.Header().Set("Location", q.base+"/applications/"+app.ID)
	return q.entity(http.StatusCreated, "applications/$entity", applicationOut(app, q.tenant))
}

func (h *Handler) patchApplication(q *request, f appFinder) error {
	var in applicationInput
	if err := q.decode(&in); err != nil {
		return err
	}
	err := q.update(func(tx directory.Writer) error {
		app, err := f.load(q.ctx, tx, q.tenant.ID)
		if err != nil {
			return err
		}
		if err := in.apply(app, false); err != nil {
			return err
		}
		if err := storeApplication(q.ctx, tx, app); err != nil {
			return err
		}
		// The service principal shows the application's name.
		sp, err := tx.ServicePrincipalByAppID(q.ctx, q.tenant.ID, app.AppID)
		if err == nil && sp.DisplayName != app.DisplayName {
			sp.DisplayName = app.DisplayName
			return tx.PutServicePrincipal(q.ctx, sp)
		}
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return q.noContent()
}

func (h *Handler) deleteApplication(q *request, f appFinder) error {
	err := q.update(func(tx directory.Writer) error {
		app, err := f.load(q.ctx, tx, q.tenant.ID)
		if err != nil {
			return err
		}
		return directory.DeleteApplication(q.ctx, tx, q.tenant.ID, app.ID)
	})
	if err != nil {
		return err
	}
	return q.noContent()
}

// defaultSecretLifetime is Graph's addPassword default (two years).
const defaultSecretLifetime = 2 * 365 * 24 * time.Hour

func (h *Handler) addPassword(q *request, f appFinder) error {
	var in struct {
		PasswordCredential *passwordCredentialIn `json:"passwordCredential"`
	}
	if err := q.decode(&in); err != nil {
		return err
	}
	now := q.now()
	cred := directory.PasswordCredential{KeyID: directory.NewID(), Start: now, End: now.Add(defaultSecretLifetime)}
	if p := in.PasswordCredential; p != nil {
		if !isEmptyJSON(p.SecretText) {
			return badRequest("Property 'secretText' cannot be set: the service generates the secret.")
		}
		if err := errors.Join(unsupported("customKeyIdentifier", p.CustomKeyIdentifier)); err != nil {
			return err
		}
		if p.DisplayName != nil {
			cred.DisplayName = *p.DisplayName
		}
		if p.StartDateTime != nil {
			cred.Start = p.StartDateTime.UTC()
		}
		if p.EndDateTime != nil {
			cred.End = p.EndDateTime.UTC()
		}
		if !cred.End.After(cred.Start) {
			return badRequest("Property 'endDateTime' must be after 'startDateTime'.")
		}
	}
	secret, err := directory.GenerateSecret()
	if err != nil {
		return err
	}
	cred.Hash, cred.Hint = directory.HashSecret(secret), directory.SecretHint(secret)
	err = q.update(func(tx directory.Writer) error {
		app, err := f.load(q.ctx, tx, q.tenant.ID)
		if err != nil {
			return err
		}
		app.Passwords = append(app.Passwords, cred)
		return storeApplication(q.ctx, tx, app)
	})
	if err != nil {
		return err
	}
	out := passwordCredentialOut(cred)
	out.SecretText = &secret
	return q.entity(http.StatusOK, "microsoft.graph.passwordCredential", out)
}

func (h *Handler) removePassword(q *request, f appFinder) error {
	var in struct {
		KeyID string `json:"keyId"`
	}
	if err := q.decode(&in); err != nil {
		return err
	}
	if !directory.IsGUID(in.KeyID) {
		return badRequest("Property 'keyId' must be the GUID of a password credential.")
	}
	err := q.update(func(tx directory.Writer) error {
		app, err := f.load(q.ctx, tx, q.tenant.ID)
		if err != nil {
			return err
		}
		n := len(app.Passwords)
		app.Passwords = slices.DeleteFunc(app.Passwords, func(p directory.PasswordCredential) bool { return strings.EqualFold(p.KeyID, in.KeyID) })
		if len(app.Passwords) == n {
			return notFound(fmt.Sprintf("No password credential with keyId '%s' on this application.", in.KeyID))
		}
		return storeApplication(q.ctx, tx, app)
	})
	if err != nil {
		return err
	}
	return q.noContent()
}

// addKey adds a certificate. Graph asks for a proof-of-possession JWT signed by an existing key;
// here the admin token in front of the handler is the authority, and a proof is accepted but not
// needed.
func (h *Handler) addKey(q *request, f appFinder) error {
	var in struct {
		KeyCredential      *keyCredentialInput `json:"keyCredential"`
		PasswordCredential json.RawMessage     `json:"passwordCredential"`
		Proof              json.RawMessage     `json:"proof"`
	}
	if err := q.decode(&in); err != nil {
		return err
	}
	if err := unsupported("passwordCredential", in.PasswordCredential); err != nil {
		return err
	}
	k := in.KeyCredential
	if k == nil || k.Key == nil || *k.Key == "" {
		return badRequest("Property 'keyCredential.key' is required: the base64 DER of the X.509 certificate.")
	}
	if k.Type != nil && *k.Type != "AsymmetricX509Cert" {
		return badRequest("keyCredential.type must be AsymmetricX509Cert.")
	}
	if k.Usage != nil && *k.Usage != "Verify" {
		return badRequest("keyCredential.usage must be Verify (certificates verify client assertions).")
	}
	kc, err := keyCredentialFrom(*k)
	if err != nil {
		return err
	}
	err = q.update(func(tx directory.Writer) error {
		app, err := f.load(q.ctx, tx, q.tenant.ID)
		if err != nil {
			return err
		}
		if app.HasCertificate(kc.Thumbprint) {
			return badRequest("This certificate is already a key credential of the application.")
		}
		app.Certificates = append(app.Certificates, kc)
		return storeApplication(q.ctx, tx, app)
	})
	if err != nil {
		return err
	}
	return q.entity(http.StatusOK, "microsoft.graph.keyCredential", keyCredentialOut(kc))
}

func (h *Handler) removeKey(q *request, f appFinder) error {
	var in struct {
		KeyID string          `json:"keyId"`
		Proof json.RawMessage `json:"proof"`
	}
	if err := q.decode(&in); err != nil {
		return err
	}
	if !directory.IsGUID(in.KeyID) {
		return badRequest("Property 'keyId' must be the GUID of a key credential.")
	}
	err := q.update(func(tx directory.Writer) error {
		app, err := f.load(q.ctx, tx, q.tenant.ID)
		if err != nil {
			return err
		}
		n := len(app.Certificates)
		app.Certificates = slices.DeleteFunc(app.Certificates, func(k directory.KeyCredential) bool { return strings.EqualFold(k.KeyID, in.KeyID) })
		if len(app.Certificates) == n {
			return notFound(fmt.Sprintf("No key credential with keyId '%s' on this application.", in.KeyID))
		}
		return storeApplication(q.ctx, tx, app)
	})
	if err != nil {
		return err
	}
	return q.noContent()
}
