package policies

import (
	"strings"
	"testing"
	"time"

	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
)

func rateDeps(clock *fakeClock) Deps {
	return Deps{RateLimit: RateLimitDeps{Counters: &MemoryCounters{Now: clock.Now}}}
}

func callerRequest(ip string) *policy.Context {
	ctx := request(map[string]string{"X-Caller": ip}, "")
	return ctx
}

// The documented canonical use: a limit per key is enforced, answered with APIM's 429 and
// Retry-After, and renews once the window has slid past the counted calls.
func TestRateLimitByKeyEnforcedThenRenewed(t *testing.T) {
	clock := newFakeClock()
	p := mustPipeline(t, rateDeps(clock), inboundDoc(
		`<rate-limit-by-key calls="3" renewal-period="15" counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;X-Caller&quot;,&quot;&quot;))" />`))
	b := &statusBackend{}
	for i := range 3 {
		if got := runCtx(p, callerRequest("a"), b); got != 200 {
			t.Fatalf("call %d: status %d, want 200", i+1, got)
		}
		clock.Advance(time.Second)
	}
	ctx := callerRequest("a")
	if got := runCtx(p, ctx, b); got != 429 {
		t.Fatalf("4th call: status %d, want 429", got)
	}
	code, msg := errorBody(t, ctx)
	// The first call leaves the 15 s window 12 s from now (calls at 0, 1, 2 s; now 3 s).
	if code != 429 || msg != "Rate limit is exceeded. Try again in 12 seconds." {
		t.Errorf("body = %d %q", code, msg)
	}
	if ra, _ := ctx.Response.Header.Get("Retry-After"); ra != "12" {
		t.Errorf("Retry-After = %q, want 12", ra)
	}
	if ctx.LastError == nil || ctx.LastError.Reason != ReasonRateLimitExceeded || ctx.LastError.Source != "rate-limit-by-key" {
		t.Errorf("LastError = %+v", ctx.LastError)
	}
	if b.count() != 3 {
		t.Errorf("backend saw %d calls, want 3 (the refused one never reaches it)", b.count())
	}
	if got := runCtx(p, callerRequest("b"), b); got != 200 {
		t.Errorf("another key: status %d, want 200 (counters are per key)", got)
	}
	clock.Advance(12 * time.Second) // the first call leaves the window
	if got := runCtx(p, callerRequest("a"), b); got != 200 {
		t.Errorf("after the window slid: status %d, want 200", got)
	}
	if got := runCtx(p, callerRequest("a"), b); got != 429 {
		t.Errorf("the window is full again: status %d, want 429", got)
	}
	clock.Advance(15 * time.Second)
	for i := range 3 {
		if got := runCtx(p, callerRequest("a"), b); got != 200 {
			t.Errorf("after a whole period, call %d: status %d, want 200", i+1, got)
		}
	}
}

