package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"portcullis/internal/directory"
)

// Run runs the suite. open returns a new, empty store for each sub-test; Run closes it.
func Run(t *testing.T, open func(t *testing.T) directory.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s directory.Store)
	}{
		{"Tenants", testTenants},
		{"TenantDomainConflict", testTenantDomainConflict},
		{"Applications", testApplications},
		{"ApplicationConflicts", testApplicationConflicts},
		{"ApplicationUnknownTenant", testApplicationUnknownTenant},
		{"TenantIsolation", testTenantIsolation},
		{"ServicePrincipals", testServicePrincipals},
		{"PermissionGrants", testPermissionGrants},
		{"AppRoleAssignments", testAppRoleAssignments},
		{"Users", testUsers},
		{"SigningKeys", testSigningKeys},
		{"Grants", testGrants},
		{"GrantFamilies", testGrantFamilies},
		{"ExpiredGrants", testExpiredGrants},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ReadYourWritesInUpdate", testReadYourWrites},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"MissingIdentifiers", testMissingIdentifiers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// Fixed, UTC times: a store must give back exactly what it was given.
var (
	t0 = time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC)
	t1 = time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
)

const (
	tenantA = "3f5b1c2e-0000-4000-8000-000000000001"
	tenantB = "3f5b1c2e-0000-4000-8000-000000000002"
)

func tenant(id string, domains ...string) *directory.Tenant {
	return &directory.Tenant{ID: id, DisplayName: "Tenant " + id[len(id)-1:], Domains: domains, CreatedAt: t0}
}

// fullApplication sets every field, so a round trip that drops one is caught.
func fullApplication(tenantID, id, appID string) *directory.Application {
	return &directory.Application{
		ID: id, TenantID: tenantID, AppID: appID, DisplayName: "backend-app",
		SignInAudience:     "AzureADMyOrg",
		IdentifierURIs:     []string{"api://" + appID, "https://contoso.example/" + id},
		AccessTokenVersion: 2,
		Scopes: []directory.Scope{{
			ID: "a1000000-0000-4000-8000-000000000001", Value: "Files.Read", Type: "Admin",
			AdminConsentDisplayName: "Read files", AdminConsentDescription: "Lets the app read files",
			UserConsentDisplayName: "Read your files", UserConsentDescription: "Read them", Enabled: true,
		}, {ID: "a1000000-0000-4000-8000-000000000002", Value: "Files.Write", Type: "User"}},
		AppRoles: []directory.AppRole{{
			ID: "b1000000-0000-4000-8000-000000000001", Value: "Files.Read.All", DisplayName: "Read all",
			Description: "Read all files", AllowedMemberTypes: []string{"Application", "User"}, Enabled: true,
		}},
		Passwords: []directory.PasswordCredential{{
			KeyID: "c1000000-0000-4000-8000-000000000001", DisplayName: "ci", Hint: "abc",
			Hash: "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", Start: t0, End: t1,
		}},
		Certificates: []directory.KeyCredential{{
			KeyID: "d1000000-0000-4000-8000-000000000001", DisplayName: "CN=client", DER: []byte{0x30, 0x82, 0x01, 0x00, 0xff},
			Thumbprint: "2jmj7l5rSw0yVb/vlWAYkK/YBwk=", Start: t0, End: t1,
		}},
		RedirectURIs:       []string{"https://app.example/callback"},
		PublicRedirectURIs: []string{"http://localhost"},
		SPARedirectURIs:    []string{"https://spa.example/"},
		PublicClient:       true,
		RequiredResourceAccess: []directory.RequiredResourceAccess{{
			ResourceAppID: "6c1f0d2a-0000-4000-8000-0000000000b1",
			Access: []directory.ResourceAccess{
				{ID: "a1000000-0000-4000-8000-000000000001", Type: "Scope"},
				{ID: "b1000000-0000-4000-8000-000000000001", Type: "Role"},
			},
		}},
		CreatedAt: t0,
	}
}

