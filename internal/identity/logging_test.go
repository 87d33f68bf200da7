package identity

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretsInLogs drives successful and failing requests with debug logging on and
// checks that no secret, password, code or token reaches the log.
func TestNoSecretsInLogs(t *testing.T) {
	var logs syncBuffer
	f := newFixture(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	var secrets []string
	_, doc := f.clientCredentials(2, nil)
	secrets = append(secrets, f.secret, doc["access_token"].(string))
	f.clientCredentials(2, url.Values{"client_secret": {"wrong-secret-value"}})
	secrets = append(secrets, "wrong-secret-value")
	verifier, challenge := pkcePair()
	q := f.signInCode(publicAuthorizeParams(challenge))
	_, doc, _ = f.post(f.tokenURL(2), url.Values{"grant_type": {"authorization_code"}, "client_id": {publicAppID}, "code": {q.Get("code")}, "redirect_uri": {"http://localhost:53123/callback"}, "code_verifier": {verifier}}, nil)
	secrets = append(secrets, userPassword, q.Get("code"), verifier, doc["access_token"].(string), doc["refresh_token"].(string), doc["id_token"].(string))
	f.authorize(2, publicAuthorizeParams(challenge), userName, "a-wrong-password")
	secrets = append(secrets, "a-wrong-password")
	if _, err := f.server.RotateKeys(context.Background(), tenantID); err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log contains a secret (%d characters)", len(s))
		}
	}
	if !strings.Contains(out, "signing keys rotated") {
		t.Errorf("the log is not being written at all:\n%s", out)
	}
}