func TestRateLimitByKeyAttributes(t *testing.T) {
	tests := []struct {
		name    string
		policy  string
		calls   int // requests sent
		backend int // backend status
		check   func(t *testing.T, last *policy.Context, b *statusBackend)
	}{
		{
			// APIM's documented example: only successful calls count.
			name: "increment-condition on the response (documented example)",
			policy: `<rate-limit-by-key calls="2" renewal-period="60" increment-condition="@(context.Response.StatusCode == 200)"
				counter-key="@(context.Request.IpAddress)" remaining-calls-variable-name="remainingCallsPerIP"/>`,
			calls: 5, backend: 500,
			check: func(t *testing.T, last *policy.Context, b *statusBackend) {
				if last.Response.StatusCode != 500 || b.count() != 5 {
					t.Errorf("failed calls must not count: last status %d, backend calls %d", last.Response.StatusCode, b.count())
				}
				if v := last.Variables["remainingCallsPerIP"]; v != 1 {
					t.Errorf("remainingCallsPerIP = %v, want 1 (2 minus this call)", v)
				}
			},
		},
		{
			name:   "increment-condition counts successes",
			policy: `<rate-limit-by-key calls="2" renewal-period="60" increment-condition="@(context.Response.StatusCode == 200)" counter-key="k"/>`,
			calls:  3, backend: 200,
			check: func(t *testing.T, last *policy.Context, b *statusBackend) {
				if last.Response.StatusCode != 429 || b.count() != 2 {
					t.Errorf("third call: status %d, backend calls %d; want 429 and 2", last.Response.StatusCode, b.count())
				}
			},
		},
		{
			name: "headers and variables",
			policy: `<rate-limit-by-key calls="5" renewal-period="30" counter-key="h" increment-count="2"
				remaining-calls-header-name="X-Remaining" total-calls-header-name="X-Total" remaining-calls-variable-name="left"/>`,
			calls: 2, backend: 200,
			check: func(t *testing.T, last *policy.Context, b *statusBackend) {
				if v, _ := last.Response.Header.Get("X-Remaining"); v != "1" {
					t.Errorf("X-Remaining = %q, want 1", v)
				}
				if v, _ := last.Response.Header.Get("X-Total"); v != "5" {
					t.Errorf("X-Total = %q, want 5", v)
				}
				if v := last.Variables["left"]; v != 1 {
					t.Errorf("left = %v, want 1", v)
				}
			},
		},
		{
			name: "custom retry-after header and variable",
			policy: `<rate-limit-by-key calls="1" renewal-period="10" counter-key="x"
				retry-after-header-name="X-Retry" retry-after-variable-name="wait"/>`,
			calls: 2, backend: 200,
			check: func(t *testing.T, last *policy.Context, b *statusBackend) {
				if v, _ := last.Response.Header.Get("X-Retry"); v != "10" {
					t.Errorf("X-Retry = %q, want 10", v)
				}
				if _, ok := last.Response.Header.Get("Retry-After"); ok {
					t.Error("Retry-After set although retry-after-header-name renames it")
				}
				if v := last.Variables["wait"]; v != 10 {
					t.Errorf("wait = %v, want 10", v)
				}
			},
		},
		{
			name:   "increment-count larger than the limit is refused at once",
			policy: `<rate-limit-by-key calls="3" renewal-period="10" counter-key="big" increment-count="@(4)"/>`,
			calls:  1, backend: 200,
			check: func(t *testing.T, last *policy.Context, b *statusBackend) {
				if last.Response.StatusCode != 429 || b.count() != 0 {
					t.Errorf("status %d, backend calls %d; want 429 and 0", last.Response.StatusCode, b.count())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			p := mustPipeline(t, rateDeps(clock), inboundDoc(tt.policy))
			b := &statusBackend{status: tt.backend}
			var last *policy.Context
			for range tt.calls {
				last = request(nil, "")
				runCtx(p, last, b)
			}
			tt.check(t, last, b)
		})
	}
}

func TestRateLimitLoadErrors(t *testing.T) {
	tests := []struct {
		name, policy, want string
	}{
		{"calls missing", `<rate-limit-by-key renewal-period="10" counter-key="k"/>`, "needs a calls attribute"},
		{"counter-key missing", `<rate-limit-by-key calls="1" renewal-period="10"/>`, "needs a counter-key attribute"},
		{"period above 300", `<rate-limit-by-key calls="1" renewal-period="301" counter-key="k"/>`, "from 1 to 300"},
		{"calls not a number", `<rate-limit-by-key calls="many" renewal-period="10" counter-key="k"/>`, `expected a whole number, found "many"`},
		{"unknown attribute", `<rate-limit-by-key calls="1" renewal-period="10" counter-key="k" burst="3"/>`, "has no attribute burst"},
		{"header name as expression", `<rate-limit-by-key calls="1" renewal-period="10" counter-key="k" retry-after-header-name="@(&quot;x&quot;)"/>`, "does not accept policy expressions"},
		{"rate-limit calls expression", `<rate-limit calls="@(5)" renewal-period="10"/>`, "does not accept policy expressions"},
		{"rate-limit api without name", `<rate-limit calls="5" renewal-period="10"><api calls="1" renewal-period="5"/></rate-limit>`, "needs a name or an id"},
		{"rate-limit child", `<rate-limit calls="5" renewal-period="10"><product name="x"/></rate-limit>`, "has no child element <product>"},
		{"quota without limits", `<quota-by-key renewal-period="3600" counter-key="k"/>`, "needs calls, bandwidth or both"},
		{"quota period too short", `<quota-by-key calls="5" renewal-period="60" counter-key="k"/>`, "at least 300 seconds"},
		{"quota bad start", `<quota-by-key calls="5" renewal-period="3600" counter-key="k" first-period-start="yesterday"/>`, "ISO 8601"},
		{"limit-concurrency max-count", `<limit-concurrency key="k" max-count="0"></limit-concurrency>`, "from 1 to"},
		{"rate-limit in outbound", "", "is not allowed in the outbound section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := inboundDoc(tt.policy)
			if tt.policy == "" {
				doc = `<policies><inbound/><outbound><rate-limit-by-key calls="1" renewal-period="1" counter-key="k"/></outbound></policies>`
			}
			_, err := buildPipeline(t, Deps{}, doc, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "api.xml:") {
				t.Errorf("error %q has no file:line:col", err)
			}
		})
	}
}