func update(t *testing.T, s directory.Store, fn func(tx directory.Writer) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func seedTenants(t *testing.T, s directory.Store) {
	t.Helper()
	update(t, s, func(tx directory.Writer) error {
		if err := tx.PutTenant(context.Background(), tenant(tenantA, "contoso.example", "contoso.onmicrosoft.example")); err != nil {
			return err
		}
		return tx.PutTenant(context.Background(), tenant(tenantB, "fabrikam.example"))
	})
}

func testTenants(t *testing.T, s directory.Store) {
	ctx := context.Background()
	if _, err := s.Tenant(ctx, tenantA); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("empty store: got %v, want ErrNotFound", err)
	}
	list, err := s.Tenants(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("empty store Tenants: %v %v", list, err)
	}
	seedTenants(t, s)
	want := tenant(tenantA, "contoso.example", "contoso.onmicrosoft.example")
	for _, key := range []string{tenantA, "3F5B1C2E-0000-4000-8000-000000000001", "contoso.example", "CONTOSO.Example", "contoso.onmicrosoft.example"} {
		got, err := s.Tenant(ctx, key)
		if err != nil {
			t.Fatalf("Tenant(%q): %v", key, err)
		}
		mustEqual(t, "Tenant("+key+")", got, want)
	}
	_, err = s.Tenant(ctx, "nowhere.example")
	wantErr(t, "unknown domain", err, directory.ErrNotFound)
	_, err = s.Tenant(ctx, "")
	wantErr(t, "empty key", err, directory.ErrNotFound)

	list, err = s.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != tenantA || list[1].ID != tenantB {
		t.Fatalf("Tenants in creation order: got %+v", list)
	}

	// Replacing a tenant replaces its domains: the dropped one no longer resolves.
	renamed := tenant(tenantA, "contoso.example", "new.example")
	renamed.DisplayName = "Contoso"
	update(t, s, func(tx directory.Writer) error { return tx.PutTenant(ctx, renamed) })
	got, err := s.Tenant(ctx, "new.example")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "replaced tenant", got, renamed)
	_, err = s.Tenant(ctx, "contoso.onmicrosoft.example")
	wantErr(t, "dropped domain", err, directory.ErrNotFound)
	list, _ = s.Tenants(ctx)
	if len(list) != 2 || list[0].ID != tenantA {
		t.Fatalf("replacement keeps the order: %+v", list)
	}
}

func testTenantDomainConflict(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	before, _ := s.Tenant(ctx, tenantB)
	err := s.Update(ctx, func(tx directory.Writer) error {
		return tx.PutTenant(ctx, tenant(tenantB, "fabrikam.example", "Contoso.Example"))
	})
	wantErr(t, "domain owned by another tenant", err, directory.ErrConflict)
	after, _ := s.Tenant(ctx, tenantB)
	mustEqual(t, "tenant after failed update", after, before)
	owner, err := s.Tenant(ctx, "contoso.example")
	if err != nil || owner.ID != tenantA {
		t.Fatalf("domain owner after conflict: %v %v", owner, err)
	}
}

func testApplications(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	app := fullApplication(tenantA, "e1000000-0000-4000-8000-000000000001", "6c1f0d2a-0000-4000-8000-0000000000b1")
	client := &directory.Application{ID: "e1000000-0000-4000-8000-000000000002", TenantID: tenantA,
		AppID: "0b7e9d4c-0000-4000-8000-0000000000c1", DisplayName: "client-app", CreatedAt: t0}
	update(t, s, func(tx directory.Writer) error {
		if err := tx.PutApplication(ctx, app); err != nil {
			return err
		}
		return tx.PutApplication(ctx, client)
	})

	got, err := s.Application(ctx, tenantA, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "Application", got, app)
	got, err = s.ApplicationByAppID(ctx, tenantA, "6C1F0D2A-0000-4000-8000-0000000000B1")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "ApplicationByAppID (case-insensitive GUID)", got, app)
	for _, uri := range app.IdentifierURIs {
		got, err = s.ApplicationByIdentifierURI(ctx, tenantA, uri)
		if err != nil {
			t.Fatalf("ApplicationByIdentifierURI(%s): %v", uri, err)
		}
		mustEqual(t, "ApplicationByIdentifierURI", got, app)
	}
	_, err = s.ApplicationByIdentifierURI(ctx, tenantA, "api://unknown")
	wantErr(t, "unknown URI", err, directory.ErrNotFound)
	_, err = s.Application(ctx, tenantA, "e1000000-0000-4000-8000-0000000000ff")
	wantErr(t, "unknown object id", err, directory.ErrNotFound)
	_, err = s.ApplicationByAppID(ctx, tenantA, "00000000-0000-0000-0000-000000000000")
	wantErr(t, "unknown appId", err, directory.ErrNotFound)

	list, err := s.Applications(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "Applications", list, []directory.Application{*app, *client})

	// Replace: new fields, one identifier URI dropped, one added.
	changed := fullApplication(tenantA, app.ID, app.AppID)
	changed.DisplayName = "backend-app v2"
	changed.IdentifierURIs = []string{"api://" + app.AppID, "api://backend"}
	changed.Scopes[0].Enabled = false
	changed.Passwords = nil
	update(t, s, func(tx directory.Writer) error { return tx.PutApplication(ctx, changed) })
	got, err = s.Application(ctx, tenantA, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "replaced application", got, changed)
	_, err = s.ApplicationByIdentifierURI(ctx, tenantA, app.IdentifierURIs[1])
	wantErr(t, "dropped identifier URI", err, directory.ErrNotFound)
	if got, err = s.ApplicationByIdentifierURI(ctx, tenantA, "api://backend"); err != nil || got.ID != app.ID {
		t.Fatalf("added identifier URI: %v %v", got, err)
	}

	update(t, s, func(tx directory.Writer) error { return tx.DeleteApplication(ctx, tenantA, app.ID) })
	_, err = s.Application(ctx, tenantA, app.ID)
	wantErr(t, "deleted application", err, directory.ErrNotFound)
	_, err = s.ApplicationByIdentifierURI(ctx, tenantA, "api://backend")
	wantErr(t, "deleted application's URI", err, directory.ErrNotFound)
	err = s.Update(ctx, func(tx directory.Writer) error { return tx.DeleteApplication(ctx, tenantA, app.ID) })
	wantErr(t, "deleting twice", err, directory.ErrNotFound)
	list, _ = s.Applications(ctx, tenantA)
	mustEqual(t, "Applications after delete", list, []directory.Application{*client})

	// The identifier URI and appId of a deleted application are free again.
	update(t, s, func(tx directory.Writer) error {
		return tx.PutApplication(ctx, fullApplication(tenantA, "e1000000-0000-4000-8000-000000000003", app.AppID))
	})
}

