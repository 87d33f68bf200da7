package policies

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"portcullis/internal/policy"
)

// numberingBackend answers with the number of the call, so a cached answer is recognisable.
type numberingBackend struct {
	statusBackend
}

func (b *numberingBackend) Forward(ctx *policy.Context, opt policy.ForwardOptions) error {
	if err := b.statusBackend.Forward(ctx, opt); err != nil {
		return err
	}
	ctx.Response.Body.Set([]byte("answer " + strconv.Itoa(b.count())))
	return nil
}

func TestResponseCache(t *testing.T) {
	clock := newFakeClock()
	deps := Deps{Cache: CacheDeps{Cache: &MemoryCache{Now: clock.Now}}}
	p := mustPipeline(t, deps, `<policies>
	<inbound>
		<cache-lookup vary-by-developer="false" vary-by-developer-groups="false" downstream-caching-type="public" must-revalidate="true" caching-type="internal">
			<vary-by-header>Accept</vary-by-header>
			<vary-by-query-parameter>version</vary-by-query-parameter>
		</cache-lookup>
	</inbound>
	<backend><forward-request/></backend>
	<outbound><cache-store duration="3600" /></outbound>
</policies>`)
	b := &numberingBackend{}
	steps := []struct {
		name    string
		method  string
		query   string
		headers map[string]string
		status  int // backend status for this call
		advance time.Duration
		want    string
	}{
		{name: "first call reaches the backend", query: "version=1", want: "answer 1"},
		{name: "same request from the cache", query: "version=1", want: "answer 1"},
		{name: "other query parameters do not vary", query: "version=1&trace=on", want: "answer 1"},
		{name: "a named query parameter varies", query: "version=2", want: "answer 2"},
		{name: "a named header varies", query: "version=1", headers: map[string]string{"Accept": "text/xml"}, want: "answer 3"},
		{name: "POST is not cached", method: "POST", query: "version=1", want: "answer 4"},
		{name: "a request with Authorization is private", query: "version=1", headers: map[string]string{"Authorization": "Bearer x"}, want: "answer 5"},
		{name: "an error is not stored", query: "version=9", status: 500, want: "answer 6"},
		{name: "… and not served", query: "version=9", want: "answer 7"},
		{name: "expired after duration", query: "version=1", advance: time.Hour, want: "answer 8"},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		b.mu.Lock()
		b.status = s.status
		b.mu.Unlock()
		ctx := request(s.headers, s.query)
		if s.method != "" {
			ctx.Request.Method = s.method
		}
		runCtx(p, ctx, b)
		body, _ := ctx.Response.Body.Bytes()
		if string(body) != s.want {
			t.Errorf("%s: body %q, want %q", s.name, body, s.want)
		}
	}
	// downstream-caching-type="public" tells clients how long they may keep it.
	ctx := request(nil, "version=3")
	runCtx(p, ctx, b)
	if cc, _ := ctx.Response.Header.Get("Cache-Control"); cc != "public, max-age=3600, must-revalidate" {
		t.Errorf("Cache-Control = %q", cc)
	}
	hit := request(nil, "version=3")
	runCtx(p, hit, b)
	if cc, _ := hit.Response.Header.Get("Cache-Control"); cc != "public, max-age=3600, must-revalidate" {
		t.Errorf("Cache-Control of a cached answer = %q", cc)
	}
	if ct, _ := hit.Response.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("cached answer lost its headers: Content-Type %q", ct)
	}
}

// The sections APIM allows for the policies the loader's own table does not list.
func TestSectionRules(t *testing.T) {
	tests := []struct{ section, policy, want string }{
		{"inbound", `<cache-store duration="10" />`, "<cache-store> is not allowed in the inbound section (it belongs in outbound)"},
		{"outbound", `<cache-lookup vary-by-developer="false" vary-by-developer-groups="false" />`, "<cache-lookup> is not allowed in the outbound section (it belongs in inbound)"},
		{"outbound", `<authentication-basic username="a" password="b" />`, "<authentication-basic> is not allowed in the outbound section"},
		{"on-error", `<authentication-managed-identity resource="r" />`, "<authentication-managed-identity> is not allowed in the on-error section"},
		{"backend", `<authentication-certificate certificate-id="x" />`, "<authentication-certificate> is not allowed in the backend section"},
	}
	for _, tt := range tests {
		t.Run(tt.section+" "+tt.policy, func(t *testing.T) {
			doc := "<policies><" + tt.section + ">" + tt.policy + "</" + tt.section + "></policies>"
			_, err := buildPipeline(t, Deps{}, doc, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	// Inside send-request, authentication-basic is a setting of the request, in any section.
	mustPipeline(t, Deps{}, `<policies><outbound><send-request mode="new" response-variable-name="r">
		<set-url>https://example.invalid/</set-url><authentication-basic username="a" password="b" /></send-request></outbound></policies>`)
}
