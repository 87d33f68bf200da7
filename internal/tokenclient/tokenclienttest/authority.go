package tokenclienttest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fixed identities of the fake tenant.
const (
	TenantID       = "3f5b1c2e-0000-4000-8000-000000000001"
	ClientID       = "0b7e9d4c-0000-4000-8000-0000000000c1" // confidential
	PublicClientID = "0b7e9d4c-0000-4000-8000-0000000000d1"
	APIAppID       = "6c1f0d2a-0000-4000-8000-0000000000b1"
	APIURI         = "api://" + APIAppID
	AppRole        = "Files.Read.All"
	Scope          = "Files.Read"
	UserObjectID   = "9a000000-0000-4000-8000-00000000a11c"
)

// DeviceScript decides how the token endpoint answers device-code polls: SlowDown polls
// answered slow_down, then Pending polls answered authorization_pending, then Outcome.
type DeviceScript struct {
	SlowDown, Pending int
	// Outcome: "" (success), "access_denied", "expired_token".
	Outcome string
	// Interval is the poll interval in seconds the device code endpoint announces.
	Interval int
}

// Config is what the authority accepts.
type Config struct {
	Secret string
	// Certificate registered on the confidential client for client assertions.
	Certificate *x509.Certificate
	Device      DeviceScript
	// DenyLogin makes the authorize endpoint redirect back with access_denied.
	DenyLogin bool
	// TokenVersion of the API's access tokens (requestedAccessTokenVersion); default 2.
	TokenVersion int
	// Now is the authority's clock; nil means time.Now.
	Now func() time.Time
}

// Authority is the running fake.
type Authority struct {
	Server *httptest.Server
	cfg    Config
	key    *rsa.PrivateKey

	mu       sync.Mutex
	polls    []time.Time
	codes    map[string]authCode
	devices  map[string]int // device code → polls so far
	requests []Request
}

// Request is one request the authority received, for assertions about what a client sent.
type Request struct {
	Path     string
	Form     url.Values
	BasicID  string // the client ID from HTTP Basic, unescaped
	HasBasic bool
}

type authCode struct {
	clientID, redirectURI, challenge, scope string
}

// New starts the authority; it stops with the test.
func New(t testing.TB, cfg Config) *Authority {
	t.Helper()
	if cfg.TokenVersion == 0 {
		cfg.TokenVersion = 2
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	a := &Authority{cfg: cfg, key: key, codes: map[string]authCode{}, devices: map[string]int{}}
	mux := http.NewServeMux()
	for _, v := range []string{"oauth2/v2.0/", "oauth2/"} {
		mux.HandleFunc("POST /{tenant}/"+v+"token", a.token)
		mux.HandleFunc("POST /{tenant}/"+v+"devicecode", a.deviceCode)
		mux.HandleFunc("GET /{tenant}/"+v+"authorize", a.authorize)
	}
	a.Server = httptest.NewUnstartedServer(mux)
	// Tests that distrust the server on purpose would otherwise fill the log with handshakes.
	a.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	a.Server.StartTLS()
	t.Cleanup(a.Server.Close)
	return a
}

// Authority is the authority URL with the tenant: https://127.0.0.1:port/{tenant}.
func (a *Authority) Authority() string { return a.Server.URL + "/" + TenantID }

// TokenURL is the v2 token endpoint.
func (a *Authority) TokenURL() string { return a.Authority() + "/oauth2/v2.0/token" }

// CAFile writes the server's certificate (its own CA) as PEM into dir and returns the path.
func (a *Authority) CAFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Server.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Requests returns a copy of what the authority received.
func (a *Authority) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Request(nil), a.requests...)
}

// PublicKey verifies the access tokens the authority issues.
func (a *Authority) PublicKey() *rsa.PublicKey { return &a.key.PublicKey }

func (a *Authority) now() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now()
	}
	return time.Now()
}

// writeError writes Entra's error body.
func writeError(w http.ResponseWriter, status int, code string, aadsts int, text string) {
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	trace := "00000000-0000-4000-8000-00000000beef"
	body := map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, text, trace, trace, ts),
		"error_codes":       []int{aadsts},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    trace,
		"error_uri":         fmt.Sprintf("https://127.0.0.1/error?code=%d", aadsts),
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func isV1(r *http.Request) bool { return !strings.Contains(r.URL.Path, "/v2.0/") }

