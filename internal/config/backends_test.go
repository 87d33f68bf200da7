package config

import (
	"strings"
	"testing"
)

func TestLoadBackends(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // an error; empty: valid
	}{
		{name: "valid", yaml: "gateway:\n  backends:\n    orders: {url: https://orders.example/api/v2}\n    local: {url: 'http://127.0.0.1:9000'}\n"},
		{name: "missing url", yaml: "gateway:\n  backends:\n    orders: {}\n", want: `backend "orders" needs url`},
		{name: "relative url", yaml: "gateway:\n  backends:\n    orders: {url: /api}\n", want: `portcullis.yaml:3:19: backend "orders" needs url`},
		{name: "not http", yaml: "gateway:\n  backends:\n    orders: {url: 'ftp://x.example'}\n", want: `backend "orders" needs url`},
		{name: "unknown key", yaml: "gateway:\n  backends:\n    orders: {url: 'https://x.example', pool: [a]}\n", want: `unknown key "pool"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeTree(t, map[string]string{"portcullis.yaml": tt.yaml})
			cfg, err := Load("portcullis.yaml")
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Gateway.Backends["orders"].URL; got != "https://orders.example/api/v2" {
				t.Errorf("orders url = %q", got)
			}
			if got := cfg.Gateway.Backends["local"].URL; got != "http://127.0.0.1:9000" {
				t.Errorf("local url = %q", got)
			}
		})
	}
}
