package main

import (
	"context"
	"net/http"
	"time"

	"portcullis/internal/admin"
	"portcullis/internal/config"
	"portcullis/internal/gateway"
	"portcullis/internal/identity"
	"portcullis/internal/telemetry"
)

// tracingFlush bounds how long serve waits at exit for buffered spans to reach the collector.
const tracingFlush = 5 * time.Second

// startTracing starts the OTLP exporter when the configuration has a tracing: section. A
// change of that section applies on restart.
func (s *services) startTracing(cfg *config.Tracing) error {
	if cfg == nil {
		return nil
	}
	t, err := telemetry.New(cfg, version)
	if err != nil {
		return err
	}
	s.tracing = t
	s.log.Info("tracing on", "endpoint", cfg.Endpoint, "service_name", cfg.ServiceName, "sample_ratio", *cfg.SampleRatio)
	return nil
}

// stopTracing sends the spans still buffered.
func (s *services) stopTracing() {
	if s.tracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingFlush)
	defer cancel()
	if err := s.tracing.Shutdown(ctx); err != nil {
		s.log.Warn("tracing: spans still buffered at exit were not sent", "error", err.Error())
	}
}

// gatewayTracer is the gateway's tracer, nil when tracing is off.
func (s *services) gatewayTracer() gateway.Tracer {
	if s.tracing == nil {
		return nil
	}
	return s.tracing.Gateway()
}

// traced gives the identity service's requests spans when tracing is on.
func (s *services) traced(h http.Handler) http.Handler {
	if s.tracing == nil {
		return h
	}
	return s.tracing.Handler(h)
}

// tokenObserver counts the identity service's token requests on /metrics. The identity
// service starts once per process, so the counters are registered once.
func (s *services) tokenObserver() identity.Observer {
	return admin.NewTokenMetrics(s.metrics.Registry)
}
