package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"net/url"
	"unsafe"

	"github.com/valyala/fasthttp"

	"portcullis/internal/policy"
)

// exchange is everything one request needs, pooled and reused so that the steady state does
// not allocate per request beyond the strings policies can see. Nothing in it points into the
// fasthttp RequestCtx once the handler has returned: values policies see are copies.
type exchange struct {
	pctx    policy.Context
	req     policy.Request
	resp    policy.Response
	vars    map[string]any
	params  map[string]string
	m       match
	fwd     forwarder
	body    limitedBody
	buf     []byte // scratch for URIs and header values
	strs    []byte // this request's strings (see str); never reused
	logLine []byte // the access-log line, reused
	plan    *Plan
	api     *apiRoute
	obs     Observation
	span    RequestSpan // the request's span, nil without tracing
}

func newExchange() *exchange {
	ex := &exchange{vars: map[string]any{}, params: map[string]string{}}
	ex.fwd.ex = ex
	return ex
}

// reset drops every reference a finished request left, keeping storage for the next one.
func (ex *exchange) reset() {
	ex.fwd.release()
	clear(ex.vars)
	clear(ex.params)
	ex.req.Header.Reset()
	ex.req.OriginalURL.Query.Reset()
	ex.req.URL.Query.Reset()
	ex.resp.Header.Reset()
	hdr, oq, uq, rh := ex.req.Header, ex.req.OriginalURL.Query, ex.req.URL.Query, ex.resp.Header
	ex.req = policy.Request{Header: hdr}
	ex.req.OriginalURL.Query, ex.req.URL.Query = oq, uq
	ex.resp = policy.Response{Header: rh}
	ex.pctx = policy.Context{}
	ex.body = limitedBody{}
	ex.strs = nil // policies may keep strings pointing into it
	ex.plan, ex.api = nil, nil
	ex.obs = Observation{}
	ex.span = nil
	ex.m.api, ex.m.route, ex.m.rest, ex.m.nparams = nil, nil, nil, 0
}

// str copies b into this request's string storage and returns it as a string. One request's
// strings (path, host, header values, parameters) share one allocation instead of one each. The
// storage is written only past its length and dropped, never reused, at reset: a string a
// policy keeps (a cache key, a variable) stays valid and unchanged.
func (ex *exchange) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(ex.strs)-len(ex.strs) < len(b) {
		ex.strs = make([]byte, 0, max(len(b), 2*cap(ex.strs), minStrs))
	}
	start := len(ex.strs)
	ex.strs = append(ex.strs, b...)
	return unsafe.String(&ex.strs[start], len(b))
}

// str2 is str of a+b.
func (ex *exchange) str2(a string, b []byte) string {
	if len(a) == 0 {
		return ex.str(b)
	}
	n := len(a) + len(b)
	if cap(ex.strs)-len(ex.strs) < n {
		ex.strs = make([]byte, 0, max(n, 2*cap(ex.strs), minStrs))
	}
	start := len(ex.strs)
	ex.strs = append(append(ex.strs, a...), b...)
	return unsafe.String(&ex.strs[start], n)
}

// minStrs is the smallest string storage a request starts with: enough for a typical request's
// and response's strings in one allocation.
const minStrs = 256

// fill builds the policy context from the fasthttp request. Strings are copied out of rc.
func (ex *exchange) fill(rc *fasthttp.RequestCtx, plan *Plan, tls bool, requestID string) {
	rt := ex.m.route
	api := rt.api
	ex.plan, ex.api = plan, api
	r := &ex.req
	r.Method = methodString(rc.Method())

	// The client's URL.
	o := &r.OriginalURL
	o.Scheme = "http"
	if tls {
		o.Scheme = "https"
	}
	host, port := splitHost(rc.Host(), tls)
	o.Host, o.Port = ex.str(host), port
	o.Path = ex.str(rc.Path())
	ex.parseQueryInto(&o.Query, rc.URI().QueryString())

	// The backend URL: the API's web service URL + the path after the API suffix + the query.
	u := &r.URL
	u.Scheme, u.Host, u.Port = api.service.Scheme, api.service.Host, api.service.Port
	if len(ex.m.rest) == 0 {
		u.Path = api.service.Path
		if u.Path == "" {
			u.Path = "/"
		}
	} else {
		u.Path = ex.str2(api.service.Path, ex.m.rest)
	}
	for _, f := range o.Query.Fields() {
		u.Query.Add(f.Name, f.Value)
	}

	for k, v := range rc.Request.Header.All() {
		r.Header.Add(ex.headerName(k), ex.str(v))
	}
	if ip, ok := netip.AddrFromSlice(rc.RemoteIP()); ok {
		r.IPAddress = ip.Unmap()
	}
	for i := 0; i < ex.m.nparams; i++ {
		p := ex.m.params[i]
		ex.params[paramName(rt, i)] = ex.str(ex.m.rest[p.start:p.end])
	}
	r.MatchedParameters = ex.params

	// The body stays a stream until a policy reads it.
	// -1 is a chunked body; -2 (no Content-Length, no Transfer-Encoding) is no body at all.
	if cl := rc.Request.Header.ContentLength(); cl > 0 || cl == -1 {
		ex.body = limitedBody{r: rc.RequestBodyStream(), left: plan.maxBody}
		r.Body.SetStream(&ex.body, int64(cl), plan.maxBody)
	}

	c := &ex.pctx
	c.Request, c.Response = r, &ex.resp
	c.Variables = ex.vars
	c.API, c.Operation = &api.info, &rt.info
	c.RequestID = requestID
	c.Timestamp = rc.Time()
	c.ServiceURL = api.service
	c.Backend = &ex.fwd
}

