package policies

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// failingBackend answers 503 to the first n requests, then 200.
func failingBackend(t *testing.T, n int) *backendServer {
	t.Helper()
	var mu sync.Mutex
	left := n
	return newBackendServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fail := left > 0
		left--
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	})
}

func TestRetry(t *testing.T) {
	backendRetry := func(attrs string) string {
		return `<policies><inbound/><backend>
<retry condition="@(context.Response.StatusCode == 503)" ` + attrs + `>
  <forward-request buffer-request-body="true"/>
</retry>
</backend><outbound/><on-error/></policies>`
	}
	tests := []struct {
		name       string
		attrs      string
		failures   int
		wantCalls  int
		wantStatus int
		wantWaits  []time.Duration
	}{
		{"fixed interval until it succeeds", `count="3" interval="2"`, 2, 3, 200, []time.Duration{2 * time.Second, 2 * time.Second}},
		{"count exhausted leaves the last answer", `count="2" interval="1"`, 5, 3, 503, []time.Duration{time.Second, time.Second}},
		{"first-fast-retry waits nothing the first time", `count="3" interval="2" first-fast-retry="true"`, 2, 3, 200, []time.Duration{2 * time.Second}},
		{"linear: interval plus delta per retry", `count="3" interval="1" delta="2"`, 3, 4, 200, []time.Duration{time.Second, 3 * time.Second, 5 * time.Second}},
		{"no retry when the condition is false", `count="3" interval="1"`, 0, 1, 200, nil},
		{"count zero runs once", `count="0" interval="1"`, 1, 1, 503, nil},
		{"count from an expression", `count="@(1 + 1)" interval="0"`, 5, 3, 503, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := failingBackend(t, tt.failures)
			var waits []time.Duration
			deps := Deps{Retry: RetryDeps{Sleep: func(d time.Duration) { waits = append(waits, d) }}}
			ctx := runFlow(t, deps, backendRetry(tt.attrs), srv, call{method: "POST", path: "/jobs", body: "payload"})
			if ctx.Response.StatusCode != tt.wantStatus || srv.count() != tt.wantCalls {
				t.Fatalf("status %d after %d calls, want %d after %d", ctx.Response.StatusCode, srv.count(), tt.wantStatus, tt.wantCalls)
			}
			// A zero wait does not sleep, so only the real pauses are recorded.
			if !equalDurations(waits, tt.wantWaits) {
				t.Errorf("waits %v, want %v", waits, tt.wantWaits)
			}
			if got := srv.last(t).Body; got != "payload" {
				t.Errorf("the last attempt sent body %q", got)
			}
		})
	}
	t.Run("exponential: grows with jitter on delta, capped by max-interval", func(t *testing.T) {
		srv := failingBackend(t, 10)
		var waits []time.Duration
		deps := Deps{Retry: RetryDeps{Sleep: func(d time.Duration) { waits = append(waits, d) }}}
		runFlow(t, deps, backendRetry(`count="5" interval="1" delta="2" max-interval="10"`), srv, call{path: "/jobs"})
		if len(waits) != 5 {
			t.Fatalf("waits %v", waits)
		}
		for i, w := range waits {
			// interval + (2^n - 1) * delta * [0.8, 1.2], at most max-interval
			n := float64(int(1)<<(i+1) - 1)
			lo := time.Duration(min(1+n*2*0.8, 10) * float64(time.Second))
			hi := time.Duration(min(1+n*2*1.2, 10) * float64(time.Second))
			if w < lo || w > hi {
				t.Errorf("wait %d = %v, want within [%v, %v]", i+1, w, lo, hi)
			}
		}
		if waits[4] != 10*time.Second {
			t.Errorf("the last wait %v is not capped at max-interval", waits[4])
		}
	})
	t.Run("a failing child ends the retry through on-error", func(t *testing.T) {
		doc := `<policies><inbound><retry condition="true" count="3" interval="0"><set-header name="X" exists-action="override"><value>@(context.Request.Headers["missing"][0])</value></set-header></retry></inbound><backend><forward-request/></backend><outbound/><on-error/></policies>`
		srv := newBackendServer(t, nil)
		ctx := runFlow(t, Deps{Retry: RetryDeps{Sleep: func(time.Duration) { t.Error("slept after a failure") }}}, doc, srv, call{path: "/x"})
		if ctx.Response.StatusCode != 500 || srv.count() != 0 || ctx.LastError.Path != "retry[1]/set-header[1]" {
			t.Errorf("status %d calls %d LastError %+v", ctx.Response.StatusCode, srv.count(), ctx.LastError)
		}
	})
	for _, tt := range []struct{ name, attrs, want string }{
		{"no condition", `count="1" interval="1"`, "needs a condition attribute"},
		{"no count", `condition="true" interval="1"`, "needs a count attribute"},
		{"count above 50", `condition="true" count="51" interval="1"`, "expected a number from 0 to 50"},
		{"interval above 300", `condition="true" count="1" interval="301"`, "expected a number from 0 to 300"},
		{"unknown attribute", `condition="true" count="1" interval="1" backoff="2"`, "has no attribute backoff"},
	} {
		t.Run("load error: "+tt.name, func(t *testing.T) {
			_, err := compileDoc(t, Deps{}, `<policies><backend><retry `+tt.attrs+`><forward-request/></retry></backend></policies>`)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTrace(t *testing.T) {
	var events []TraceEvent
	deps := Deps{Trace: TraceDeps{Sink: func(e TraceEvent) { events = append(events, e) }}}
	doc := flowDoc(`<trace source="orders-api" severity="information">
  <message>@("called by " + context.Request.IpAddress)</message>
  <metadata name="@("Opera" + "tion")" value="@(context.Operation.Name)"/>
</trace>
<trace source="legacy">plain text message</trace>`, "", "")
	srv := newBackendServer(t, nil)
	ctx := runFlow(t, deps, doc, srv, call{path: "/x", ip: "198.51.100.4"})
	if ctx.Response.StatusCode != 200 || len(events) != 2 {
		t.Fatalf("status %d, events %+v", ctx.Response.StatusCode, events)
	}
	e := events[0]
	if e.Source != "orders-api" || e.Severity != "information" || e.Message != "called by 198.51.100.4" ||
		len(e.Metadata) != 1 || e.Metadata[0].Name != "Operation" || e.Metadata[0].Value != "get-order" || e.RequestID == "" {
		t.Errorf("event %+v", e)
	}
	if events[1].Severity != "verbose" || events[1].Message != "plain text message" {
		t.Errorf("legacy event %+v", events[1])
	}

	t.Run("without a sink the message is not evaluated", func(t *testing.T) {
		srv := newBackendServer(t, nil)
		ctx := runFlow(t, Deps{}, flowDoc(`<trace source="x"><message>@(context.Request.Headers["absent"][0])</message></trace>`, "", ""), srv, call{path: "/x"})
		if ctx.Response.StatusCode != 200 {
			t.Errorf("status %d", ctx.Response.StatusCode)
		}
	})
	for _, tt := range []struct{ name, inbound, want string }{
		{"no source", `<trace><message>m</message></trace>`, "needs a source attribute"},
		{"bad severity", `<trace source="s" severity="debug"><message>m</message></trace>`, "severity must be verbose, information or error"},
		{"no message", `<trace source="s"/>`, "needs a <message>"},
		{"two messages", `<trace source="s"><message>a</message><message>b</message></trace>`, "takes one <message>"},
	} {
		t.Run("load error: "+tt.name, func(t *testing.T) {
			_, err := compileDoc(t, deps, flowDoc(tt.inbound, "", ""))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
