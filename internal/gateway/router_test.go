package gateway

import (
	"fmt"
	"testing"

	"portcullis/internal/config"
)

// testPlan builds a plan from API definitions the way Load would normalise them.
func testPlan(t testing.TB, apis ...config.API) *Plan {
	t.Helper()
	for i := range apis {
		for j := range apis[i].Operations {
			op := &apis[i].Operations[j]
			tpl, err := config.ParseTemplate(op.Template)
			if err != nil {
				t.Fatal(err)
			}
			op.URLTemplate = tpl
		}
	}
	cfg := &config.Config{Gateway: &config.Gateway{
		APIs:     apis,
		Timeouts: &config.Timeouts{BackendDuration: config.DefaultBackendTimeout},
		Limits:   &config.Limits{MaxHeaderBytes: config.DefaultMaxHeaderBytes, MaxBodyBytes: config.DefaultMaxBodyBytes},
	}}
	p, err := Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ops(specs ...string) []config.Operation {
	var out []config.Operation
	for i := 0; i < len(specs); i += 3 {
		out = append(out, config.Operation{Name: specs[i], Method: specs[i+1], Template: specs[i+2]})
	}
	return out
}

func TestRouter(t *testing.T) {
	p := testPlan(t,
		config.API{Name: "root", Path: "", Backend: "http://127.0.0.1:1"},
		config.API{Name: "echo", Path: "echo", Backend: "http://127.0.0.1:1"},
		config.API{Name: "echo-v2", Path: "echo/v2", Backend: "http://127.0.0.1:1", Operations: ops(
			"get-item", "GET", "/items/{id}",
			"get-special", "GET", "/items/special",
			"any-item", "*", "/items/{id}",
			"files", "GET", "/files/{*path}",
			"home", "GET", "/",
			"pair", "GET", "/{a}/x/{b}",
			"slash", "GET", "/list/",
		)},
	)
	tests := []struct {
		name, method, path string
		api, op            string // "" when none
		params             map[string]string
		rest               string
	}{
		{name: "no operations: anything", method: "DELETE", path: "/echo/a/b?x", api: "echo", rest: "/a/b?x"},
		{name: "API path alone", method: "GET", path: "/echo", api: "echo", rest: ""},
		{name: "longest suffix wins", method: "GET", path: "/echo/v2/items/7", api: "echo-v2", op: "get-item", params: map[string]string{"id": "7"}, rest: "/items/7"},
		{name: "literal before parameter", method: "GET", path: "/echo/v2/items/special", api: "echo-v2", op: "get-special"},
		{name: "method * after named method", method: "POST", path: "/echo/v2/items/7", api: "echo-v2", op: "any-item", params: map[string]string{"id": "7"}},
		{name: "wildcard takes the rest", method: "GET", path: "/echo/v2/files/a/b/c.txt", api: "echo-v2", op: "files", params: map[string]string{"path": "a/b/c.txt"}},
		{name: "wildcard may be empty", method: "GET", path: "/echo/v2/files", api: "echo-v2", op: "files", params: map[string]string{"path": ""}},
		{name: "root template without slash", method: "GET", path: "/echo/v2", api: "echo-v2", op: "home"},
		{name: "root template with slash", method: "GET", path: "/echo/v2/", api: "echo-v2", op: "home"},
		{name: "parameters around a literal", method: "GET", path: "/echo/v2/1/x/2", api: "echo-v2", op: "pair", params: map[string]string{"a": "1", "b": "2"}},
		{name: "trailing slash is part of the template", method: "GET", path: "/echo/v2/list/", api: "echo-v2", op: "slash"},
		{name: "trailing slash missing", method: "GET", path: "/echo/v2/list", api: "echo-v2"},
		{name: "too many segments", method: "GET", path: "/echo/v2/items/7/more", api: "echo-v2"},
		{name: "wrong method", method: "PUT", path: "/echo/v2/files/x", api: "echo-v2"},
		{name: "empty parameter does not match", method: "GET", path: "/echo/v2/items/", api: "echo-v2"},
		{name: "prefix of a segment is not the API", method: "GET", path: "/echoes", api: "root", rest: "/echoes"},
		{name: "root API catches the rest", method: "GET", path: "/other/thing", api: "root", rest: "/other/thing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m match
			apiFound, opFound := p.router.find([]byte(tt.method), []byte(tt.path), &m)
			if !apiFound {
				t.Fatalf("no API found, want %q", tt.api)
			}
			if m.api.cfg.Name != tt.api {
				t.Errorf("API = %q, want %q", m.api.cfg.Name, tt.api)
			}
			wantOp := tt.op != "" || tt.params != nil
			if tt.api == "echo" || tt.api == "root" {
				wantOp = true
			}
			if opFound != wantOp {
				t.Fatalf("operation found = %v, want %v (%q)", opFound, wantOp, tt.op)
			}
			if !opFound {
				return
			}
			if m.route.name != tt.op {
				t.Errorf("operation = %q, want %q", m.route.name, tt.op)
			}
			if tt.rest != "" && string(m.rest) != tt.rest {
				t.Errorf("rest = %q, want %q", m.rest, tt.rest)
			}
			got := map[string]string{}
			for i := 0; i < m.nparams; i++ {
				got[paramName(m.route, i)] = string(m.rest[m.params[i].start:m.params[i].end])
			}
			if len(got) != len(tt.params) {
				t.Errorf("params = %v, want %v", got, tt.params)
			}
			for k, v := range tt.params {
				if got[k] != v {
					t.Errorf("param %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestRouterNoAPI(t *testing.T) {
	p := testPlan(t, config.API{Name: "echo", Path: "echo", Backend: "http://127.0.0.1:1"})
	for _, path := range []string{"/", "/ech", "/other/echo", ""} {
		var m match
		if apiFound, _ := p.router.find([]byte("GET"), []byte(path), &m); apiFound {
			t.Errorf("%q matched API %s", path, m.api.cfg.Name)
		}
	}
}

func manyAPIs(n int) []config.API {
	apis := make([]config.API, n)
	for i := range apis {
		apis[i] = config.API{Name: fmt.Sprintf("api-%d", i), Path: fmt.Sprintf("svc/api-%d", i), Backend: "http://127.0.0.1:1",
			Operations: ops(
				"list", "GET", "/items",
				"get", "GET", "/items/{id}",
				"create", "POST", "/items",
				"update", "PUT", "/items/{id}",
				"delete", "DELETE", "/items/{id}",
				"sub", "GET", "/items/{id}/parts/{part}",
				"search", "GET", "/search",
				"files", "GET", "/files/{*path}",
				"health", "GET", "/health",
				"any", "*", "/misc/{x}",
			)}
	}
	return apis
}

func BenchmarkRouter(b *testing.B) {
	for _, n := range []int{1, 1000} {
		p := testPlan(b, manyAPIs(n)...)
		method := []byte("GET")
		path := []byte(fmt.Sprintf("/svc/api-%d/items/42/parts/7", n/2))
		b.Run(fmt.Sprintf("apis=%d×10ops", n), func(b *testing.B) {
			b.ReportAllocs()
			var m match
			for b.Loop() {
				if _, ok := p.router.find(method, path, &m); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}

func TestRouterDoesNotAllocate(t *testing.T) {
	p := testPlan(t, manyAPIs(1000)...)
	method, path := []byte("GET"), []byte("/svc/api-500/items/42/parts/7")
	var m match
	allocs := testing.AllocsPerRun(100, func() { p.router.find(method, path, &m) })
	if allocs != 0 {
		t.Errorf("matching allocates %v times per request", allocs)
	}
}
