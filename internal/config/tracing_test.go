package config

import (
	"errors"
	"strings"
	"testing"
)

func TestLoadTracing(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		endpoint string  // after Load
		ratio    float64 // after Load
		service  string
		err      string // "" when valid
	}{
		{name: "base URL gets the traces path", yaml: "tracing:\n  endpoint: http://127.0.0.1:4318\n",
			endpoint: "http://127.0.0.1:4318/v1/traces", ratio: 1, service: "portcullis"},
		{name: "full URL kept", yaml: "tracing:\n  endpoint: https://otel.example/api/traces\n  service-name: edge\n  sample-ratio: 0.25\n",
			endpoint: "https://otel.example/api/traces", ratio: 0.25, service: "edge"},
		{name: "endpoint missing", yaml: "tracing:\n  service-name: edge\n",
			err: "portcullis.yaml:4:3: tracing needs endpoint: the collector's OTLP/HTTP URL, e.g. http://127.0.0.1:4318"},
		{name: "endpoint not http", yaml: "tracing:\n  endpoint: grpc://127.0.0.1:4317\n",
			err: `portcullis.yaml:4:13: endpoint "grpc://127.0.0.1:4317" must be an http or https URL without query, e.g. http://127.0.0.1:4318`},
		{name: "ratio above one", yaml: "tracing:\n  endpoint: http://127.0.0.1:4318\n  sample-ratio: 2\n",
			err: "portcullis.yaml:5:17: sample-ratio must be from 0 to 1, found 2"},
		{name: "unknown key", yaml: "tracing:\n  endpont: http://127.0.0.1:4318\n",
			err: `portcullis.yaml:4:3: unknown key "endpont"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeTree(t, map[string]string{"portcullis.yaml": "admin:\n  listen: 127.0.0.1:0\n" + tt.yaml})
			cfg, err := Load("portcullis.yaml")
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || strings.TrimSpace(err.Error()) != tt.err {
					t.Fatalf("error %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tr := cfg.Tracing
			if tr.Endpoint != tt.endpoint || *tr.SampleRatio != tt.ratio || tr.ServiceName != tt.service {
				t.Errorf("tracing = %s %v %s, want %s %v %s", tr.Endpoint, *tr.SampleRatio, tr.ServiceName, tt.endpoint, tt.ratio, tt.service)
			}
		})
	}
}