func testApplicationConflicts(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	app := fullApplication(tenantA, "e1000000-0000-4000-8000-000000000001", "6c1f0d2a-0000-4000-8000-0000000000b1")
	update(t, s, func(tx directory.Writer) error { return tx.PutApplication(ctx, app) })

	tests := []struct {
		name string
		app  *directory.Application
	}{
		{"same appId, other object", &directory.Application{TenantID: tenantA, ID: "e1000000-0000-4000-8000-000000000009",
			AppID: "6C1F0D2A-0000-4000-8000-0000000000B1", DisplayName: "dup"}},
		{"identifier URI of another app", &directory.Application{TenantID: tenantA, ID: "e1000000-0000-4000-8000-000000000009",
			AppID: "6c1f0d2a-0000-4000-8000-0000000000b9", IdentifierURIs: []string{"api://new", app.IdentifierURIs[0]}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx directory.Writer) error { return tx.PutApplication(ctx, tc.app) })
			wantErr(t, tc.name, err, directory.ErrConflict)
			_, err = s.Application(ctx, tenantA, tc.app.ID)
			wantErr(t, "conflicting application is not stored", err, directory.ErrNotFound)
			_, err = s.ApplicationByIdentifierURI(ctx, tenantA, "api://new")
			wantErr(t, "its URIs are not stored", err, directory.ErrNotFound)
			got, err := s.Application(ctx, tenantA, app.ID)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "existing application untouched", got, app)
		})
	}

	// The same appId in another tenant is another registration's instance: allowed.
	other := fullApplication(tenantB, "e2000000-0000-4000-8000-000000000001", app.AppID)
	update(t, s, func(tx directory.Writer) error { return tx.PutApplication(ctx, other) })

	// Listing the same URI twice on one app is not a conflict with itself.
	twice := fullApplication(tenantA, app.ID, app.AppID)
	twice.IdentifierURIs = []string{"api://x", "api://x"}
	update(t, s, func(tx directory.Writer) error { return tx.PutApplication(ctx, twice) })
}

func testApplicationUnknownTenant(t *testing.T, s directory.Store) {
	ctx := context.Background()
	err := s.Update(ctx, func(tx directory.Writer) error {
		return tx.PutApplication(ctx, fullApplication(tenantA, "e1000000-0000-4000-8000-000000000001", "6c1f0d2a-0000-4000-8000-0000000000b1"))
	})
	wantErr(t, "application in a tenant that does not exist", err, directory.ErrNotFound)
}

