package telemetry

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"portcullis/internal/config"
)

// instrumentation names the tracer, as OpenTelemetry's instrumentation scope.
const instrumentation = "portcullis"

// Tracing exports spans to an OTLP/HTTP collector. Its methods are safe for concurrent use.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
}

// New starts the exporter the tracing: section describes. Spans leave in batches in the
// background: a collector that is down loses spans, it never slows or fails a request.
func New(cfg *config.Tracing, version string) (*Tracing, error) {
	if cfg == nil {
		return nil, errors.New("telemetry: no tracing settings")
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(cfg.Endpoint)}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing exporter: %w", err)
	}
	ratio := 1.0
	if cfg.SampleRatio != nil {
		ratio = *cfg.SampleRatio
	}
	return newTracing(sdktrace.NewBatchSpanProcessor(exp), cfg.ServiceName, version, ratio), nil
}

func newTracing(sp sdktrace.SpanProcessor, service, version string, ratio float64) *Tracing {
	res := resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.version", version),
	)
	p := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return &Tracing{provider: p, tracer: p.Tracer(instrumentation)}
}

// Shutdown sends the spans still buffered and stops the exporter; ctx bounds the wait.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
