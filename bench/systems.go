package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// startNginx runs nginx as a plain reverse proxy. It keeps its access log, which nginx writes
// by default, buffered the way Portcullis buffers its own (64 KB, flushed every 100 ms), so
// that the two do the same work per request.
func (h *harness) startNginx(ctx context.Context) (string, func(), error) {
	addr, err := freePort()
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(h.work, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	conf := fmt.Sprintf(`user root;
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 4096; }
http {
  access_log %[1]s/access.log combined buffer=64k flush=100ms;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream backend { server %[2]s; keepalive 64; }
  server {
    listen %[3]s;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`, dir, h.backendAddr, addr)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	return h.startServer(ctx, "nginx", addr, "", "/usr/sbin/nginx", "-c", path, "-e", filepath.Join(dir, "error.log"))
}

func (h *harness) startHAProxy(ctx context.Context) (string, func(), error) {
	addr, err := freePort()
	if err != nil {
		return "", nil, err
	}
	pub := filepath.Join(h.work, "idp-public.pem")
	if err := h.idp.publicKeyPEM(pub); err != nil {
		return "", nil, err
	}
	// HAProxy's jwt_verify checks the signature only; the lifetime and audience checks that
	// validate-jwt also makes are not part of its cost.
	conf := fmt.Sprintf(`global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind %s
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.jwt_alg) var(txn.bearer),jwt_header_query('$.alg')
  http-request deny unless { var(txn.jwt_alg) -m str RS256 }
  http-request deny unless { var(txn.bearer),jwt_verify(txn.jwt_alg,"%s") -m int 1 }
  default_backend be
backend be
  server s1 %s
`, addr, pub, h.backendAddr)
	path := filepath.Join(h.work, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	return h.startServer(ctx, "haproxy", addr, "", "/usr/sbin/haproxy", "-db", "-f", path)
}

// startServer starts a system under test on the SUT core and waits for it to listen, and, when
// ready is set, for that URL to answer 200.
func (h *harness) startServer(ctx context.Context, name, addr, ready string, argv ...string) (string, func(), error) {
	p, err := startPinned(h.work, name, h.opt.sutCPU, argv...)
	if err != nil {
		return "", nil, err
	}
	stop := func() { p.stop() }
	err = waitListening(ctx, addr, 20*time.Second)
	if err == nil && ready != "" {
		err = waitReady(ctx, ready, 30*time.Second)
	}
	if err != nil {
		stop()
		log, _ := os.ReadFile(filepath.Join(h.work, name+".log"))
		return "", nil, fmt.Errorf("%w; its log:\n%s", err, log)
	}
	h.last = p
	return "http://" + addr + "/echo/item", stop, nil
}

func waitReady(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s", url, within)
}

const articlePolicy = `<policies>
  <inbound>
    <base />
    <validate-jwt header-name="Authorization" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized. Access token is missing or invalid.">
      <openid-config url="%s" />
      <required-claims>
        <claim name="aud">
          <value>%s</value>
        </claim>
      </required-claims>
    </validate-jwt>
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>
`

// portcullis returns a start function for Portcullis's gateway with apis APIs (each with ten
// operations when there is more than one) and, with jwt, the article's policy on the API
// the load is sent to.
func (h *harness) portcullis(apis int, jwt bool) func(context.Context) (string, func(), error) {
	return func(ctx context.Context) (string, func(), error) {
		dir, err := os.MkdirTemp(h.work, "portcullis-")
		if err != nil {
			return "", nil, err
		}
		gw, err := freePort()
		if err != nil {
			return "", nil, err
		}
		admin, err := freePort()
		if err != nil {
			return "", nil, err
		}
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "data: ./data\nadmin:\n  listen: %s\ngateway:\n  listen: %s\n  apis:\n", admin, gw)
		policy := ""
		if jwt {
			policy = "      policy: article.xml\n"
			text := fmt.Sprintf(articlePolicy, h.idp.discoveryURL(), h.idp.audience)
			if err := os.WriteFile(filepath.Join(dir, "article.xml"), []byte(text), 0o644); err != nil {
				return "", nil, err
			}
		}
		target := "/echo/item"
		if apis == 1 {
			fmt.Fprintf(&cfg, "    - name: echo\n      path: echo\n      backend: http://%s\n%s", h.backendAddr, policy)
		} else {
			for i := 0; i < apis; i++ {
				fmt.Fprintf(&cfg, "    - name: svc%04d\n      path: svc%04d\n      backend: http://%s\n      operations:\n", i, i, h.backendAddr)
				for j := 0; j < 10; j++ {
					fmt.Fprintf(&cfg, "        - {name: op%d, method: GET, template: \"/res%d/{id}\"}\n", j, j)
				}
			}
			target = fmt.Sprintf("/svc%04d/res7/42", apis/2)
		}
		path := filepath.Join(dir, "portcullis.yaml")
		if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
			return "", nil, err
		}
		url, stop, err := h.startServer(ctx, "portcullis", gw, "http://"+admin+"/readyz", h.bin, "serve", "--config", path)
		if err != nil {
			return "", nil, err
		}
		return strings.TrimSuffix(url, "/echo/item") + target, stop, nil
	}
}