func testTenantIsolation(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	app := fullApplication(tenantA, "e1000000-0000-4000-8000-000000000001", "6c1f0d2a-0000-4000-8000-0000000000b1")
	sp := &directory.ServicePrincipal{ID: "f1000000-0000-4000-8000-000000000001", TenantID: tenantA, AppID: app.AppID}
	user := &directory.User{ID: "u1000000-0000-4000-8000-000000000001", TenantID: tenantA, UserPrincipalName: "alice@contoso.example"}
	update(t, s, func(tx directory.Writer) error {
		return errors.Join(tx.PutApplication(ctx, app), tx.PutServicePrincipal(ctx, sp), tx.PutUser(ctx, user),
			tx.PutSigningKey(ctx, &directory.SigningKey{ID: "k1", TenantID: tenantA, Status: "current"}))
	})
	lookups := []struct {
		name string
		err  error
	}{
		{"Application", second(s.Application(ctx, tenantB, app.ID))},
		{"ApplicationByAppID", second(s.ApplicationByAppID(ctx, tenantB, app.AppID))},
		{"ApplicationByIdentifierURI", second(s.ApplicationByIdentifierURI(ctx, tenantB, app.IdentifierURIs[0]))},
		{"ServicePrincipal", second(s.ServicePrincipal(ctx, tenantB, sp.ID))},
		{"ServicePrincipalByAppID", second(s.ServicePrincipalByAppID(ctx, tenantB, sp.AppID))},
		{"User", second(s.User(ctx, tenantB, user.ID))},
		{"UserByName", second(s.UserByName(ctx, tenantB, user.UserPrincipalName))},
	}
	for _, l := range lookups {
		wantErr(t, l.name+" from another tenant", l.err, directory.ErrNotFound)
	}
	apps, _ := s.Applications(ctx, tenantB)
	sps, _ := s.ServicePrincipals(ctx, tenantB)
	users, _ := s.Users(ctx, tenantB)
	keys, _ := s.SigningKeys(ctx, tenantB)
	if len(apps)+len(sps)+len(users)+len(keys) != 0 {
		t.Fatalf("tenant B sees tenant A's objects: %d apps, %d sps, %d users, %d keys", len(apps), len(sps), len(users), len(keys))
	}
	err := s.Update(ctx, func(tx directory.Writer) error { return tx.DeleteApplication(ctx, tenantB, app.ID) })
	wantErr(t, "delete through another tenant", err, directory.ErrNotFound)
	if _, err := s.Application(ctx, tenantA, app.ID); err != nil {
		t.Fatalf("application deleted through another tenant: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func testServicePrincipals(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	sp := &directory.ServicePrincipal{ID: "f1000000-0000-4000-8000-000000000001", TenantID: tenantA,
		AppID: "6c1f0d2a-0000-4000-8000-0000000000b1", DisplayName: "backend-app", AccountEnabled: true,
		AppRoleAssignmentRequired: true, CreatedAt: t0}
	sp2 := &directory.ServicePrincipal{ID: "f1000000-0000-4000-8000-000000000002", TenantID: tenantA,
		AppID: "0b7e9d4c-0000-4000-8000-0000000000c1", DisplayName: "client-app", CreatedAt: t0}
	update(t, s, func(tx directory.Writer) error {
		return errors.Join(tx.PutServicePrincipal(ctx, sp), tx.PutServicePrincipal(ctx, sp2))
	})
	got, err := s.ServicePrincipal(ctx, tenantA, sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "ServicePrincipal", got, sp)
	got, err = s.ServicePrincipalByAppID(ctx, tenantA, "6C1F0D2A-0000-4000-8000-0000000000B1")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "ServicePrincipalByAppID", got, sp)
	list, err := s.ServicePrincipals(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "ServicePrincipals", list, []directory.ServicePrincipal{*sp, *sp2})

	dup := &directory.ServicePrincipal{ID: "f1000000-0000-4000-8000-000000000003", TenantID: tenantA, AppID: sp.AppID}
	err = s.Update(ctx, func(tx directory.Writer) error { return tx.PutServicePrincipal(ctx, dup) })
	wantErr(t, "second service principal for one appId", err, directory.ErrConflict)

	changed := *sp
	changed.AccountEnabled = false
	update(t, s, func(tx directory.Writer) error { return tx.PutServicePrincipal(ctx, &changed) })
	got, _ = s.ServicePrincipal(ctx, tenantA, sp.ID)
	mustEqual(t, "replaced service principal", got, &changed)

	update(t, s, func(tx directory.Writer) error { return tx.DeleteServicePrincipal(ctx, tenantA, sp.ID) })
	_, err = s.ServicePrincipalByAppID(ctx, tenantA, sp.AppID)
	wantErr(t, "deleted service principal", err, directory.ErrNotFound)
	err = s.Update(ctx, func(tx directory.Writer) error { return tx.DeleteServicePrincipal(ctx, tenantA, sp.ID) })
	wantErr(t, "deleting twice", err, directory.ErrNotFound)
}

