// Package graph is the management API: the subset of Microsoft Graph v1.0 that app registration
// needs (applications and their credentials, service principals, app role assignments,
// oauth2PermissionGrants, users), with Graph's JSON shapes, $filter and error bodies, over a
// directory.Store. The tenant comes from a /tenants/{tid} path prefix or the X-Portcullis-Tenant
// header (or is the only tenant there is).
//
// The handler does no authentication: the admin listener (package admin) checks the admin
// token in front of it. Never mount it anywhere else.
package graph
