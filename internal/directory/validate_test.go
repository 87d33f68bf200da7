package directory_test

import (
	"errors"
	"strings"
	"testing"

	"portcullis/internal/directory"
)

func TestURIAndValueRules(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) error
		in    string
		ok    bool
	}{
		{"api URI", directory.CheckIdentifierURI, "api://6c1f0d2a-0000-4000-8000-0000000000b1", true},
		{"https URI", directory.CheckIdentifierURI, "https://contoso.example/api", true},
		{"urn", directory.CheckIdentifierURI, "urn:contoso:api", true},
		{"http URI", directory.CheckIdentifierURI, "http://contoso.example", false},
		{"relative URI", directory.CheckIdentifierURI, "backend", false},
		{"URI with a fragment", directory.CheckIdentifierURI, "api://x#y", false},
		{"wildcard URI", directory.CheckIdentifierURI, "api://*.contoso", false},
		{"api URI without host", directory.CheckIdentifierURI, "api:///path", false},
		{"https redirect", directory.CheckRedirectURI, "https://app.example/callback", true},
		{"loopback http redirect", directory.CheckRedirectURI, "http://localhost:5000/callback", true},
		{"127.0.0.1 http redirect", directory.CheckRedirectURI, "http://127.0.0.1/cb", true},
		{"IPv6 loopback redirect", directory.CheckRedirectURI, "http://[::1]:8400/", true},
		{"native scheme redirect", directory.CheckRedirectURI, "msal0b7e9d4c://auth", true},
		{"http redirect off loopback", directory.CheckRedirectURI, "http://app.example/cb", false},
		{"localhost look-alike", directory.CheckRedirectURI, "http://localhost.evil.example/cb", false},
		{"redirect with a fragment", directory.CheckRedirectURI, "https://app.example/cb#x", false},
		{"wildcard redirect", directory.CheckRedirectURI, "https://*.app.example/cb", false},
		{"relative redirect", directory.CheckRedirectURI, "/callback", false},
		{"https without host", directory.CheckRedirectURI, "https:///cb", false},
		{"permission value", directory.CheckPermissionValue, "Files.Read.All", true},
		{"value with a space", directory.CheckPermissionValue, "Files Read", false},
		{"value with a tab", directory.CheckPermissionValue, "Files\tRead", false},
		{"value starting with a dot", directory.CheckPermissionValue, ".default", false},
		{"non-ASCII value", directory.CheckPermissionValue, "Fichiers.Lire.é", false},
		{"long value", directory.CheckPermissionValue, strings.Repeat("a", 121), false},
		{"empty value", directory.CheckPermissionValue, "", false},
		{"UPN", directory.CheckUserPrincipalName, "alice@contoso.example", true},
		{"UPN without domain", directory.CheckUserPrincipalName, "alice@", false},
		{"UPN with two @", directory.CheckUserPrincipalName, "a@b@c", false},
		{"UPN with a space", directory.CheckUserPrincipalName, "al ice@contoso.example", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check(tc.in)
			if tc.ok && err != nil {
				t.Fatalf("%q refused: %v", tc.in, err)
			}
			if !tc.ok && !errors.Is(err, directory.ErrInvalid) {
				t.Fatalf("%q: got %v, want ErrInvalid", tc.in, err)
			}
		})
	}
}

func TestApplicationCheck(t *testing.T) {
	valid := func() *directory.Application {
		return &directory.Application{DisplayName: "api", AppID: "6c1f0d2a-0000-4000-8000-0000000000b1", SignInAudience: "AzureADMyOrg",
			Scopes:   []directory.Scope{{ID: "a1000000-0000-4000-8000-000000000001", Value: "read", Type: "User", Enabled: true}},
			AppRoles: []directory.AppRole{{ID: "b1000000-0000-4000-8000-000000000001", Value: "read", AllowedMemberTypes: []string{"Application"}}}}
	}
	if err := valid().Check(); err != nil {
		t.Fatalf("a valid application is refused: %v", err)
	}
	tests := []struct {
		name string
		edit func(a *directory.Application)
		want string
	}{
		{"no name", func(a *directory.Application) { a.DisplayName = " " }, "displayName"},
		{"bad appId", func(a *directory.Application) { a.AppID = "x" }, "appId"},
		{"bad audience", func(a *directory.Application) { a.SignInAudience = "All" }, "signInAudience"},
		{"token version 3", func(a *directory.Application) { a.AccessTokenVersion = 3 }, "requestedAccessTokenVersion"},
		{"duplicate URI", func(a *directory.Application) { a.IdentifierURIs = []string{"api://x", "api://x"} }, "twice"},
		{"scope and role share an id", func(a *directory.Application) { a.AppRoles[0].ID = a.Scopes[0].ID }, "already used"},
		{"two scopes, one value", func(a *directory.Application) {
			a.Scopes = append(a.Scopes, directory.Scope{ID: "a1000000-0000-4000-8000-000000000002", Value: "read", Type: "User"})
		}, "used twice"},
		{"scope type", func(a *directory.Application) { a.Scopes[0].Type = "Everyone" }, "User or Admin"},
		{"role member type", func(a *directory.Application) { a.AppRoles[0].AllowedMemberTypes = []string{"Group"} }, "Group"},
		{"password without hash", func(a *directory.Application) {
			a.Passwords = []directory.PasswordCredential{{KeyID: "c1000000-0000-4000-8000-000000000001", Hash: "plain"}}
		}, "sha256"},
		{"resource access type", func(a *directory.Application) {
			a.RequiredResourceAccess = []directory.RequiredResourceAccess{{ResourceAppID: a.AppID,
				Access: []directory.ResourceAccess{{ID: a.Scopes[0].ID, Type: "Delegated"}}}}
		}, "Scope or Role"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := valid()
			tc.edit(a)
			err := a.Check()
			if !errors.Is(err, directory.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func TestStableID(t *testing.T) {
	a := directory.StableID("6c1f0d2a-0000-4000-8000-0000000000b1", "scope", "read")
	if a != directory.StableID("6c1f0d2a-0000-4000-8000-0000000000b1", "scope", "read") || !directory.IsGUID(a) {
		t.Fatalf("StableID is not a stable GUID: %s", a)
	}
	// Parts are separated: ("ab","c") and ("a","bc") differ.
	if directory.StableID("ab", "c") == directory.StableID("a", "bc") || a == directory.StableID("6c1f0d2a-0000-4000-8000-0000000000b1", "role", "read") {
		t.Fatal("StableID collides across different parts")
	}
}
