package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTree writes files (name → content) under a fresh folder and makes it the working
// directory, so that messages name files as a user would type them.
func writeTree(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
}

const policyXML = "<policies><inbound><base/></inbound></policies>"

func TestLoadErrors(t *testing.T) {
	t.Setenv("PORTCULLIS_TEST_SECRET", "s3cret")
	tests := []struct {
		name  string
		yaml  string
		files map[string]string
		want  string // every line of the error, in order
	}{
		{
			name: "unknown top-level key",
			yaml: "gateway:\n  listen: 127.0.0.1:0\nadmn:\n  listen: 127.0.0.1:0\n",
			want: `portcullis.yaml:3:1: unknown key "admn"`,
		},
		{
			name: "unknown nested key",
			yaml: "gateway:\n  apis:\n    - name: a\n      path: a\n      backend: http://127.0.0.1:1\n      polcy: x.xml\n",
			want: `portcullis.yaml:6:7: unknown key "polcy"`,
		},
		{
			name: "wrong type",
			yaml: "gateway:\n  apis: nope\n",
			want: `portcullis.yaml:2:9: expected a list, found a string`,
		},
		{
			name: "syntax error",
			yaml: "gateway:\n  listen: [127.0.0.1\n",
			want: `portcullis.yaml:2:11: sequence end token ']' not found (inside {…} or […], quote values that hold { } [ ] or a comma, e.g. template: "/items/{id}")`,
		},
		{
			name: "unquoted braces in a flow mapping",
			yaml: "gateway:\n  apis:\n    - name: a\n      path: a\n      backend: http://127.0.0.1:1\n      operations:\n        - {name: op, method: GET, template: /res/{id}}\n",
			want: `portcullis.yaml:7:50: ',' or '}' must be specified (inside {…} or […], quote values that hold { } [ ] or a comma, e.g. template: "/items/{id}")`,
		},
		{
			name: "wrong indentation",
			yaml: "gateway:\n  apis:\n    - name: echo\n      path: echo\n      backend: http://127.0.0.1:1\n    policy: article.xml\n",
			want: `portcullis.yaml:6:5: value is not allowed in this context (check this line's indentation against the keys around it)`,
		},
		{
			name: "duplicate key",
			yaml: "gateway:\n  listen: 127.0.0.1:0\n  listen: 127.0.0.1:1\n",
			want: `portcullis.yaml:3:3: mapping key "listen" already defined at [2:3]`,
		},
		{
			name: "unset environment variable",
			yaml: "admin:\n  listen: 127.0.0.1:0\n  token: ${PORTCULLIS_TEST_UNSET_VARIABLE}\n",
			want: `portcullis.yaml:3:10: environment variable PORTCULLIS_TEST_UNSET_VARIABLE is not set`,
		},
		{
			name: "malformed environment reference",
			yaml: "admin:\n  token: ${NOT CLOSED\n",
			want: `portcullis.yaml:2:10: unclosed ${ in value: write ${NAME}, or $${ for a literal ${`,
		},
		{
			name: "alias refused",
			yaml: "admin: &a\n  listen: 127.0.0.1:0\nidentity: *a\n",
			want: `portcullis.yaml:3:11: YAML aliases (*name) are not supported in the configuration`,
		},
		{
			name: "empty file",
			yaml: "# nothing\n",
			want: `portcullis.yaml: the file is empty: configure at least one of gateway, identity or admin`,
		},
		{
			name: "missing required keys",
			yaml: "gateway:\n  apis:\n    - path: a\n      backend: http://127.0.0.1:1\n    - name: b\n      backend: http://127.0.0.1:1\n    - name: c\n      path: c\n",
			want: strings.Join([]string{
				`portcullis.yaml:3:7: API needs a name (name: is required)`,
				`portcullis.yaml:5:7: API "b" needs a path (the URL suffix it is published at; "" for the root)`,
				`portcullis.yaml:7:7: API "c" needs a backend (the web service URL, e.g. http://127.0.0.1:9000)`,
			}, "\n"),
		},
		{
			name: "duplicate API name and path",
			yaml: "gateway:\n  apis:\n    - name: a\n      path: /echo/\n      backend: http://127.0.0.1:1\n    - name: a\n      path: echo\n      backend: http://127.0.0.1:1\n",
			want: strings.Join([]string{
				`portcullis.yaml:6:13: API name "a" is already used on line 3`,
				`portcullis.yaml:7:13: API path "/echo" is already used by API "a"`,
			}, "\n"),
		},
		{
			name: "backend not absolute",
			yaml: "gateway:\n  apis:\n    - name: a\n      path: a\n      backend: 127.0.0.1:9000/base\n",
			want: `portcullis.yaml:5:16: backend must be an absolute http:// or https:// URL, found "127.0.0.1:9000/base"`,
		},
		{
			name: "backend with a query",
			yaml: "gateway:\n  apis:\n    - name: a\n      path: a\n      backend: http://127.0.0.1:9000/?x=1\n",
			want: `portcullis.yaml:5:16: backend "http://127.0.0.1:9000/?x=1" must not hold a query or fragment`,
		},
		{
			name: "backend with a password is not echoed",
			yaml: "gateway:\n  apis:\n    - name: a\n      path: a\n      backend: http://user:hunter2@127.0.0.1:9000/\n",
			want: `portcullis.yaml:5:16: backend must not hold user info (user:password@): pass credentials with a policy such as set-header`,
		},
		{
			name: "operations: duplicate name, bad templates, same route",
			yaml: `gateway:
  apis:
    - name: a
      path: a
      backend: http://127.0.0.1:1
      operations:
        - {name: get, method: GET, template: "/items/{id}"}
        - {name: get, method: GET, template: /other}
        - {name: wild, method: GET, template: "/files/{*rest}/more"}
        - {name: partial, method: GET, template: "/items/x{id}"}
        - {name: noslash, method: GET, template: "items"}
        - {name: twice, method: GET, template: "/{a}/{a}"}
        - {name: same, method: get, template: "/items/{key}"}
        - {name: badmethod, method: "GE T", template: /x}
`,
			want: strings.Join([]string{
				`portcullis.yaml:8:18: operation name "get" is already used in API "a" on line 7`,
				`portcullis.yaml:9:47: malformed URL template: "/files/{*rest}/more": {*rest} must be the last segment`,
				`portcullis.yaml:10:50: malformed URL template: "/items/x{id}": segment "x{id}": a parameter must be a whole segment, {name} or {*name}`,
				`portcullis.yaml:11:50: malformed URL template: "items" must start with /`,
				`portcullis.yaml:12:48: malformed URL template: "/{a}/{a}": parameter {a} appears twice`,
				`portcullis.yaml:13:47: operation "same" matches the same requests as operation "get" (GET /items/{key})`,
				`portcullis.yaml:14:37: method "GE T" is not an HTTP method token (GET, POST, … or *)`,
			}, "\n"),
		},
		{
			name: "missing files",
			yaml: "gateway:\n  policy: policies/global.xml\n  fragments: frags\n  trust: [ca.pem]\n",
			want: strings.Join([]string{
				`portcullis.yaml:2:11: file policies/global.xml does not exist (looked for ` + "DIR" + `/policies/global.xml)`,
				`portcullis.yaml:3:14: folder frags does not exist (looked for DIR/frags)`,
				`portcullis.yaml:4:11: file ca.pem does not exist (looked for DIR/ca.pem)`,
			}, "\n"),
		},
		{
			name: "durations and listen addresses",
			yaml: "gateway:\n  listen: localhost\n  key-staleness: 1 day\n  timeouts: {backend: -5s}\nadmin:\n  listen: 127.0.0.1:99999\n",
			want: strings.Join([]string{
				`portcullis.yaml:2:11: listen address "localhost" must be host:port, e.g. 127.0.0.1:8080`,
				`portcullis.yaml:3:18: key-staleness: "1 day" is not a duration: write a number and a unit, e.g. 90s, 15m or 24h`,
				`portcullis.yaml:4:23: backend must be greater than zero, found "-5s"`,
				`portcullis.yaml:6:11: listen address "127.0.0.1:99999": port must be a number from 0 to 65535`,
			}, "\n"),
		},
		{
			name: "tls-listen without tls",
			yaml: "gateway:\n  tls-listen: 127.0.0.1:0\n",
			want: `portcullis.yaml:2:15: tls-listen needs tls: {cert: FILE, key: FILE}`,
		},
		{
			name: "empty admin token",
			yaml: "admin:\n  token: \"\"\n",
			want: `portcullis.yaml:2:10: admin token is empty: remove the key to turn the management API off`,
		},
		{
			name: "guessable admin token",
			yaml: "admin:\n  token: secret\n",
			want: `portcullis.yaml:2:10: admin token is 6 characters: use at least 16 random ones (e.g. openssl rand -base64 32)`,
		},
		{
			name: "guessable identity secrets",
			yaml: `identity:
  tenants:
    - id: 3f5b1c2e-0000-4000-8000-000000000001
      applications:
        - name: app
          secrets: [{value: short-secret}]
      users:
        - {username: a@b, password: passw0r}
`,
			want: strings.Join([]string{
				`portcullis.yaml:6:29: client secret is 12 characters: use at least 16 random ones (portcullis app add-secret generates one), or give its hash`,
				`portcullis.yaml:8:37: user "a@b": password is 7 characters, Entra ID's minimum is 8`,
			}, "\n"),
		},
		{
			name: "identity seed mistakes",
			yaml: `identity:
  tenants:
    - id: not-a-guid
      applications:
        - name: app
          access-token-version: 3
          secrets: [{value: a, hash: "sha256:x"}]
        - name: app
      users:
        - {username: a@b, password: x, password-hash: y}
`,
			want: strings.Join([]string{
				`portcullis.yaml:3:11: tenant id must be a GUID such as 3f5b1c2e-0000-4000-8000-000000000001, found "not-a-guid"`,
				`portcullis.yaml:6:33: access-token-version must be 1 or 2, found 3`,
				`portcullis.yaml:7:21: a secret needs exactly one of value or hash`,
				`portcullis.yaml:8:17: application name "app" is already used in this tenant`,
				`portcullis.yaml:10:11: user "a@b" has both password and password-hash: keep one`,
			}, "\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"portcullis.yaml": tt.yaml}
			for k, v := range tt.files {
				files[k] = v
			}
			writeTree(t, files)
			dir, _ := os.Getwd()
			cfg, err := Load("portcullis.yaml")
			if err == nil {
				t.Fatalf("Load succeeded (%+v), want errors:\n%s", cfg, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			got := strings.ReplaceAll(err.Error(), dir, "DIR")
			if got != tt.want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestLoadValid(t *testing.T) {
	t.Setenv("PORTCULLIS_TEST_TOKEN", "admin-token-from-env")
	t.Setenv("PORTCULLIS_TEST_TENANT", "3f5b1c2e-0000-4000-8000-000000000001")
	writeTree(t, map[string]string{
		"conf/portcullis.yaml": `data: ./data
gateway:
  listen: 127.0.0.1:0
  policy: policies/global.xml
  named-values:
    tenant-id: ${PORTCULLIS_TEST_TENANT}
    literal: "cost: $${NOT_A_VARIABLE}"
    injected: ${PORTCULLIS_TEST_TOKEN}
  key-staleness: 90m
  timeouts: {backend: 2s}
  limits: {max-body-bytes: 1024}
  apis:
    - name: echo-api
      path: /echo/v1/
      backend: http://127.0.0.1:9000/base
      policy: policies/echo.xml
      operations:
        - name: get-item
          method: get
          template: /items/{id}
          policy: policies/get-item.xml
        - name: files
          method: "*"
          template: /files/{*path}
admin:
  listen: 127.0.0.1:0
  token: ${PORTCULLIS_TEST_TOKEN}
`,
		"conf/policies/global.xml":   policyXML,
		"conf/policies/echo.xml":     policyXML,
		"conf/policies/get-item.xml": policyXML,
	})
	dir, _ := os.Getwd()
	cfg, err := Load("conf/portcullis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "conf")
	checks := []struct {
		name      string
		got, want any
	}{
		{"file is absolute", cfg.File, filepath.Join(conf, "portcullis.yaml")},
		{"data relative to the file", cfg.Data, filepath.Join(conf, "data")},
		{"global policy resolved", cfg.Gateway.Policy, filepath.Join(conf, "policies/global.xml")},
		{"env substituted", cfg.Gateway.NamedValues["tenant-id"], "3f5b1c2e-0000-4000-8000-000000000001"},
		{"$${ is a literal", cfg.Gateway.NamedValues["literal"], "cost: ${NOT_A_VARIABLE}"},
		{"admin token from env", cfg.Admin.Token, "admin-token-from-env"},
		{"key staleness parsed", cfg.Gateway.KeyStalenessDuration, 90 * time.Minute},
		{"backend timeout parsed", cfg.Gateway.Timeouts.BackendDuration, 2 * time.Second},
		{"read timeout default", cfg.Gateway.Timeouts.ReadDuration, DefaultReadTimeout},
		{"body limit", cfg.Gateway.Limits.MaxBodyBytes, int64(1024)},
		{"header limit default", cfg.Gateway.Limits.MaxHeaderBytes, DefaultMaxHeaderBytes},
		{"API path normalised", cfg.Gateway.APIs[0].Path, "echo/v1"},
		{"method upper-cased", cfg.Gateway.APIs[0].Operations[0].Method, "GET"},
		{"template parsed", len(cfg.Gateway.APIs[0].Operations[0].URLTemplate.Segments), 2},
		{"operation policy resolved", cfg.Gateway.APIs[0].Operations[0].Policy, filepath.Join(conf, "policies/get-item.xml")},
		{"files to watch", len(cfg.Files()), 4},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// A variable's value is data: YAML in it must not change the file's structure.
func TestLoadEnvironmentCannotInjectStructure(t *testing.T) {
	t.Setenv("PORTCULLIS_TEST_INJECT", "x\n  listen: 0.0.0.0:80")
	writeTree(t, map[string]string{"portcullis.yaml": "admin:\n  token: ${PORTCULLIS_TEST_INJECT}\n"})
	cfg, err := Load("portcullis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Listen != DefaultAdminListen || cfg.Admin.Token != "x\n  listen: 0.0.0.0:80" {
		t.Errorf("admin = %+v", cfg.Admin)
	}
}

func TestLoadFileProblems(t *testing.T) {
	writeTree(t, map[string]string{"big.yaml": "data: " + strings.Repeat("x", MaxFileSize) + "\n"})
	if err := os.Mkdir("folder.yaml", 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"missing", "nope.yaml", "nope.yaml: configuration file does not exist"},
		{"too large", "big.yaml", "big.yaml: configuration file is larger than 4194304 bytes"},
		{"folder", "folder.yaml", "folder.yaml: configuration path is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load(%s) = %v, want %s", tt.path, err, tt.want)
			}
		})
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		src  string
		key  string
		want []Segment
		err  string
	}{
		{src: "/", key: "/"},
		{src: "/items", key: "/items", want: []Segment{{Literal, "items"}}},
		{src: "/items/", key: "/items/", want: []Segment{{Literal, "items"}, {Literal, ""}}},
		{src: "/items/{id}", key: "/items/{}", want: []Segment{{Literal, "items"}, {Param, "id"}}},
		{src: "/f/{*path}", key: "/f/{*}", want: []Segment{{Literal, "f"}, {Wildcard, "path"}}},
		{src: "/a//b", err: `malformed URL template: "/a//b" has an empty segment (//)`},
		{src: "/{}", err: `malformed URL template: "/{}": parameter name "" must be letters, digits, - or _`},
		{src: "/a?x={x}", err: `malformed URL template: "/a?x={x}": query parameters and fragments in templates are not supported`},
		{src: "/../x", err: `malformed URL template: "/../x": segments . and .. are not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := ParseTemplate(tt.src)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || !errors.Is(err, ErrTemplate) {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Key() != tt.key || len(got.Segments) != len(tt.want) {
				t.Fatalf("got %+v (key %s), want %+v (key %s)", got.Segments, got.Key(), tt.want, tt.key)
			}
			for i := range tt.want {
				if got.Segments[i] != tt.want[i] {
					t.Errorf("segment %d = %+v, want %+v", i, got.Segments[i], tt.want[i])
				}
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte("gateway:\n  apis:\n    - {name: a, path: a, backend: http://x}\n"))
	f.Add([]byte("admin: {token: ${X}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parse("f.yaml", "/nonexistent/f.yaml", data, func(string) (string, bool) { return "v", true })
	})
}
