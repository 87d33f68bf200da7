package identity

import (
	"net/http"
)

// grantClientCredentials issues an app-only token: roles are the resource's app roles
// assigned to the client's service principal (AADSTS1002012 without /.default).
func (s *Server) grantClientCredentials(r *http.Request, req *tokenRequest) (*issuedTokens, error) {
	if req.tenant.Multi() {
		return nil, errGrantNeedsTenant()
	}
	ctx := r.Context()
	c, err := s.authenticateClient(ctx, req, false)
	if err != nil {
		return nil, err
	}
	identifier, err := clientCredentialsResource(req)
	if err != nil {
		return nil, err
	}
	res, err := s.findResource(ctx, c.tenantID, identifier)
	if err != nil {
		return nil, err
	}
	roles, err := s.appRoles(ctx, c.tenantID, c.sp.ID, res, "Application")
	if err != nil {
		return nil, err
	}
	if res.sp.AppRoleAssignmentRequired && len(roles) == 0 {
		return nil, errRoleAssignmentRequired(c.app.AppID, c.app.DisplayName)
	}
	return s.mintAccessToken(ctx, &grantSubject{client: c, resource: res, roles: roles})
}

// clientCredentialsResource reads the resource of a client-credentials request: v1's
// resource parameter, or the one {resource}/.default scope (MSAL's extra OIDC scopes are
// ignored).
func clientCredentialsResource(req *tokenRequest) (string, error) {
	if req.version == 1 && req.resource != "" {
		return req.resource, nil
	}
	if req.scope == "" {
		if req.version == 1 {
			return "", errMissingParameter("resource")
		}
		return "", errMissingParameter("scope")
	}
	q, err := parseScopes(req.scope)
	if err != nil {
		return "", err
	}
	if q.resource == "" {
		return "", errScopeNeedsDefault(req.scope)
	}
	if !q.isDefault() {
		return "", errScopeNeedsDefault(req.scope)
	}
	return q.resource, nil
}
