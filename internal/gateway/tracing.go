package gateway

import (
	"time"

	"github.com/valyala/fasthttp"
)

// Tracer starts a span for each request (OpenTelemetry, wired in by the command). The gateway
// knows no tracing library: it hands over the client's W3C trace context and gets back the
// one to send to the backend.
type Tracer interface {
	// StartRequest begins the span of a request received at start. traceparent and tracestate
	// are the client's headers ("" when absent).
	StartRequest(start time.Time, method, path, traceparent, tracestate string) RequestSpan
}

// RequestSpan is one request's span.
type RequestSpan interface {
	// TraceContext is the W3C traceparent and tracestate naming this span, for the backend.
	TraceContext() (traceparent, tracestate string)
	// End records the request's outcome and ends the span. It must not keep o.
	End(o *Observation)
}

// startSpan begins the request's span and makes the request carry its trace context, so that
// forward-request (and policies reading the header) pass the gateway's span to the backend.
func (s *Server) startSpan(rc *fasthttp.RequestCtx) RequestSpan {
	if s.opt.Tracer == nil {
		return nil
	}
	h := &rc.Request.Header
	span := s.opt.Tracer.StartRequest(rc.Time(), string(rc.Method()), string(rc.Path()),
		string(h.Peek("traceparent")), string(h.Peek("tracestate")))
	tp, ts := span.TraceContext()
	if tp != "" {
		h.Set("traceparent", tp)
		if ts != "" {
			h.Set("tracestate", ts)
		} else {
			h.Del("tracestate")
		}
	}
	return span
}

func endSpan(span RequestSpan, o *Observation) {
	if span != nil {
		span.End(o)
	}
}
