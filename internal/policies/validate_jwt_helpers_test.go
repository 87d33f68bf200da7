package policies

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"portcullis/internal/jose"
	"portcullis/internal/policy"
)

const (
	tenantID = "3f5b1c2e-0000-4000-8000-000000000001"
	clientID = "6c1f0d2a-0000-4000-8000-0000000000b1"
)

var testRSA = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var out [2]*rsa.PrivateKey
	for i := range out {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		out[i] = k
	}
	return out
})

// idp is an identity provider in the test: v2 discovery and JWKS for one tenant.
type idp struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string

	mu    sync.Mutex
	extra []publishedKey // further keys the test publishes (rotation)
}

type publishedKey struct {
	kid string
	pub *rsa.PublicKey
}

// publish adds a key to the JWKS; a kid already published gets the new key material.
func (p *idp) publish(kid string, pub *rsa.PublicKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if kid == p.kid {
		p.key = nil
	}
	p.extra = append(p.extra, publishedKey{kid, pub})
}

func newIdP(t testing.TB) *idp {
	t.Helper()
	p := &idp{key: testRSA()[0], kid: "idp-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+tenantID+"/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, p.issuer(), p.srv.URL+"/"+tenantID+"/discovery/v2.0/keys")
	})
	mux.HandleFunc("/"+tenantID+"/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		p.mu.Lock()
		defer p.mu.Unlock()
		var keys []string
		jwk := func(kid string, pub *rsa.PublicKey) string {
			return fmt.Sprintf(`{"kty":"RSA","use":"sig","kid":%q,"n":%q,"e":"AQAB"}`, kid, base64.RawURLEncoding.EncodeToString(pub.N.Bytes()))
		}
		if p.key != nil {
			keys = append(keys, jwk(p.kid, &p.key.PublicKey))
		}
		for _, k := range p.extra {
			keys = append(keys, jwk(k.kid, k.pub))
		}
		fmt.Fprintf(w, `{"keys":[%s]}`, strings.Join(keys, ","))
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) issuer() string { return p.srv.URL + "/" + tenantID + "/v2.0" }
func (p *idp) discoveryURL() string {
	return p.srv.URL + "/" + tenantID + "/v2.0/.well-known/openid-configuration"
}

// claimsAt is an Entra v2 access token's claims, valid at now; edits replace or (nil) drop.
func claimsAt(now time.Time, iss string, edits map[string]any) map[string]any {
	c := map[string]any{
		"iss": iss, "aud": clientID, "tid": tenantID, "sub": "user-1", "ver": "2.0",
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"scp": "Files.Read", "roles": []string{"Files.Read.All"},
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func signRS256(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.Sign("RS256", key, kid, map[string]any{"typ": "JWT"}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signHS256(t testing.TB, secret []byte, kid string, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	s, err := jose.SignHMAC("HS256", secret, kid, nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func unsigned(t testing.TB, claims map[string]any) string {
	payload, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

// selfSigned makes a certificate for key, as gateway.certificates would load it.
func selfSigned(t testing.TB, id string, key *rsa.PrivateKey, withKey bool) *policy.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: id},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c := &policy.Certificate{ID: id, Chain: []*x509.Certificate{cert}}
	if withKey {
		c.Key = key
	}
	return c
}

// request builds the policy context of one request.
func request(headers map[string]string, query string) *policy.Context {
	ctx := &policy.Context{
		Request:   &policy.Request{Method: "GET"},
		Variables: map[string]any{},
		RequestID: "req-1",
	}
	for k, v := range headers {
		ctx.Request.Header.Add(k, v)
	}
	ctx.Request.OriginalURL = policy.URL{Scheme: "https", Host: "api.example", Path: "/echo", Query: policy.ParseQuery(query)}
	ctx.Request.URL = ctx.Request.OriginalURL
	return ctx
}

// recordingBackend stands in for the gateway's backend transport: it answers 200 and
// remembers that the request got through.
type recordingBackend struct{ calls int }

func (b *recordingBackend) Forward(ctx *policy.Context, _ policy.ForwardOptions) error {
	b.calls++
	if ctx.Response == nil {
		ctx.Response = &policy.Response{}
	}
	ctx.Response.StatusCode = 200
	ctx.Response.Body.Set([]byte("backend"))
	return nil
}

func wrapInbound(inner string) string {
	return "<policies>\n<inbound>\n<base/>\n" + inner + "\n</inbound>\n<backend><base/></backend>\n<outbound><base/></outbound>\n<on-error><base/></on-error>\n</policies>"
}

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
