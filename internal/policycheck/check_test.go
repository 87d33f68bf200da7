package policycheck

import "testing"

func TestTokenVersionOfURLs(t *testing.T) {
	tests := []struct {
		name      string
		url       string
		discovery tokenVersion
		issuer    tokenVersion
	}{
		{name: "entra v2 discovery", url: "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration", discovery: v2},
		{name: "entra v1 discovery", url: "https://login.microsoftonline.com/t/.well-known/openid-configuration", discovery: v1},
		{name: "portcullis v2 discovery", url: "https://127.0.0.1:9443/t/v2.0/.well-known/openid-configuration/", discovery: v2},
		{name: "other discovery", url: "https://accounts.example/.well-known/jwks.json"},
		{name: "entra v1 issuer", url: "https://sts.windows.net/t/", issuer: v1},
		{name: "entra v2 issuer", url: "https://login.microsoftonline.com/t/v2.0", issuer: v2},
		{name: "portcullis v1 issuer", url: "https://127.0.0.1:9443/t/", issuer: v1},
		{name: "issuer without trailing slash", url: "https://sts.windows.net/t"},
		{name: "not a URL", url: "contoso"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := discoveryVersion(tt.url); got != tt.discovery {
				t.Errorf("discoveryVersion = %v, want %v", got, tt.discovery)
			}
			if got := issuerVersion(tt.url); got != tt.issuer {
				t.Errorf("issuerVersion = %v, want %v", got, tt.issuer)
			}
		})
	}
}
