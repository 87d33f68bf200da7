package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"portcullis/internal/directory"
	"portcullis/internal/store/sqlite"
)

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"appId eq '6c1f0d2a-0000-4000-8000-0000000000b1'",
		"displayName eq 'it''s' and appId eq 'x'",
		"identifierUris/any(x:x eq 'api://a')",
		"startswith(displayName,'a')",
		"displayName eq 'x",
		"a/any(x:y eq 'v')",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		clauses, err := parseFilter(s)
		if err == nil && len(clauses) == 0 {
			t.Fatalf("%q: no error and no clause", s)
		}
		for _, c := range clauses {
			if c.prop == "" {
				t.Fatalf("%q: clause without a property", s)
			}
		}
	})
}

// FuzzApplicationBody posts arbitrary bodies: the answer is always a Graph answer (201 or a
// 4xx with Graph's error body), never a 5xx or a panic.
func FuzzApplicationBody(f *testing.F) {
	for _, s := range []string{
		`{"displayName":"x"}`,
		`{"displayName":"x","api":{"requestedAccessTokenVersion":2,"oauth2PermissionScopes":[{"id":"a1000000-0000-4000-8000-000000000001","value":"r","type":"User","isEnabled":true}]}}`,
		`{"displayName":"x","appRoles":[{"id":"b1000000-0000-4000-8000-000000000001","value":"r","allowedMemberTypes":["User"]}]}`,
		`{"displayName":"x","identifierUris":["api://x"],"@odata.type":"#microsoft.graph.application"}`,
		`{"displayName":"x","keyCredentials":[{"key":"AAAA"}]}`,
		`{"displayName":null}`, `[]`, `{`, `{"displayName":"x"} {}`,
	} {
		f.Add(s)
	}
	s, err := sqlite.Open(filepath.Join(f.TempDir(), sqlite.FileName))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const tid = "3f5b1c2e-0000-4000-8000-000000000001"
	if err := s.Update(ctx, func(tx directory.Writer) error { return tx.PutTenant(ctx, &directory.Tenant{ID: tid}) }); err != nil {
		f.Fatal(err)
	}
	h := New(s, Options{})
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v1.0/applications", strings.NewReader(body))
		req.Header.Set(TenantHeader, tid)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusCreated:
		case rec.Code >= 400 && rec.Code < 500:
			if !strings.Contains(rec.Body.String(), `"error":{"code":`) {
				t.Fatalf("%d without Graph's error body: %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
