package policycheck_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"testing"
	"time"

	"portcullis/internal/keys"
	"portcullis/internal/policies"
	"portcullis/internal/policy"
	"portcullis/internal/tokenclient/policycheck"
)

// TestVerdictMatchesGateway runs the gateway's own compiled <validate-jwt> on the same tokens
// and requires policycheck's verdict (pass, or the failure reason and status) to be the same.
func TestVerdictMatchesGateway(t *testing.T) {
	p := newIDP(t)
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now().Truncate(time.Second)
	named := map[string]string{"openid-config": p.discovery(), "backend-app-client-id": backend}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": backend, "iss": p.issuer, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "tid": tenant, "ver": "2.0"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	tokens := map[string]string{
		"good":          sign(t, p.key, "k1", claims(nil)),
		"other API":     sign(t, p.key, "k1", claims(func(c map[string]any) { c["aud"] = otherAPI })),
		"expired":       sign(t, p.key, "k1", claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"not yet valid": sign(t, p.key, "k1", claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })),
		"no exp":        sign(t, p.key, "k1", claims(func(c map[string]any) { delete(c, "exp") })),
		"other issuer":  sign(t, p.key, "k1", claims(func(c map[string]any) { c["iss"] = "https://sts.windows.net/" + tenant + "/" })),
		"stranger":      sign(t, stranger, "k1", claims(nil)),
		"unknown kid":   sign(t, stranger, "k2", claims(nil)),
		"garbage":       "not.a.token",
	}
	file := writePolicy(t, articlePolicy)

	kc, err := keys.NewCache(keys.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	loader := &policy.Loader{
		Registry:    policies.Registry(policies.Deps{ValidateJWT: policies.ValidateJWTDeps{Keys: kc, Now: func() time.Time { return now }}}),
		NamedValues: named,
	}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := loader.Load(file, src)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := doc.Section("inbound")
	var step policy.Step
	for _, el := range in.Children {
		if el.Name == "validate-jwt" {
			if step, err = loader.Registry["validate-jwt"](el, &policy.Compiler{Registry: loader.Registry, Scope: "api", Section: "inbound"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for deadline := time.Now().Add(10 * time.Second); !kc.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway's key cache never got keys: %+v", kc.Status())
		}
	}

	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			ctx := &policy.Context{Request: &policy.Request{Method: "GET"}, Variables: map[string]any{}}
			ctx.Request.Header.Add("Authorization", "Bearer "+tok)
			gwErr := step.Run(ctx)
			var gw *policy.Failure
			if gwErr != nil && !errors.As(gwErr, &gw) {
				t.Fatalf("gateway: %v", gwErr)
			}
			results, err := policycheck.Evaluate(context.Background(), file, tok,
				policycheck.Options{NamedValues: named, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			r := results[0]
			switch {
			case gw == nil && !r.Passed():
				t.Fatalf("the gateway lets it through, policycheck says %s", r.Failure.Reason)
			case gw != nil && r.Passed():
				t.Fatalf("the gateway refuses it (%s), policycheck lets it through", gw.Reason)
			case gw != nil && (gw.Reason != string(r.Failure.Reason) || gw.StatusCode != r.Status || gw.Message != r.Message):
				t.Fatalf("gateway %s %d %q, policycheck %s %d %q", gw.Reason, gw.StatusCode, gw.Message, r.Failure.Reason, r.Status, r.Message)
			}
			if gw != nil {
				failed := false
				for _, c := range r.Checks {
					failed = failed || c.Status == policycheck.Fail
				}
				if !failed {
					t.Errorf("the gateway refuses it (%s) but no check failed: %+v", gw.Reason, r.Checks)
				}
			}
		})
	}
}
