// Package telemetry owns OpenTelemetry tracing: the OTLP/HTTP exporter a tracing: section
// configures, the gateway's per-request spans (gateway.Tracer) and the identity service's
// (an http.Handler wrapper), with W3C trace context in and out. No OpenTelemetry type leaves
// it; metrics and logs are elsewhere (admin, slog).
package telemetry
