package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"portcullis/internal/directory"
)

func (h *Handler) routeServicePrincipals(q *request, m string, rest []string) error {
	switch len(rest) {
	case 0:
		switch m {
		case http.MethodGet:
			return h.listServicePrincipals(q)
		case http.MethodPost:
			return h.createServicePrincipal(q)
		}
		return methodNotAllowed(m)
	case 1:
		switch m {
		case http.MethodGet:
			sp, err := h.servicePrincipal(q.ctx, h.store, q.tenant.ID, rest[0])
			if err != nil {
				return err
			}
			return q.entity(http.StatusOK, "servicePrincipals/$entity", h.spOut(q.ctx, h.store, q.tenant.ID, sp))
		case http.MethodPatch:
			return h.patchServicePrincipal(q, rest[0])
		case http.MethodDelete:
			err := q.update(func(tx directory.Writer) error {
				sp, err := h.servicePrincipal(q.ctx, tx, q.tenant.ID, rest[0])
				if err != nil {
					return err
				}
				return directory.DeleteServicePrincipal(q.ctx, tx, q.tenant.ID, sp.ID)
			})
			if err != nil {
				return err
			}
			return q.noContent()
		}
		return methodNotAllowed(m)
	case 2:
		switch rest[1] {
		case "appRoleAssignedTo":
			switch m {
			case http.MethodGet:
				return h.listAssignments(q, rest[0], false)
			case http.MethodPost:
				return h.assignAppRole(q, rest[0])
			}
			return methodNotAllowed(m)
		case "appRoleAssignments":
			switch m {
			case http.MethodGet:
				return h.listAssignments(q, rest[0], true)
			case http.MethodPost:
				return h.assignAppRole(q, "")
			}
			return methodNotAllowed(m)
		}
	case 3:
		if (rest[1] == "appRoleAssignedTo" || rest[1] == "appRoleAssignments") && m == http.MethodDelete {
			return h.deleteAssignment(q, rest[0], rest[2], rest[1] == "appRoleAssignments")
		}
		if rest[1] == "appRoleAssignedTo" || rest[1] == "appRoleAssignments" {
			return methodNotAllowed(m)
		}
	}
	return notFound(fmt.Sprintf("Resource not found for the segment '%s'.", clip(rest[len(rest)-1])))
}

// servicePrincipal finds a service principal by object id, or by appId when key is
// "appId=<guid>" (the route's rendering of servicePrincipals(appId='…')).
func (h *Handler) servicePrincipal(ctx context.Context, r directory.Reader, tenantID, key string) (*directory.ServicePrincipal, error) {
	var sp *directory.ServicePrincipal
	var err error
	label := key
	if appID, ok := strings.CutPrefix(key, spAppIDKey); ok {
		sp, err = r.ServicePrincipalByAppID(ctx, tenantID, appID)
		label = "servicePrincipals(appId='" + appID + "')"
	} else {
		sp, err = r.ServicePrincipal(ctx, tenantID, key)
	}
	if errors.Is(err, directory.ErrNotFound) {
		return nil, objectNotFound(label)
	}
	return sp, err
}

// spAppIDKey prefixes a service principal key that is an appId.
const spAppIDKey = "appId="

func (h *Handler) spOut(ctx context.Context, r directory.Reader, tenantID string, sp *directory.ServicePrincipal) servicePrincipalJSON {
	app, err := r.ApplicationByAppID(ctx, tenantID, sp.AppID)
	if err != nil {
		app = nil
	}
	return servicePrincipalOut(sp, app, tenantID)
}

var servicePrincipalFilters = filterable[servicePrincipalJSON]{
	"appId":                 {values: func(s *servicePrincipalJSON) []string { return []string{s.AppID} }},
	"id":                    {values: func(s *servicePrincipalJSON) []string { return []string{s.ID} }},
	"displayName":           {values: func(s *servicePrincipalJSON) []string { return []string{s.DisplayName} }},
	"servicePrincipalNames": {collection: true, values: func(s *servicePrincipalJSON) []string { return s.ServicePrincipalNames }},
}

