package graph

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"portcullis/internal/directory"
)

func (h *Handler) routeGrants(q *request, m string, rest []string) error {
	switch len(rest) {
	case 0:
		switch m {
		case http.MethodGet:
			return h.listGrants(q)
		case http.MethodPost:
			return h.createGrant(q)
		}
		return methodNotAllowed(m)
	case 1:
		switch m {
		case http.MethodGet:
			g, err := h.grant(q, h.store, rest[0])
			if err != nil {
				return err
			}
			return q.entity(http.StatusOK, "oauth2PermissionGrants/$entity", permissionGrantOut(g))
		case http.MethodPatch:
			return h.patchGrant(q, rest[0])
		case http.MethodDelete:
			err := q.update(func(tx directory.Writer) error {
				if _, err := h.grant(q, tx, rest[0]); err != nil {
					return err
				}
				return tx.DeletePermissionGrant(q.ctx, q.tenant.ID, rest[0])
			})
			if err != nil {
				return err
			}
			return q.noContent()
		}
		return methodNotAllowed(m)
	}
	return notFound(fmt.Sprintf("Resource not found for the segment '%s'.", clip(rest[1])))
}

func (h *Handler) grant(q *request, r directory.Reader, id string) (*directory.PermissionGrant, error) {
	all, err := r.PermissionGrants(q.ctx, q.tenant.ID, "", "")
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ID == id {
			return &all[i], nil
		}
	}
	return nil, objectNotFound(id)
}

var grantFilters = filterable[directory.PermissionGrant]{
	"clientId":    {values: func(g *directory.PermissionGrant) []string { return []string{g.ClientID} }},
	"resourceId":  {values: func(g *directory.PermissionGrant) []string { return []string{g.ResourceID} }},
	"consentType": {values: func(g *directory.PermissionGrant) []string { return []string{g.ConsentType} }},
	"principalId": {values: func(g *directory.PermissionGrant) []string { return []string{g.PrincipalID} }},
	"id":          {values: func(g *directory.PermissionGrant) []string { return []string{g.ID} }},
}

func (h *Handler) listGrants(q *request) error {
	all, err := h.store.PermissionGrants(q.ctx, q.tenant.ID, "", "")
	if err != nil {
		return err
	}
	all, err = listQuery(q, all, grantFilters)
	if err != nil {
		return err
	}
	out := make([]permissionGrantJSON, 0, len(all))
	for i := range all {
		out = append(out, permissionGrantOut(&all[i]))
	}
	return q.collection("oauth2PermissionGrants", out)
}

type grantInput struct {
	ClientID    *string `json:"clientId"`
	ConsentType *string `json:"consentType"`
	PrincipalID *string `json:"principalId"`
	ResourceID  *string `json:"resourceId"`
	Scope       *string `json:"scope"`
	ID          *string `json:"id"`
}

// checkScopes refuses scope values the resource does not expose (a typo would otherwise
// grant nothing, silently).
func checkScopes(q *request, r directory.Reader, resource *directory.ServicePrincipal, scope string) error {
	app, err := r.ApplicationByAppID(q.ctx, q.tenant.ID, resource.AppID)
	if errors.Is(err, directory.ErrNotFound) {
		return nil // a resource registered elsewhere: its scopes are not known here
	}
	if err != nil {
		return err
	}
	for _, v := range strings.Fields(scope) {
		if _, ok := app.ScopeByValue(v); !ok {
			return badRequest("Scope '%s' is not a delegated permission of '%s' (it exposes: %s).", clip(v), app.DisplayName, exposed(app))
		}
	}
	return nil
}

func exposed(app *directory.Application) string {
	var v []string
	for _, s := range app.Scopes {
		v = append(v, s.Value)
	}
	if len(v) == 0 {
		return "no scopes"
	}
	return strings.Join(v, ", ")
}

