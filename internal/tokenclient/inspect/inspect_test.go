package inspect_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portcullis/internal/corpus"
	"portcullis/internal/tokenclient/inspect"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// now is the fixed clock the golden files were written against.
var now = time.Date(2026, 11, 25, 20, 5, 0, 0, time.UTC)

func compact(header, claims string, sig int) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + "." + enc(bytes.Repeat([]byte{0xA5}, sig))
}

func TestRenderGolden(t *testing.T) {
	const tid = "3f5b1c2e-0000-4000-8000-000000000001"
	tests := []struct {
		name  string
		token string
	}{
		{"v2-app-only-valid", compact(`{"typ":"JWT","alg":"RS256","kid":"k1"}`,
			`{"aud":"6c1f0d2a-0000-4000-8000-0000000000b1","iss":"https://127.0.0.1:9443/`+tid+`/v2.0","iat":1795637045,"nbf":1795637045,"exp":1795640645,"azp":"0b7e9d4c-0000-4000-8000-0000000000c1","azpacr":"1","idtyp":"app","roles":["Files.Read.All"],"tid":"`+tid+`","ver":"2.0"}`, 256)},
		{"v1-delegated-expired", "Bearer " + compact(`{"typ":"JWT","alg":"RS256","x5t":"abc","kid":"abc"}`,
			`{"aud":"api://6c1f0d2a-0000-4000-8000-0000000000b1","iss":"https://sts.windows.net/`+tid+`/","iat":1795620000,"nbf":1795620000,"exp":1795623900,"auth_time":1795619990,"appid":"0b7e9d4c-0000-4000-8000-0000000000d1","scp":"Files.Read","roles":["Files.Read.All"],"name":"Alice","ver":"1.0"}`, 256)},
		{"v2-not-yet-valid-with-odd-claims", compact(`{"alg":"ES256"}`,
			`{"aud":"api://not-a-guid","iss":"https://login.example/`+tid+`/","nbf":1795637400,"exp":1795641000.5,"iat":"yesterday","ver":"2.0"}`, 64)},
		{"other-issuer-no-expiry", compact(`{"alg":"RS256","typ":"at+jwt"}`,
			`{"iss":"https://idp.example","aud":["api-a","api-b"],"sub":"user-1"}`, 256)},
		{"unsigned", compact(`{"alg":"none"}`, `{"iss":"x","exp":1795640645}`, 0)},
		{"id-token", compact(`{"alg":"RS256","kid":"k1"}`,
			`{"aud":"0b7e9d4c-0000-4000-8000-0000000000d1","iss":"https://127.0.0.1:9443/`+tid+`/v2.0","nonce":"n-0S6","iat":1795637045,"exp":1795640645,"ver":"2.0"}`, 256)},
		{"encrypted", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"enc-1"}`)) + ".a.b.c.d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := inspect.Parse(tc.token)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := tok.Render(&out, now); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, out.String(), want)
			}
		})
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, input, want string
	}{
		{"empty", "  \n", "the input is empty"},
		{"one word", "hello", "found 1 part(s)"},
		{"two parts", "a.b", "found 2 part(s)"},
		{"four parts", "a.b.c.d", "found 4 part(s)"},
		{"header not base64url", "!!!." + enc(`{}`) + ".", "the header is not base64url"},
		{"header not JSON", enc("hello") + "." + enc(`{}`) + ".", "the header is not a JSON object"},
		{"header a JSON array", enc(`[1]`) + "." + enc(`{}`) + ".", "the header is not a JSON object"},
		{"header without alg", enc(`{"typ":"JWT"}`) + "." + enc(`{}`) + ".", `the header has no "alg"`},
		{"payload not JSON", enc(`{"alg":"RS256"}`) + "." + enc("Payload bytes") + ".c2ln", "the payload is not a JSON object"},
		{"payload with trailing data", enc(`{"alg":"RS256"}`) + "." + enc(`{} {}`) + ".c2ln", "the payload has data after its JSON object"},
		{"signature not base64url", enc(`{"alg":"RS256"}`) + "." + enc(`{}`) + ".***", "the signature is not base64url"},
		{"huge", strings.Repeat("a", inspect.MaxTokenSize+1), "more than the"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := inspect.Parse(tc.input)
			if !errors.Is(err, inspect.ErrNotJWT) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, %v; want ErrNotJWT containing %q", tok, err, tc.want)
			}
		})
	}
}

func TestRelative(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"now", 300 * time.Millisecond, "now"},
		{"seconds ahead", 42 * time.Second, "in 42s"},
		{"minutes ahead", 59*time.Minute + 59*time.Second, "in 59m"},
		{"whole hours", 2 * time.Hour, "in 2h"},
		{"hours and minutes behind", -(3*time.Hour + 2*time.Minute), "3h2m ago"},
		{"days", 50 * time.Hour, "in 2d2h"},
		{"whole days behind", -72 * time.Hour, "3d ago"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := inspect.Relative(now.Add(tc.d), now); got != tc.want {
				t.Fatalf("Relative(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

// TestRealEntraTokens decodes Microsoft's own tokens: the version noted must be their ver
// claim, and each is expired today but valid at its iat.
func TestRealEntraTokens(t *testing.T) {
	dir := corpus.Dir(t, "entra")
	index, err := os.ReadFile(filepath.Join(dir, "tokens.json"))
	if err != nil {
		t.Skipf("corpus entra/tokens.json not readable: %v", err)
	}
	var entries []struct {
		File     string `json:"file"`
		Ver      string `json:"ver"`
		Iat, Exp int64
		Nbf      int64 `json:"nbf"`
	}
	if err := json.Unmarshal(index, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("tokens.json lists no tokens")
	}
	for _, e := range entries {
		t.Run(filepath.Base(e.File), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, e.File))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := inspect.Parse(string(raw))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := tok.Render(&out, time.Now()); err != nil {
				t.Fatal(err)
			}
			wantVersion := "Version: no ver claim"
			switch e.Ver {
			case "1.0", "2.0":
				wantVersion = "Version: v" + e.Ver + " "
			}
			if !strings.Contains(out.String(), wantVersion) {
				t.Errorf("output lacks %q:\n%s", wantVersion, out.String())
			}
			if e.Exp != 0 {
				if !strings.Contains(out.String(), "Status: EXPIRED") {
					t.Errorf("a token that expired at %d is not shown as expired", e.Exp)
				}
				// Within its lifetime (from nbf, or iat when nbf is absent) it is valid.
				from := max(e.Iat, e.Nbf)
				if from == 0 {
					from = e.Exp - 60
				}
				if v := tok.Validity(time.Unix(from, 0)); v != inspect.Valid {
					t.Errorf("at %d the token is %v, want Valid", from, v)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(compact(`{"alg":"RS256"}`, `{"exp":1795640645,"aud":["a"],"ver":"2.0","scp":"x"}`, 8))
	f.Add("a.b.c.d.e")
	f.Add("Bearer x.y.z")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := inspect.Parse(s)
		if err != nil {
			if !errors.Is(err, inspect.ErrNotJWT) {
				t.Fatalf("error %v is not ErrNotJWT", err)
			}
			return
		}
		if err := tok.Render(&bytes.Buffer{}, now); err != nil {
			t.Fatal(err)
		}
	})
}
