package identity

import (
	"net/url"
	"slices"
	"sync"
	"testing"
)

// tokenOutcomes records what the Observer is told.
type tokenOutcomes struct {
	mu  sync.Mutex
	got []string
}

func (o *tokenOutcomes) TokenIssued(grant string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, grant+" issued")
}

func (o *tokenOutcomes) TokenFailed(grant string, code int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, grant+" AADSTS"+itoa(code))
}

func TestObserverSeesEveryTokenRequest(t *testing.T) {
	obs := &tokenOutcomes{}
	f := newFixture(t, func(o *Options) { o.Observer = obs })
	tests := []struct {
		name string
		form url.Values
		want string
	}{
		{name: "client credentials", want: "client_credentials issued",
			form: url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {f.secret}, "scope": {backendURI + "/.default"}}},
		{name: "wrong secret", want: "client_credentials AADSTS7000215",
			form: url.Values{"grant_type": {"client_credentials"}, "client_id": {clientAppID}, "client_secret": {"not-the-secret"}, "scope": {backendURI + "/.default"}}},
		{name: "unknown refresh token", want: "refresh_token AADSTS70000",
			form: url.Values{"grant_type": {"refresh_token"}, "client_id": {publicAppID}, "refresh_token": {"nonsense"}}},
		{name: "no grant type", want: "none AADSTS900144",
			form: url.Values{"client_id": {clientAppID}}},
		{name: "made-up grant type", want: "unsupported AADSTS70003",
			form: url.Values{"grant_type": {"password-please"}, "client_id": {clientAppID}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs.mu.Lock()
			obs.got = nil
			obs.mu.Unlock()
			f.post(f.tokenURL(2), tt.form, nil)
			obs.mu.Lock()
			defer obs.mu.Unlock()
			if !slices.Equal(obs.got, []string{tt.want}) {
				t.Errorf("observed %q, want [%q]", obs.got, tt.want)
			}
		})
	}
}
