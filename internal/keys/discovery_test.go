package keys

import (
	"strings"
	"testing"
)

func TestParseDiscovery(t *testing.T) {
	cases := []struct {
		name, doc, issuer, jwks, err string
	}{
		{name: "entra v2", doc: `{"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","jwks_uri":"https://login.microsoftonline.com/common/discovery/v2.0/keys","token_endpoint":"x"}`,
			issuer: "https://login.microsoftonline.com/{tenantid}/v2.0", jwks: "https://login.microsoftonline.com/common/discovery/v2.0/keys"},
		{name: "names are case-sensitive", doc: `{"ISSUER":"https://a","jwks_uri":"https://b"}`, err: `no "issuer"`},
		{name: "issuer not a string", doc: `{"issuer":5,"jwks_uri":"https://b"}`, err: "non-empty string"},
		{name: "empty jwks_uri", doc: `{"issuer":"https://a","jwks_uri":""}`, err: "non-empty string"},
		{name: "missing jwks_uri", doc: `{"issuer":"https://a"}`, err: `no "jwks_uri"`},
		{name: "HTML", doc: `<html>down</html>`, err: "not a JSON object"},
		{name: "truncated", doc: `{"issuer":"https://a","jwks_u`, err: "not a JSON object"},
		{name: "array", doc: `["issuer"]`, err: "not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iss, jwks, err := parseDiscovery([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || iss != tc.issuer || jwks != tc.jwks {
				t.Fatalf("got %q %q %v", iss, jwks, err)
			}
		})
	}
}

// FuzzParseDiscovery: any document gives either both members as non-empty strings or an
// error, never a panic.
func FuzzParseDiscovery(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://a/{tenantid}/v2.0","jwks_uri":"https://a/keys"}`))
	f.Add([]byte(`{"issuer":"a","issuer":"b","jwks_uri":"c"}`))
	f.Add([]byte(`{"issuer":"\u0000","jwks_uri":null}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		iss, jwks, err := parseDiscovery(doc)
		if err == nil && (iss == "" || jwks == "") {
			t.Fatalf("accepted %q with empty members", doc)
		}
	})
}
