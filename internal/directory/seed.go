package directory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"portcullis/internal/config"
)

// SeedError is a problem with the identity seed of a configuration file. Key is the YAML path
// of the offending value ("identity.tenants[0].applications[1].api-permissions[0].api"), so
// that `portcullis check` can point at its line.
type SeedError struct {
	Key string
	Msg string
	Err error
}

func (e *SeedError) Error() string { return e.Key + ": " + e.Msg }
func (e *SeedError) Unwrap() error { return e.Err }

func seedErr(key string, err error) error {
	var se *SeedError
	if errors.As(err, &se) {
		return err
	}
	return &SeedError{Key: key, Msg: strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "), Err: err}
}

func seedErrf(key string, format string, args ...any) error {
	return &SeedError{Key: key, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

// Seed applies the configuration's identity seed to the store in one transaction: it creates or
// updates the tenants, applications, service principals, consent and users the file names and
// touches nothing else. Running it again with the same file changes nothing.
//
// What "update" means: scalar settings the file gives replace the stored ones; lists of
// URIs the file gives replace the stored list; scopes, app roles, secrets, certificates,
// permissions and role assignments are merged by value (the file adds and updates, it never
// removes what the management API added). Applications are found by app-id when the file
// gives one, else by name within the tenant, so a generated app-id stays the same across runs;
// scope and role ids are name-based GUIDs, the same on every machine.
//
// baseDir resolves relative certificate paths (the configuration file's folder).
func Seed(ctx context.Context, store Store, id *config.Identity, baseDir string) error {
	if id == nil || len(id.Tenants) == 0 {
		return nil
	}
	// File reads and certificate parsing happen before the write lock is taken.
	certs, err := loadSeedCertificates(id, baseDir)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	return store.Update(ctx, func(tx Writer) error {
		for i := range id.Tenants {
			s := &seeder{tx: tx, now: now, key: fmt.Sprintf("identity.tenants[%d]", i), tenantIdx: i, cfg: &id.Tenants[i], certs: certs}
			if err := s.run(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// seedCertKey identifies a certificate entry of the file.
type seedCertKey struct{ tenant, app, cert int }

// maxCertificateFileBytes bounds a certificate file the seed names: a PEM chain is a few
// kilobytes, and a path to something endless must not exhaust memory at start.
const maxCertificateFileBytes = 1 << 20

func readCertificateFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCertificateFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCertificateFileBytes {
		return nil, fmt.Errorf("the file is larger than %d bytes", maxCertificateFileBytes)
	}
	return data, nil
}

func loadSeedCertificates(id *config.Identity, baseDir string) (map[seedCertKey][]KeyCredential, error) {
	out := map[seedCertKey][]KeyCredential{}
	for ti, t := range id.Tenants {
		for ai, a := range t.Applications {
			for ci, file := range a.Certificates {
				key := fmt.Sprintf("identity.tenants[%d].applications[%d].certificates[%d]", ti, ai, ci)
				path := file
				if !filepath.IsAbs(path) {
					path = filepath.Join(baseDir, path)
				}
				data, err := readCertificateFile(path)
				if err != nil {
					return nil, seedErr(key, certificateError(file, err))
				}
				ders, err := CertificatesFromPEM(data)
				if err != nil {
					return nil, seedErr(key, certificateError(file, err))
				}
				for _, der := range ders {
					kc, err := NewKeyCredential(der, "")
					if err != nil {
						return nil, seedErr(key, certificateError(file, err))
					}
					out[seedCertKey{ti, ai, ci}] = append(out[seedCertKey{ti, ai, ci}], kc)
				}
			}
		}
	}
	return out, nil
}

// seeder applies one tenant of the seed.
type seeder struct {
	tx    Writer
	now   time.Time
	key   string
	cfg   *config.Tenant
	certs map[seedCertKey][]KeyCredential

	tenantIdx int
	tenantID  string
	apps      map[string]*Application // the file's applications by name, as stored
}

func (s *seeder) run(ctx context.Context) error {
	if !IsGUID(s.cfg.ID) {
		return seedErrf(s.key+".id", "tenant id must be a GUID, found %q", s.cfg.ID)
	}
	if err := s.tenant(ctx); err != nil {
		return err
	}
	s.apps = map[string]*Application{}
	for i := range s.cfg.Applications {
		if err := s.application(ctx, i); err != nil {
			return err
		}
	}
	// Permissions name other applications, so they come once every application exists.
	for i := range s.cfg.Applications {
		if err := s.permissions(ctx, i); err != nil {
			return err
		}
	}
	for i := range s.cfg.Users {
		if err := s.user(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

func (s *seeder) tenant(ctx context.Context) error {
	t, err := s.tx.Tenant(ctx, s.cfg.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		t = &Tenant{ID: strings.ToLower(s.cfg.ID), DisplayName: s.cfg.Domain, CreatedAt: s.now}
		if t.DisplayName == "" {
			t.DisplayName = t.ID
		}
	case err != nil:
		return err
	}
	// A domain lookup can return another tenant; only an id match is this one.
	if !strings.EqualFold(t.ID, s.cfg.ID) {
		return seedErrf(s.key+".id", "%s is a domain of tenant %s, not a tenant id", s.cfg.ID, t.ID)
	}
	s.tenantID = t.ID
	if d := s.cfg.Domain; d != "" {
		t.Domains = slices.DeleteFunc(t.Domains, func(x string) bool { return strings.EqualFold(x, d) })
		t.Domains = append([]string{d}, t.Domains...)
	}
	if err := s.tx.PutTenant(ctx, t); err != nil {
		if errors.Is(err, ErrConflict) {
			return seedErrf(s.key+".domain", "domain %q already belongs to another tenant", s.cfg.Domain)
		}
		return err
	}
	return nil
}

// findByName finds the tenant's single application with this display name.
func (s *seeder) findByName(ctx context.Context, key, name string) (*Application, error) {
	all, err := s.tx.Applications(ctx, s.tenantID)
	if err != nil {
		return nil, err
	}
	var found *Application
	for i := range all {
		if all[i].DisplayName == name {
			if found != nil {
				return nil, seedErrf(key, "the tenant has several applications named %q (appIds %s and %s): give app-id to pick one",
					name, found.AppID, all[i].AppID)
			}
			found = &all[i]
		}
	}
	if found == nil {
		return nil, ErrNotFound
	}
	return found, nil
}

func (s *seeder) application(ctx context.Context, i int) error {
	c := &s.cfg.Applications[i]
	key := fmt.Sprintf("%s.applications[%d]", s.key, i)
	if c.Name == "" {
		return seedErrf(key+".name", "application needs a name")
	}
	if _, dup := s.apps[c.Name]; dup {
		return seedErrf(key+".name", "application name %q is already used in this tenant", c.Name)
	}
	var app *Application
	if c.AppID != "" {
		if !IsGUID(c.AppID) {
			return seedErrf(key+".app-id", "app-id must be a GUID, found %q", c.AppID)
		}
		found, err := s.tx.ApplicationByAppID(ctx, s.tenantID, c.AppID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		app = found
		if app == nil {
			byName, err := s.findByName(ctx, key+".name", c.Name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if byName != nil {
				return seedErrf(key+".app-id", "application %q exists with appId %s; an app ID cannot change: remove app-id from the file, or delete the application first",
					c.Name, byName.AppID)
			}
		}
	} else {
		found, err := s.findByName(ctx, key+".name", c.Name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		app = found
	}
	if app == nil {
		appID := strings.ToLower(c.AppID)
		if appID == "" {
			appID = NewID()
		}
		app = &Application{ID: NewID(), TenantID: s.tenantID, AppID: appID, SignInAudience: "AzureADMyOrg", CreatedAt: s.now}
	}
	app.DisplayName = c.Name
	if len(c.IdentifierURIs) > 0 {
		app.IdentifierURIs = slices.Clone(c.IdentifierURIs)
	}
	if c.AccessTokenVersion != 0 {
		app.AccessTokenVersion = c.AccessTokenVersion
	}
	app.PublicClient = c.PublicClient
	if len(c.RedirectURIs) > 0 {
		if c.PublicClient {
			app.PublicRedirectURIs = slices.Clone(c.RedirectURIs)
		} else {
			app.RedirectURIs = slices.Clone(c.RedirectURIs)
		}
	}
	for j, sc := range c.Scopes {
		if err := CheckPermissionValue(sc.Value); err != nil {
			return seedErr(fmt.Sprintf("%s.scopes[%d].value", key, j), err)
		}
		enabled := sc.Enabled == nil || *sc.Enabled
		if have, ok := app.ScopeByValue(sc.Value); ok {
			have.AdminConsentDisplayName = sc.AdminConsentDisplayName
			have.AdminConsentDescription = sc.AdminConsentDescription
			have.Enabled = enabled
			continue
		}
		app.Scopes = append(app.Scopes, Scope{
			ID: StableID(app.AppID, "scope", sc.Value), Value: sc.Value, Type: ScopeTypeAdmin,
			AdminConsentDisplayName: sc.AdminConsentDisplayName, AdminConsentDescription: sc.AdminConsentDescription,
			Enabled: enabled,
		})
	}
	for j, rc := range c.AppRoles {
		rkey := fmt.Sprintf("%s.app-roles[%d]", key, j)
		if err := CheckPermissionValue(rc.Value); err != nil {
			return seedErr(rkey+".value", err)
		}
		types, err := memberTypes(rc.AllowedMemberTypes)
		if err != nil {
			return seedErr(rkey+".allowed-member-types", err)
		}
		if have, ok := app.AppRoleByValue(rc.Value); ok {
			if len(rc.AllowedMemberTypes) > 0 {
				have.AllowedMemberTypes = types
			}
			have.Enabled = true
			continue
		}
		app.AppRoles = append(app.AppRoles, AppRole{
			ID: StableID(app.AppID, "role", rc.Value), Value: rc.Value, DisplayName: rc.Value, Description: rc.Value,
			AllowedMemberTypes: types, Enabled: true,
		})
	}
	for j, sec := range c.Secrets {
		skey := fmt.Sprintf("%s.secrets[%d]", key, j)
		var hash, hint string
		switch {
		case sec.Value != "" && sec.Hash != "":
			return seedErrf(skey, "a secret needs exactly one of value or hash")
		case sec.Value != "":
			hash, hint = HashSecret(sec.Value), SecretHint(sec.Value)
		case sec.Hash != "":
			h, err := ParseSecretHash(sec.Hash)
			if err != nil {
				return seedErr(skey+".hash", err)
			}
			hash = h
		default:
			return seedErrf(skey, "a secret needs exactly one of value or hash")
		}
		if slices.ContainsFunc(app.Passwords, func(p PasswordCredential) bool { return p.Hash == hash }) {
			continue
		}
		app.Passwords = append(app.Passwords, PasswordCredential{
			KeyID: NewID(), DisplayName: "configuration file", Hint: hint, Hash: hash, Start: s.now,
		})
	}
	for j := range c.Certificates {
		for _, kc := range s.certs[seedCertKey{s.tenantIdx, i, j}] {
			if !app.HasCertificate(kc.Thumbprint) {
				app.Certificates = append(app.Certificates, kc)
			}
		}
	}
	if err := app.Check(); err != nil {
		return seedErr(key, err)
	}
	if err := s.tx.PutApplication(ctx, app); err != nil {
		if errors.Is(err, ErrConflict) {
			return seedErrf(key+".identifier-uris", "an identifier URI of %q is already used by another application in the tenant (%v)", c.Name, err)
		}
		return err
	}
	if _, err := EnsureServicePrincipal(ctx, s.tx, app, s.now); err != nil {
		return err
	}
	s.apps[c.Name] = app
	return nil
}

func memberTypes(in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{MemberTypeUser, MemberTypeApplication}, nil
	}
	var out []string
	for _, t := range in {
		var canon string
		switch {
		case strings.EqualFold(t, MemberTypeUser):
			canon = MemberTypeUser
		case strings.EqualFold(t, MemberTypeApplication):
			canon = MemberTypeApplication
		default:
			return nil, invalid("allowed member type %q is not User or Application", t)
		}
		if !slices.Contains(out, canon) {
			out = append(out, canon)
		}
	}
	return out, nil
}

// resource finds an application named in api-permissions or a user's roles: the file's
// applications first, then the tenant's others.
func (s *seeder) resource(ctx context.Context, key, noun, name string) (*Application, error) {
	if app, ok := s.apps[name]; ok {
		return app, nil
	}
	app, err := s.findByName(ctx, key, name)
	if errors.Is(err, ErrNotFound) {
		names := make([]string, 0, len(s.cfg.Applications))
		for _, a := range s.cfg.Applications {
			names = append(names, a.Name)
		}
		return nil, seedErrf(key, "unknown %s %q: no application of that name in tenant %s (the file names: %s)",
			noun, name, s.tenantID, strings.Join(names, ", "))
	}
	return app, err
}

func (s *seeder) permissions(ctx context.Context, i int) error {
	c := &s.cfg.Applications[i]
	key := fmt.Sprintf("%s.applications[%d]", s.key, i)
	client := s.apps[c.Name]
	if len(c.APIPermissions) == 0 {
		return nil
	}
	clientSP, err := EnsureServicePrincipal(ctx, s.tx, client, s.now)
	if err != nil {
		return err
	}
	for j, p := range c.APIPermissions {
		pkey := fmt.Sprintf("%s.api-permissions[%d]", key, j)
		res, err := s.resource(ctx, pkey+".api", "api", p.API)
		if err != nil {
			return err
		}
		var access []ResourceAccess
		var roleIDs []string
		for k, v := range p.Scopes {
			sc, ok := res.ScopeByValue(v)
			if !ok {
				return seedErrf(fmt.Sprintf("%s.scopes[%d]", pkey, k), "api %q has no scope %q (it exposes: %s)", p.API, v, scopeValues(res))
			}
			access = append(access, ResourceAccess{ID: sc.ID, Type: AccessScope})
		}
		for k, v := range p.Roles {
			r, ok := res.AppRoleByValue(v)
			if !ok {
				return seedErrf(fmt.Sprintf("%s.roles[%d]", pkey, k), "api %q has no app role %q (it defines: %s)", p.API, v, roleValues(res))
			}
			if !r.Allows(MemberTypeApplication) {
				return seedErrf(fmt.Sprintf("%s.roles[%d]", pkey, k), "app role %q of %q cannot be given to applications (allowed-member-types: %s)",
					v, p.API, strings.Join(r.AllowedMemberTypes, ", "))
			}
			access = append(access, ResourceAccess{ID: r.ID, Type: AccessRole})
			roleIDs = append(roleIDs, r.ID)
		}
		client.RequireAccess(res.AppID, access...)
		if !p.AdminConsent {
			continue
		}
		resSP, err := EnsureServicePrincipal(ctx, s.tx, res, s.now)
		if err != nil {
			return err
		}
		if len(p.Scopes) > 0 {
			if _, err := GrantAdminConsent(ctx, s.tx, s.tenantID, clientSP.ID, resSP.ID, p.Scopes); err != nil {
				return err
			}
		}
		for _, roleID := range roleIDs {
			if _, err := AssignAppRole(ctx, s.tx, AppRoleAssignment{
				TenantID: s.tenantID, PrincipalID: clientSP.ID, PrincipalType: PrincipalServicePrincipal,
				ResourceID: resSP.ID, AppRoleID: roleID,
			}, s.now); err != nil {
				return err
			}
		}
	}
	return s.tx.PutApplication(ctx, client)
}

func scopeValues(a *Application) string {
	var v []string
	for _, s := range a.Scopes {
		v = append(v, s.Value)
	}
	if len(v) == 0 {
		return "no scopes"
	}
	return strings.Join(v, ", ")
}

func roleValues(a *Application) string {
	var v []string
	for _, r := range a.AppRoles {
		v = append(v, r.Value)
	}
	if len(v) == 0 {
		return "no app roles"
	}
	return strings.Join(v, ", ")
}

func (s *seeder) user(ctx context.Context, i int) error {
	c := &s.cfg.Users[i]
	key := fmt.Sprintf("%s.users[%d]", s.key, i)
	if err := CheckUserPrincipalName(c.Username); err != nil {
		return seedErr(key+".username", err)
	}
	u, err := s.tx.UserByName(ctx, s.tenantID, c.Username)
	switch {
	case errors.Is(err, ErrNotFound):
		u = &User{ID: NewID(), TenantID: s.tenantID, AccountEnabled: true, CreatedAt: s.now}
	case err != nil:
		return err
	}
	u.UserPrincipalName = c.Username
	if c.DisplayName != "" {
		u.DisplayName = c.DisplayName
	} else if u.DisplayName == "" {
		u.DisplayName, _, _ = strings.Cut(c.Username, "@")
	}
	switch {
	case c.Password != "" && c.PasswordHash != "":
		return seedErrf(key, "user %q has both password and password-hash: keep one", c.Username)
	case c.Password != "":
		// Re-hash only when the password changed: the stored salt then stays put across starts.
		if ok, err := VerifyPassword(u.PasswordHash, c.Password); err != nil || !ok {
			h, err := HashPassword(c.Password)
			if err != nil {
				return seedErr(key+".password", err)
			}
			u.PasswordHash = h
		}
	case c.PasswordHash != "":
		if err := CheckPasswordHash(c.PasswordHash); err != nil {
			return seedErr(key+".password-hash", err)
		}
		u.PasswordHash = c.PasswordHash
	}
	if err := s.tx.PutUser(ctx, u); err != nil {
		return err
	}
	// Map order is random; sort for a stable error and assignment order.
	names := make([]string, 0, len(c.Roles))
	for name := range c.Roles {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		rkey := fmt.Sprintf("%s.roles.%s", key, name)
		res, err := s.resource(ctx, rkey, "application", name)
		if err != nil {
			return err
		}
		resSP, err := EnsureServicePrincipal(ctx, s.tx, res, s.now)
		if err != nil {
			return err
		}
		for k, v := range c.Roles[name] {
			r, ok := res.AppRoleByValue(v)
			if !ok {
				return seedErrf(fmt.Sprintf("%s[%d]", rkey, k), "application %q has no app role %q (it defines: %s)", name, v, roleValues(res))
			}
			if !r.Allows(MemberTypeUser) {
				return seedErrf(fmt.Sprintf("%s[%d]", rkey, k), "app role %q of %q cannot be given to users (allowed-member-types: %s)",
					v, name, strings.Join(r.AllowedMemberTypes, ", "))
			}
			if _, err := AssignAppRole(ctx, s.tx, AppRoleAssignment{
				TenantID: s.tenantID, PrincipalID: u.ID, PrincipalType: PrincipalUser, ResourceID: resSP.ID, AppRoleID: r.ID,
			}, s.now); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckUserPrincipalName validates a userPrincipalName: name@domain, no spaces.
func CheckUserPrincipalName(upn string) error {
	local, domain, ok := strings.Cut(upn, "@")
	switch {
	case !ok || local == "" || domain == "" || strings.Contains(domain, "@"):
		return invalid("userPrincipalName %q must look like name@domain", upn)
	case strings.ContainsFunc(upn, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return invalid("userPrincipalName %q has a space or a control character", upn)
	case len(upn) > 113:
		return invalid("userPrincipalName %q is longer than 113 characters", upn)
	}
	return nil
}