func testPermissionGrants(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	g := []directory.PermissionGrant{
		{ID: "g1", TenantID: tenantA, ClientID: "client1", ConsentType: "AllPrincipals", ResourceID: "res1", Scope: "Files.Read Files.Write"},
		{ID: "g2", TenantID: tenantA, ClientID: "client1", ConsentType: "Principal", PrincipalID: "user1", ResourceID: "res2", Scope: "Mail.Read"},
		{ID: "g3", TenantID: tenantA, ClientID: "client2", ConsentType: "AllPrincipals", ResourceID: "res1", Scope: "Files.Read"},
		{ID: "g4", TenantID: tenantB, ClientID: "client1", ConsentType: "AllPrincipals", ResourceID: "res1", Scope: "Files.Read"},
	}
	update(t, s, func(tx directory.Writer) error {
		for i := range g {
			if err := tx.PutPermissionGrant(ctx, &g[i]); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		name             string
		client, resource string
		want             []directory.PermissionGrant
	}{
		{"all", "", "", g[:3]},
		{"by client", "client1", "", g[:2]},
		{"by resource", "", "res1", []directory.PermissionGrant{g[0], g[2]}},
		{"by client and resource", "client1", "res1", g[:1]},
		{"none", "client9", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.PermissionGrants(ctx, tenantA, tc.client, tc.resource)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.want) == 0 && len(got) == 0 {
				return
			}
			mustEqual(t, "PermissionGrants", got, tc.want)
		})
	}
	changed := g[0]
	changed.Scope = "Files.Read"
	update(t, s, func(tx directory.Writer) error { return tx.PutPermissionGrant(ctx, &changed) })
	got, _ := s.PermissionGrants(ctx, tenantA, "client1", "res1")
	mustEqual(t, "replaced grant", got, []directory.PermissionGrant{changed})

	update(t, s, func(tx directory.Writer) error { return tx.DeletePermissionGrant(ctx, tenantA, "g1") })
	got, _ = s.PermissionGrants(ctx, tenantA, "client1", "res1")
	if len(got) != 0 {
		t.Fatalf("deleted grant still listed: %+v", got)
	}
	err := s.Update(ctx, func(tx directory.Writer) error { return tx.DeletePermissionGrant(ctx, tenantA, "g1") })
	wantErr(t, "deleting twice", err, directory.ErrNotFound)
	err = s.Update(ctx, func(tx directory.Writer) error { return tx.DeletePermissionGrant(ctx, tenantA, "g4") })
	wantErr(t, "deleting another tenant's grant", err, directory.ErrNotFound)
}

func testAppRoleAssignments(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	a := []directory.AppRoleAssignment{
		{ID: "a1", TenantID: tenantA, PrincipalID: "client1", PrincipalType: "ServicePrincipal", ResourceID: "res1", AppRoleID: "role1", CreatedAt: t0},
		{ID: "a2", TenantID: tenantA, PrincipalID: "user1", PrincipalType: "User", ResourceID: "res1", AppRoleID: "role2", CreatedAt: t0},
		{ID: "a3", TenantID: tenantA, PrincipalID: "client1", PrincipalType: "ServicePrincipal", ResourceID: "res2", AppRoleID: "role3", CreatedAt: t0},
		{ID: "a4", TenantID: tenantB, PrincipalID: "client1", PrincipalType: "ServicePrincipal", ResourceID: "res1", AppRoleID: "role1", CreatedAt: t0},
	}
	update(t, s, func(tx directory.Writer) error {
		for i := range a {
			if err := tx.PutAppRoleAssignment(ctx, &a[i]); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		name                string
		principal, resource string
		want                []directory.AppRoleAssignment
	}{
		{"all", "", "", a[:3]},
		{"by principal", "client1", "", []directory.AppRoleAssignment{a[0], a[2]}},
		{"by resource", "", "res1", a[:2]},
		{"by principal and resource", "user1", "res1", a[1:2]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.AppRoleAssignments(ctx, tenantA, tc.principal, tc.resource)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "AppRoleAssignments", got, tc.want)
		})
	}
	update(t, s, func(tx directory.Writer) error { return tx.DeleteAppRoleAssignment(ctx, tenantA, "a1") })
	got, _ := s.AppRoleAssignments(ctx, tenantA, "client1", "")
	mustEqual(t, "after delete", got, a[2:3])
	err := s.Update(ctx, func(tx directory.Writer) error { return tx.DeleteAppRoleAssignment(ctx, tenantA, "a1") })
	wantErr(t, "deleting twice", err, directory.ErrNotFound)
}

