package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MinAdminTokenLength is the shortest admin.token accepted.
const MinAdminTokenLength = 16

// MinSecretLength is the shortest client secret accepted in the file: a client secret is
// stored as its SHA-256, which a short one does not survive offline (Entra's own are 40
// random characters).
const MinSecretLength = 16

// MinPasswordLength is the shortest user password accepted in the file, Entra ID's minimum.
const MinPasswordLength = 8

// Defaults (CONTRACT.md §2 and APIM's own defaults).
const (
	DefaultData            = "./portcullis-data"
	DefaultGatewayListen   = "127.0.0.1:8080"
	DefaultAdminListen     = "127.0.0.1:9090"
	DefaultKeyStaleness    = 24 * time.Hour
	DefaultBackendTimeout  = 300 * time.Second
	DefaultReadTimeout     = 30 * time.Second
	DefaultIdleTimeout     = 120 * time.Second
	DefaultWriteTimeout    = 300 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultMaxHeaderBytes  = 32 << 10
	DefaultMaxBodyBytes    = 100 << 20
)

func (l *loader) validate(c *Config) {
	if c.Gateway == nil && c.Identity == nil && c.Admin == nil {
		l.errs = append(l.errs, l.errAt(l.pos[""], "nothing to run: configure at least one of gateway, identity or admin"))
	}
	if c.Data == "" {
		c.Data = DefaultData
	}
	c.Data = l.resolve(c.Data)
	if c.Identity != nil && c.Identity.TLS == nil {
		l.localCA = filepath.Join(c.Data, "tls", "ca.pem")
	}
	if c.Gateway != nil {
		l.gateway(c.Gateway)
	}
	if c.Identity != nil {
		l.identity(c.Identity)
	}
	if c.Admin != nil {
		l.admin(c.Admin)
	}
	if c.Tracing != nil {
		l.tracing(c.Tracing)
	}
}

func (l *loader) fail(path string, format string, args ...any) {
	n := l.pos[path]
	for n == nil && path != "" {
		// A missing key: point at the closest enclosing value that exists.
		if i := strings.LastIndexAny(path, ".["); i >= 0 {
			path = path[:i]
		} else {
			path = ""
		}
		n = l.pos[path]
	}
	l.errs = append(l.errs, l.errAt(n, format, args...))
}

func (l *loader) has(path string) bool { return l.pos[path] != nil }

func (l *loader) line(path string) int {
	if p := l.pos[path]; p != nil {
		return p.Line
	}
	return 0
}

func (l *loader) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.dir, p)
}

// file resolves a path that must name an existing regular file.
func (l *loader) file(key string, p *string) {
	if *p == "" {
		l.fail(key, "%s is empty", lastKey(key))
		return
	}
	abs := l.resolve(*p)
	st, err := os.Stat(abs)
	switch {
	case err != nil:
		l.fail(key, "file %s does not exist (looked for %s)", *p, abs)
	case !st.Mode().IsRegular():
		l.fail(key, "%s is not a regular file", *p)
	}
	*p = abs
}

func (l *loader) dirPath(key string, p *string) {
	abs := l.resolve(*p)
	st, err := os.Stat(abs)
	switch {
	case err != nil:
		l.fail(key, "folder %s does not exist (looked for %s)", *p, abs)
	case !st.IsDir():
		l.fail(key, "%s is not a folder", *p)
	}
	*p = abs
}

