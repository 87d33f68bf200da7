package admin

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"portcullis/internal/identity"
)

// TokenMetrics counts the identity service's token requests by grant and outcome. It is the
// identity service's Observer.
type TokenMetrics struct {
	issued *prometheus.CounterVec
	failed *prometheus.CounterVec
}

var _ identity.Observer = (*TokenMetrics)(nil)

// NewTokenMetrics registers the token counters on reg.
func NewTokenMetrics(reg prometheus.Registerer) *TokenMetrics {
	m := &TokenMetrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_identity_tokens_issued_total",
			Help: "Tokens issued by the token endpoint, by grant (client_credentials, authorization_code, refresh_token, device_code, on_behalf_of).",
		}, []string{"grant"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_identity_token_errors_total",
			Help: "Token requests refused, by grant and AADSTS error code (70016 is device code's authorization_pending).",
		}, []string{"grant", "code"}),
	}
	reg.MustRegister(m.issued, m.failed)
	return m
}

// TokenIssued implements identity.Observer.
func (m *TokenMetrics) TokenIssued(grant string) { m.issued.WithLabelValues(grant).Inc() }

// TokenFailed implements identity.Observer.
func (m *TokenMetrics) TokenFailed(grant string, code int) {
	m.failed.WithLabelValues(grant, strconv.Itoa(code)).Inc()
}
