package policies

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"portcullis/internal/policy"
)

func TestQuotaByKeyEnforcedThenRenewed(t *testing.T) {
	clock := newFakeClock()
	p := mustPipeline(t, rateDeps(clock), inboundDoc(
		`<quota-by-key calls="2" renewal-period="300" counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;X-Caller&quot;,&quot;&quot;))" />`))
	b := &statusBackend{}
	for i := range 2 {
		if got := runCtx(p, callerRequest("a"), b); got != 200 {
			t.Fatalf("call %d: status %d", i+1, got)
		}
	}
	clock.Advance(60 * time.Second)
	ctx := callerRequest("a")
	if got := runCtx(p, ctx, b); got != 403 {
		t.Fatalf("3rd call: status %d, want 403", got)
	}
	if code, msg := errorBody(t, ctx); code != 403 || msg != "Out of call volume quota. Quota will be replenished in 00:04:00." {
		t.Errorf("body = %d %q", code, msg)
	}
	if ra, _ := ctx.Response.Header.Get("Retry-After"); ra != "240" {
		t.Errorf("Retry-After = %q, want 240", ra)
	}
	if ctx.LastError.Reason != ReasonQuotaExceeded || ctx.LastError.Source != "quota-by-key" {
		t.Errorf("LastError = %+v", ctx.LastError)
	}
	if got := runCtx(p, callerRequest("b"), b); got != 200 {
		t.Errorf("another key: %d", got)
	}
	clock.Advance(239 * time.Second)
	if got := runCtx(p, callerRequest("a"), b); got != 403 {
		t.Errorf("one second before the period ends: %d, want 403", got)
	}
	clock.Advance(time.Second)
	for i := range 2 {
		if got := runCtx(p, callerRequest("a"), b); got != 200 {
			t.Errorf("new period, call %d: %d, want 200", i+1, got)
		}
	}
}

func TestQuotaByKeyVariants(t *testing.T) {
	tests := []struct {
		name     string
		policy   string
		body     string // backend answer
		status   int
		calls    int
		wantLast int
		wantMsg  string
		noRetry  bool
	}{
		{
			// APIM's documented example, with a small bandwidth: the first answer of 3 KB uses it up.
			name: "documented example, bandwidth",
			policy: `<quota-by-key calls="10000" bandwidth="2" renewal-period="3600"
				increment-condition="@(context.Response.StatusCode &gt;= 200 &amp;&amp; context.Response.StatusCode &lt; 400)"
				counter-key="@(context.Request.IpAddress)" />`,
			body: strings.Repeat("x", 3000), calls: 2, wantLast: 403,
			wantMsg: "Out of bandwidth quota. Quota will be replenished in 01:00:00.",
		},
		{
			name:   "failed calls are not counted",
			policy: `<quota-by-key calls="1" renewal-period="3600" increment-condition="@(context.Response.StatusCode &lt; 400)" counter-key="k" />`,
			status: 503, calls: 3, wantLast: 503,
		},
		{
			name: "a key is counted once per request",
			policy: `<quota-by-key calls="2" renewal-period="300" counter-key="shared" />
				<quota-by-key calls="2" renewal-period="300" counter-key="shared" />`,
			calls: 2, wantLast: 200,
		},
		{
			name:   "a period that never renews",
			policy: `<quota-by-key calls="1" renewal-period="0" counter-key="k" />`,
			calls:  2, wantLast: 403, wantMsg: "Out of call volume quota.", noRetry: true,
		},
		{
			name:   "first-period-start sets the period boundaries",
			policy: `<quota-by-key calls="1" renewal-period="86400" first-period-start="2026-03-01T00:00:00Z" counter-key="k" />`,
			calls:  2, wantLast: 403, wantMsg: "Out of call volume quota. Quota will be replenished in 12:00:00.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPipeline(t, rateDeps(newFakeClock()), inboundDoc(tt.policy))
			b := &statusBackend{status: tt.status, body: tt.body}
			var last *policy.Context
			for range tt.calls {
				last = request(nil, "")
				runCtx(p, last, b)
			}
			if last.Response.StatusCode != tt.wantLast {
				t.Fatalf("last status %d, want %d", last.Response.StatusCode, tt.wantLast)
			}
			if tt.wantMsg != "" {
				if _, msg := errorBody(t, last); msg != tt.wantMsg {
					t.Errorf("message %q, want %q", msg, tt.wantMsg)
				}
			}
			if _, ok := last.Response.Header.Get("Retry-After"); ok == tt.noRetry && tt.wantLast == 403 {
				t.Errorf("Retry-After present = %v, want %v", ok, !tt.noRetry)
			}
		})
	}
}

