package identity

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"portcullis/internal/directory"
)

// KeyInfo describes a signing key for the management API (never the private key).
type KeyInfo struct {
	KeyID       string     `json:"kid"`
	Status      string     `json:"status"` // next, current, previous
	CreatedAt   time.Time  `json:"createdDateTime"`
	RetiresAt   *time.Time `json:"retiresDateTime,omitempty"` // previous keys: when they leave the key set
	Certificate string     `json:"x5c"`
}

// KeyList is the management API's answer.
type KeyList struct {
	Context  string    `json:"@odata.context"`
	TenantID string    `json:"tenantId"`
	Value    []KeyInfo `json:"value"`
}

// Keys lists a tenant's published signing keys (creating the first ones if it has none).
func (s *Server) Keys(ctx context.Context, tenant string) (*KeyList, error) {
	t, err := s.resolveTenant(ctx, tenant, false)
	if err != nil {
		return nil, err
	}
	if t.Multi() {
		return nil, errUnknownTenant(tenant, false)
	}
	ks, err := s.keys.reload(ctx, t.Tenant.ID, false)
	if err != nil {
		return nil, err
	}
	return s.keyList(ks), nil
}

// RotateKeys rotates a tenant's signing keys: the published next key starts signing, a new
// next key is published, and the old current key stays published until every token it signed
// has expired.
func (s *Server) RotateKeys(ctx context.Context, tenant string) (*KeyList, error) {
	t, err := s.resolveTenant(ctx, tenant, false)
	if err != nil {
		return nil, err
	}
	if t.Multi() {
		return nil, errUnknownTenant(tenant, false)
	}
	ks, err := s.keys.rotate(ctx, t.Tenant.ID)
	if err != nil {
		return nil, err
	}
	s.log.Info("identity: signing keys rotated", "tenant", t.Tenant.ID, "current", ks.current.kid)
	return s.keyList(ks), nil
}

func (s *Server) keyList(ks *keySet) *KeyList {
	out := &KeyList{Context: s.publicURL + "/v1.0/$metadata#portcullis/keys", TenantID: ks.tenantID, Value: []KeyInfo{}}
	for _, k := range ks.published {
		info := KeyInfo{KeyID: k.kid, Status: k.status, CreatedAt: k.created.UTC(), Certificate: encodeCert(k.certDER)}
		if k.status == keyPrevious && !k.notAfter.IsZero() {
			t := k.notAfter.UTC()
			info.RetiresAt = &t
		}
		out.Value = append(out.Value, info)
	}
	return out
}

// KeysHandler serves the signing-key management API, for the admin listener beside the
// Graph API: GET lists and POST rotates a tenant's keys at /v1.0/portcullis/keys (tenant from
// the X-Portcullis-Tenant header) or /tenants/{tid}/v1.0/portcullis/keys. It requires
// "Authorization: Bearer <token>"; with an empty token the API is off (404), as CONTRACT.md
// has the management API off without an admin token.
func (s *Server) KeysHandler(token string) http.Handler {
	m := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			writeGraphError(w, http.StatusNotFound, "Request_ResourceNotFound", "The management API is off: no admin token is configured.")
			return
		}
		auth := r.Header.Get("Authorization")
		if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(auth[7:])), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeGraphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is missing or invalid.")
			return
		}
		tenant := r.PathValue("tid")
		if tenant == "" {
			tenant = r.Header.Get("X-Portcullis-Tenant")
		}
		if tenant == "" {
			tenants, err := s.store.Tenants(r.Context())
			if err == nil && len(tenants) == 1 {
				tenant = tenants[0].ID
			} else {
				writeGraphError(w, http.StatusBadRequest, "Request_BadRequest", "Name the tenant: /tenants/{tid}/v1.0/portcullis/keys or the X-Portcullis-Tenant header.")
				return
			}
		}
		var list *KeyList
		var err error
		switch r.Method {
		case http.MethodGet:
			list, err = s.Keys(r.Context(), tenant)
		case http.MethodPost:
			list, err = s.RotateKeys(r.Context(), tenant)
		default:
			w.Header().Set("Allow", "GET, POST")
			writeGraphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Use GET to list keys and POST to rotate them.")
			return
		}
		var pe *Error
		switch {
		case errors.As(err, &pe) && pe.Code == 90002:
			writeGraphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Tenant '"+tenant+"' was not found.")
			return
		case errors.Is(err, directory.ErrNotFound):
			writeGraphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Tenant '"+tenant+"' was not found.")
			return
		case err != nil:
			s.log.Error("identity: key management", "err", err)
			writeGraphError(w, http.StatusInternalServerError, "InternalServerError", "The keys could not be read or rotated.")
			return
		}
		// @odata.context names the management API as the caller reached it (the admin
		// listener), not the identity service.
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		list.Context = scheme + "://" + r.Host + "/v1.0/$metadata#portcullis/keys"
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(list)
	}
	m.HandleFunc("/v1.0/portcullis/keys", serve)
	m.HandleFunc("/tenants/{tid}/v1.0/portcullis/keys", serve)
	return m
}

func writeGraphError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
