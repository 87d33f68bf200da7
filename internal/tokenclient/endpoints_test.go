package tokenclient_test

import (
	"errors"
	"testing"

	"portcullis/internal/tokenclient"
)

func TestFromAuthority(t *testing.T) {
	tests := []struct {
		name, authority, tenant string
		version                 int
		want                    tokenclient.Endpoints
		wantErr                 bool
	}{
		{name: "tenant in the URL, v2", authority: "https://login.example/contoso.example", version: 2,
			want: tokenclient.Endpoints{Token: "https://login.example/contoso.example/oauth2/v2.0/token", DeviceCode: "https://login.example/contoso.example/oauth2/v2.0/devicecode", Authorize: "https://login.example/contoso.example/oauth2/v2.0/authorize", Version: 2}},
		{name: "issuer form with v2.0 and a slash", authority: "https://127.0.0.1:9443/3f5b1c2e-0000-4000-8000-000000000001/v2.0/", version: 2,
			want: tokenclient.Endpoints{Token: "https://127.0.0.1:9443/3f5b1c2e-0000-4000-8000-000000000001/oauth2/v2.0/token", DeviceCode: "https://127.0.0.1:9443/3f5b1c2e-0000-4000-8000-000000000001/oauth2/v2.0/devicecode", Authorize: "https://127.0.0.1:9443/3f5b1c2e-0000-4000-8000-000000000001/oauth2/v2.0/authorize", Version: 2}},
		{name: "tenant given apart, v1", authority: "https://login.example", tenant: "t1", version: 1,
			want: tokenclient.Endpoints{Token: "https://login.example/t1/oauth2/token", DeviceCode: "https://login.example/t1/oauth2/devicecode", Authorize: "https://login.example/t1/oauth2/authorize", Version: 1}},
		{name: "same tenant twice", authority: "https://login.example/T1", tenant: "t1", version: 2,
			want: tokenclient.Endpoints{Token: "https://login.example/T1/oauth2/v2.0/token", DeviceCode: "https://login.example/T1/oauth2/v2.0/devicecode", Authorize: "https://login.example/T1/oauth2/v2.0/authorize", Version: 2}},
		{name: "http on loopback", authority: "http://localhost:9000/t", version: 2,
			want: tokenclient.Endpoints{Token: "http://localhost:9000/t/oauth2/v2.0/token", DeviceCode: "http://localhost:9000/t/oauth2/v2.0/devicecode", Authorize: "http://localhost:9000/t/oauth2/v2.0/authorize", Version: 2}},
		{name: "two tenants", authority: "https://login.example/a", tenant: "b", version: 2, wantErr: true},
		{name: "no tenant", authority: "https://login.example/", version: 2, wantErr: true},
		{name: "http off loopback", authority: "http://login.example/t", version: 2, wantErr: true},
		{name: "http on a host that only starts like loopback", authority: "http://127.evil.example/t", version: 2, wantErr: true},
		{name: "deeper path", authority: "https://login.example/t/oauth2", version: 2, wantErr: true},
		{name: "not a URL", authority: "login.example/t", version: 2, wantErr: true},
		{name: "query", authority: "https://login.example/t?x=1", version: 2, wantErr: true},
		{name: "bad version", authority: "https://login.example/t", version: 3, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tokenclient.FromAuthority(tc.authority, tc.tenant, tc.version)
			if tc.wantErr {
				if !errors.Is(err, tokenclient.ErrEndpoint) {
					t.Fatalf("got %+v, %v; want ErrEndpoint", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestFromTokenURL(t *testing.T) {
	tests := []struct {
		name, url string
		want      tokenclient.Endpoints
		wantErr   bool
	}{
		{name: "v2", url: "https://127.0.0.1:9443/t/oauth2/v2.0/token",
			want: tokenclient.Endpoints{Token: "https://127.0.0.1:9443/t/oauth2/v2.0/token", DeviceCode: "https://127.0.0.1:9443/t/oauth2/v2.0/devicecode", Authorize: "https://127.0.0.1:9443/t/oauth2/v2.0/authorize", Version: 2}},
		{name: "v1", url: "https://login.example/t/oauth2/token",
			want: tokenclient.Endpoints{Token: "https://login.example/t/oauth2/token", DeviceCode: "https://login.example/t/oauth2/devicecode", Authorize: "https://login.example/t/oauth2/authorize", Version: 1}},
		{name: "another shape", url: "https://idp.example/connect/token",
			want: tokenclient.Endpoints{Token: "https://idp.example/connect/token", Version: 2}},
		{name: "plain http elsewhere", url: "http://idp.example/token", wantErr: true},
		{name: "credentials in the URL", url: "https://user:pw@idp.example/token", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tokenclient.FromTokenURL(tc.url)
			if tc.wantErr {
				if !errors.Is(err, tokenclient.ErrEndpoint) {
					t.Fatalf("got %+v, %v; want ErrEndpoint", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  tokenclient.Error
		want string
	}{
		{name: "AADSTS with trace lines and a known fix",
			err:  tokenclient.Error{Endpoint: "token", Code: "invalid_client", Codes: []int{7000215}, Description: "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: x\r\nCorrelation ID: y\r\nTimestamp: z"},
			want: "AADSTS7000215: Invalid client secret provided. Fix: check the client secret (--client-secret or PORTCULLIS_CLIENT_SECRET): use the secret's value, shown once when it was created, not its ID."},
		{name: "code only in the description",
			err:  tokenclient.Error{Endpoint: "token", Code: "invalid_request", Description: "AADSTS90002: Tenant 'x' not found. Check to make sure."},
			want: "AADSTS90002: Tenant 'x' not found. Fix: check --tenant (the tenant GUID or a verified domain) or the authority URL."},
		{name: "another server without AADSTS",
			err:  tokenclient.Error{Endpoint: "token", Code: "invalid_grant", Description: "Code not valid"},
			want: "invalid_grant: Code not valid."},
		{name: "no description, fix by error code",
			err:  tokenclient.Error{Endpoint: "token", Code: "invalid_client", StatusCode: 401},
			want: "The token endpoint answered invalid_client. Fix: check the client ID and its credential (secret, or certificate and key)."},
		{name: "nothing at all",
			err:  tokenclient.Error{Endpoint: "device code", StatusCode: 500},
			want: "The device code endpoint refused the request (HTTP 500)."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
