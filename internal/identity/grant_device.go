package identity

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"portcullis/internal/directory"
)

// Device grant states.
const (
	deviceApproved = "approved"
	deviceDeclined = "declined"
)

// deviceGrant is a pending device authorization.
type deviceGrant struct {
	userGrant
	UserCode string `json:"user_code"`
	Status   string `json:"status,omitempty"` // "", approved, declined
	// Multi: the request came through common/organizations; the user's tenant decides.
	Multi bool `json:"multi,omitempty"`
}

// userCodeAlphabet avoids characters people confuse (0/O, 1/I).
const userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func newUserCode() string {
	var b strings.Builder
	for i := 0; i < 9; i++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(userCodeAlphabet))))
		b.WriteByte(userCodeAlphabet[n.Int64()])
	}
	return b.String()
}

func normalizeUserCode(code string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code)))
}

// handleDeviceCode starts a device authorization (RFC 8628 §3.1). v1 answers with string
// numbers and verification_url, as Entra's v1 endpoint does.
func (s *Server) handleDeviceCode(version int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		resp, err := s.deviceCode(r, version)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store, no-cache")
		_ = json.NewEncoder(w).Encode(resp)
	}
}

func (s *Server) deviceCode(r *http.Request, version int) (any, error) {
	req, err := s.parseTokenRequest(r, version)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	c, err := s.findClient(ctx, req.tenant, req.clientID)
	if err != nil {
		return nil, err
	}
	if !isPublicApp(c.app) {
		return nil, errPublicClientRequired(c.app.AppID)
	}
	scope := req.scope
	if version == 2 && scope == "" {
		return nil, errMissingParameter("scope")
	}
	q, err := parseScopes(scope)
	if err != nil {
		return nil, err
	}
	if q.resource != "" {
		res, err := s.findResource(ctx, c.tenantID, q.resource)
		if err != nil {
			return nil, err
		}
		if err := checkPermissions(res, q.permissions); err != nil {
			return nil, err
		}
	}
	deviceCode, userCode := randomToken(), newUserCode()
	now := s.now()
	dg := deviceGrant{
		userGrant: userGrant{Version: version, TenantID: c.tenantID, ClientID: c.app.AppID, Scope: scope, Resource: req.resource, PublicRequest: true},
		UserCode:  userCode,
		Multi:     req.tenant.Multi(),
	}
	data, err := json.Marshal(dg)
	if err != nil {
		return nil, err
	}
	key := grantKey(deviceCode)
	err = s.store.Update(ctx, func(tx directory.Writer) error {
		if err := tx.PutGrant(ctx, &directory.GrantRecord{Kind: kindDevice, Key: key, Family: uuid.NewString(), TenantID: c.tenantID, Data: data, Expires: now.Add(deviceLifetime)}); err != nil {
			return err
		}
		return tx.PutGrant(ctx, &directory.GrantRecord{Kind: kindUserCode, Key: userCode, TenantID: c.tenantID, Data: []byte(key), Expires: now.Add(deviceLifetime)})
	})
	if err != nil {
		return nil, fmt.Errorf("store device code: %w", err)
	}
	verification := s.publicURL + "/devicelogin"
	message := fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verification, userCode)
	interval := int(s.interval / time.Second)
	if interval < 1 {
		interval = 1
	}
	expires := int(deviceLifetime / time.Second)
	if version == 1 {
		return map[string]string{
			"user_code": userCode, "device_code": deviceCode, "verification_url": verification,
			"expires_in": strconv.Itoa(expires), "interval": strconv.Itoa(interval), "message": message,
		}, nil
	}
	return struct {
		UserCode        string `json:"user_code"`
		DeviceCode      string `json:"device_code"`
		VerificationURI string `json:"verification_uri"`
		ExpiresIn       int    `json:"expires_in"`
		Interval        int    `json:"interval"`
		Message         string `json:"message"`
	}{userCode, deviceCode, verification, expires, interval, message}, nil
}

// grantDeviceCode answers a device's poll: authorization_pending until the user has signed
// in on the verification page, slow_down when polled faster than the interval,
// expired_token after 15 minutes.
func (s *Server) grantDeviceCode(r *http.Request, req *tokenRequest) (*issuedTokens, error) {
	ctx := r.Context()
	if req.deviceCode == "" {
		return nil, errMissingParameter("device_code")
	}
	key := grantKey(req.deviceCode)
	rec, err := s.store.Grant(ctx, kindDevice, key)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, errDeviceBadCode()
	}
	if err != nil {
		return nil, fmt.Errorf("read device code: %w", err)
	}
	var dg deviceGrant
	if err := json.Unmarshal(rec.Data, &dg); err != nil {
		return nil, fmt.Errorf("decode device code: %w", err)
	}
	if req.clientID != dg.ClientID {
		return nil, errDeviceBadCode()
	}
	if s.now().After(rec.Expires) {
		return nil, errDeviceExpired()
	}
	switch dg.Status {
	case deviceDeclined:
		return nil, errDeviceDeclined()
	case deviceApproved:
	default:
		if s.polls.tooSoon(key, s.interval) {
			return nil, errDeviceSlowDown()
		}
		return nil, errDevicePending()
	}
	// Single use: the record goes before tokens are issued.
	var gone bool
	err = s.store.Update(ctx, func(tx directory.Writer) error {
		if _, err := tx.Grant(ctx, kindDevice, key); errors.Is(err, directory.ErrNotFound) {
			gone = true
			return nil
		}
		return tx.DeleteGrant(ctx, kindDevice, key)
	})
	if err != nil {
		return nil, err
	}
	if gone {
		return nil, errDeviceBadCode()
	}
	s.polls.forget(key)
	tenant := req.tenant
	if tenant.Multi() || tenant.Tenant.ID != dg.TenantID {
		t, err := s.store.Tenant(ctx, dg.TenantID)
		if err != nil {
			return nil, fmt.Errorf("read tenant: %w", err)
		}
		tenant = tenantRef{Segment: t.ID, Tenant: t}
	}
	creq := *req
	creq.tenant = tenant
	c, err := s.authenticateClient(ctx, &creq, true)
	if err != nil {
		return nil, err
	}
	return s.issueUserTokens(ctx, req, c, dg.userGrant, dg.Scope, rec.Family, idTokenInput{version: dg.Version}, nil)
}

// pollClock remembers when each device code was last polled (slow_down, RFC 8628 §3.5).
type pollClock struct {
	mu   sync.Mutex
	now  func() time.Time
	last map[string]time.Time
}

func newPollClock(now func() time.Time) *pollClock {
	return &pollClock{now: now, last: map[string]time.Time{}}
}

// tooSoon records a poll and reports whether it came within interval of the previous one.
func (p *pollClock) tooSoon(key string, interval time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if len(p.last) > 10000 {
		for k, t := range p.last {
			if now.Sub(t) > deviceLifetime {
				delete(p.last, k)
			}
		}
	}
	prev, seen := p.last[key]
	p.last[key] = now
	return seen && now.Sub(prev) < interval
}

func (p *pollClock) forget(key string) {
	p.mu.Lock()
	delete(p.last, key)
	p.mu.Unlock()
}