func (a *Authority) record(r *http.Request) Request {
	rec := Request{Path: r.URL.Path, Form: r.PostForm}
	if id, _, ok := r.BasicAuth(); ok {
		rec.HasBasic = true
		rec.BasicID, _ = url.QueryUnescape(id)
	}
	a.mu.Lock()
	a.requests = append(a.requests, rec)
	a.mu.Unlock()
	return rec
}

func (a *Authority) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, 400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
		return
	}
	if r.PathValue("tenant") != TenantID {
		writeError(w, 400, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", r.PathValue("tenant")))
		return
	}
	rec := a.record(r)
	clientID := r.PostForm.Get("client_id")
	if rec.HasBasic {
		clientID = rec.BasicID
	}
	if clientID != ClientID && clientID != PublicClientID {
		writeError(w, 400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", clientID, TenantID))
		return
	}
	acr, ok := a.authenticate(w, r, clientID)
	if !ok {
		return
	}
	if !isV1(r) && r.PostForm.Has("resource") {
		writeError(w, 400, "invalid_request", 901002, "The 'resource' request parameter is not supported.")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
		if clientID == PublicClientID {
			writeError(w, 400, "unauthorized_client", 700016, "The public client cannot use the client credentials grant.")
			return
		}
		aud, ok := a.resource(w, r, true)
		if !ok {
			return
		}
		a.issue(w, r, clientID, acr, aud, "", false)
	case "urn:ietf:params:oauth:grant-type:device_code":
		a.pollDevice(w, r, clientID, acr)
	case "authorization_code":
		a.redeemCode(w, r, clientID, acr)
	case "":
		writeError(w, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	default:
		writeError(w, 400, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt))
	}
}

// authenticate checks the client's credential and returns its acr ("0" public, "1" secret,
// "2" certificate).
func (a *Authority) authenticate(w http.ResponseWriter, r *http.Request, clientID string) (string, bool) {
	secret := r.PostForm.Get("client_secret")
	if _, s, ok := r.BasicAuth(); ok {
		secret, _ = url.QueryUnescape(s)
	}
	assertion := r.PostForm.Get("client_assertion")
	if clientID == PublicClientID {
		if secret != "" || assertion != "" {
			writeError(w, 401, "invalid_client", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
			return "", false
		}
		return "0", true
	}
	switch {
	case assertion != "":
		if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			writeError(w, 400, "invalid_request", 50027, "Invalid client_assertion_type.")
			return "", false
		}
		if code, msg := a.checkAssertion(r, assertion); code != 0 {
			writeError(w, 401, "invalid_client", code, msg)
			return "", false
		}
		return "2", true
	case secret != "":
		if a.cfg.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(a.cfg.Secret)) != 1 {
			writeError(w, 401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+ClientID+"'.")
			return "", false
		}
		return "1", true
	}
	writeError(w, 401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	return "", false
}

// checkAssertion verifies a client assertion as Entra does: RS256 signature by the registered
// certificate found by its thumbprints, aud = this token endpoint, iss = sub = the client,
// a jti, and a current validity window.
func (a *Authority) checkAssertion(r *http.Request, assertion string) (int, string) {
	cert := a.cfg.Certificate
	if cert == nil {
		return 700027, "Client assertion failed signature validation: no certificate is registered."
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return 50027, "Invalid JWT token. The token is not in a valid format."
	}
	var hdr struct {
		Alg, Typ string
		X5t      string `json:"x5t"`
		X5tS256  string `json:"x5t#S256"`
	}
	var claims struct {
		Aud, Iss, Sub, Jti string
		Nbf, Exp, Iat      int64
	}
	if decodeJSON(parts[0], &hdr) != nil || decodeJSON(parts[1], &claims) != nil {
		return 50027, "Invalid JWT token. The token is not in a valid format."
	}
	s1, s256 := sha1.Sum(cert.Raw), sha256.Sum256(cert.Raw)
	if hdr.Alg != "RS256" || hdr.X5t != base64.RawURLEncoding.EncodeToString(s1[:]) ||
		hdr.X5tS256 != base64.RawURLEncoding.EncodeToString(s256[:]) {
		return 700027, "Client assertion failed signature validation: the key was not found (x5t, x5t#S256)."
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return 50027, "Invalid JWT token. The signature is not base64url."
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	pub, _ := cert.PublicKey.(*rsa.PublicKey)
	if pub == nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		return 700027, "Client assertion failed signature validation."
	}
	endpoint := "https://" + r.Host + r.URL.Path
	if claims.Aud != endpoint {
		return 700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'.", claims.Aud)
	}
	if claims.Iss != ClientID || claims.Sub != ClientID || claims.Jti == "" {
		return 700021, "Client assertion application identifier doesn't match 'client_id' parameter."
	}
	now, skew := a.now().Unix(), int64(300)
	if claims.Exp <= now-skew || claims.Nbf > now+skew || claims.Exp-claims.Nbf > 3600 {
		return 700024, "Client assertion is not within its valid time range."
	}
	return 0, ""
}

func decodeJSON(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// resource reads the target of the request and returns the audience its token will carry.
func (a *Authority) resource(w http.ResponseWriter, r *http.Request, appOnly bool) (string, bool) {
	var res string
	if isV1(r) {
		res = r.PostForm.Get("resource")
	} else {
		for _, s := range strings.Fields(r.PostForm.Get("scope")) {
			i := strings.LastIndex(s, "/")
			if i <= 0 {
				continue // openid, profile, offline_access
			}
			if appOnly && s[i+1:] != ".default" {
				writeError(w, 400, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", s))
				return "", false
			}
			res = s[:i]
			break
		}
	}
	if res != APIURI && res != APIAppID {
		writeError(w, 400, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s.", res, TenantID))
		return "", false
	}
	if a.cfg.TokenVersion == 2 {
		return APIAppID, true
	}
	return res, true
}

// issue writes a successful token response with a signed access token.
func (a *Authority) issue(w http.ResponseWriter, r *http.Request, clientID, acr, aud, scope string, user bool) {
	now := a.now().Truncate(time.Second)
	life := time.Hour
	claims := map[string]any{
		"aud": aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(life).Unix(), "tid": TenantID,
		"uti": "dGVzdC11dGktMDAwMDAwMA",
	}
	base := a.Server.URL + "/" + TenantID
	if a.cfg.TokenVersion == 2 {
		claims["iss"], claims["ver"], claims["azp"], claims["azpacr"] = base+"/v2.0", "2.0", clientID, acr
	} else {
		claims["iss"], claims["ver"], claims["appid"], claims["appidacr"] = base+"/", "1.0", clientID, acr
	}
	if user {
		claims["scp"], claims["oid"], claims["sub"], claims["name"] = Scope, UserObjectID, "pairwise-sub-alice", "Alice"
	} else {
		claims["roles"], claims["oid"], claims["sub"], claims["idtyp"] = []string{AppRole}, "5e000000-0000-4000-8000-000000000501", "5e000000-0000-4000-8000-000000000501", "app"
	}
	at := a.sign(claims)
	body := map[string]any{"token_type": "Bearer", "access_token": at}
	if isV1(r) {
		body["expires_in"], body["ext_expires_in"] = strconv.Itoa(int(life.Seconds())), strconv.Itoa(int(life.Seconds()))
		body["expires_on"], body["not_before"] = strconv.FormatInt(now.Add(life).Unix(), 10), strconv.FormatInt(now.Unix(), 10)
		body["resource"] = r.PostForm.Get("resource")
	} else {
		body["expires_in"], body["ext_expires_in"] = int(life.Seconds()), int(life.Seconds())
	}
	if user {
		body["scope"] = APIURI + "/" + Scope + " openid profile offline_access"
		body["refresh_token"] = "fake-refresh-" + randomString()
		body["id_token"] = a.sign(map[string]any{"aud": clientID, "iss": base + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(life).Unix(), "sub": "pairwise-sub-alice", "tid": TenantID, "ver": "2.0"})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	_ = json.NewEncoder(w).Encode(body)
}

func (a *Authority) sign(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": "fake-key-1"})
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.key, crypto.SHA256, d[:])
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
