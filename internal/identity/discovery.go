package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
)

// discoveryV2 is the v2.0 OpenID configuration, fields in Entra's order. Fields Entra has
// that name endpoints Portcullis does not serve (kerberos_endpoint) are left out.
type discoveryV2 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

// discoveryV1 is the v1.0 document. check_session_iframe and kerberos_endpoint are Entra's
// but name endpoints Portcullis does not serve.
type discoveryV1 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	MicrosoftMultiRefreshToken        bool     `json:"microsoft_multi_refresh_token"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

var (
	authMethods   = []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}
	responseModes = []string{"query", "fragment", "form_post"}
	// Only the authorization code flow is served; Entra also lists implicit and hybrid types.
	responseTypes = []string{"code"}
	claimsV2      = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"}
	claimsV1      = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"}
)

// discoveryDocument builds the document for a resolved tenant. Endpoints of a tenant named by
// domain carry its GUID, as Entra's do; common and organizations keep their segment and get
// the {tenantid} template issuer.
func (s *Server) discoveryDocument(t tenantRef, version int) any {
	seg, issuerTenant := t.Segment, "{tenantid}"
	var region *string
	if !t.Multi() {
		seg, issuerTenant = t.Tenant.ID, t.Tenant.ID
		ww := "WW"
		region = &ww
	}
	base := s.publicURL + "/" + seg
	if version == 2 {
		return discoveryV2{
			TokenEndpoint:                     base + "/oauth2/v2.0/token",
			TokenEndpointAuthMethodsSupported: authMethods,
			JWKSURI:                           base + "/discovery/v2.0/keys",
			ResponseModesSupported:            responseModes,
			SubjectTypesSupported:             []string{"pairwise"},
			IDTokenSigningAlgValuesSupported:  []string{"RS256"},
			ResponseTypesSupported:            responseTypes,
			ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
			Issuer:                            s.issuerV2(issuerTenant),
			RequestURIParameterSupported:      false,
			UserinfoEndpoint:                  s.publicURL + "/oidc/userinfo",
			AuthorizationEndpoint:             base + "/oauth2/v2.0/authorize",
			DeviceAuthorizationEndpoint:       base + "/oauth2/v2.0/devicecode",
			HTTPLogoutSupported:               true,
			FrontchannelLogoutSupported:       true,
			EndSessionEndpoint:                base + "/oauth2/v2.0/logout",
			ClaimsSupported:                   claimsV2,
			TenantRegionScope:                 region,
			CloudInstanceName:                 s.host,
			CloudGraphHostName:                s.host,
			MSGraphHost:                       s.host,
			RBACURL:                           s.publicURL,
		}
	}
	return discoveryV1{
		TokenEndpoint:                     base + "/oauth2/token",
		TokenEndpointAuthMethodsSupported: authMethods,
		JWKSURI:                           s.publicURL + "/common/discovery/keys",
		ResponseModesSupported:            responseModes,
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            responseTypes,
		ScopesSupported:                   []string{"openid"},
		Issuer:                            s.issuerV1(issuerTenant),
		MicrosoftMultiRefreshToken:        true,
		AuthorizationEndpoint:             base + "/oauth2/authorize",
		DeviceAuthorizationEndpoint:       base + "/oauth2/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                base + "/oauth2/logout",
		ClaimsSupported:                   claimsV1,
		UserinfoEndpoint:                  base + "/openid/userinfo",
		TenantRegionScope:                 region,
		CloudInstanceName:                 s.host,
		CloudGraphHostName:                s.host,
		MSGraphHost:                       s.host,
		RBACURL:                           s.publicURL,
	}
}

func (s *Server) handleDiscovery(version int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := s.resolveTenant(r.Context(), r.PathValue("tenant"), true)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeMetadata(w, s.discoveryDocument(t, version))
	}
}

// jwk is one key of a key set, fields in Entra's order.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"`
}

type jwks struct {
	Keys []jwk `json:"keys"`
}

// keySetDocument lists the published keys of the tenant, or of every tenant for common and
// organizations (their tokens may come from any tenant).
func (s *Server) keySetDocument(ctx context.Context, t tenantRef, version int) (jwks, error) {
	var tenants []string
	if t.Multi() {
		all, err := s.store.Tenants(ctx)
		if err != nil {
			return jwks{}, err
		}
		for _, x := range all {
			tenants = append(tenants, x.ID)
		}
	} else {
		tenants = []string{t.Tenant.ID}
	}
	doc := jwks{Keys: []jwk{}}
	for _, tid := range tenants {
		ks, err := s.keys.forTenant(ctx, tid)
		if err != nil {
			return jwks{}, err
		}
		for _, k := range ks.published {
			j := jwk{
				Kty: "RSA", Use: "sig", Kid: k.kid, X5t: k.kid,
				N:   base64.RawURLEncoding.EncodeToString(k.private.N.Bytes()),
				E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.private.E)).Bytes()),
				X5c: []string{base64.StdEncoding.EncodeToString(k.certDER)},
			}
			if version == 2 {
				j.Issuer = s.publicURL + "/{tenantid}/v2.0"
			}
			doc.Keys = append(doc.Keys, j)
		}
	}
	return doc, nil
}

func (s *Server) handleJWKS(version int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := s.resolveTenant(r.Context(), r.PathValue("tenant"), true)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		doc, err := s.keySetDocument(r.Context(), t, version)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeMetadata(w, doc)
	}
}

// writeMetadata answers with Entra's metadata headers.
func writeMetadata(w http.ResponseWriter, doc any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "max-age=86400, private")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	_ = json.NewEncoder(w).Encode(doc)
}
