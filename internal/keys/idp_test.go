package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testIdP is an identity provider in the test: discovery and JWKS over HTTP, with keys the
// test generates and faults it switches on.
type testIdP struct {
	srv        *httptest.Server
	mu         sync.Mutex
	keys       map[string]*rsa.PublicKey
	order      []string
	fault      string // "", "500", "html", "truncated", "hang", "empty", "not-json-discovery"
	discovery  atomic.Int32
	jwks       atomic.Int32
	release    chan struct{}
	issuerPath string
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	p := &testIdP{keys: map[string]*rsa.PublicKey{}, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/tenant/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discovery.Add(1)
		if p.faultIs("not-json-discovery") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"issuer": 5}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256"]}`,
			p.srv.URL+"/tenant/v2.0", p.srv.URL+"/tenant/discovery/v2.0/keys")
	})
	mux.HandleFunc("/tenant/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		p.jwks.Add(1)
		p.mu.Lock()
		fault := p.fault
		body := p.jwksLocked()
		p.mu.Unlock()
		switch fault {
		case "500":
			http.Error(w, "internal error", http.StatusInternalServerError)
		case "html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<html><body>Service unavailable</body></html>")
		case "html-as-json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "<html><body>Service unavailable</body></html>")
		case "truncated":
			w.Header().Set("Content-Type", "application/json")
			w.Write(body[:len(body)/2])
		case "hang":
			select {
			case <-r.Context().Done():
			case <-p.release:
			}
		case "empty":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"keys":[]}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(p.release)
		p.srv.Close()
	})
	return p
}

func (p *testIdP) url() string { return p.srv.URL + "/tenant/v2.0/.well-known/openid-configuration" }

func (p *testIdP) faultIs(f string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault == f
}

func (p *testIdP) setFault(f string) {
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
}

// setKey publishes pub under kid (replacing any key of that kid).
func (p *testIdP) setKey(kid string, pub *rsa.PublicKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.keys[kid]; !ok {
		p.order = append(p.order, kid)
	}
	p.keys[kid] = pub
}

func (p *testIdP) jwksLocked() []byte {
	type jwk struct {
		Kty string `json:"kty"`
		Use string `json:"use"`
		Kid string `json:"kid"`
		N   string `json:"n"`
		E   string `json:"e"`
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	set.Keys = []jwk{}
	for _, kid := range p.order {
		k := p.keys[kid]
		set.Keys = append(set.Keys, jwk{"RSA", "sig", kid, base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "AQAB"})
	}
	b, _ := json.Marshal(set)
	return b
}

var genKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	var out []*rsa.PrivateKey
	for i := 0; i < 3; i++ {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		out = append(out, k)
	}
	return out
})

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
