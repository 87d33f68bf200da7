package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// These operations keep the directory consistent across objects; each runs inside the caller's
// Update, so it succeeds or changes nothing.

// EnsureServicePrincipal returns the application's service principal in its tenant, creating it
// (enabled) when there is none, and keeping its display name in step with the application's.
func EnsureServicePrincipal(ctx context.Context, tx Writer, app *Application, now time.Time) (*ServicePrincipal, error) {
	sp, err := tx.ServicePrincipalByAppID(ctx, app.TenantID, app.AppID)
	switch {
	case err == nil:
		if sp.DisplayName != app.DisplayName {
			sp.DisplayName = app.DisplayName
			if err := tx.PutServicePrincipal(ctx, sp); err != nil {
				return nil, err
			}
		}
		return sp, nil
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	sp = &ServicePrincipal{
		ID: NewID(), TenantID: app.TenantID, AppID: app.AppID, DisplayName: app.DisplayName,
		AccountEnabled: true, CreatedAt: now,
	}
	if err := tx.PutServicePrincipal(ctx, sp); err != nil {
		return nil, err
	}
	return sp, nil
}

// DeleteApplication deletes an application and, as Entra does in the home tenant, its service
// principal with the consent and assignments that name it.
func DeleteApplication(ctx context.Context, tx Writer, tenantID, objectID string) error {
	app, err := tx.Application(ctx, tenantID, objectID)
	if err != nil {
		return err
	}
	if err := tx.DeleteApplication(ctx, tenantID, objectID); err != nil {
		return err
	}
	sp, err := tx.ServicePrincipalByAppID(ctx, tenantID, app.AppID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return DeleteServicePrincipal(ctx, tx, tenantID, sp.ID)
}

// DeleteServicePrincipal deletes a service principal with the permission grants and app role
// assignments in which it is the client, the principal or the resource.
func DeleteServicePrincipal(ctx context.Context, tx Writer, tenantID, spID string) error {
	if err := tx.DeleteServicePrincipal(ctx, tenantID, spID); err != nil {
		return err
	}
	var grants []PermissionGrant
	for _, q := range [][2]string{{spID, ""}, {"", spID}} {
		g, err := tx.PermissionGrants(ctx, tenantID, q[0], q[1])
		if err != nil {
			return err
		}
		grants = append(grants, g...)
	}
	for _, g := range grants {
		if err := tx.DeletePermissionGrant(ctx, tenantID, g.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return deleteAssignments(ctx, tx, tenantID, spID, true)
}

// DeleteUser deletes a user with the user's consent grants and app role assignments.
func DeleteUser(ctx context.Context, tx Writer, tenantID, userID string) error {
	if err := tx.DeleteUser(ctx, tenantID, userID); err != nil {
		return err
	}
	grants, err := tx.PermissionGrants(ctx, tenantID, "", "")
	if err != nil {
		return err
	}
	for _, g := range grants {
		if g.ConsentType == ConsentPrincipal && strings.EqualFold(g.PrincipalID, userID) {
			if err := tx.DeletePermissionGrant(ctx, tenantID, g.ID); err != nil {
				return err
			}
		}
	}
	return deleteAssignments(ctx, tx, tenantID, userID, false)
}

func deleteAssignments(ctx context.Context, tx Writer, tenantID, id string, asResourceToo bool) error {
	queries := [][2]string{{id, ""}}
	if asResourceToo {
		queries = append(queries, [2]string{"", id})
	}
	for _, q := range queries {
		list, err := tx.AppRoleAssignments(ctx, tenantID, q[0], q[1])
		if err != nil {
			return err
		}
		for _, a := range list {
			if err := tx.DeleteAppRoleAssignment(ctx, tenantID, a.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// GrantAdminConsent records tenant-wide (AllPrincipals) consent for client to the delegated
// scopes of resource, merging them into an existing AllPrincipals grant for the pair.
func GrantAdminConsent(ctx context.Context, tx Writer, tenantID, clientSPID, resourceSPID string, scopes []string) (*PermissionGrant, error) {
	existing, err := tx.PermissionGrants(ctx, tenantID, clientSPID, resourceSPID)
	if err != nil {
		return nil, err
	}
	for i := range existing {
		g := &existing[i]
		if g.ConsentType != ConsentAllPrincipals {
			continue
		}
		merged := MergeScopes(g.Scope, scopes)
		if merged != g.Scope {
			g.Scope = merged
			if err := tx.PutPermissionGrant(ctx, g); err != nil {
				return nil, err
			}
		}
		return g, nil
	}
	g := &PermissionGrant{ID: NewID(), TenantID: tenantID, ClientID: clientSPID, ConsentType: ConsentAllPrincipals,
		ResourceID: resourceSPID, Scope: MergeScopes("", scopes)}
	if err := tx.PutPermissionGrant(ctx, g); err != nil {
		return nil, err
	}
	return g, nil
}

// MergeScopes adds scopes to a space-separated scope string, keeping order and dropping
// duplicates.
func MergeScopes(have string, add []string) string {
	out := strings.Fields(have)
	for _, s := range add {
		for _, f := range strings.Fields(s) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return strings.Join(out, " ")
}

// AssignAppRole gives principal the app role of resource, unless it has it already; it returns
// the assignment either way.
func AssignAppRole(ctx context.Context, tx Writer, a AppRoleAssignment, now time.Time) (*AppRoleAssignment, error) {
	existing, err := tx.AppRoleAssignments(ctx, a.TenantID, a.PrincipalID, a.ResourceID)
	if err != nil {
		return nil, err
	}
	for i := range existing {
		if strings.EqualFold(existing[i].AppRoleID, a.AppRoleID) {
			return &existing[i], nil
		}
	}
	if a.ID == "" {
		a.ID = NewID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	if err := tx.PutAppRoleAssignment(ctx, &a); err != nil {
		return nil, fmt.Errorf("app role assignment: %w", err)
	}
	return &a, nil
}

// RequireAccess adds permissions of resourceAppID to the application's requiredResourceAccess,
// keeping what is there.
func (a *Application) RequireAccess(resourceAppID string, access ...ResourceAccess) {
	var rra *RequiredResourceAccess
	for i := range a.RequiredResourceAccess {
		if strings.EqualFold(a.RequiredResourceAccess[i].ResourceAppID, resourceAppID) {
			rra = &a.RequiredResourceAccess[i]
		}
	}
	if rra == nil {
		a.RequiredResourceAccess = append(a.RequiredResourceAccess, RequiredResourceAccess{ResourceAppID: resourceAppID})
		rra = &a.RequiredResourceAccess[len(a.RequiredResourceAccess)-1]
	}
	for _, ra := range access {
		if !slices.ContainsFunc(rra.Access, func(x ResourceAccess) bool { return strings.EqualFold(x.ID, ra.ID) && x.Type == ra.Type }) {
			rra.Access = append(rra.Access, ra)
		}
	}
}
