package admin

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"portcullis/internal/gateway"
)

// The per-operation collectors cached by ObserveRequest count into the same series as the
// labelled vectors, per status, from many goroutines at once.
func TestObserveRequestCachedSeries(t *testing.T) {
	m := NewMetrics(nil)
	obs := []gateway.Observation{
		{API: "a", Operation: "get", StatusCode: 200, Duration: time.Millisecond},
		{API: "a", Operation: "get", StatusCode: 404, Duration: time.Millisecond},
		{API: "a", Operation: "put", StatusCode: 200, Duration: time.Millisecond},
		{API: "b", Operation: "get", StatusCode: 700, Duration: time.Millisecond},
		{API: "b", Operation: "get", StatusCode: 0, Duration: time.Millisecond},
	}
	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				for i := range obs {
					o := obs[i]
					m.ObserveRequest(&o)
				}
			}
		})
	}
	wg.Wait()
	cases := []struct {
		name                   string
		api, operation, status string
		want                   float64
	}{
		{"first status", "a", "get", "200", workers * rounds},
		{"second status", "a", "get", "404", workers * rounds},
		{"other operation", "a", "put", "200", workers * rounds},
		{"out of range is other", "b", "get", "other", 2 * workers * rounds},
		{"never seen", "a", "put", "404", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := testutil.ToFloat64(m.requests.WithLabelValues(c.api, c.operation, c.status)); got != c.want {
				t.Errorf("requests{%s,%s,%s} = %v, want %v", c.api, c.operation, c.status, got, c.want)
			}
		})
	}
	if n := testutil.CollectAndCount(m.duration); n != 3 {
		t.Errorf("%d duration series, want 3", n)
	}
}
