package telemetry

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"portcullis/internal/gateway"
)

// Gateway returns the gateway's tracer: one server span per request, child of the client's
// traceparent.
func (t *Tracing) Gateway() gateway.Tracer { return gatewayTracer{t} }

type gatewayTracer struct{ t *Tracing }

var _ gateway.Tracer = gatewayTracer{}

func (g gatewayTracer) StartRequest(start time.Time, method, path, traceparent, tracestate string) gateway.RequestSpan {
	ctx := context.Background()
	if traceparent != "" {
		ctx = g.t.prop.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent, "tracestate": tracestate})
	}
	_, span := g.t.tracer.Start(ctx, method,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("http.request.method", method),
			attribute.String("url.path", path), // the query may carry tokens: never recorded
		))
	return &requestSpan{t: g.t, span: span, method: method}
}

type requestSpan struct {
	t      *Tracing
	span   trace.Span
	method string
}

func (s *requestSpan) TraceContext() (string, string) {
	c := propagation.MapCarrier{}
	s.t.prop.Inject(trace.ContextWithSpan(context.Background(), s.span), c)
	return c["traceparent"], c["tracestate"]
}

// StartBackend begins the client span of a call to the backend, child of the request's span.
func (s *requestSpan) StartBackend(method, host string) gateway.BackendSpan {
	ctx := trace.ContextWithSpan(context.Background(), s.span)
	_, span := s.t.tracer.Start(ctx, method,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("http.request.method", method),
			attribute.String("server.address", host), // the URL's path and query are not recorded
		))
	return &backendSpan{t: s.t, span: span}
}

type backendSpan struct {
	t    *Tracing
	span trace.Span
}

func (s *backendSpan) TraceContext() (string, string) {
	c := propagation.MapCarrier{}
	s.t.prop.Inject(trace.ContextWithSpan(context.Background(), s.span), c)
	return c["traceparent"], c["tracestate"]
}

func (s *backendSpan) End(status int, failureReason string) {
	if status > 0 {
		s.span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if failureReason != "" {
		s.span.SetAttributes(attribute.String("error.type", failureReason))
		s.span.SetStatus(codes.Error, failureReason)
	} else if status >= 400 { // a client span's 4xx is an error too (OpenTelemetry HTTP conventions)
		s.span.SetAttributes(attribute.String("error.type", strconv.Itoa(status)))
		s.span.SetStatus(codes.Error, "")
	}
	s.span.End()
}

func (s *requestSpan) End(o *gateway.Observation) {
	sp := s.span
	if o.API != "" {
		// Low-cardinality name, as OpenTelemetry asks: the operation, not the path.
		name := s.method + " " + o.API
		if o.Operation != "" {
			name += "/" + o.Operation
		}
		sp.SetName(name)
	}
	attrs := []attribute.KeyValue{
		attribute.Int("http.response.status_code", o.StatusCode),
		attribute.String("portcullis.request_id", o.RequestID),
	}
	if o.API != "" {
		attrs = append(attrs, attribute.String("portcullis.api", o.API), attribute.String("portcullis.operation", o.Operation))
	}
	if o.ClientIP.IsValid() {
		attrs = append(attrs, attribute.String("client.address", o.ClientIP.String()))
	}
	if o.FailureReason != "" {
		attrs = append(attrs,
			attribute.String("error.type", o.FailureReason),
			attribute.String("portcullis.failure.source", o.FailureSource))
	}
	sp.SetAttributes(attrs...)
	if o.StatusCode >= 500 {
		sp.SetStatus(codes.Error, o.FailureReason)
	}
	sp.End()
}
