package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// idp is an identity provider for the gateway scenarios: discovery and a key set on loopback,
// and RS256 tokens shaped like Entra's v2 access tokens. It runs inside the harness, which only
// the gateway's start-up talks to.
type idp struct {
	key      *rsa.PrivateKey
	kid      string
	tenant   string
	audience string
	base     string // http://127.0.0.1:port
	srv      *http.Server
}

func newIDP() (*idp, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &idp{
		key:      key,
		kid:      "bench-key-1",
		tenant:   "3f5b1c2e-0000-4000-8000-000000000001",
		audience: "6c1f0d2a-0000-4000-8000-0000000000b1",
		base:     "http://" + l.Addr().String(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+p.tenant+"/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.issuer(),
			"jwks_uri":                              p.base + "/" + p.tenant + "/discovery/v2.0/keys",
			"token_endpoint":                        p.base + "/" + p.tenant + "/oauth2/v2.0/token",
			"authorization_endpoint":                p.base + "/" + p.tenant + "/oauth2/v2.0/authorize",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"pairwise"},
		})
	})
	mux.HandleFunc("/"+p.tenant+"/discovery/v2.0/keys", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "kid": p.kid,
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

func (p *idp) issuer() string       { return p.base + "/" + p.tenant + "/v2.0" }
func (p *idp) discoveryURL() string { return p.issuer() + "/.well-known/openid-configuration" }

// token signs an access token valid for two hours; n makes it distinct.
func (p *idp) token(n int) (string, error) {
	now := time.Now().Unix()
	header := b64([]byte(`{"alg":"RS256","typ":"JWT","kid":"` + p.kid + `"}`))
	claims, _ := json.Marshal(map[string]any{
		"aud": p.audience, "iss": p.issuer(), "iat": now, "nbf": now, "exp": now + 7200,
		"azp": "0b7e9d4c-0000-4000-8000-0000000000c1", "azpacr": "1", "ver": "2.0",
		"tid": p.tenant, "oid": "a1b2c3d4-0000-4000-8000-000000000001", "sub": "a1b2c3d4-0000-4000-8000-000000000001",
		"roles": []string{"Files.Read.All"}, "uti": fmt.Sprintf("bench-%d", n), "rh": "0.AAAA",
	})
	input := header + "." + b64(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, p.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

// tokens signs n distinct tokens on every core and writes them one a line to path.
func (p *idp) tokens(path string, n int) error {
	out := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, runtime.NumCPU())
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += runtime.NumCPU() {
				t, err := p.token(i)
				if err != nil {
					errs <- err
					return
				}
				out[i] = t
			}
		}(w)
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o600)
}

// publicKeyPEM writes the verification key for HAProxy.
func (p *idp) publicKeyPEM(path string) error {
	der, err := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
