package admin

import (
	"net/netip"
	"testing"
	"time"

	"portcullis/internal/gateway"
)

// BenchmarkObserveRequest: the metrics the gateway records per request (request counter and
// duration histogram by API and operation), for a successful and a refused request.
func BenchmarkObserveRequest(b *testing.B) {
	m := NewMetrics(nil)
	cases := []struct {
		name string
		o    gateway.Observation
	}{
		{"ok", gateway.Observation{API: "echo-api", Operation: "get-item", StatusCode: 200, Duration: 350 * time.Microsecond,
			Method: "GET", Path: "/echo/items/1", ClientIP: netip.MustParseAddr("10.0.0.1")}},
		{"refused", gateway.Observation{API: "echo-api", Operation: "get-item", StatusCode: 401, Duration: 50 * time.Microsecond,
			FailureSource: "validate-jwt", FailureReason: "TokenExpired"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.ObserveRequest(&c.o)
			}
		})
	}
}
