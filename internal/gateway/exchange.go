package gateway

import (
	"errors"
	"io"
	"net/netip"
	"net/url"

	"github.com/valyala/fasthttp"

	"portcullis/internal/policy"
)

// exchange is everything one request needs, pooled and reused so that the steady state does
// not allocate per request beyond the strings policies can see. Nothing in it points into the
// fasthttp RequestCtx once the handler has returned: values policies see are copies.
type exchange struct {
	pctx   policy.Context
	req    policy.Request
	resp   policy.Response
	vars   map[string]any
	params map[string]string
	m      match
	fwd    forwarder
	body   limitedBody
	buf    []byte // scratch for URIs and header values
	plan   *Plan
	api    *apiRoute
	obs    Observation
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
	ex.plan, ex.api = nil, nil
	ex.obs = Observation{}
	ex.m.api, ex.m.route, ex.m.rest, ex.m.nparams = nil, nil, nil, 0
}

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
	o.Host, o.Port = splitHost(rc.Host(), tls)
	o.Path = string(rc.Path())
	parseQueryInto(&o.Query, rc.URI().QueryString())

	// The backend URL: the API's web service URL + the path after the API suffix + the query.
	u := &r.URL
	u.Scheme, u.Host, u.Port = api.service.Scheme, api.service.Host, api.service.Port
	if len(ex.m.rest) == 0 {
		u.Path = api.service.Path
		if u.Path == "" {
			u.Path = "/"
		}
	} else {
		u.Path = api.service.Path + string(ex.m.rest)
	}
	for _, f := range o.Query.Fields() {
		u.Query.Add(f.Name, f.Value)
	}

	for k, v := range rc.Request.Header.All() {
		r.Header.Add(headerName(k), string(v))
	}
	if ip, ok := netip.AddrFromSlice(rc.RemoteIP()); ok {
		r.IPAddress = ip.Unmap()
	}
	for i := 0; i < ex.m.nparams; i++ {
		p := ex.m.params[i]
		ex.params[paramName(rt, i)] = string(ex.m.rest[p.start:p.end])
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

func splitHost(h []byte, tls bool) (string, int) {
	port := 80
	if tls {
		port = 443
	}
	// [v6]:port, host:port or host.
	end := len(h)
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == ':' {
			if i > 0 && h[i-1] == ']' || !containsByte(h[:i], ':') {
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
	return string(h[:end]), port
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// parseQueryInto reads a raw query string; malformed escapes are kept as sent (as
// policy.ParseQuery does), and unescaping allocates only when there is something to unescape.
func parseQueryInto(q *policy.Query, raw []byte) {
	for len(raw) > 0 {
		var pair []byte
		if i := indexByte(raw, '&'); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			pair, raw = raw, nil
		}
		if len(pair) == 0 {
			continue
		}
		name, value := pair, []byte(nil)
		if i := indexByte(pair, '='); i >= 0 {
			name, value = pair[:i], pair[i+1:]
		}
		q.Add(unescapeQuery(name), unescapeQuery(value))
	}
}

func unescapeQuery(b []byte) string {
	s := string(b)
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
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
