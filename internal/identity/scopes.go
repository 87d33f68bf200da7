package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"portcullis/internal/directory"
)

// oidcScopes are the OpenID Connect scopes; they name no resource.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "email": true, "offline_access": true}

// graphAppID is Microsoft Graph's client ID. A user sign-in that names no resource gets a
// token for it, as Entra does, which Portcullis's userinfo endpoint accepts.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// scopeRequest is a parsed scope parameter: at most one resource.
type scopeRequest struct {
	oidc        []string // requested OIDC scopes, in order
	resource    string   // the identifier as requested (App ID URI or app ID); "" for none
	permissions []string // permission values on that resource; ".default" stays as is
}

func (q scopeRequest) has(oidc string) bool { return slices.Contains(q.oidc, oidc) }

// isDefault reports a /.default request.
func (q scopeRequest) isDefault() bool {
	return len(q.permissions) == 1 && q.permissions[0] == ".default"
}

// parseScopes splits a scope parameter. Scopes of two resources in one request are refused
// (AADSTS700022); a bare permission names Microsoft Graph, as in Entra.
func parseScopes(scope string) (scopeRequest, error) {
	var q scopeRequest
	for _, sc := range strings.Fields(scope) {
		if oidcScopes[strings.ToLower(sc)] {
			if !q.has(strings.ToLower(sc)) {
				q.oidc = append(q.oidc, strings.ToLower(sc))
			}
			continue
		}
		resource, perm := "https://graph.microsoft.com", sc
		if i := strings.LastIndex(sc, "/"); i >= 0 {
			resource, perm = sc[:i], sc[i+1:]
		}
		if resource == "" || perm == "" {
			return q, errInvalidScope(sc)
		}
		if q.resource != "" && q.resource != resource {
			return q, errScopeMultipleResources(scope)
		}
		q.resource = resource
		if !slices.Contains(q.permissions, perm) {
			q.permissions = append(q.permissions, perm)
		}
	}
	if len(q.permissions) > 1 && slices.Contains(q.permissions, ".default") {
		return q, newError(70011, "invalid_scope", 400,
			"The provided value for the input parameter 'scope' is not valid. The scope '%s' combines /.default with other scopes of the same resource.", scope)
	}
	return q, nil
}

// resource is the API a token is for.
type resource struct {
	app *directory.Application
	sp  *directory.ServicePrincipal
	// audience is what v1 tokens carry in aud: the identifier the client asked for.
	audience string
}

// findResource resolves an App ID URI or app ID to the resource app and its service principal.
func (s *Server) findResource(ctx context.Context, tid, identifier string) (*resource, error) {
	app, err := s.dir.ApplicationByIdentifierURI(ctx, tid, identifier)
	if errors.Is(err, directory.ErrNotFound) {
		if _, perr := uuid.Parse(identifier); perr == nil {
			app, err = s.dir.ApplicationByAppID(ctx, tid, identifier)
		}
	}
	if errors.Is(err, directory.ErrNotFound) {
		return nil, errResourceNotFound(identifier, tid)
	}
	if err != nil {
		return nil, fmt.Errorf("find resource: %w", err)
	}
	sp, err := s.dir.ServicePrincipalByAppID(ctx, tid, app.AppID)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, errResourceNotFound(identifier, tid)
	}
	if err != nil {
		return nil, fmt.Errorf("find resource service principal: %w", err)
	}
	return &resource{app: app, sp: sp, audience: identifier}, nil
}

// checkPermissions refuses permissions the resource does not expose or has disabled.
func checkPermissions(res *resource, perms []string) error {
	for _, p := range perms {
		if p == ".default" {
			continue
		}
		i := slices.IndexFunc(res.app.Scopes, func(sc directory.Scope) bool { return sc.Value == p })
		if i < 0 || !res.app.Scopes[i].Enabled {
			return errInvalidScope(res.audience + "/" + p)
		}
	}
	return nil
}

// appRoles maps role assignments of principal on the resource to role values the resource
// still defines and enables for memberType (Application or User).
func (s *Server) appRoles(ctx context.Context, tid, principalID string, res *resource, memberType string) ([]string, error) {
	assignments, err := s.dir.AppRoleAssignments(ctx, tid, principalID, res.sp.ID)
	if err != nil {
		return nil, fmt.Errorf("read app role assignments: %w", err)
	}
	var roles []string
	for _, a := range assignments {
		for _, role := range res.app.AppRoles {
			if role.ID == a.AppRoleID && role.Enabled && slices.Contains(role.AllowedMemberTypes, memberType) && !slices.Contains(roles, role.Value) {
				roles = append(roles, role.Value)
			}
		}
	}
	sort.Strings(roles)
	return roles, nil
}

// delegatedScopes decides the scp of a delegated token: the permissions asked for (all
// granted ones for /.default) that the client holds consent for, for this user or all users.
// A permission without consent is AADSTS65001.
func (s *Server) delegatedScopes(ctx context.Context, c *client, res *resource, userID string, perms []string) ([]string, error) {
	grants, err := s.dir.PermissionGrants(ctx, c.tenantID, c.sp.ID, res.sp.ID)
	if err != nil {
		return nil, fmt.Errorf("read permission grants: %w", err)
	}
	granted := map[string]bool{}
	for _, g := range grants {
		if g.ConsentType == "AllPrincipals" || (g.ConsentType == "Principal" && g.PrincipalID == userID) {
			for _, v := range strings.Fields(g.Scope) {
				granted[v] = true
			}
		}
	}
	var scp []string
	if len(perms) == 0 || (len(perms) == 1 && perms[0] == ".default") {
		for _, sc := range res.app.Scopes {
			if sc.Enabled && granted[sc.Value] {
				scp = append(scp, sc.Value)
			}
		}
		if len(scp) == 0 {
			return nil, errConsentRequired(c.app.AppID, c.app.DisplayName)
		}
		return scp, nil
	}
	for _, p := range perms {
		if !granted[p] {
			return nil, errConsentRequired(c.app.AppID, c.app.DisplayName)
		}
		scp = append(scp, p)
	}
	return scp, nil
}
