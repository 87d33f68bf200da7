package policies

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portcullis/internal/corpus"
	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
)

// runCorpusDocument loads a corpus document as written, with the named values given, and runs
// c through it against srv.
func runCorpusDocument(t *testing.T, file string, named map[string]string, srv *backendServer, c call) *policy.Context {
	t.Helper()
	dir := corpus.Find("apim-policies")
	if dir == "" {
		t.Skip("corpus not found: ../shared/corpus/apim-policies is absent beside the repository")
	}
	src, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	l := &policy.Loader{Registry: Registry(Deps{}), Expressions: expr.Compile, NamedValues: named}
	doc, err := l.Load(file, src)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	p, err := l.Compile(nil, doc, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	ctx := newFlowContext(t, srv, c)
	_ = p.Run(ctx)
	return ctx
}

// The corpus's on-error answer to a failed validate-jwt: return-response with the status of
// the error response (context.Response.StatusCode read inside return-response) and its own text.
func TestCorpusCustomErrorForValidateJWT(t *testing.T) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	named := map[string]string{"base64-encoded-hashing-secret": b64std(secret)}
	const file = "snippets__examples__Use_custom_error_messages_for_jwt-validate_policy_with_on-error_handler.policy.xml"
	tests := []struct {
		name       string
		auth       string
		wantStatus int
		wantBody   string
	}{
		{"valid token", "Bearer " + signHS256(t, secret, "", claimsAt(now, "https://issuer.example", nil)), 200, "backend"},
		{"no token", "", 401, "Unauthorized. Access token is missing or invalid."},
		{"token signed with another key", "Bearer " + signHS256(t, []byte(strings.Repeat("k", 32)), "", claimsAt(now, "https://issuer.example", nil)), 401, "Unauthorized. Access token is missing or invalid."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBackendServer(t, nil)
			var h [][2]string
			if tt.auth != "" {
				h = append(h, [2]string{"Authorization", tt.auth})
			}
			ctx := runCorpusDocument(t, file, named, srv, call{path: "/x", header: h})
			if ctx.Response.StatusCode != tt.wantStatus || responseBody(t, ctx) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", ctx.Response.StatusCode, responseBody(t, ctx), tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus != 200 && srv.count() != 0 {
				t.Error("a refused request reached the backend")
			}
		})
	}
}

// The corpus's Liquid sample that lists the inbound headers.
func TestCorpusListInboundHeaders(t *testing.T) {
	srv := newBackendServer(t, nil)
	ctx := runCorpusDocument(t, "snippets__examples__List_all_inbound_headers.policy.xml", nil, srv,
		call{path: "/x", header: [][2]string{{"Accept", "text/plain"}, {"X-Trace", "abc"}}})
	body := responseBody(t, ctx)
	if ctx.Response.StatusCode != 200 || srv.count() != 0 {
		t.Fatalf("status %d, backend calls %d", ctx.Response.StatusCode, srv.count())
	}
	for _, want := range []string{"Accept: text/plain", "X-Trace: abc"} {
		if !strings.Contains(body, want) {
			t.Errorf("body %q does not list %q", body, want)
		}
	}
}
