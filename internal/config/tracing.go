package config

import (
	"net/url"
	"strings"
)

// Tracing is the tracing: section: OpenTelemetry traces sent over OTLP/HTTP. Without it
// nothing is traced and no exporter runs.
type Tracing struct {
	// Endpoint is the collector's OTLP/HTTP traces URL (required); a URL without a path gets
	// /v1/traces, as OTLP's base endpoint does.
	Endpoint string `yaml:"endpoint"`
	// ServiceName is the service.name resource attribute; default DefaultServiceName.
	ServiceName string `yaml:"service-name"`
	// SampleRatio is the share of new traces recorded, 0 to 1; default 1. A request that
	// arrives with a sampled traceparent is recorded whatever the ratio (parent-based).
	SampleRatio *float64 `yaml:"sample-ratio"`
	// Headers are sent with every export (a collector's API key, e.g. ${OTLP_TOKEN}).
	Headers map[string]string `yaml:"headers"`
}

// DefaultServiceName is tracing.service-name's default.
const DefaultServiceName = "portcullis"

func (l *loader) tracing(t *Tracing) {
	u, err := url.Parse(t.Endpoint)
	switch {
	case t.Endpoint == "":
		l.fail("tracing.endpoint", "tracing needs endpoint: the collector's OTLP/HTTP URL, e.g. http://127.0.0.1:4318")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		l.fail("tracing.endpoint", "endpoint %q must be an http or https URL without query, e.g. http://127.0.0.1:4318", t.Endpoint)
	case u.Path == "" || u.Path == "/":
		t.Endpoint = strings.TrimSuffix(t.Endpoint, "/") + "/v1/traces"
	}
	if t.ServiceName == "" {
		t.ServiceName = DefaultServiceName
	}
	if t.SampleRatio == nil {
		one := 1.0
		t.SampleRatio = &one
	} else if r := *t.SampleRatio; !(r >= 0 && r <= 1) {
		l.fail("tracing.sample-ratio", "sample-ratio must be from 0 to 1, found %v", r)
	}
	for k := range t.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			l.fail("tracing.headers", "header name %q is not a valid HTTP header name", k)
		}
	}
}
