package tokenclient

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
)

// FuzzParseToken: any body either parses into a token with an access token or is refused with
// ErrBadResponse; it never panics.
func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"a.b.c"}`))
	f.Add([]byte(`{"token_type":"Bearer","expires_in":"3599","expires_on":"1578439805","resource":"r","access_token":"x"}`))
	f.Add([]byte(`{"expires_in":"-1e99"}`))
	c := &Client{Now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := c.parseToken(body)
		if err == nil && tok.AccessToken == "" {
			t.Fatal("a token without access_token was accepted")
		}
	})
}

// FuzzErrorBody: any error body gives an error whose message is one line without the trace
// details Entra appends.
func FuzzErrorBody(f *testing.F) {
	f.Add(400, []byte(`{"error":"invalid_scope","error_description":"AADSTS70011: The provided value is not valid.\r\nTrace ID: x\r\nCorrelation ID: y","error_codes":[70011]}`))
	f.Add(401, []byte(`{"error":"invalid_client"}`))
	f.Add(500, []byte(`<html>oops</html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		resp := &http.Response{StatusCode: status, Status: "x", Header: http.Header{"Content-Type": {"application/json"}}}
		err := parseErrorBody("token", "https://idp.example/token", resp, body)
		if err == nil {
			t.Fatal("no error")
		}
		for _, r := range err.Error() {
			if unicode.IsControl(r) {
				t.Fatalf("message carries control character %U: %q", r, err)
			}
		}
		if strings.Contains(err.Error(), "Trace ID:") && !strings.Contains(firstLine(string(body)), "Trace ID:") {
			t.Fatalf("trace details leaked into the message: %q", err)
		}
	})
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
