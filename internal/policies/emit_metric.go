package policies

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"portcullis/internal/policy"
)

// MetricsDeps are emit-metric's services.
type MetricsDeps struct {
	// Registerer receives the custom metrics (the admin listener's /metrics registry); nil
	// makes emit-metric a load error.
	Registerer prometheus.Registerer
	// MaxSeries bounds the label combinations of one metric; beyond it new combinations are
	// counted under the value "(other)", so a dimension fed from the request (an IP address)
	// cannot exhaust memory. 0 means DefaultMaxMetricSeries.
	MaxSeries int
}

// DefaultMaxMetricSeries is MetricsDeps.MaxSeries's default.
const DefaultMaxMetricSeries = 1000

// maxDimensions is APIM's limit on an emit-metric's dimensions.
const maxDimensions = 10

// defaultDimensions are the dimensions APIM fills when a dimension names one without a value.
var defaultDimensions = map[string]func(*policy.Context) string{
	"API ID": func(ctx *policy.Context) string {
		if ctx.API != nil {
			return ctx.API.ID
		}
		return ""
	},
	"Operation ID": func(ctx *policy.Context) string {
		if ctx.Operation != nil {
			return ctx.Operation.ID
		}
		return ""
	},
	"Product ID":      func(*policy.Context) string { return "" },
	"User ID":         func(*policy.Context) string { return "" },
	"Subscription ID": func(*policy.Context) string { return "" },
	"Location":        func(ctx *policy.Context) string { return ctx.Deployment.Region },
	"Gateway ID":      func(ctx *policy.Context) string { return ctx.Deployment.GatewayID },
}

type emitMetric struct {
	counter   *prometheus.CounterVec
	value     *policy.Value
	dims      []metricDimension
	maxSeries int

	mu     sync.Mutex
	series map[string]bool
}

type metricDimension struct {
	value *policy.Value
	fill  func(*policy.Context) string // a default dimension without a value
}

func (d MetricsDeps) compileEmitMetric(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "name", "namespace", "value")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "dimension"); err != nil {
		return nil, err
	}
	name, _, err := r.constant("name", true)
	if err != nil {
		return nil, err
	}
	namespace, ok, err := r.constant("namespace", false)
	if err != nil {
		return nil, err
	}
	if !ok {
		namespace = "API Management"
	}
	p := &emitMetric{maxSeries: d.MaxSeries, series: map[string]bool{}}
	if p.maxSeries <= 0 {
		p.maxSeries = DefaultMaxMetricSeries
	}
	if p.value, err = r.value("value", false); err != nil {
		return nil, err
	}
	if p.value != nil && !p.value.IsExpr() {
		if _, err := strconv.ParseFloat(strings.TrimSpace(p.value.Const), 64); err != nil {
			return nil, policy.Errorf(p.value.Pos, "<emit-metric> value must be a number, found %q", p.value.Const)
		}
	}
	if len(el.Children) > maxDimensions {
		return nil, policy.Errorf(el.Children[maxDimensions].Pos, "<emit-metric> has more than %d dimensions", maxDimensions)
	}
	var labels []string
	seen := map[string]bool{}
	for _, ch := range el.Children {
		dr, err := readElement(ch, c, "name", "value")
		if err != nil {
			return nil, err
		}
		if err := onlyChildren(ch); err != nil {
			return nil, err
		}
		dname, _, err := dr.constant("name", true)
		if err != nil {
			return nil, err
		}
		label := metricName(dname)
		if seen[label] {
			return nil, policy.Errorf(ch.Pos, "<emit-metric> names dimension %q twice", dname)
		}
		seen[label] = true
		labels = append(labels, label)
		var dim metricDimension
		if dim.value, err = dr.value("value", false); err != nil {
			return nil, err
		}
		if dim.value == nil {
			fill, ok := defaultDimensions[dname]
			if !ok {
				return nil, policy.Errorf(ch.Pos, "<dimension name=%q> needs a value: only the default dimensions (API ID, Operation ID, Product ID, User ID, Subscription ID, Location, Gateway ID) may leave it out", dname)
			}
			dim.fill = fill
		}
		p.dims = append(p.dims, dim)
	}
	if d.Registerer == nil {
		return nil, policy.Errorf(el.Pos, "<emit-metric> needs the gateway's metrics registry, which this context does not provide")
	}
	metric := metricName(namespace + "_" + name)
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metric,
		Help: fmt.Sprintf("Custom metric %q in namespace %q (emit-metric).", name, namespace),
	}, labels)
	if err := d.Registerer.Register(cv); err != nil {
		var are prometheus.AlreadyRegisteredError
		existing, ok := cv, false
		if errors.As(err, &are) {
			existing, ok = are.ExistingCollector.(*prometheus.CounterVec)
		}
		if !ok {
			return nil, policy.Errorf(el.Pos, "<emit-metric> metric %s cannot be registered: %v (another emit-metric with the same name and namespace has other dimensions?)", metric, err)
		}
		cv = existing
	}
	p.counter = cv
	return p, nil
}

// metricName turns APIM's free-form names into Prometheus names: letters, digits and '_',
// not starting with a digit, lower case.
func metricName(s string) string {
	var b strings.Builder
	for i, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r >= 'a' && r <= 'z', r == '_', r >= '0' && r <= '9' && i > 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteString("_")
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

func (p *emitMetric) Run(ctx *policy.Context) error {
	value := 1.0
	if p.value != nil {
		s, err := p.value.String(ctx)
		if err != nil {
			return err
		}
		if value, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return fmt.Errorf("emit-metric value: expected a number, found %q", s)
		}
	}
	vals := make([]string, len(p.dims))
	for i, d := range p.dims {
		if d.fill != nil {
			vals[i] = d.fill(ctx)
			continue
		}
		s, err := d.value.String(ctx)
		if err != nil {
			return err
		}
		vals[i] = s
	}
	if value < 0 {
		return nil // a Prometheus counter only grows; APIM's negative values have no place here
	}
	p.counter.WithLabelValues(p.bounded(vals)...).Add(value)
	return nil
}

// bounded keeps the metric within maxSeries label combinations.
func (p *emitMetric) bounded(vals []string) []string {
	key := strings.Join(vals, "\x00")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.series[key] {
		return vals
	}
	if len(p.series) < p.maxSeries {
		p.series[key] = true
		return vals
	}
	other := make([]string, len(vals))
	for i := range other {
		other[i] = "(other)"
	}
	return other
}
