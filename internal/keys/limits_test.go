package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// padTo returns the JSON object doc (without its closing brace) with a filler member that
// makes the whole document exactly size bytes long.
func padTo(t *testing.T, doc string, size int) string {
	t.Helper()
	open := strings.TrimSuffix(doc, "}") + `,"filler":"`
	n := size - len(open) - len(`"}`)
	if n < 0 {
		t.Fatalf("document already %d bytes", len(doc))
	}
	return open + strings.Repeat("x", n) + `"}`
}

// TestDocumentSizeBound: a discovery or JWKS document of exactly DefaultMaxDocumentBytes is
// read; one byte more is refused with an error that names the limit, and the source has no
// keys (the gateway answers those tokens 401 and /readyz 503).
func TestDocumentSizeBound(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"k1","use":"sig","n":%q,"e":"AQAB"}]}`,
		base64.RawURLEncoding.EncodeToString(key.N.Bytes()))
	tests := []struct {
		name                    string
		discoverySize, jwksSize int // 0: the document as it is
		wantErr                 string
	}{
		{name: "discovery at the limit", discoverySize: DefaultMaxDocumentBytes},
		{name: "discovery one byte over", discoverySize: DefaultMaxDocumentBytes + 1, wantErr: fmt.Sprintf("larger than %d bytes", DefaultMaxDocumentBytes)},
		{name: "JWKS at the limit", jwksSize: DefaultMaxDocumentBytes},
		{name: "JWKS one byte over", jwksSize: DefaultMaxDocumentBytes + 1, wantErr: fmt.Sprintf("larger than %d bytes", DefaultMaxDocumentBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.Path {
				case "/t/v2.0/.well-known/openid-configuration":
					doc := fmt.Sprintf(`{"issuer":%q,"jwks_uri":%q}`, srv.URL+"/t/v2.0", srv.URL+"/t/keys")
					if tt.discoverySize > 0 {
						doc = padTo(t, doc, tt.discoverySize)
					}
					fmt.Fprint(w, doc)
				case "/t/keys":
					doc := jwks
					if tt.jwksSize > 0 {
						doc = padTo(t, doc, tt.jwksSize)
					}
					fmt.Fprint(w, doc)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			c, err := NewCache(Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			src, err := c.Source(srv.URL + "/t/v2.0/.well-known/openid-configuration")
			if err != nil {
				t.Fatal(err)
			}
			var st Status
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if st = src.Status(); st.Ready || st.LastError != "" {
					break
				}
			}
			if tt.wantErr == "" {
				if !st.Ready || st.Keys != 1 {
					t.Fatalf("not ready at the limit: %+v", st)
				}
				return
			}
			if st.Ready || !strings.Contains(st.LastError, tt.wantErr) {
				t.Fatalf("status %+v, want an error containing %q", st, tt.wantErr)
			}
		})
	}
}
