package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"
)

// The hand-encoded access line carries what a slog JSON handler writes for the same record, so
// that log readers see no difference between the two.
func TestAccessLineMatchesSlog(t *testing.T) {
	now := time.Date(2026, 11, 25, 21, 30, 1, 234567891, time.FixedZone("X", 3600))
	cases := []struct {
		name string
		o    Observation
	}{
		{"success", Observation{RequestID: "0a1b2c3d-0000-0000-0000-000000000001", Method: "GET", Path: "/echo/items/42",
			ClientIP: netip.MustParseAddr("10.0.0.7"), API: "echo-api", Operation: "get-item", StatusCode: 200, Duration: 1234567 * time.Nanosecond}},
		{"failure", Observation{RequestID: "id", Method: "POST", Path: "/a", ClientIP: netip.MustParseAddr("::1"), API: "a",
			StatusCode: 401, Duration: 5 * time.Microsecond, FailureSource: "validate-jwt", FailureReason: "TokenExpired"}},
		{"client's bytes", Observation{RequestID: "id", Method: "GET", Path: "/q\"uo\\te/\x01\t\n\r/\xff\xfe/é/€",
			API: "api \"x\"", StatusCode: 404}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := appendAccessLine(nil, now, &c.o)
			if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
				t.Fatalf("not one line: %q", line)
			}
			var want bytes.Buffer
			h := slog.NewJSONHandler(&want, nil)
			attrs := []slog.Attr{
				slog.String("request_id", c.o.RequestID), slog.String("method", c.o.Method), slog.String("path", c.o.Path),
				slog.String("client_ip", ""), slog.String("api", c.o.API), slog.String("operation", c.o.Operation),
				slog.Int("status", c.o.StatusCode), slog.Float64("duration_ms", float64(c.o.Duration.Microseconds())/1000),
			}
			if c.o.ClientIP.IsValid() {
				attrs[3] = slog.String("client_ip", c.o.ClientIP.String())
			}
			if c.o.FailureReason != "" {
				attrs = append(attrs, slog.String("failure_source", c.o.FailureSource), slog.String("failure_reason", c.o.FailureReason))
			}
			r := slog.NewRecord(now, slog.LevelInfo, "request", 0)
			r.AddAttrs(attrs...)
			if err := h.WithAttrs([]slog.Attr{slog.String("log", "access")}).Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			var got, exp map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if err := json.Unmarshal(want.Bytes(), &exp); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("got  %s\nwant %s", line, want.Bytes())
			}
		})
	}
}

type lineBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lineBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lineBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, ln := range bytes.Split(bytes.TrimSpace(l.b.Bytes()), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(ln, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Through the listener: one line per request, routed and unrouted, without the query.
func TestAccessLogTo(t *testing.T) {
	backend, _ := echoBackend(t)
	var log lineBuffer
	s, gw := startGateway(t, testPlan(t, echoAPI(backend.URL)), gatewayOpts{})
	s.opt.AccessLogTo = &log
	for _, path := range []string{"/echo/items/7?token=secret", "/nowhere"} {
		resp, err := http.Get(gw + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	lines := log.lines()
	if len(lines) != 2 {
		t.Fatalf("%d lines: %v", len(lines), lines)
	}
	checks := []map[string]any{
		{"log": "access", "method": "GET", "path": "/echo/items/7", "api": "echo-api", "status": 201.0, "client_ip": "127.0.0.1"},
		{"log": "access", "method": "GET", "path": "/nowhere", "api": "", "status": 404.0},
	}
	for i, want := range checks {
		for k, v := range want {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
		if id, _ := lines[i]["request_id"].(string); len(id) != 36 {
			t.Errorf("line %d: request_id %q", i, id)
		}
	}
	if bytes.Contains(log.b.Bytes(), []byte("secret")) {
		t.Error("the query reached the access log")
	}
}