func testUsers(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	alice := &directory.User{ID: "u1", TenantID: tenantA, UserPrincipalName: "alice@contoso.example", DisplayName: "Alice",
		GivenName: "Alice", Surname: "Example", Mail: "alice@contoso.example",
		PasswordHash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", AccountEnabled: true, CreatedAt: t0}
	bob := &directory.User{ID: "u2", TenantID: tenantA, UserPrincipalName: "bob@contoso.example", CreatedAt: t0}
	update(t, s, func(tx directory.Writer) error { return errors.Join(tx.PutUser(ctx, alice), tx.PutUser(ctx, bob)) })

	got, err := s.User(ctx, tenantA, "u1")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "User", got, alice)
	got, err = s.UserByName(ctx, tenantA, "ALICE@Contoso.Example")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "UserByName (case-insensitive)", got, alice)
	list, _ := s.Users(ctx, tenantA)
	mustEqual(t, "Users", list, []directory.User{*alice, *bob})

	dup := &directory.User{ID: "u3", TenantID: tenantA, UserPrincipalName: "Alice@contoso.example"}
	err = s.Update(ctx, func(tx directory.Writer) error { return tx.PutUser(ctx, dup) })
	wantErr(t, "userPrincipalName taken", err, directory.ErrConflict)

	// Renaming a user frees the old name.
	renamed := *alice
	renamed.UserPrincipalName = "alice.smith@contoso.example"
	update(t, s, func(tx directory.Writer) error { return tx.PutUser(ctx, &renamed) })
	_, err = s.UserByName(ctx, tenantA, "alice@contoso.example")
	wantErr(t, "old name", err, directory.ErrNotFound)
	update(t, s, func(tx directory.Writer) error { return tx.PutUser(ctx, dup) })

	update(t, s, func(tx directory.Writer) error { return tx.DeleteUser(ctx, tenantA, "u2") })
	_, err = s.User(ctx, tenantA, "u2")
	wantErr(t, "deleted user", err, directory.ErrNotFound)
	err = s.Update(ctx, func(tx directory.Writer) error { return tx.DeleteUser(ctx, tenantA, "u2") })
	wantErr(t, "deleting twice", err, directory.ErrNotFound)
}

func testSigningKeys(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	k1 := &directory.SigningKey{ID: "kid1", TenantID: tenantA, PrivateDER: []byte{1, 2, 3}, Certificate: []byte{4, 5}, Status: "current", CreatedAt: t0}
	k2 := &directory.SigningKey{ID: "kid2", TenantID: tenantA, PrivateDER: []byte{6}, Certificate: []byte{7}, Status: "next", CreatedAt: t0}
	update(t, s, func(tx directory.Writer) error {
		return errors.Join(tx.PutSigningKey(ctx, k1), tx.PutSigningKey(ctx, k2))
	})
	list, err := s.SigningKeys(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "SigningKeys", list, []directory.SigningKey{*k1, *k2})

	// Rotation: statuses change in one transaction.
	p1, c2 := *k1, *k2
	p1.Status, p1.NotAfter = "previous", t1
	c2.Status = "current"
	update(t, s, func(tx directory.Writer) error {
		return errors.Join(tx.PutSigningKey(ctx, &p1), tx.PutSigningKey(ctx, &c2))
	})
	list, _ = s.SigningKeys(ctx, tenantA)
	mustEqual(t, "rotated keys", list, []directory.SigningKey{p1, c2})

	update(t, s, func(tx directory.Writer) error { return tx.DeleteSigningKey(ctx, tenantA, "kid1") })
	list, _ = s.SigningKeys(ctx, tenantA)
	mustEqual(t, "after delete", list, []directory.SigningKey{c2})
	err = s.Update(ctx, func(tx directory.Writer) error { return tx.DeleteSigningKey(ctx, tenantA, "kid1") })
	wantErr(t, "deleting twice", err, directory.ErrNotFound)
}

func testGrants(t *testing.T, s directory.Store) {
	ctx := context.Background()
	code := &directory.GrantRecord{Kind: "code", Key: "h1", Family: "fam1", TenantID: tenantA, Data: []byte(`{"scope":"openid"}`), Expires: t1}
	update(t, s, func(tx directory.Writer) error { return tx.PutGrant(ctx, code) })
	got, err := s.Grant(ctx, "code", "h1")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "Grant", got, code)
	_, err = s.Grant(ctx, "refresh", "h1")
	wantErr(t, "same key, other kind", err, directory.ErrNotFound)

	// Marking a code used replaces the record.
	used := *code
	used.Used = true
	update(t, s, func(tx directory.Writer) error { return tx.PutGrant(ctx, &used) })
	got, _ = s.Grant(ctx, "code", "h1")
	mustEqual(t, "used grant", got, &used)

	update(t, s, func(tx directory.Writer) error { return tx.DeleteGrant(ctx, "code", "h1") })
	_, err = s.Grant(ctx, "code", "h1")
	wantErr(t, "deleted grant", err, directory.ErrNotFound)
	err = s.Update(ctx, func(tx directory.Writer) error { return tx.DeleteGrant(ctx, "code", "h1") })
	wantErr(t, "deleting twice", err, directory.ErrNotFound)

	// A record without expiry or data round-trips as such.
	bare := &directory.GrantRecord{Kind: "device", Key: "h2", TenantID: tenantA}
	update(t, s, func(tx directory.Writer) error { return tx.PutGrant(ctx, bare) })
	got, _ = s.Grant(ctx, "device", "h2")
	if got == nil || !got.Expires.IsZero() || len(got.Data) != 0 || got.Used {
		t.Fatalf("bare grant: %+v", got)
	}
}

