package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"portcullis/internal/policy"
)

// Failure reasons of forward-request (context.LastError.Reason).
const (
	ReasonBackendConnectionFailure = "BackendConnectionFailure"
	ReasonTimeout                  = "Timeout"
	ReasonRequestEntityTooLarge    = "RequestEntityTooLarge"
	ReasonBackendErrorStatus       = "BackendErrorStatusCode"
	ReasonClientTimeout            = "ClientTimeout"
	ReasonClientConnectionFailure  = "ClientConnectionFailure"
	// ReasonBackendResponseTooLarge: a policy read a backend answer larger than
	// gateway.limits max body into memory.
	ReasonBackendResponseTooLarge = "BackendResponseTooLarge"
)

// smallBody is the largest backend answer of known length read whole before answering; longer
// or unannounced bodies stream through.
const smallBody = 64 << 10

// forwarder is the policy.Backend of one exchange: it sends context.Request to
// context.Request.Url over pooled keep-alive connections and fills context.Response.
type forwarder struct {
	ex   *exchange
	resp *fasthttp.Response // the backend's answer while its body is still ours to release
	body []byte             // small answers, read whole
}

var _ policy.Backend = (*forwarder)(nil)

// hopByHop are the fields that describe one connection, not the message (RFC 9110 §7.6.1).
func hopByHop(name string) bool {
	switch len(name) {
	case 2:
		return strings.EqualFold(name, "TE")
	case 7:
		return strings.EqualFold(name, "Trailer") || strings.EqualFold(name, "Upgrade")
	case 10:
		return strings.EqualFold(name, "Connection") || strings.EqualFold(name, "Keep-Alive")
	case 16:
		return strings.EqualFold(name, "Proxy-Connection")
	case 17:
		return strings.EqualFold(name, "Transfer-Encoding")
	case 18:
		return strings.EqualFold(name, "Proxy-Authenticate")
	case 19:
		return strings.EqualFold(name, "Proxy-Authorization")
	}
	return false
}

// connectionListed reports whether name is one of the fields the Connection header names.
func connectionListed(conn []string, name string) bool {
	for _, v := range conn {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(tok), name) {
				return true
			}
		}
	}
	return false
}