func (h *Handler) createGrant(q *request) error {
	var in grantInput
	if err := q.decode(&in); err != nil {
		return err
	}
	if in.ID != nil {
		return badRequest("Property 'id' is read-only and cannot be set.")
	}
	for name, v := range map[string]*string{"clientId": in.ClientID, "resourceId": in.ResourceID} {
		if v == nil || !directory.IsGUID(*v) {
			return badRequest("Property '%s' is required and must be the object id of a service principal.", name)
		}
	}
	if in.ConsentType == nil || (*in.ConsentType != directory.ConsentAllPrincipals && *in.ConsentType != directory.ConsentPrincipal) {
		return badRequest("Property 'consentType' must be AllPrincipals (admin consent) or Principal.")
	}
	g := &directory.PermissionGrant{ID: directory.NewID(), TenantID: q.tenant.ID, ClientID: strings.ToLower(*in.ClientID),
		ConsentType: *in.ConsentType, ResourceID: strings.ToLower(*in.ResourceID)}
	if in.Scope != nil {
		g.Scope = strings.Join(strings.Fields(*in.Scope), " ")
	}
	switch {
	case g.ConsentType == directory.ConsentPrincipal && (in.PrincipalID == nil || !directory.IsGUID(*in.PrincipalID)):
		return badRequest("Property 'principalId' is required with consentType Principal: the user's object id.")
	case g.ConsentType == directory.ConsentAllPrincipals && in.PrincipalID != nil && *in.PrincipalID != "":
		return badRequest("Property 'principalId' must be null with consentType AllPrincipals.")
	case g.ConsentType == directory.ConsentPrincipal:
		g.PrincipalID = strings.ToLower(*in.PrincipalID)
	}
	err := q.update(func(tx directory.Writer) error {
		if _, err := tx.ServicePrincipal(q.ctx, q.tenant.ID, g.ClientID); err != nil {
			if errors.Is(err, directory.ErrNotFound) {
				return badRequest("The client service principal '%s' does not exist in this tenant.", g.ClientID)
			}
			return err
		}
		res, err := tx.ServicePrincipal(q.ctx, q.tenant.ID, g.ResourceID)
		if errors.Is(err, directory.ErrNotFound) {
			return badRequest("The resource service principal '%s' does not exist in this tenant.", g.ResourceID)
		}
		if err != nil {
			return err
		}
		if g.PrincipalID != "" {
			if _, err := tx.User(q.ctx, q.tenant.ID, g.PrincipalID); err != nil {
				if errors.Is(err, directory.ErrNotFound) {
					return badRequest("The principal '%s' is not a user of this tenant.", g.PrincipalID)
				}
				return err
			}
		}
		if err := checkScopes(q, tx, res, g.Scope); err != nil {
			return err
		}
		existing, err := tx.PermissionGrants(q.ctx, q.tenant.ID, g.ClientID, g.ResourceID)
		if err != nil {
			return err
		}
		for _, e := range existing {
			if e.ConsentType == g.ConsentType && strings.EqualFold(e.PrincipalID, g.PrincipalID) {
				return conflict(fmt.Sprintf("Permission entry already exists (oauth2PermissionGrant %s): PATCH its scope instead.", e.ID))
			}
		}
		return tx.PutPermissionGrant(q.ctx, g)
	})
	if err != nil {
		return err
	}
	q.w.Header().Set("Location", q.base+"/oauth2PermissionGrants/"+g.ID)
	return q.entity(http.StatusCreated, "oauth2PermissionGrants/$entity", permissionGrantOut(g))
}

func (h *Handler) patchGrant(q *request, id string) error {
	var in grantInput
	if err := q.decode(&in); err != nil {
		return err
	}
	if in.ClientID != nil || in.ResourceID != nil || in.ConsentType != nil || in.PrincipalID != nil || in.ID != nil {
		return badRequest("Only 'scope' can be changed on an oauth2PermissionGrant.")
	}
	if in.Scope == nil {
		return badRequest("Property 'scope' is required.")
	}
	err := q.update(func(tx directory.Writer) error {
		g, err := h.grant(q, tx, id)
		if err != nil {
			return err
		}
		res, err := tx.ServicePrincipal(q.ctx, q.tenant.ID, g.ResourceID)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return err
		}
		scope := strings.Join(strings.Fields(*in.Scope), " ")
		if res != nil {
			if err := checkScopes(q, tx, res, scope); err != nil {
				return err
			}
		}
		g.Scope = scope
		return tx.PutPermissionGrant(q.ctx, g)
	})
	if err != nil {
		return err
	}
	return q.noContent()
}