func testGrantFamilies(t *testing.T, s directory.Store) {
	ctx := context.Background()
	records := []directory.GrantRecord{
		{Kind: "code", Key: "c1", Family: "famA", Expires: t1},
		{Kind: "refresh", Key: "r1", Family: "famA", Expires: t1},
		{Kind: "refresh", Key: "r2", Family: "famA", Expires: t1},
		{Kind: "refresh", Key: "r3", Family: "famB", Expires: t1},
		{Kind: "device", Key: "d1", Expires: t1},
	}
	update(t, s, func(tx directory.Writer) error {
		for i := range records {
			if err := tx.PutGrant(ctx, &records[i]); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx directory.Writer) error { return tx.DeleteGrantFamily(ctx, "famA") })
	for _, r := range records {
		_, err := s.Grant(ctx, r.Kind, r.Key)
		gone := errors.Is(err, directory.ErrNotFound)
		if want := r.Family == "famA"; gone != want {
			t.Errorf("%s/%s after revoking famA: gone=%v, want %v (err %v)", r.Kind, r.Key, gone, want, err)
		}
	}
	// The empty family is no family: records stored without one are not swept together.
	update(t, s, func(tx directory.Writer) error { return tx.DeleteGrantFamily(ctx, "") })
	if _, err := s.Grant(ctx, "device", "d1"); err != nil {
		t.Fatalf("DeleteGrantFamily(\"\") removed a record without a family: %v", err)
	}
	// Revoking a family that does not exist is not an error (it may have expired already).
	update(t, s, func(tx directory.Writer) error { return tx.DeleteGrantFamily(ctx, "famZ") })
}

func testExpiredGrants(t *testing.T, s directory.Store) {
	ctx := context.Background()
	now := t0
	records := []directory.GrantRecord{
		{Kind: "code", Key: "past", Expires: now.Add(-time.Second)},
		{Kind: "code", Key: "now", Expires: now},
		{Kind: "code", Key: "future", Expires: now.Add(time.Minute)},
		{Kind: "device", Key: "never"},
	}
	update(t, s, func(tx directory.Writer) error {
		for i := range records {
			if err := tx.PutGrant(ctx, &records[i]); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx directory.Writer) error { return tx.DeleteExpiredGrants(ctx, now) })
	for _, r := range records {
		_, err := s.Grant(ctx, r.Kind, r.Key)
		gone := errors.Is(err, directory.ErrNotFound)
		if want := r.Key == "past"; gone != want {
			t.Errorf("%s after DeleteExpiredGrants: gone=%v, want %v (err %v)", r.Key, gone, want, err)
		}
	}
}

var errAbort = errors.New("request failed half-way")

func testRollbackOnError(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	app := fullApplication(tenantA, "e1000000-0000-4000-8000-000000000001", "6c1f0d2a-0000-4000-8000-0000000000b1")
	update(t, s, func(tx directory.Writer) error { return tx.PutApplication(ctx, app) })

	err := s.Update(ctx, func(tx directory.Writer) error {
		changed := *app
		changed.DisplayName = "changed"
		if err := tx.PutApplication(ctx, &changed); err != nil {
			return err
		}
		if err := tx.PutUser(ctx, &directory.User{ID: "u1", TenantID: tenantA, UserPrincipalName: "u@contoso.example"}); err != nil {
			return err
		}
		if err := tx.PutGrant(ctx, &directory.GrantRecord{Kind: "code", Key: "k"}); err != nil {
			return err
		}
		if err := tx.PutTenant(ctx, tenant(tenantB, "other.example")); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errAbort)
	})
	wantErr(t, "Update returns fn's error", err, errAbort)
	assertUnchanged(t, s, app)
}

func testRollbackOnPanic(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	app := fullApplication(tenantA, "e1000000-0000-4000-8000-000000000001", "6c1f0d2a-0000-4000-8000-0000000000b1")
	update(t, s, func(tx directory.Writer) error { return tx.PutApplication(ctx, app) })
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not propagate")
			}
		}()
		_ = s.Update(ctx, func(tx directory.Writer) error {
			if err := tx.DeleteApplication(ctx, tenantA, app.ID); err != nil {
				return err
			}
			panic("handler bug")
		})
	}()
	got, err := s.Application(ctx, tenantA, app.ID)
	if err != nil {
		t.Fatalf("application lost to a panicking Update: %v", err)
	}
	mustEqual(t, "application after panic", got, app)
	// The store still takes writes.
	update(t, s, func(tx directory.Writer) error { return tx.DeleteApplication(ctx, tenantA, app.ID) })
}