// Forward implements policy.Backend.
func (f *forwarder) Forward(ctx *policy.Context, opt policy.ForwardOptions) error {
	f.release() // a retried forward-request replaces the previous answer
	ex := f.ex
	plan := ex.plan
	in := ctx.Request
	u := &in.URL

	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.DisableNormalizing()
	req.Header.SetMethod(in.Method)
	uri := req.URI()
	uri.DisablePathNormalizing = true
	uri.SetScheme(u.Scheme)
	var host string
	if s := ex.api.service; u.Scheme == s.Scheme && u.Host == s.Host && u.Port == s.Port {
		host = ex.api.hostHeader // prepared at load
	} else {
		host = hostHeader(u)
	}
	uri.SetHost(host)
	uri.SetPath(u.Path)
	ex.buf = appendQuery(ex.buf[:0], &u.Query)
	uri.SetQueryStringBytes(ex.buf)
	req.Header.SetHost(host)

	ex.buf = copyRequestHeaders(&req.Header, &in.Header, ex.buf[:0])
	if in.IPAddress.IsValid() {
		ex.buf = in.IPAddress.AppendTo(ex.buf)
	} else if len(ex.buf) > 0 {
		ex.buf = ex.buf[:len(ex.buf)-2]
	}
	if len(ex.buf) > 0 {
		req.Header.SetBytesV("X-Forwarded-For", ex.buf)
	}
	req.Header.Set("X-Forwarded-Proto", in.OriginalURL.Scheme)
	if in.OriginalURL.Host != "" {
		ex.buf = append(ex.buf[:0], in.OriginalURL.Host...)
		if p := in.OriginalURL.Port; p != 0 && !(p == 80 && in.OriginalURL.Scheme == "http") && !(p == 443 && in.OriginalURL.Scheme == "https") {
			ex.buf = append(append(ex.buf, ':'), strconv.Itoa(p)...)
		}
		req.Header.SetBytesV("X-Forwarded-Host", ex.buf)
	}

	if opt.BufferRequestBody && !in.Body.Loaded() {
		if _, err := in.Body.Bytes(); err != nil {
			return bodyFailure(err)
		}
	}
	if r, size := in.Body.Stream(); r != nil {
		if size != 0 {
			req.SetBodyStream(r, int(size))
		}
	} else if b, _ := in.Body.Bytes(); len(b) > 0 {
		req.SetBodyRaw(b)
	}

	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = plan.backendTimeout
	}
	bspan := ex.startBackendSpan(req, &in.Header, in.Method, host)
	resp := fasthttp.AcquireResponse()
	err := plan.do(ex.api, u, req, resp, timeout, opt.FollowRedirects, ctx.BackendCertificate)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		failure := forwardFailure(err, timeout)
		if ex.body.err != nil {
			failure = clientBodyFailure(ex.body.err)
		}
		endBackendSpan(bspan, 0, failure)
		return failure
	}
	endBackendSpan(bspan, resp.StatusCode(), nil)
	f.resp = resp

	out := ctx.Response
	out.StatusCode = resp.StatusCode()
	out.StatusReason = ""
	out.Header.Reset()
	var rconn [][]byte
	for k, v := range resp.Header.All() {
		if string(k) == "Connection" {
			rconn = append(rconn, v)
		}
	}
	for k, v := range resp.Header.All() {
		name := headerName(k)
		if hopByHop(name) || name == "Content-Length" || (len(rconn) > 0 && listedBytes(rconn, name)) {
			continue
		}
		out.Header.Add(name, ex.str(v))
	}
	cl := resp.Header.ContentLength()
	stream := resp.BodyStream()
	switch {
	case stream == nil:
		out.Body.Set(resp.Body())
	case cl >= 0 && cl <= smallBody && (plan.maxBody <= 0 || int64(cl) <= plan.maxBody):
		f.body = f.body[:0]
		if cap(f.body) < cl {
			f.body = make([]byte, 0, cl)
		}
		n, err := io.ReadFull(stream, f.body[:cl])
		if err != nil {
			return &policy.Failure{Source: "forward-request", Reason: ReasonBackendConnectionFailure, StatusCode: 502,
				Message: msgBackendFailure, Detail: fmt.Sprintf("reading the backend's answer: %v", err), Err: err}
		}
		f.body = f.body[:n]
		out.Body.Set(f.body)
	default:
		size := int64(cl)
		if cl < 0 {
			size = -1
		}
		out.Body.SetStream(&backendStream{f: f, r: stream}, size, plan.maxBody)
		out.Body.SetLimitError(responseTooLarge(plan.maxBody))
	}
	if opt.FailOnErrorStatusCode && out.StatusCode >= 400 {
		return &policy.Failure{Source: "forward-request", Reason: ReasonBackendErrorStatus, StatusCode: out.StatusCode,
			Message: http500Message, Detail: fmt.Sprintf("the backend answered %d", out.StatusCode)}
	}
	return nil
}

// copyRequestHeaders adds the client's header fields that go to the backend to dst: not the
// hop-by-hop ones, those the Connection field names, Host, Content-Length or the X-Forwarded-*
// fields the gateway sets itself. It returns xff with the client's X-Forwarded-For values
// appended, each followed by ", ".
func copyRequestHeaders(dst *fasthttp.RequestHeader, in *policy.Header, xff []byte) []byte {
	fields := in.Fields()
	conn := namesFields(fields)
	for _, h := range fields {
		switch forwardRole(h.Name) {
		case roleDrop:
			continue
		case roleXFF:
			xff = append(append(xff, h.Value...), ", "...)
			continue
		}
		if conn && listedInConnection(fields, h.Name) {
			continue
		}
		dst.Add(h.Name, h.Value)
	}
	return xff
}

const (
	roleCopy = iota
	roleDrop // hop-by-hop, or set by the gateway itself
	roleXFF  // the client's X-Forwarded-For, extended by the gateway
)

// forwardRole says what becomes of a client's header field on the way to the backend. Lengths
// first: a request's usual fields are decided without comparing text.
func forwardRole(name string) int {
	switch len(name) {
	case 4:
		if equalFoldString(name, "host") {
			return roleDrop
		}
	case 14:
		if equalFoldString(name, "content-length") {
			return roleDrop
		}
	case 15:
		if equalFoldString(name, "x-forwarded-for") {
			return roleXFF
		}
	case 16:
		if equalFoldString(name, "x-forwarded-host") {
			return roleDrop
		}
	case 17:
		if equalFoldString(name, "x-forwarded-proto") {
			return roleDrop
		}
	}
	if hopByHop(name) {
		return roleDrop
	}
	return roleCopy
}

