package admin

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"portcullis/internal/gateway"
)

// Metrics holds Portcullis's Prometheus collectors. It observes gateway requests
// (gateway.Observer) and key fetches (KeyFetched), and reports key sources' age and staleness.
type Metrics struct {
	Registry *prometheus.Registry

	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	failures   *prometheus.CounterVec
	keyFetches *prometheus.CounterVec
	keyFetch   *prometheus.HistogramVec
	statusText [600]string
	// byOperation caches each operation's label-resolved collectors (opKey → *opMetrics), so
	// that a request costs one lock-free lookup instead of hashing its labels twice.
	byOperation sync.Map
}

type opKey struct{ api, operation string }

// opMetrics are one operation's collectors with their labels resolved.
type opMetrics struct {
	duration prometheus.Observer
	mu       sync.Mutex                    // serialises additions to statuses
	statuses atomic.Pointer[[]statusCount] // copied on write: few statuses per operation
}

type statusCount struct {
	status  int
	counter prometheus.Counter
}

var _ gateway.Observer = (*Metrics)(nil)

// NewMetrics registers the collectors on a new registry, with the Go runtime's and the
// process's. keySources may be nil.
func NewMetrics(keySources func() []KeySource) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_gateway_requests_total",
		Help: "Gateway requests by API, operation and response status.",
	}, []string{"api", "operation", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portcullis_gateway_request_duration_seconds",
		Help:    "Time from receiving a request to handing its response to the listener, by API and operation.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"api", "operation"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_gateway_policy_failures_total",
		Help: "Requests that failed in a policy or the backend call, by source (validate-jwt, forward-request, …) and reason (TokenExpired, …).",
	}, []string{"source", "reason"})
	m.keyFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_jwks_fetches_total",
		Help: "Discovery and JWKS fetches by openid-config URL, cause and result.",
	}, []string{"url", "cause", "result"})
	m.keyFetch = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portcullis_jwks_fetch_duration_seconds",
		Help:    "Time to fetch discovery and JWKS, by openid-config URL.",
		Buckets: prometheus.DefBuckets,
	}, []string{"url"})
	m.Registry.MustRegister(m.requests, m.duration, m.failures, m.keyFetches, m.keyFetch,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if keySources != nil {
		m.Registry.MustRegister(&keyCollector{sources: keySources})
	}
	for i := range m.statusText {
		m.statusText[i] = strconv.Itoa(i)
	}
	return m
}

// ObserveRequest implements gateway.Observer.
func (m *Metrics) ObserveRequest(o *gateway.Observation) {
	om := m.operation(o.API, o.Operation)
	om.counter(m, o).Inc()
	om.duration.Observe(o.Duration.Seconds())
	if o.FailureReason != "" {
		m.failures.WithLabelValues(o.FailureSource, o.FailureReason).Inc()
	}
}

func (m *Metrics) operation(api, operation string) *opMetrics {
	k := opKey{api, operation}
	if v, ok := m.byOperation.Load(k); ok {
		return v.(*opMetrics)
	}
	om := &opMetrics{duration: m.duration.WithLabelValues(api, operation)}
	om.statuses.Store(&[]statusCount{})
	v, _ := m.byOperation.LoadOrStore(k, om)
	return v.(*opMetrics)
}

// counter is the request counter of o's status.
func (om *opMetrics) counter(m *Metrics, o *gateway.Observation) prometheus.Counter {
	status := o.StatusCode
	if status <= 0 || status >= len(m.statusText) {
		status = 0 // "other"
	}
	for _, sc := range *om.statuses.Load() {
		if sc.status == status {
			return sc.counter
		}
	}
	om.mu.Lock()
	defer om.mu.Unlock()
	old := *om.statuses.Load()
	for _, sc := range old {
		if sc.status == status {
			return sc.counter
		}
	}
	text := "other"
	if status != 0 {
		text = m.statusText[status]
	}
	c := m.requests.WithLabelValues(o.API, o.Operation, text)
	next := append(old[:len(old):len(old)], statusCount{status, c})
	om.statuses.Store(&next)
	return c
}

// KeyFetched records one fetch of a key source (the key cache's hook).
func (m *Metrics) KeyFetched(url, cause, result string, took time.Duration) {
	m.keyFetches.WithLabelValues(url, cause, result).Inc()
	m.keyFetch.WithLabelValues(url).Observe(took.Seconds())
}

// keyCollector reports each key source's age and staleness when scraped.
type keyCollector struct {
	sources func() []KeySource
}

var (
	keyAgeDesc = prometheus.NewDesc("portcullis_jwks_key_age_seconds",
		"Time since the keys of an openid-config source were last confirmed.", []string{"url"}, nil)
	keyStaleDesc = prometheus.NewDesc("portcullis_jwks_stale",
		"1 when the last refresh of an openid-config source failed and its last good keys are served.", []string{"url"}, nil)
	keyReadyDesc = prometheus.NewDesc("portcullis_jwks_ready",
		"1 when an openid-config source has keys within the staleness bound.", []string{"url"}, nil)
)

func (c *keyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- keyAgeDesc
	ch <- keyStaleDesc
	ch <- keyReadyDesc
}

func (c *keyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.sources() {
		ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, s.KeyAge.Seconds(), s.URL)
		ch <- prometheus.MustNewConstMetric(keyStaleDesc, prometheus.GaugeValue, b2f(s.Stale), s.URL)
		ch <- prometheus.MustNewConstMetric(keyReadyDesc, prometheus.GaugeValue, b2f(s.Ready), s.URL)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