func assertUnchanged(t *testing.T, s directory.Store, app *directory.Application) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Application(ctx, tenantA, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "application after rollback", got, app)
	_, err = s.UserByName(ctx, tenantA, "u@contoso.example")
	wantErr(t, "user after rollback", err, directory.ErrNotFound)
	_, err = s.Grant(ctx, "code", "k")
	wantErr(t, "grant after rollback", err, directory.ErrNotFound)
	_, err = s.Tenant(ctx, "other.example")
	wantErr(t, "tenant change after rollback", err, directory.ErrNotFound)
	if _, err := s.Tenant(ctx, "fabrikam.example"); err != nil {
		t.Fatalf("tenant's old domain after rollback: %v", err)
	}
}

func testReadYourWrites(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	app := fullApplication(tenantA, "e1000000-0000-4000-8000-000000000001", "6c1f0d2a-0000-4000-8000-0000000000b1")
	update(t, s, func(tx directory.Writer) error {
		if err := tx.PutApplication(ctx, app); err != nil {
			return err
		}
		got, err := tx.ApplicationByIdentifierURI(ctx, tenantA, app.IdentifierURIs[0])
		if err != nil {
			return fmt.Errorf("read inside the transaction: %w", err)
		}
		if got.ID != app.ID {
			return fmt.Errorf("read inside the transaction: got %s", got.ID)
		}
		list, err := tx.Applications(ctx, tenantA)
		if err != nil || len(list) != 1 {
			return fmt.Errorf("list inside the transaction: %v %v", list, err)
		}
		return nil
	})
}

func testConcurrentUpdates(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("u-%d-%d", w, i)
				errs <- s.Update(ctx, func(tx directory.Writer) error {
					// Read-modify-write: the count read inside the transaction must not change
					// under it.
					before, err := tx.Users(ctx, tenantA)
					if err != nil {
						return err
					}
					if err := tx.PutUser(ctx, &directory.User{ID: id, TenantID: tenantA, UserPrincipalName: id + "@contoso.example"}); err != nil {
						return err
					}
					after, err := tx.Users(ctx, tenantA)
					if err != nil {
						return err
					}
					if len(after) != len(before)+1 {
						return fmt.Errorf("another write interleaved: %d users before, %d after", len(before), len(after))
					}
					return nil
				})
				// Reads run beside the writers.
				if _, err := s.Users(ctx, tenantA); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	users, err := s.Users(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != writers*each {
		t.Fatalf("got %d users after %d acknowledged writes", len(users), writers*each)
	}
}

func testMissingIdentifiers(t *testing.T, s directory.Store) {
	ctx := context.Background()
	seedTenants(t, s)
	tests := []struct {
		name string
		put  func(tx directory.Writer) error
	}{
		{"tenant without id", func(tx directory.Writer) error { return tx.PutTenant(ctx, &directory.Tenant{}) }},
		{"application without appId", func(tx directory.Writer) error {
			return tx.PutApplication(ctx, &directory.Application{TenantID: tenantA, ID: "x"})
		}},
		{"application without tenant", func(tx directory.Writer) error {
			return tx.PutApplication(ctx, &directory.Application{ID: "x", AppID: "y"})
		}},
		{"service principal without id", func(tx directory.Writer) error {
			return tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{TenantID: tenantA, AppID: "y"})
		}},
		{"user without name", func(tx directory.Writer) error {
			return tx.PutUser(ctx, &directory.User{TenantID: tenantA, ID: "u"})
		}},
		{"grant without key", func(tx directory.Writer) error { return tx.PutGrant(ctx, &directory.GrantRecord{Kind: "code"}) }},
		{"signing key without id", func(tx directory.Writer) error {
			return tx.PutSigningKey(ctx, &directory.SigningKey{TenantID: tenantA})
		}},
		{"permission grant without client", func(tx directory.Writer) error {
			return tx.PutPermissionGrant(ctx, &directory.PermissionGrant{TenantID: tenantA, ID: "g", ResourceID: "r"})
		}},
		{"assignment without resource", func(tx directory.Writer) error {
			return tx.PutAppRoleAssignment(ctx, &directory.AppRoleAssignment{TenantID: tenantA, ID: "a", PrincipalID: "p"})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Update(ctx, tc.put); err == nil {
				t.Fatal("stored a value that cannot be looked up")
			}
		})
	}
}