func (h *Handler) listServicePrincipals(q *request) error {
	sps, err := h.store.ServicePrincipals(q.ctx, q.tenant.ID)
	if err != nil {
		return err
	}
	// Filters see what Graph shows, servicePrincipalNames included.
	out := make([]servicePrincipalJSON, 0, len(sps))
	for i := range sps {
		out = append(out, h.spOut(q.ctx, h.store, q.tenant.ID, &sps[i]))
	}
	out, err = listQuery(q, out, servicePrincipalFilters)
	if err != nil {
		return err
	}
	return q.collection("servicePrincipals", out)
}

type servicePrincipalInput struct {
	AppID                     *string         `json:"appId"`
	AccountEnabled            *bool           `json:"accountEnabled"`
	AppRoleAssignmentRequired *bool           `json:"appRoleAssignmentRequired"`
	Tags                      json.RawMessage `json:"tags"`
	DisplayName               json.RawMessage `json:"displayName"`
	ID                        json.RawMessage `json:"id"`
}

func (h *Handler) createServicePrincipal(q *request) error {
	var in servicePrincipalInput
	if err := q.decode(&in); err != nil {
		return err
	}
	if err := unsupported("tags", in.Tags); err != nil {
		return err
	}
	if in.AppID == nil || !directory.IsGUID(*in.AppID) {
		return badRequest("Property 'appId' is required: the application (client) ID whose service principal to create.")
	}
	var sp *directory.ServicePrincipal
	var app *directory.Application
	err := q.update(func(tx directory.Writer) error {
		var err error
		app, err = tx.ApplicationByAppID(q.ctx, q.tenant.ID, *in.AppID)
		if errors.Is(err, directory.ErrNotFound) {
			return badRequest("The appId '%s' of the service principal does not reference a valid application object.", *in.AppID)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ServicePrincipalByAppID(q.ctx, q.tenant.ID, app.AppID); err == nil {
			return conflict(fmt.Sprintf("A service principal for appId '%s' already exists in this tenant.", app.AppID))
		} else if !errors.Is(err, directory.ErrNotFound) {
			return err
		}
		sp = &directory.ServicePrincipal{ID: directory.NewID(), TenantID: q.tenant.ID, AppID: app.AppID,
			DisplayName: app.DisplayName, AccountEnabled: true, CreatedAt: q.now()}
		if in.AccountEnabled != nil {
			sp.AccountEnabled = *in.AccountEnabled
		}
		if in.AppRoleAssignmentRequired != nil {
			sp.AppRoleAssignmentRequired = *in.AppRoleAssignmentRequired
		}
		return tx.PutServicePrincipal(q.ctx, sp)
	})
	if err != nil {
		return err
	}
	q.w.Header().Set("Location", q.base+"/servicePrincipals/"+sp.ID)
	return q.entity(http.StatusCreated, "servicePrincipals/$entity", servicePrincipalOut(sp, app, q.tenant.ID))
}

func (h *Handler) patchServicePrincipal(q *request, key string) error {
	var in servicePrincipalInput
	if err := q.decode(&in); err != nil {
		return err
	}
	if err := unsupported("tags", in.Tags); err != nil {
		return err
	}
	err := q.update(func(tx directory.Writer) error {
		sp, err := h.servicePrincipal(q.ctx, tx, q.tenant.ID, key)
		if err != nil {
			return err
		}
		if in.AppID != nil && !strings.EqualFold(*in.AppID, sp.AppID) {
			return badRequest("Property 'appId' is read-only and cannot be set.")
		}
		if !isEmptyJSON(in.DisplayName) {
			return badRequest("Property 'displayName' of a service principal follows its application: PATCH the application.")
		}
		if in.AccountEnabled != nil {
			sp.AccountEnabled = *in.AccountEnabled
		}
		if in.AppRoleAssignmentRequired != nil {
			sp.AppRoleAssignmentRequired = *in.AppRoleAssignmentRequired
		}
		return tx.PutServicePrincipal(q.ctx, sp)
	})
	if err != nil {
		return err
	}
	return q.noContent()
}

// assignmentOut fills the display names Graph shows beside the ids.
func assignmentOut(ctx context.Context, r directory.Reader, a *directory.AppRoleAssignment) appRoleAssignmentJSON {
	out := appRoleAssignmentJSON{ID: a.ID, AppRoleID: a.AppRoleID, CreatedDateTime: graphTime(a.CreatedAt),
		PrincipalID: a.PrincipalID, PrincipalType: a.PrincipalType, ResourceID: a.ResourceID}
	if res, err := r.ServicePrincipal(ctx, a.TenantID, a.ResourceID); err == nil {
		out.ResourceDisplayName = res.DisplayName
	}
	switch a.PrincipalType {
	case directory.PrincipalUser:
		if u, err := r.User(ctx, a.TenantID, a.PrincipalID); err == nil {
			out.PrincipalDisplayName = u.DisplayName
		}
	default:
		if sp, err := r.ServicePrincipal(ctx, a.TenantID, a.PrincipalID); err == nil {
			out.PrincipalDisplayName = sp.DisplayName
		}
	}
	return out
}

// listAssignments lists the assignments of the service principal as resource (appRoleAssignedTo)
// or as principal (appRoleAssignments).
func (h *Handler) listAssignments(q *request, key string, asPrincipal bool) error {
	sp, err := h.servicePrincipal(q.ctx, h.store, q.tenant.ID, key)
	if err != nil {
		return err
	}
	var list []directory.AppRoleAssignment
	if asPrincipal {
		list, err = h.store.AppRoleAssignments(q.ctx, q.tenant.ID, sp.ID, "")
	} else {
		list, err = h.store.AppRoleAssignments(q.ctx, q.tenant.ID, "", sp.ID)
	}
	if err != nil {
		return err
	}
	list, err = listQuery(q, list, assignmentFilters)
	if err != nil {
		return err
	}
	out := make([]appRoleAssignmentJSON, 0, len(list))
	for i := range list {
		out = append(out, assignmentOut(q.ctx, h.store, &list[i]))
	}
	segment := "appRoleAssignedTo"
	if asPrincipal {
		segment = "appRoleAssignments"
	}
	return q.collection("servicePrincipals('"+sp.ID+"')/"+segment, out)
}

var assignmentFilters = filterable[directory.AppRoleAssignment]{
	"principalId": {values: func(a *directory.AppRoleAssignment) []string { return []string{a.PrincipalID} }},
	"resourceId":  {values: func(a *directory.AppRoleAssignment) []string { return []string{a.ResourceID} }},
	"appRoleId":   {values: func(a *directory.AppRoleAssignment) []string { return []string{a.AppRoleID} }},
}

type assignmentInput struct {
	PrincipalID          string          `json:"principalId"`
	ResourceID           string          `json:"resourceId"`
	AppRoleID            string          `json:"appRoleId"`
	PrincipalType        json.RawMessage `json:"principalType"`
	PrincipalDisplayName json.RawMessage `json:"principalDisplayName"`
	ResourceDisplayName  json.RawMessage `json:"resourceDisplayName"`
}

// assignAppRole creates an app role assignment. resourceKey is the path's service principal
// (appRoleAssignedTo: the resource); empty for appRoleAssignments, where the body names it.
func (h *Handler) assignAppRole(q *request, resourceKey string) error {
	var in assignmentInput
	if err := q.decode(&in); err != nil {
		return err
	}
	for name, v := range map[string]string{"principalId": in.PrincipalID, "resourceId": in.ResourceID, "appRoleId": in.AppRoleID} {
		if !directory.IsGUID(v) {
			return badRequest("Property '%s' is required and must be a GUID.", name)
		}
	}
	var created *directory.AppRoleAssignment
	var out appRoleAssignmentJSON
	err := q.update(func(tx directory.Writer) error {
		if resourceKey != "" {
			pathSP, err := h.servicePrincipal(q.ctx, tx, q.tenant.ID, resourceKey)
			if err != nil {
				return err
			}
			if !strings.EqualFold(pathSP.ID, in.ResourceID) {
				return badRequest("Property 'resourceId' must be the service principal in the path (%s).", pathSP.ID)
			}
		}
		res, err := tx.ServicePrincipal(q.ctx, q.tenant.ID, in.ResourceID)
		if errors.Is(err, directory.ErrNotFound) {
			return badRequest("The resource service principal '%s' does not exist in this tenant.", in.ResourceID)
		}
		if err != nil {
			return err
		}
		principalType := ""
		if _, err := tx.ServicePrincipal(q.ctx, q.tenant.ID, in.PrincipalID); err == nil {
			principalType = directory.PrincipalServicePrincipal
		} else if _, err := tx.User(q.ctx, q.tenant.ID, in.PrincipalID); err == nil {
			principalType = directory.PrincipalUser
		} else {
			return badRequest("The principal '%s' is neither a service principal nor a user of this tenant.", in.PrincipalID)
		}
		if in.AppRoleID != directory.DefaultAccessRoleID {
			app, err := tx.ApplicationByAppID(q.ctx, q.tenant.ID, res.AppID)
			if err != nil {
				return badRequest("The resource's application is not in this tenant, so its app roles are unknown.")
			}
			role, ok := app.AppRoleByID(in.AppRoleID)
			if !ok {
				return badRequest("Permission being assigned was not found on application '%s': no app role with id %s.", app.DisplayName, in.AppRoleID)
			}
			if !role.Enabled {
				return badRequest("App role '%s' is disabled and cannot be assigned.", role.Value)
			}
			member := directory.MemberTypeApplication
			if principalType == directory.PrincipalUser {
				member = directory.MemberTypeUser
			}
			if !role.Allows(member) {
				return badRequest("App role '%s' cannot be assigned to a %s: its allowedMemberTypes are %s.",
					role.Value, strings.ToLower(principalType), strings.Join(role.AllowedMemberTypes, ", "))
			}
		}
		existing, err := tx.AppRoleAssignments(q.ctx, q.tenant.ID, in.PrincipalID, res.ID)
		if err != nil {
			return err
		}
		for _, e := range existing {
			if strings.EqualFold(e.AppRoleID, in.AppRoleID) {
				return badRequest("Permission being assigned already exists on the object.")
			}
		}
		created = &directory.AppRoleAssignment{ID: directory.NewID(), TenantID: q.tenant.ID, PrincipalID: strings.ToLower(in.PrincipalID),
			PrincipalType: principalType, ResourceID: res.ID, AppRoleID: strings.ToLower(in.AppRoleID), CreatedAt: q.now()}
		if err := tx.PutAppRoleAssignment(q.ctx, created); err != nil {
			return err
		}
		out = assignmentOut(q.ctx, tx, created)
		return nil
	})
	if err != nil {
		return err
	}
	return q.entity(http.StatusCreated, "appRoleAssignments/$entity", out)
}

func (h *Handler) deleteAssignment(q *request, spKey, id string, asPrincipal bool) error {
	err := q.update(func(tx directory.Writer) error {
		sp, err := h.servicePrincipal(q.ctx, tx, q.tenant.ID, spKey)
		if err != nil {
			return err
		}
		var list []directory.AppRoleAssignment
		if asPrincipal {
			list, err = tx.AppRoleAssignments(q.ctx, q.tenant.ID, sp.ID, "")
		} else {
			list, err = tx.AppRoleAssignments(q.ctx, q.tenant.ID, "", sp.ID)
		}
		if err != nil {
			return err
		}
		for _, a := range list {
			if a.ID == id {
				return tx.DeleteAppRoleAssignment(q.ctx, q.tenant.ID, id)
			}
		}
		return objectNotFound(id)
	})
	if err != nil {
		return err
	}
	return q.noContent()
}