func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func (l *loader) listen(key string, addr *string, def string) {
	if !l.has(key) {
		*addr = def
		return
	}
	_, port, err := net.SplitHostPort(*addr)
	if err != nil {
		l.fail(key, "listen address %q must be host:port, e.g. 127.0.0.1:8080", *addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		l.fail(key, "listen address %q: port must be a number from 0 to 65535", *addr)
	}
}

func (l *loader) duration(key, src string, def time.Duration, allowZero bool) time.Duration {
	if !l.has(key) {
		return def
	}
	d, err := time.ParseDuration(src)
	if err != nil {
		l.fail(key, "%s: %q is not a duration: write a number and a unit, e.g. 90s, 15m or 24h", lastKey(key), src)
		return def
	}
	if d < 0 || (d == 0 && !allowZero) {
		l.fail(key, "%s must be greater than zero, found %q", lastKey(key), src)
		return def
	}
	return d
}

func (l *loader) tls(key string, t *TLS) {
	if t == nil {
		return
	}
	l.file(key+".cert", &t.Cert)
	l.file(key+".key", &t.Key)
}

func (l *loader) gateway(g *Gateway) {
	l.listen("gateway.listen", &g.Listen, DefaultGatewayListen)
	if g.TLSListen != "" {
		l.listen("gateway.tls-listen", &g.TLSListen, "")
		if g.TLS == nil {
			l.fail("gateway.tls-listen", "tls-listen needs tls: {cert: FILE, key: FILE}")
		}
	}
	l.tls("gateway.tls", g.TLS)
	if g.Policy != "" || l.has("gateway.policy") {
		l.file("gateway.policy", &g.Policy)
	}
	for _, id := range slices.Sorted(maps.Keys(g.Certificates)) {
		p := g.Certificates[id]
		l.file("gateway.certificates."+id, &p)
		g.Certificates[id] = p
	}
	if g.Fragments != "" || l.has("gateway.fragments") {
		l.dirPath("gateway.fragments", &g.Fragments)
	}
	for i := range g.Trust {
		if abs := l.resolve(g.Trust[i]); abs == l.localCA {
			// Created by the identity service, which serve starts before the gateway.
			g.Trust[i] = abs
			continue
		}
		l.file(fmt.Sprintf("gateway.trust[%d]", i), &g.Trust[i])
	}
	for _, from := range slices.Sorted(maps.Keys(g.AuthorityAliases)) {
		to := g.AuthorityAliases[from]
		for _, u := range []string{from, to} {
			if !absoluteHTTP(u) {
				l.fail("gateway.authority-aliases."+from, "authority alias %q must be an absolute http(s) URL such as https://login.microsoftonline.com", u)
			}
		}
	}
	g.KeyStalenessDuration = l.duration("gateway.key-staleness", g.KeyStaleness, DefaultKeyStaleness, false)
	l.gatewayIdentityAndLoggers(g)
	for _, id := range slices.Sorted(maps.Keys(g.Backends)) {
		if u := g.Backends[id].URL; !absoluteHTTP(u) {
			l.fail("gateway.backends."+id+".url", "backend %q needs url: an absolute http(s) URL such as https://backend.example/api (found %q)", id, u)
		}
	}
	if g.Timeouts == nil {
		g.Timeouts = &Timeouts{}
	}
	t := g.Timeouts
	t.BackendDuration = l.duration("gateway.timeouts.backend", t.Backend, DefaultBackendTimeout, false)
	t.ReadDuration = l.duration("gateway.timeouts.read", t.Read, DefaultReadTimeout, false)
	t.IdleDuration = l.duration("gateway.timeouts.idle", t.Idle, DefaultIdleTimeout, false)
	t.WriteDuration = l.duration("gateway.timeouts.write", t.Write, DefaultWriteTimeout, false)
	t.ShutdownDuration = l.duration("gateway.timeouts.shutdown", t.Shutdown, DefaultShutdownTimeout, true)
	if g.Limits == nil {
		g.Limits = &Limits{}
	}
	if !l.has("gateway.limits.max-header-bytes") {
		g.Limits.MaxHeaderBytes = DefaultMaxHeaderBytes
	} else if g.Limits.MaxHeaderBytes < 1024 {
		l.fail("gateway.limits.max-header-bytes", "max-header-bytes must be at least 1024, found %d", g.Limits.MaxHeaderBytes)
	}
	if !l.has("gateway.limits.max-body-bytes") {
		g.Limits.MaxBodyBytes = DefaultMaxBodyBytes
	} else if g.Limits.MaxBodyBytes < 1 {
		l.fail("gateway.limits.max-body-bytes", "max-body-bytes must be at least 1, found %d", g.Limits.MaxBodyBytes)
	}

	names := map[string]string{} // name → path of first use
	paths := map[string]string{} // normalised path → API name
	for i := range g.APIs {
		l.api(fmt.Sprintf("gateway.apis[%d]", i), &g.APIs[i], names, paths)
	}
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (l *loader) api(key string, a *API, names, paths map[string]string) {
	switch {
	case !l.has(key + ".name"):
		l.fail(key, "API needs a name (name: is required)")
	case a.Name == "":
		l.fail(key+".name", "API name is empty")
	case names[a.Name] != "":
		l.fail(key+".name", "API name %q is already used on line %d", a.Name, l.line(names[a.Name]))
	default:
		names[a.Name] = key + ".name"
	}
	if !l.has(key + ".path") {
		l.fail(key, "API %q needs a path (the URL suffix it is published at; \"\" for the root)", a.Name)
	} else if norm, err := normalizeAPIPath(a.Path); err != nil {
		l.fail(key+".path", "%v", err)
	} else {
		a.Path = norm
		if other, ok := paths[norm]; ok {
			l.fail(key+".path", "API path %q is already used by API %q", "/"+norm, other)
		} else {
			paths[norm] = a.Name
		}
	}
	switch {
	case !l.has(key + ".backend"):
		l.fail(key, "API %q needs a backend (the web service URL, e.g. http://127.0.0.1:9000)", a.Name)
	case !absoluteHTTP(a.Backend):
		l.fail(key+".backend", "backend must be an absolute http:// or https:// URL, found %q", a.Backend)
	default:
		u, _ := url.Parse(a.Backend)
		switch {
		case u.User != nil:
			// The URL is not repeated: its user info may be a password.
			l.fail(key+".backend", "backend must not hold user info (user:password@): pass credentials with a policy such as set-header")
		case u.RawQuery != "" || u.Fragment != "":
			l.fail(key+".backend", "backend %q must not hold a query or fragment", a.Backend)
		}
	}
	if a.Policy != "" || l.has(key+".policy") {
		l.file(key+".policy", &a.Policy)
	}
	opNames := map[string]string{}
	routes := map[string]string{}
	for i := range a.Operations {
		k := fmt.Sprintf("%s.operations[%d]", key, i)
		op := &a.Operations[i]
		switch {
		case !l.has(k + ".name"):
			l.fail(k, "operation needs a name (name: is required)")
		case op.Name == "":
			l.fail(k+".name", "operation name is empty")
		case opNames[op.Name] != "":
			l.fail(k+".name", "operation name %q is already used in API %q on line %d", op.Name, a.Name, l.line(opNames[op.Name]))
		default:
			opNames[op.Name] = k + ".name"
		}
		switch {
		case !l.has(k + ".method"):
			l.fail(k, "operation %q needs a method (GET, POST, … or * for any)", op.Name)
		case !validMethod(op.Method):
			l.fail(k+".method", "method %q is not an HTTP method token (GET, POST, … or *)", op.Method)
		default:
			op.Method = strings.ToUpper(op.Method)
		}
		if !l.has(k + ".template") {
			l.fail(k, "operation %q needs a template (e.g. /items/{id})", op.Name)
		} else if t, err := ParseTemplate(op.Template); err != nil {
			l.fail(k+".template", "%v", err)
		} else {
			op.URLTemplate = t
			route := op.Method + " " + t.Key()
			if other, ok := routes[route]; ok {
				l.fail(k+".template", "operation %q matches the same requests as operation %q (%s %s)", op.Name, other, op.Method, op.Template)
			} else {
				routes[route] = op.Name
			}
		}
		if op.Policy != "" || l.has(k+".policy") {
			l.file(k+".policy", &op.Policy)
		}
	}
}

// normalizeAPIPath trims slashes and checks the suffix is plain path segments.
func normalizeAPIPath(p string) (string, error) {
	norm := strings.Trim(p, "/")
	if norm == "" {
		return "", nil
	}
	for _, seg := range strings.Split(norm, "/") {
		switch {
		case seg == "":
			return "", fmt.Errorf("API path %q has an empty segment (//)", p)
		case seg == "." || seg == "..":
			return "", fmt.Errorf("API path %q: segments . and .. are not allowed", p)
		case strings.ContainsAny(seg, "{}?#% \t"):
			return "", fmt.Errorf("API path %q: segment %q may not hold { } ? # %% or spaces", p, seg)
		}
	}
	return norm, nil
}

func validMethod(m string) bool {
	if m == "*" {
		return true
	}
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (l *loader) identity(id *Identity) {
	if !l.has("identity.listen") {
		id.Listen = "127.0.0.1:9443"
	} else {
		l.listen("identity.listen", &id.Listen, "")
	}
	if id.PublicURL != "" {
		u, err := url.Parse(id.PublicURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			l.fail("identity.public-url", "public-url must be an https:// URL with a host and no path, found %q", id.PublicURL)
		}
	}
	l.tls("identity.tls", id.TLS)
	id.TokenLifetimeDuration = l.duration("identity.token-lifetime", id.TokenLifetime, 0, false)
	tenants := map[string]bool{}
	for i := range id.Tenants {
		k := fmt.Sprintf("identity.tenants[%d]", i)
		t := &id.Tenants[i]
		switch {
		case !l.has(k + ".id"):
			l.fail(k, "tenant needs an id (its GUID)")
		case !isGUID(t.ID):
			l.fail(k+".id", "tenant id must be a GUID such as 3f5b1c2e-0000-4000-8000-000000000001, found %q", t.ID)
		case tenants[strings.ToLower(t.ID)]:
			l.fail(k+".id", "tenant %s is declared twice", t.ID)
		default:
			tenants[strings.ToLower(t.ID)] = true
		}
		apps := map[string]bool{}
		for j := range t.Applications {
			ak := fmt.Sprintf("%s.applications[%d]", k, j)
			a := &t.Applications[j]
			switch {
			case a.Name == "":
				l.fail(ak, "application needs a name")
			case apps[a.Name]:
				l.fail(ak+".name", "application name %q is already used in this tenant", a.Name)
			default:
				apps[a.Name] = true
			}
			if a.AppID != "" && !isGUID(a.AppID) {
				l.fail(ak+".app-id", "app-id must be a GUID, found %q", a.AppID)
			}
			if v := a.AccessTokenVersion; v != 0 && v != 1 && v != 2 {
				l.fail(ak+".access-token-version", "access-token-version must be 1 or 2, found %d", v)
			}
			for s := range a.Secrets {
				sk := fmt.Sprintf("%s.secrets[%d]", ak, s)
				switch v := a.Secrets[s].Value; {
				case (v == "") == (a.Secrets[s].Hash == ""):
					l.fail(sk, "a secret needs exactly one of value or hash")
				case v != "" && len(v) < MinSecretLength:
					l.fail(sk+".value", "client secret is %d characters: use at least %d random ones (portcullis app add-secret generates one), or give its hash", len(v), MinSecretLength)
				}
			}
			for c := range a.Certificates {
				l.file(fmt.Sprintf("%s.certificates[%d]", ak, c), &a.Certificates[c])
			}
		}
		users := map[string]bool{}
		for j := range t.Users {
			uk := fmt.Sprintf("%s.users[%d]", k, j)
			u := &t.Users[j]
			switch {
			case u.Username == "":
				l.fail(uk, "user needs a username")
			case users[strings.ToLower(u.Username)]:
				l.fail(uk+".username", "user %q is declared twice", u.Username)
			default:
				users[strings.ToLower(u.Username)] = true
			}
			switch {
			case u.Password != "" && u.PasswordHash != "":
				l.fail(uk, "user %q has both password and password-hash: keep one", u.Username)
			case u.Password != "" && len(u.Password) < MinPasswordLength:
				l.fail(uk+".password", "user %q: password is %d characters, Entra ID's minimum is %d", u.Username, len(u.Password), MinPasswordLength)
			}
		}
	}
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (l *loader) admin(a *Admin) {
	l.listen("admin.listen", &a.Listen, DefaultAdminListen)
	switch {
	case l.has("admin.token") && a.Token == "":
		l.fail("admin.token", "admin token is empty: remove the key to turn the management API off")
	case a.Token != "" && len(a.Token) < MinAdminTokenLength:
		// The token is the whole of the management API's authentication: a guessable one hands
		// the directory (secrets, consent, keys) to whoever guesses it.
		l.fail("admin.token", "admin token is %d characters: use at least %d random ones (e.g. openssl rand -base64 32)", len(a.Token), MinAdminTokenLength)
	}
}

// Files lists the files whose change should reload the configuration: the file itself and every
// policy file it names.
func (c *Config) Files() []string {
	files := []string{c.File}
	if g := c.Gateway; g != nil {
		if g.Policy != "" {
			files = append(files, g.Policy)
		}
		for _, a := range g.APIs {
			if a.Policy != "" {
				files = append(files, a.Policy)
			}
			for _, op := range a.Operations {
				if op.Policy != "" {
					files = append(files, op.Policy)
				}
			}
		}
		for _, p := range g.Certificates {
			files = append(files, p)
		}
		if g.Fragments != "" {
			if entries, err := os.ReadDir(g.Fragments); err == nil {
				for _, e := range entries {
					if !e.IsDir() && strings.HasSuffix(e.Name(), ".xml") {
						files = append(files, filepath.Join(g.Fragments, e.Name()))
					}
				}
			}
		}
	}
	return files
}

// gatewayIdentityAndLoggers checks gateway.managed-identity and gateway.loggers.
func (l *loader) gatewayIdentityAndLoggers(g *Gateway) {
	if mi := g.ManagedIdentity; mi != nil {
		if mi.Authority != "" && !absoluteHTTP(mi.Authority) {
			l.fail("gateway.managed-identity.authority", "authority %q must be an absolute http(s) URL such as https://login.microsoftonline.com", mi.Authority)
		}
		for _, f := range []struct{ key, v string }{{"tenant-id", mi.TenantID}, {"client-id", mi.ClientID}, {"client-secret", mi.ClientSecret}} {
			if strings.TrimSpace(f.v) == "" {
				l.fail("gateway.managed-identity", "managed-identity needs %s", f.key)
			}
		}
		for i, u := range mi.UserAssigned {
			if strings.TrimSpace(u.ClientID) == "" || strings.TrimSpace(u.ClientSecret) == "" {
				l.fail(fmt.Sprintf("gateway.managed-identity.user-assigned[%d]", i), "a user-assigned identity needs client-id and client-secret")
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(g.Loggers)) {
		lg := g.Loggers[id]
		key := "gateway.loggers." + id
		switch {
		case lg.Stdout && lg.File != "":
			l.fail(key, "logger %q takes file or stdout: true, not both", id)
		case !lg.Stdout && lg.File == "":
			l.fail(key, "logger %q needs file: PATH or stdout: true", id)
		case lg.File != "":
			lg.File = l.resolve(lg.File)
			if st, err := os.Stat(filepath.Dir(lg.File)); err != nil || !st.IsDir() {
				l.fail(key+".file", "the folder of log file %s does not exist", lg.File)
			}
			g.Loggers[id] = lg
		}
	}
}