// rate-limit counts the policy, each <api> and each <operation> on its own.
func TestRateLimitPerAPIAndOperation(t *testing.T) {
	clock := newFakeClock()
	p := mustPipeline(t, rateDeps(clock), inboundDoc(`
		<rate-limit calls="10" renewal-period="60" remaining-calls-header-name="X-Left">
			<api name="orders" calls="4" renewal-period="60">
				<operation name="create" calls="1" renewal-period="30"/>
			</api>
			<api id="billing-v2" name="ignored" calls="2" renewal-period="60"/>
		</rate-limit>`))
	call := func(api, apiID, op string) *policy.Context {
		ctx := request(nil, "")
		ctx.API = &policy.API{Name: api, ID: apiID}
		ctx.Operation = &policy.Operation{Name: op}
		runCtx(p, ctx, &statusBackend{})
		return ctx
	}
	steps := []struct {
		api, id, op string
		want        int
		left        string
	}{
		{"orders", "orders", "create", 200, "0"}, // operation limit 1: none left
		{"orders", "orders", "create", 429, ""},  // the operation's own counter is full
		{"orders", "orders", "list", 200, "2"},   // the API's: 4 - 2
		{"orders", "orders", "list", 200, "1"},
		{"orders", "orders", "list", 200, "0"}, // the API's 4th call (1 create + 3 list)
		{"billing", "billing-v2", "pay", 200, "1"},
		// id decides, not the name: only the policy's own limit, which an API-scope policy
		// counts per API.
		{"billing", "other-id", "pay", 200, "9"},
	}
	for i, s := range steps {
		ctx := call(s.api, s.id, s.op)
		if ctx.Response.StatusCode != s.want {
			t.Fatalf("step %d (%s/%s): status %d, want %d", i+1, s.api, s.op, ctx.Response.StatusCode, s.want)
		}
		if s.want == 200 {
			if got, _ := ctx.Response.Header.Get("X-Left"); got != s.left {
				t.Errorf("step %d: X-Left = %q, want %q", i+1, got, s.left)
			}
		}
	}
	if ctx := call("orders", "orders", "list"); ctx.Response.StatusCode != 429 {
		t.Errorf("the API's 4 calls are used: status %d, want 429", ctx.Response.StatusCode)
	}
	clock.Advance(30 * time.Second)
	if ctx := call("orders", "orders", "create"); ctx.Response.StatusCode != 429 {
		t.Errorf("after 30 s the operation renews but the API's window is still full: %d", ctx.Response.StatusCode)
	}
	clock.Advance(30 * time.Second)
	if ctx := call("orders", "orders", "create"); ctx.Response.StatusCode != 200 {
		t.Errorf("after 60 s everything renews: %d", ctx.Response.StatusCode)
	}
}

// The corpus's common counter key: the caller's token subject.
func BenchmarkRateLimitByKeyJwtSubject(b *testing.B) {
	p := mustPipeline(b, Deps{}, `<policies><inbound>
		<rate-limit-by-key calls="2000000000" renewal-period="60"
			counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;Authorization&quot;,&quot;&quot;).AsJwt()?.Subject)" />
	</inbound><backend/></policies>`)
	step := p.Steps("inbound")[0]
	tok := unsigned(b, map[string]any{"sub": "user-1", "exp": time.Now().Add(time.Hour).Unix()})
	ctx := request(map[string]string{"Authorization": "Bearer " + tok}, "")
	b.ReportAllocs()
	for b.Loop() {
		if err := step.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// At the global scope rate-limit counts every API together; at the API scope each API apart.
func TestRateLimitScopes(t *testing.T) {
	doc := inboundDoc(`<rate-limit calls="2" renewal-period="60" />`)
	for _, tt := range []struct {
		scope string
		want  []int // statuses of calls to APIs a, b, a, b
	}{
		{"global", []int{200, 200, 429, 429}},
		{"api", []int{200, 200, 200, 200}},
	} {
		t.Run(tt.scope, func(t *testing.T) {
			l := &policy.Loader{Registry: Registry(rateDeps(newFakeClock())), Expressions: expr.Compile}
			d, err := l.Load("p.xml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			var p *policy.Pipeline
			if tt.scope == "global" {
				p, err = l.Compile(d, nil, nil)
			} else {
				p, err = l.Compile(nil, d, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, api := range []string{"a", "b", "a", "b"} {
				ctx := request(nil, "")
				ctx.API = &policy.API{ID: api, Name: api}
				if got := runCtx(p, ctx, &statusBackend{}); got != tt.want[i] {
					t.Errorf("call %d to %s: %d, want %d", i+1, api, got, tt.want[i])
				}
			}
		})
	}
}