// namesFields reports whether a Connection field lists a token other than keep-alive (whose
// field is hop-by-hop anyway), i.e. whether listedInConnection can change anything.
func namesFields(fields []policy.Field) bool {
	for _, f := range fields {
		if len(f.Name) != len("connection") || !equalFoldString(f.Name, "connection") {
			continue
		}
		for v := f.Value; v != ""; {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.TrimSpace(tok)
			if tok != "" && !strings.EqualFold(tok, "keep-alive") {
				return true
			}
		}
	}
	return false
}

// listedInConnection reports whether name is one of the fields a Connection field names.
func listedInConnection(fields []policy.Field, name string) bool {
	for _, f := range fields {
		if len(f.Name) == len("connection") && equalFoldString(f.Name, "connection") && connectionListed([]string{f.Value}, name) {
			return true
		}
	}
	return false
}

// equalFoldString compares s with lower, an ASCII lower-case name, ignoring ASCII case.
func equalFoldString(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hostHeader is the Host field (and URI authority) that names u: the port only when it is not
// the scheme's default, an IPv6 literal in brackets.
func hostHeader(u *policy.URL) string {
	host := u.Host
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	if (u.Scheme == "http" && u.Port != 80) || (u.Scheme == "https" && u.Port != 443) {
		host += ":" + strconv.Itoa(u.Port)
	}
	return host
}

func listedBytes(conn [][]byte, name string) bool {
	vs := make([]string, len(conn))
	for i, c := range conn {
		vs[i] = string(c)
	}
	return connectionListed(vs, name)
}

// release gives the backend's answer back to the pool; the connection is reused when its body
// was read to the end.
func (f *forwarder) release() {
	if f.resp != nil {
		_ = f.resp.CloseBodyStream()
		fasthttp.ReleaseResponse(f.resp)
		f.resp = nil
	}
}

// backendStream is a backend body that streams to the client. When the listener takes it, it
// owns the backend response and releases it on Close.
type backendStream struct {
	f     *forwarder
	r     io.Reader
	owned *fasthttp.Response
}

func (s *backendStream) Read(p []byte) (int, error) { return s.r.Read(p) }

// Close is called by the listener once the body is written.
func (s *backendStream) Close() error {
	if s.owned != nil {
		err := s.owned.CloseBodyStream()
		fasthttp.ReleaseResponse(s.owned)
		s.owned = nil
		return err
	}
	return nil
}

// detach moves ownership of the backend response from the exchange to the stream.
func (s *backendStream) detach() {
	if s.f.resp != nil {
		s.owned, s.f.resp = s.f.resp, nil
	}
}

func (p *Plan) do(api *apiRoute, u *policy.URL, req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration, follow bool, cert *policy.Certificate) error {
	if cert != nil && u.Scheme == "https" {
		c, err := p.clientWithCert(cert)
		if err != nil {
			return err
		}
		if follow {
			req.SetTimeout(timeout)
			return c.DoRedirects(req, resp, maxRedirects)
		}
		return c.DoTimeout(req, resp, timeout)
	}
	var hc *fasthttp.HostClient
	if s := api.service; u.Scheme == s.Scheme && u.Host == s.Host && u.Port == s.Port {
		hc = api.client
	} else {
		hc = p.backends[hostKey(u.Scheme, u.Host, u.Port)]
	}
	if follow {
		req.SetTimeout(timeout)
		if hc != nil {
			return hc.DoRedirects(req, resp, maxRedirects)
		}
		return p.other.DoRedirects(req, resp, maxRedirects)
	}
	if hc != nil {
		return hc.DoTimeout(req, resp, timeout)
	}
	return p.other.DoTimeout(req, resp, timeout)
}

const maxRedirects = 10

// clientWithCert is the client that presents cert to HTTPS backends
// (authentication-certificate): one per certificate, with its own pooled connections, since a
// TLS connection's client certificate is fixed at the handshake.
func (p *Plan) clientWithCert(cert *policy.Certificate) (*fasthttp.Client, error) {
	if c, ok := p.withCert.Load(cert); ok {
		return c.(*fasthttp.Client), nil
	}
	if cert.Key == nil || len(cert.Chain) == 0 {
		return nil, fmt.Errorf("certificate %q has no private key: authentication-certificate needs one", cert.ID)
	}
	pair := tls.Certificate{PrivateKey: cert.Key, Leaf: cert.Chain[0]}
	for _, c := range cert.Chain {
		pair.Certificate = append(pair.Certificate, c.Raw)
	}
	conf := p.tlsConf.Clone()
	conf.Certificates = []tls.Certificate{pair}
	c := &fasthttp.Client{
		TLSConfig:                     conf,
		ReadBufferSize:                backendHeaderBytes,
		MaxIdleConnDuration:           backendIdle,
		StreamResponseBody:            true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		RetryIfErr:                    retryIdempotent,
	}
	actual, _ := p.withCert.LoadOrStore(cert, c)
	return actual.(*fasthttp.Client), nil
}

// Messages of the gateway's own error answers. They say what happened without naming the
// backend's address, which is the operator's business (it is in the log).
const (
	msgBackendFailure = "Bad gateway: the backend service could not be reached."
	msgBackendTimeout = "Gateway timeout: the backend service did not answer in time."
	msgBodyTooLarge   = "Request entity too large."
	msgClientTimeout  = "Request timeout: the request was not received in time."
	msgClientBody     = "Bad request: the request body could not be read."
	msgResponseLarge  = "Bad gateway: the backend's answer is larger than the gateway accepts."
	http500Message    = "Internal server error"
)

func bodyFailure(err error) *policy.Failure {
	if errors.Is(err, errBodyTooLarge) || errors.Is(err, policy.ErrBodyTooLarge) {
		return &policy.Failure{Source: "forward-request", Reason: ReasonRequestEntityTooLarge, StatusCode: 413,
			Message: msgBodyTooLarge, Detail: err.Error(), Err: err}
	}
	return &policy.Failure{Source: "forward-request", Reason: ReasonBackendConnectionFailure, StatusCode: 502,
		Message: msgBackendFailure, Detail: fmt.Sprintf("reading the client's body: %v", err), Err: err}
}

// responseTooLarge is the failure of a policy that reads a backend answer over the limit into
// memory (set-body, find-and-replace, context.Response.Body in an expression): a 502, as the
// backend answered something the gateway cannot handle. The body streams through untouched
// when no policy reads it, whatever its size.
func responseTooLarge(limit int64) *policy.Failure {
	return &policy.Failure{Reason: ReasonBackendResponseTooLarge, StatusCode: 502, Message: msgResponseLarge,
		Detail: fmt.Sprintf("the backend's answer is larger than gateway.limits max body (%d bytes)", limit),
		Err:    policy.ErrBodyTooLarge}
}

// clientBodyFailure is a forward that failed because the client's body did not arrive.
func clientBodyFailure(err error) *policy.Failure {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &policy.Failure{Source: "forward-request", Reason: ReasonClientTimeout, StatusCode: 408,
			Message: msgClientTimeout, Detail: fmt.Sprintf("reading the client's body: %v", err), Err: err}
	}
	return &policy.Failure{Source: "forward-request", Reason: ReasonClientConnectionFailure, StatusCode: 400,
		Message: msgClientBody, Detail: fmt.Sprintf("reading the client's body: %v", err), Err: err}
}

func forwardFailure(err error, timeout time.Duration) *policy.Failure {
	var ne net.Error
	switch {
	case errors.Is(err, errBodyTooLarge):
		return bodyFailure(err)
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout), errors.As(err, &ne) && ne.Timeout():
		return &policy.Failure{Source: "forward-request", Reason: ReasonTimeout, StatusCode: 504, Message: msgBackendTimeout,
			Detail: fmt.Sprintf("the backend did not answer within %s: %v", timeout, err), Err: err}
	}
	return &policy.Failure{Source: "forward-request", Reason: ReasonBackendConnectionFailure, StatusCode: 502,
		Message: msgBackendFailure, Detail: fmt.Sprintf("calling the backend: %v", err), Err: err}
}

// appendQuery encodes q as a query string.
func appendQuery(dst []byte, q *policy.Query) []byte {
	for i, f := range q.Fields() {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = appendEscaped(dst, f.Name)
		dst = append(dst, '=')
		dst = appendEscaped(dst, f.Value)
	}
	return dst
}

const hexDigits = "0123456789ABCDEF"

func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return dst
}
