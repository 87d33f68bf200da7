package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestHandlerSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := newTracing(sdktrace.NewSimpleSpanProcessor(exp), "identity-under-test", "test", 1)
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/boom":
			w.WriteHeader(http.StatusInternalServerError)
		case "/t1/oauth2/v2.0/token":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			_, _ = w.Write([]byte("ok")) // an implicit 200
		}
	}))
	tests := []struct {
		name, method, target, traceparent string
		span                              string
		status                            int64
		parentSpan                        string
	}{
		{name: "token request", method: "POST", target: "/t1/oauth2/v2.0/token?client_secret=s", span: "POST /{tenant}/oauth2/v2.0/token", status: 401},
		{name: "discovery under common", method: "GET", target: "/common/v2.0/.well-known/openid-configuration", span: "GET /common/v2.0/.well-known/openid-configuration", status: 200},
		{name: "server error", method: "GET", target: "/boom", span: "GET /boom", status: 500},
		{name: "continues the caller's trace", method: "GET", target: "/t2/discovery/v2.0/keys", span: "GET /{tenant}/discovery/v2.0/keys", status: 200,
			traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", parentSpan: "00f067aa0ba902b7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp.Reset()
			r := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.traceparent != "" {
				r.Header.Set("traceparent", tt.traceparent)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Name != tt.span {
				t.Errorf("name %q, want %q", s.Name, tt.span)
			}
			for _, a := range s.Attributes {
				if a.Key == "http.response.status_code" && a.Value.AsInt64() != tt.status {
					t.Errorf("status %d, want %d", a.Value.AsInt64(), tt.status)
				}
				if a.Key == "url.path" && a.Value.AsString() != r.URL.Path {
					t.Errorf("url.path %q holds more than the path", a.Value.AsString())
				}
			}
			if got := s.Parent.SpanID().String(); tt.parentSpan != "" && got != tt.parentSpan {
				t.Errorf("parent %s, want %s", got, tt.parentSpan)
			}
			if tt.parentSpan == "" && s.Parent.IsValid() {
				t.Errorf("a span without traceparent has parent %s", s.Parent.SpanID())
			}
			if (tt.status >= 500) != (s.Status.Code.String() == "Error") {
				t.Errorf("status code %s for HTTP %d", s.Status.Code, tt.status)
			}
		})
	}
}
