package policies

import (
	"testing"
	"time"
)

// BenchmarkValidateJWTStepWarm: the article's validate-jwt step on a request whose token is
// in the validated-token cache, as the gateway runs it for a client sending the same token.
func BenchmarkValidateJWTStepWarm(b *testing.B) {
	t := b
	p := newIdP(t)
	e := newEnv(t, p)
	step, err := e.compileStep(t, `<validate-jwt header-name="Authorization" failed-validation-error-message="Unauthorized. Access token is missing or invalid."><openid-config url="{{discovery}}"/><required-claims><claim name="aud"><value>{{client-id}}</value></claim></required-claims></validate-jwt>`)
	if err != nil {
		b.Fatal(err)
	}
	e.waitKeys(t)
	ctx := request(map[string]string{"Authorization": "Bearer " + signRS256(t, p.key, p.kid, claimsAt(time.Now(), p.issuer(), nil))}, "")
	if err := step.Run(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := step.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