// paramName is the name of the i-th parameter of the route's template.
func paramName(rt *route, i int) string {
	for _, s := range rt.segs {
		if s.Kind == 0 {
			continue
		}
		if i == 0 {
			return s.Text
		}
		i--
	}
	return ""
}

// errBodyTooLarge marks a request body cut at the gateway's limit (413).
var errBodyTooLarge = errors.New("request body exceeds the gateway's limit")

// limitedBody reads the client's body and fails once it passes the limit, so that a chunked
// body of unannounced size cannot exceed it either.
type limitedBody struct {
	r    io.Reader
	left int64
	err  error // the client stream's own failure (timeout, broken framing), not EOF
	eof  bool  // read to the end
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.r == nil {
		return 0, io.EOF
	}
	if b.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, errBodyTooLarge
		}
		b.eof = true
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.err = err
	}
	return n, err
}

func splitHost(h []byte, tls bool) ([]byte, int) {
	port := 80
	if tls {
		port = 443
	}
	// [v6]:port, host:port or host.
	end := len(h)
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == ':' {
			if i > 0 && h[i-1] == ']' || bytes.IndexByte(h[:i], ':') < 0 {
				p := 0
				ok := i+1 < len(h)
				for _, c := range h[i+1:] {
					if c < '0' || c > '9' || p > 65535 {
						ok = false
						break
					}
					p = p*10 + int(c-'0')
				}
				if ok {
					port, end = p, i
				}
			}
			break
		}
		if h[i] == ']' {
			break
		}
	}
	return h[:end], port
}

// parseQueryInto reads a raw query string; malformed escapes are kept as sent (as
// policy.ParseQuery does), and unescaping allocates only when there is something to unescape.
func (ex *exchange) parseQueryInto(q *policy.Query, raw []byte) {
	for len(raw) > 0 {
		var pair []byte
		if i := bytes.IndexByte(raw, '&'); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			pair, raw = raw, nil
		}
		if len(pair) == 0 {
			continue
		}
		name, value := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			name, value = pair[:i], pair[i+1:]
		}
		q.Add(ex.unescapeQuery(name), ex.unescapeQuery(value))
	}
}

func (ex *exchange) unescapeQuery(b []byte) string {
	s := ex.str(b)
	if bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	}
	return string(m)
}

// commonHeaders lets the usual header names be shared strings rather than a copy per request.
var commonHeaders = func() map[string]string {
	names := []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control", "Connection",
		"Content-Encoding", "Content-Length", "Content-Type", "Cookie", "Date", "Etag", "Expires", "Host",
		"If-Match", "If-Modified-Since", "If-None-Match", "Keep-Alive", "Last-Modified", "Location", "Origin",
		"Pragma", "Referer", "Server", "Set-Cookie", "Traceparent", "Tracestate", "Transfer-Encoding",
		"User-Agent", "Vary", "Www-Authenticate", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"X-Request-Id", "Ocp-Apim-Subscription-Key", "Ocp-Apim-Trace",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = n
	}
	return m
}()

func headerName(k []byte) string {
	if s, ok := commonHeaders[string(k)]; ok {
		return s
	}
	return string(k)
}

// headerName is headerName with an uncommon name kept in the request's string storage.
func (ex *exchange) headerName(k []byte) string {
	if s, ok := commonHeaders[string(k)]; ok {
		return s
	}
	return ex.str(k)
}
