package policies

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"portcullis/internal/policy"
)

func TestEmitMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	deps := Deps{Metrics: MetricsDeps{Registerer: reg, MaxSeries: 2}}
	// APIM's documented example.
	p := mustPipeline(t, deps, inboundDoc(`
		<emit-metric name="Request" value="1" namespace="my-metrics">
			<dimension name="User ID" />
			<dimension name="Client IP" value="@(context.Request.Headers.GetValueOrDefault(&quot;X-Ip&quot;,&quot;&quot;))" />
			<dimension name="API ID" />
		</emit-metric>`))
	for _, ip := range []string{"10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		ctx := request(map[string]string{"X-Ip": ip}, "")
		ctx.API = &policy.API{ID: "echo-api"}
		if got := runCtx(p, ctx, &statusBackend{}); got != 200 {
			t.Fatalf("status %d", got)
		}
	}
	want := `
# HELP my_metrics_request Custom metric "Request" in namespace "my-metrics" (emit-metric).
# TYPE my_metrics_request counter
my_metrics_request{api_id="(other)",client_ip="(other)",user_id="(other)"} 2
my_metrics_request{api_id="echo-api",client_ip="10.0.0.1",user_id=""} 2
my_metrics_request{api_id="echo-api",client_ip="10.0.0.2",user_id=""} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "my_metrics_request"); err != nil {
		t.Error(err)
	}

	// A second configuration (a reload) with the same metric reuses it.
	p2 := mustPipeline(t, deps, inboundDoc(`<emit-metric name="Request" value="@(2.5)" namespace="my-metrics">
		<dimension name="User ID" /><dimension name="Client IP" value="x" /><dimension name="API ID" /></emit-metric>`))
	runCtx(p2, request(nil, ""), &statusBackend{})
	if got := counterSum(t, reg); got != 2+2+1+2.5 {
		t.Errorf("total after the reload = %v", got)
	}
}

// counterSum adds every series of every counter in reg.
func counterSum(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func TestEmitMetricLoadErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	tests := []struct{ name, policy, want string }{
		{"name required", `<emit-metric value="1"><dimension name="API ID"/></emit-metric>`, "needs a name attribute"},
		{"value constant must be a number", `<emit-metric name="m" value="lots"><dimension name="API ID"/></emit-metric>`, "value must be a number"},
		{"dimension without value", `<emit-metric name="m"><dimension name="Tenant"/></emit-metric>`, "needs a value: only the default dimensions"},
		{"eleven dimensions", `<emit-metric name="m">` + strings.Repeat(`<dimension name="API ID"/>`, 11) + `</emit-metric>`, "more than 10 dimensions"},
		{"same dimension twice", `<emit-metric name="m"><dimension name="API ID"/><dimension name="API ID"/></emit-metric>`, "twice"},
		{"other dimensions than a registered metric", `<emit-metric name="Request" namespace="my-metrics"><dimension name="API ID"/></emit-metric>`, "cannot be registered"},
	}
	mustPipeline(t, Deps{Metrics: MetricsDeps{Registerer: reg}}, inboundDoc(`<emit-metric name="Request" namespace="my-metrics"><dimension name="User ID"/></emit-metric>`))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildPipeline(t, Deps{Metrics: MetricsDeps{Registerer: reg}}, inboundDoc(tt.policy), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := buildPipeline(t, Deps{}, inboundDoc(`<emit-metric name="m"/>`), nil); err == nil || !strings.Contains(err.Error(), "metrics registry") {
		t.Errorf("without a registerer: %v", err)
	}
}

func TestLogToEventHub(t *testing.T) {
	var buf syncBuffer
	clock := newFakeClock()
	deps := Deps{EventHub: EventHubDeps{Loggers: map[string]*EventLog{"eventhub-logger": NewEventLog(&buf)}, Now: clock.Now}}
	p := mustPipeline(t, deps, inboundDoc(`
		<log-to-eventhub logger-id="eventhub-logger" partition-key="@(context.Request.Method)">@(string.Join(",", "GatewayRequest", context.RequestId, context.Request.Method))</log-to-eventhub>
		<log-to-eventhub logger-id="eventhub-logger" partition-id="1">
			plain text
		</log-to-eventhub>`))
	ctx := request(nil, "")
	if got := runCtx(p, ctx, &statusBackend{}); got != 200 {
		t.Fatalf("status %d", got)
	}
	lines := eventLines(t, buf.snapshot())
	want := []eventRecord{
		{Time: clock.Now().Format(time.RFC3339Nano), LoggerID: "eventhub-logger", PartitionKey: "GET", RequestID: "req-1", Message: "GatewayRequest,req-1,GET"},
		{Time: clock.Now().Format(time.RFC3339Nano), LoggerID: "eventhub-logger", PartitionID: "1", RequestID: "req-1", Message: "plain text"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %s", len(lines), len(want), buf.snapshot())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i+1, lines[i], want[i])
		}
	}
	for _, bad := range []struct{ policy, want string }{
		{`<log-to-eventhub logger-id="other">x</log-to-eventhub>`, `logger-id "other" names no logger under gateway.loggers`},
		{`<log-to-eventhub>x</log-to-eventhub>`, "needs a logger-id attribute"},
		{`<log-to-eventhub logger-id="eventhub-logger" partition-id="1" partition-key="k">x</log-to-eventhub>`, "not both"},
	} {
		if _, err := buildPipeline(t, deps, inboundDoc(bad.policy), nil); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error = %v, want %q", bad.policy, err, bad.want)
		}
	}
}