// Parallel callers never get more than the limit between them.
func TestMemoryCountersExactUnderConcurrency(t *testing.T) {
	m := &MemoryCounters{Now: newFakeClock().Now}
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if m.Rate("k", 500, 1, time.Minute, true).Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 500 {
		t.Errorf("%d calls allowed, limit 500", allowed)
	}
}

// Counters stay bounded: at the bound, emptied windows go first, then the least recently used.
func TestMemoryCountersBounded(t *testing.T) {
	clock := newFakeClock()
	m := &MemoryCounters{Now: clock.Now, MaxKeys: 4}
	for _, k := range []string{"a", "b", "c", "d"} {
		m.Rate(k, 1, 1, 10*time.Second, true)
		clock.Advance(time.Second)
	}
	m.Rate("e", 1, 1, 10*time.Second, true) // full: nothing has expired, the older half goes
	if got := len(m.rates); got > 4 {
		t.Fatalf("%d keys held, bound is 4", got)
	}
	if res := m.Rate("d", 1, 1, 10*time.Second, true); res.Allowed {
		t.Error("d was recently used and must still be counted")
	}
	if res := m.Rate("a", 1, 1, 10*time.Second, true); !res.Allowed {
		t.Error("a was the least recently used and was forgotten: it starts afresh")
	}
}

// limit-concurrency lets max-count requests inside at once; the next one gets 429 at once.
func TestLimitConcurrency(t *testing.T) {
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(204)
	}))
	defer srv.Close()
	deps := Deps{RateLimit: RateLimitDeps{Concurrency: NewConcurrency()}}
	// The documented example's shape: the limited policies are the backend call.
	p := mustPipeline(t, deps, inboundDoc(`
		<limit-concurrency key="@((string)context.Variables[&quot;connectionId&quot;])" max-count="1">
			<send-request mode="new" response-variable-name="r" timeout="20">
				<set-url>`+srv.URL+`</set-url>
			</send-request>
		</limit-concurrency>`))
	call := func(conn string) *policy.Context {
		ctx := request(nil, "")
		ctx.Variables["connectionId"] = conn
		runCtx(p, ctx, &statusBackend{})
		return ctx
	}
	var wg sync.WaitGroup
	var first *policy.Context
	wg.Go(func() { first = call("c1") })
	<-entered // the first request is inside
	if n := deps.RateLimit.Concurrency.Inside("c1"); n != 1 {
		t.Errorf("inside = %d, want 1", n)
	}
	second := call("c1")
	if second.Response.StatusCode != 429 || second.LastError.Reason != ReasonConcurrencyLimitExceeded {
		t.Errorf("second request: %d %+v, want 429", second.Response.StatusCode, second.LastError)
	}
	var other *policy.Context
	wg.Go(func() { other = call("c2") }) // another key has its own count
	<-entered
	close(release)
	wg.Wait()
	if first.Response.StatusCode != 200 || other.Response.StatusCode != 200 {
		t.Errorf("admitted requests: %d and %d, want 200", first.Response.StatusCode, other.Response.StatusCode)
	}
	if r, ok := first.Variables["r"].(*policy.Response); !ok || r.StatusCode != 204 {
		t.Errorf("the nested send-request did not run: %#v", first.Variables["r"])
	}
	if n := deps.RateLimit.Concurrency.Inside("c1"); n != 0 {
		t.Errorf("inside after the requests = %d, want 0", n)
	}
	if third := call("c1"); third.Response.StatusCode != 200 {
		t.Errorf("after the first left: %d, want 200", third.Response.StatusCode)
	}
}
