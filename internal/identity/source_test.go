package identity

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"portcullis/internal/directory"
)

func TestSourceOf(t *testing.T) {
	tests := []struct {
		name, remote, want string
	}{
		{name: "IPv4", remote: "192.0.2.10:51234", want: "192.0.2.10"},
		{name: "IPv6 counted by /64", remote: "[2001:db8:1:2:aaaa::1]:443", want: "2001:db8:1:2::/64"},
		{name: "IPv4-mapped IPv6 is the IPv4 address", remote: "[::ffff:192.0.2.10]:1", want: "192.0.2.10"},
		{name: "zone dropped", remote: "[fe80::1%eth0]:1", want: "fe80::/64"},
		{name: "no port", remote: "192.0.2.10", want: "192.0.2.10"},
		{name: "not an address", remote: "@socket", want: "@socket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Forwarded-For", "198.51.100.7")
			if got := sourceOf(r); got != tc.want {
				t.Errorf("sourceOf(%q) = %q, want %q", tc.remote, got, tc.want)
			}
		})
	}
}

// clientFrom is an HTTP client of the fixture whose connections leave from the loopback
// address ip, so the service sees a distinct source.
func (f *fixture) clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	c := f.httpClient()
	tr := c.Transport.(*http.Transport)
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
	c.CheckRedirect = noRedirects
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

const (
	sourceA = "127.0.0.2"
	sourceB = "127.0.0.3"
)

func TestSignInThrottledPerSource(t *testing.T) {
	f := newFixture(t)
	fromA, fromB := f.clientFrom(t, sourceA), f.clientFrom(t, sourceB)
	_, challenge := pkcePair()
	signIn := func(from *http.Client, user, password string) (*http.Response, string) {
		f.client = from
		return f.authorize(2, publicAuthorizeParams(challenge), user, password)
	}
	// Ten failures from A, each for another account: no account reaches the limit.
	for i := range throttleFailures {
		user := userName
		if i > 0 {
			user = "nobody" + itoa(i) + "@" + tenantDomain
		}
		resp, body := signIn(fromA, user, "wrong")
		if m := alertRE.FindStringSubmatch(body); resp.StatusCode != 200 || m == nil || strings.HasPrefix(m[1], "AADSTS50053:") {
			t.Fatalf("failure %d answered %d %v, want a sign-in error other than AADSTS50053", i+1, resp.StatusCode, m)
		}
	}
	locked := func(from *http.Client) bool {
		t.Helper()
		resp, body := signIn(from, userName, userPassword)
		if resp.StatusCode == http.StatusFound {
			codeFrom(t, resp, body)
			return false
		}
		m := alertRE.FindStringSubmatch(body)
		if m == nil || !strings.HasPrefix(m[1], "AADSTS50053: Sign-in was blocked because there were too many failed sign-ins from your network.") {
			t.Fatalf("answered %d %v, want a code or the source's AADSTS50053", resp.StatusCode, m)
		}
		return true
	}
	if !locked(fromA) {
		t.Fatal("the 11th sign-in from A, with the right password, was let through")
	}
	if locked(fromB) {
		t.Fatal("Alice was refused from B: the lockout reached beyond A")
	}
	f.clock.Advance(throttleLockout - time.Second)
	if !locked(fromA) {
		t.Fatal("A was let through before the lockout ended")
	}
	f.clock.Advance(2 * time.Second)
	if locked(fromA) {
		t.Fatal("A is still refused after the lockout")
	}
}

func TestClientAuthThrottledPerSource(t *testing.T) {
	f := newFixture(t)
	const otherAppID = "0b7e9d4c-0000-4000-8000-0000000000c2"
	otherSecret := "other~" + strings.Repeat("s", 32)
	ctx := context.Background()
	err := f.store.Update(ctx, func(tx directory.Writer) error {
		now := time.Now()
		if err := tx.PutApplication(ctx, &directory.Application{
			ID: "a0000000-0000-4000-8000-0000000000c2", TenantID: tenantID, AppID: otherAppID, DisplayName: "other-client",
			Passwords: []directory.PasswordCredential{{KeyID: "c0000000-0000-4000-8000-000000000009", Hash: directory.HashSecret(otherSecret), Hint: otherSecret[:3], Start: now.Add(-time.Hour), End: now.AddDate(1, 0, 0)}},
		}); err != nil {
			return err
		}
		return tx.PutServicePrincipal(ctx, &directory.ServicePrincipal{ID: "0b7e9d4c-0000-4000-8000-0000000005c2", TenantID: tenantID, AppID: otherAppID, DisplayName: "other-client", AccountEnabled: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	fromA, fromB := f.clientFrom(t, sourceA), f.clientFrom(t, sourceB)
	credentials := func(from *http.Client, appID, secret string, header http.Header) (int, map[string]any, http.Header) {
		f.client = from
		return f.post(f.tokenURL(2), url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret}, "scope": {backendURI + "/.default"}}, header)
	}
	// Ten wrong secrets from A, half for each client: neither client reaches the limit.
	for i := range throttleFailures {
		app := clientAppID
		if i%2 == 1 {
			app = otherAppID
		}
		status, doc, _ := credentials(fromA, app, "wrong", nil)
		assertEntraError(t, f, status, doc, 7000215)
	}
	tests := []struct {
		name    string
		from    *http.Client
		app     string
		secret  string
		header  http.Header
		advance time.Duration
		refused bool
	}{
		{name: "A with the right secret", from: fromA, app: clientAppID, secret: f.secret, refused: true},
		{name: "A naming another address in X-Forwarded-For", from: fromA, app: otherAppID, secret: otherSecret, header: http.Header{"X-Forwarded-For": {sourceB}}, refused: true},
		{name: "B, same client", from: fromB, app: clientAppID, secret: f.secret},
		{name: "B, other client", from: fromB, app: otherAppID, secret: otherSecret},
		{name: "A just before the lockout ends", from: fromA, app: clientAppID, secret: f.secret, advance: throttleLockout - time.Second, refused: true},
		{name: "A after the lockout", from: fromA, app: clientAppID, secret: f.secret, advance: 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.Advance(tc.advance)
			status, doc, hdr := credentials(tc.from, tc.app, tc.secret, tc.header)
			if !tc.refused {
				if status != 200 || doc["access_token"] == nil {
					t.Fatalf("%d %v, want a token", status, doc)
				}
				return
			}
			assertEntraError(t, f, status, doc, 90055)
			if desc, _ := doc["error_description"].(string); !strings.Contains(desc, "from this network") {
				t.Errorf("error_description %q does not name the source", desc)
			}
			if hdr.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		})
	}
}
