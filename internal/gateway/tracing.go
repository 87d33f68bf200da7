package gateway

import (
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"portcullis/internal/policy"
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
	// StartBackend begins the client span of one call to the backend (each forward-request,
	// each retry), a child of this span. host is the backend's host[:port].
	StartBackend(method, host string) BackendSpan
	// End records the request's outcome and ends the span. It must not keep o.
	End(o *Observation)
}

// BackendSpan is the span of one call to the backend.
type BackendSpan interface {
	// TraceContext is the W3C traceparent and tracestate naming this span, for the backend.
	TraceContext() (traceparent, tracestate string)
	// End records the backend's status (0 when it did not answer) and the failure reason
	// ("" on an answer) and ends the span.
	End(status int, failureReason string)
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

// startBackendSpan begins the span of a backend call, and makes req name it when the request
// still carries the gateway's own trace context: a traceparent a policy set is left alone.
func (ex *exchange) startBackendSpan(req *fasthttp.Request, in *policy.Header, method, host string) BackendSpan {
	if ex.span == nil {
		return nil
	}
	bs := ex.span.StartBackend(method, host)
	tp, ts := bs.TraceContext()
	if tp == "" {
		return bs
	}
	own, _ := ex.span.TraceContext()
	if cur, _ := in.Get("traceparent"); cur != own {
		return bs
	}
	for _, f := range in.Fields() { // req keeps the client's spelling of the names
		if strings.EqualFold(f.Name, "traceparent") || strings.EqualFold(f.Name, "tracestate") {
			req.Header.Del(f.Name)
		}
	}
	req.Header.Set("traceparent", tp)
	if ts != "" {
		req.Header.Set("tracestate", ts)
	}
	return bs
}

// endBackendSpan ends a backend call's span with its answer's status or its failure.
func endBackendSpan(bs BackendSpan, status int, failure *policy.Failure) {
	if bs == nil {
		return
	}
	if failure != nil {
		bs.End(0, failure.Reason)
		return
	}
	bs.End(status, "")
}

func endSpan(span RequestSpan, o *Observation) {
	if span != nil {
		span.End(o)
	}
}