// portcullisDistinct writes enough distinct tokens that none is sent twice within the cache's
// reach, and the wrk script that sends a new one on every request.
func (h *harness) portcullisDistinct(ctx context.Context) (string, func(), error) {
	if h.tokensFile == "" {
		// The no-policy rate bounds the distinct-token rate from above.
		n := int(1.3 * 20000 * h.opt.duration.Seconds())
		h.tokensFile = filepath.Join(h.work, "tokens.txt")
		fmt.Fprintf(os.Stderr, "signing %d distinct tokens...\n", n)
		if err := h.idp.tokens(h.tokensFile, n); err != nil {
			return "", nil, err
		}
		script := fmt.Sprintf(`local tokens = {}
for line in io.lines(%q) do tokens[#tokens + 1] = "Bearer " .. line end
local i = 0
request = function()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format("GET", "/echo/item", {["Authorization"] = tokens[i]})
end
`, h.tokensFile)
		if err := os.WriteFile(filepath.Join(h.work, "tokens.lua"), []byte(script), 0o644); err != nil {
			return "", nil, err
		}
	}
	return h.portcullis(1, true)(ctx)
}

// startIdentity runs Portcullis's identity service with one tenant, an API and a client with a
// secret and an admin-consented app role, and writes the wrk script that asks for tokens.
func (h *harness) startIdentity(ctx context.Context) (string, func(), error) {
	dir, err := os.MkdirTemp(h.work, "identity-")
	if err != nil {
		return "", nil, err
	}
	id, err := freePort()
	if err != nil {
		return "", nil, err
	}
	admin, err := freePort()
	if err != nil {
		return "", nil, err
	}
	const (
		tenant = "3f5b1c2e-0000-4000-8000-000000000001"
		api    = "6c1f0d2a-0000-4000-8000-0000000000b1"
		client = "0b7e9d4c-0000-4000-8000-0000000000c1"
		secret = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	)
	cfg := fmt.Sprintf(`data: ./data
admin:
  listen: %s
identity:
  listen: %s
  token-lifetime: 1h
  tenants:
    - id: %s
      domain: bench.example
      applications:
        - name: backend-app
          app-id: %s
          identifier-uris: [api://%s]
          access-token-version: 2
          app-roles:
            - {value: Files.Read.All, allowed-member-types: [Application]}
        - name: client-app
          app-id: %s
          secrets: [{value: %s}]
          api-permissions:
            - {api: backend-app, roles: [Files.Read.All], admin-consent: true}
`, admin, id, tenant, api, api, client, secret)
	path := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", nil, err
	}
	script := fmt.Sprintf(`wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=api%%3A%%2F%%2F%s%%2F.default"
`, client, secret, api)
	if err := os.WriteFile(filepath.Join(h.work, "token.lua"), []byte(script), 0o644); err != nil {
		return "", nil, err
	}
	if _, stop, err := h.startServer(ctx, "identity", id, "http://"+admin+"/healthz", h.bin, "serve", "--config", path); err != nil {
		return "", nil, err
	} else {
		return "https://" + id + "/" + tenant + "/oauth2/v2.0/token", stop, nil
	}
}
