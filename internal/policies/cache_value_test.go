package policies

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"portcullis/internal/policy"
)

// probe is a log-to-eventhub that writes what an expression sees, so tests read variables
// through the expression language, as policies do.
func probe(expr string) string {
	return `<log-to-eventhub logger-id="probe">` + expr + `</log-to-eventhub>`
}

func probeDeps(buf *bytes.Buffer) EventHubDeps {
	return EventHubDeps{Loggers: map[string]*EventLog{"probe": NewEventLog(buf)}}
}

func lastProbe(t *testing.T, buf *bytes.Buffer) string {
	t.Helper()
	lines := eventLines(t, buf)
	if len(lines) == 0 {
		t.Fatal("the probe wrote nothing")
	}
	return lines[len(lines)-1].Message
}

func TestCacheValuePolicies(t *testing.T) {
	clock := newFakeClock()
	var buf bytes.Buffer
	deps := Deps{Cache: CacheDeps{Cache: &MemoryCache{Now: clock.Now}}, EventHub: probeDeps(&buf)}
	key := `@(&quot;item-&quot; + context.Request.Headers.GetValueOrDefault(&quot;X-Id&quot;,&quot;&quot;))`
	store := mustPipeline(t, deps, inboundDoc(`<cache-store-value key="`+key+`" value="@(context.Request.Headers.GetValueOrDefault(&quot;X-Value&quot;,&quot;&quot;))" duration="60" />`))
	storeInt := mustPipeline(t, deps, inboundDoc(`<cache-store-value key="number" value="@(41)" duration="@(30)" caching-type="internal" />`))
	lookup := mustPipeline(t, deps, inboundDoc(`<cache-lookup-value key="`+key+`" variable-name="v" />`+
		probe(`@(context.Variables.GetValueOrDefault&lt;string&gt;(&quot;v&quot;, &quot;unset&quot;))`)))
	lookupDefault := mustPipeline(t, deps, inboundDoc(`<cache-lookup-value key="`+key+`" default-value="-noToken-" variable-name="v" />`+
		probe(`@((string)context.Variables[&quot;v&quot;])`)))
	lookupInt := mustPipeline(t, deps, inboundDoc(`<cache-lookup-value key="number" variable-name="n" />`+
		probe(`@(((int)context.Variables[&quot;n&quot;] + 1).ToString())`)))
	remove := mustPipeline(t, deps, inboundDoc(`<cache-remove-value key="`+key+`" />`))

	run := func(p *policy.Pipeline, id, value string) {
		ctx := request(map[string]string{"X-Id": id, "X-Value": value}, "")
		if got := runCtx(p, ctx, &statusBackend{}); got != 200 {
			t.Fatalf("status %d: %+v", got, ctx.LastError)
		}
	}
	steps := []struct {
		name  string
		do    func()
		check *policy.Pipeline
		id    string
		want  string
	}{
		{"miss without default leaves the variable unset", nil, lookup, "1", "unset"},
		{"miss with default-value", nil, lookupDefault, "1", "-noToken-"},
		{"stored value is found", func() { run(store, "1", "alpha") }, lookup, "1", "alpha"},
		{"other keys are apart", nil, lookup, "2", "unset"},
		{"a later store replaces", func() { run(store, "1", "beta") }, lookup, "1", "beta"},
		{"values keep their type", func() { run(storeInt, "", "") }, lookupInt, "", "42"},
		{"removed", func() { run(remove, "1", "") }, lookupDefault, "1", "-noToken-"},
		{"expires after duration", func() { run(store, "3", "gamma"); clock.Advance(60 * time.Second) }, lookup, "3", "unset"},
		{"duration from an expression", func() { clock.Advance(-60 * time.Second) }, lookupInt, "", "42"},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		run(s.check, s.id, "")
		if got := lastProbe(t, &buf); got != s.want {
			t.Errorf("%s: expression saw %q, want %q", s.name, got, s.want)
		}
	}
}

func TestCacheValueLoadErrors(t *testing.T) {
	tests := []struct{ name, policy, want string }{
		{"lookup without variable", `<cache-lookup-value key="k" />`, "needs a variable-name attribute"},
		{"variable-name expression", `<cache-lookup-value key="k" variable-name="@(&quot;v&quot;)" />`, "does not accept policy expressions"},
		{"store without duration", `<cache-store-value key="k" value="v" />`, "needs a duration attribute"},
		{"negative duration", `<cache-store-value key="k" value="v" duration="-1" />`, "from 0 to"},
		{"caching-type", `<cache-remove-value key="k" caching-type="disk" />`, `caching-type must be "internal", "external" or "prefer-external"`},
		{"cache-lookup needs vary-by-developer", `<cache-lookup vary-by-developer-groups="false" />`, "needs a vary-by-developer attribute"},
		{"cache-lookup downstream type", `<cache-lookup vary-by-developer="false" vary-by-developer-groups="false" downstream-caching-type="shared" />`, "downstream-caching-type must be"},
		{"cache-lookup child", `<cache-lookup vary-by-developer="false" vary-by-developer-groups="false"><vary-by-cookie>x</vary-by-cookie></cache-lookup>`, "has no child element <vary-by-cookie>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildPipeline(t, Deps{}, inboundDoc(tt.policy), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestMemoryCacheBounds(t *testing.T) {
	tests := []struct {
		name       string
		maxEntries int
		maxBytes   int64
		values     []string
		wantKept   []string
		wantGone   []string
	}{
		{"entry bound drops the least recently used", 2, 0, []string{"a", "b", "c"}, []string{"b", "c"}, []string{"a"}},
		{"byte bound", 0, 150, []string{"a", "b", "c"}, []string{"b", "c"}, []string{"a"}},
		{"a value larger than the cache is not kept", 0, 100, []string{"big"}, nil, []string{"big"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &MemoryCache{MaxEntries: tt.maxEntries, MaxBytes: tt.maxBytes}
			for _, k := range tt.values {
				v := "x"
				if k == "big" {
					v = strings.Repeat("x", 200)
				}
				m.Set(k, v, time.Minute)
			}
			for _, k := range tt.wantKept {
				if _, ok := m.Get(k); !ok {
					t.Errorf("%s was dropped", k)
				}
			}
			for _, k := range tt.wantGone {
				if _, ok := m.Get(k); ok {
					t.Errorf("%s is still held", k)
				}
			}
			if tt.maxEntries > 0 && m.Len() > tt.maxEntries {
				t.Errorf("%d entries held, bound %d", m.Len(), tt.maxEntries)
			}
		})
	}
	// A lookup makes an entry recent, so the other one goes first.
	m := &MemoryCache{MaxEntries: 2}
	m.Set("a", 1, time.Minute)
	m.Set("b", 2, time.Minute)
	m.Get("a")
	m.Set("c", 3, time.Minute)
	if _, ok := m.Get("a"); !ok {
		t.Error("a was used recently and must be kept")
	}
	if _, ok := m.Get("b"); ok {
		t.Error("b was the least recently used and must be gone")
	}
}
