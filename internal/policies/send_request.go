package policies

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"portcullis/internal/policy"
)

// send-request's defaults.
const (
	defaultSendTimeout = 60 * time.Second
	maxSendTimeout     = 24 * time.Hour
	// DefaultSendResponseBytes bounds the response a send-request reads into its variable.
	DefaultSendResponseBytes = 16 << 20
)

// ReasonTimeout is APIM's reason when forward-request or send-request runs out of time.
const ReasonTimeout = "Timeout"

// SendRequestDeps are send-request's services.
type SendRequestDeps struct {
	// Client sends the requests (the gateway gives one that trusts its CAs); nil means a
	// client with the default transport. The policy's timeout applies either way.
	Client *http.Client
	// MaxResponseBytes bounds the response body kept; 0 means DefaultSendResponseBytes.
	MaxResponseBytes int64
}

type sendRequest struct {
	client      *http.Client
	maxBytes    int64
	copyMode    bool
	outbound    bool // in outbound, mode="copy" leaves the body out, as APIM does
	responseVar string
	timeout     *policy.Value
	ignoreError bool

	url, method *policy.Value
	headers     []sendHeader
	body        *policy.Value
	basic       *authBasic
	identity    *authManagedIdentity
	cert        *authCertificate

	clients sync.Map // *policy.Certificate → *http.Client presenting it
}

type sendHeader struct {
	name   *policy.Value
	action string // override | skip | append | delete
	values []policy.Value
}

func (d Deps) compileSendRequest(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "mode", "response-variable-name", "timeout", "ignore-error")
	if err != nil {
		return nil, err
	}
	p := &sendRequest{client: d.SendRequest.Client, maxBytes: d.SendRequest.MaxResponseBytes, outbound: c.Section == policy.SectionOutbound}
	if p.client == nil {
		p.client = &http.Client{}
	}
	if p.maxBytes <= 0 {
		p.maxBytes = DefaultSendResponseBytes
	}
	mode, _, err := r.constant("mode", false)
	if err != nil {
		return nil, err
	}
	switch strings.TrimSpace(mode) {
	case "", "new":
	case "copy":
		p.copyMode = true
	default:
		a, _ := el.Attr("mode")
		return nil, policy.Errorf(a.Pos, `<send-request> mode must be "new" or "copy", found %q`, mode)
	}
	if p.responseVar, _, err = r.constant("response-variable-name", false); err != nil {
		return nil, err
	}
	if p.timeout, err = r.intValue("timeout", false, 1, int64(maxSendTimeout/time.Second)); err != nil {
		return nil, err
	}
	if p.ignoreError, err = r.constBool("ignore-error", false); err != nil {
		return nil, err
	}
	if strings.TrimSpace(el.Text) != "" {
		return nil, policy.Errorf(el.TextPos, "<send-request> takes no text")
	}
	seen := map[string]*policy.Element{}
	for _, ch := range el.Children {
		if prev, ok := seen[ch.Name]; ok && ch.Name != "set-header" {
			return nil, policy.Errorf(ch.Pos, "<send-request> has a second <%s> (the first is at %d:%d)", ch.Name, prev.Pos.Line, prev.Pos.Col)
		}
		seen[ch.Name] = ch
		switch ch.Name {
		case "set-url":
			p.url, err = sendText(ch, c)
		case "set-method":
			p.method, err = sendText(ch, c)
		case "set-body":
			if _, err = readElement(ch, c, "template", "xsi-nil", "parse-date"); err == nil {
				if t, ok := ch.Attr("template"); ok && t.Value == "liquid" {
					err = policy.Errorf(t.Pos, "<set-body template=\"liquid\"> is not supported inside <send-request>")
				} else {
					var v policy.Value
					v, err = c.TextValue(ch)
					p.body = &v
				}
			}
		case "set-header":
			var h sendHeader
			h, err = readSendHeader(ch, c)
			p.headers = append(p.headers, h)
		case "authentication-basic":
			var s policy.Step
			if s, err = compileAuthenticationBasic(ch, c); err == nil {
				p.basic = s.(*authBasic)
			}
		case "authentication-managed-identity":
			p.identity, err = d.ManagedIdentity.compile(ch, c)
		case "authentication-certificate":
			p.cert, err = readAuthCertificate(ch, c)
		default:
			err = policy.Errorf(ch.Pos, "<send-request> has no child element <%s> (it takes set-url, set-method, set-header, set-body, authentication-basic, authentication-certificate, authentication-managed-identity)", ch.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	if p.url == nil && !p.copyMode {
		return nil, policy.Errorf(el.Pos, `<send-request mode="new"> needs a <set-url>`)
	}
	return p, nil
}

func sendText(el *policy.Element, c *policy.Compiler) (*policy.Value, error) {
	if _, err := readElement(el, c); err != nil {
		return nil, err
	}
	if len(el.Children) > 0 {
		return nil, policy.Errorf(el.Children[0].Pos, "<%s> holds text or a policy expression, not <%s>", el.Name, el.Children[0].Name)
	}
	v, err := c.TextValue(el)
	if err != nil {
		return nil, err
	}
	if !v.IsExpr() {
		v.Const = strings.TrimSpace(v.Const)
		if v.Const == "" {
			return nil, policy.Errorf(el.Pos, "<%s> must not be empty", el.Name)
		}
	}
	return &v, nil
}

func readSendHeader(el *policy.Element, c *policy.Compiler) (sendHeader, error) {
	var h sendHeader
	r, err := readElement(el, c, "name", "exists-action")
	if err != nil {
		return h, err
	}
	if err := onlyChildren(el, "value"); err != nil {
		return h, err
	}
	if h.name, err = r.value("name", true); err != nil {
		return h, err
	}
	action, _, err := r.constant("exists-action", false)
	if err != nil {
		return h, err
	}
	switch h.action = strings.TrimSpace(action); h.action {
	case "":
		h.action = "override"
	case "override", "skip", "append", "delete":
	default:
		a, _ := el.Attr("exists-action")
		return h, policy.Errorf(a.Pos, `<set-header> exists-action must be "override", "skip", "append" or "delete", found %q`, action)
	}
	for _, v := range el.Children {
		if _, err := readElement(v, c); err != nil {
			return h, err
		}
		val, err := c.TextValue(v)
		if err != nil {
			return h, err
		}
		h.values = append(h.values, val)
	}
	return h, nil
}

func (p *sendRequest) Run(ctx *policy.Context) error {
	resp, err := p.send(ctx)
	if err != nil {
		var fail *policy.Failure
		if p.ignoreError && errors.As(err, &fail) {
			if p.responseVar != "" {
				setVariable(ctx, p.responseVar, nil)
			}
			return nil
		}
		return err
	}
	if p.responseVar != "" {
		setVariable(ctx, p.responseVar, resp)
	}
	return nil
}

// send builds and sends the request. Expression errors come back as they are (the pipeline
// reports ExpressionValueEvaluationFailure); transport errors as *policy.Failure.
func (p *sendRequest) send(ctx *policy.Context) (*policy.Response, error) {
	timeout := defaultSendTimeout
	if p.timeout != nil {
		secs, err := evalInt(ctx, p.timeout, "timeout", 1, int64(maxSendTimeout/time.Second))
		if err != nil {
			return nil, err
		}
		timeout = time.Duration(secs) * time.Second
	}
	method, target := http.MethodGet, ""
	var header http.Header = http.Header{}
	var body []byte
	if p.copyMode && ctx.Request != nil {
		method = ctx.Request.Method
		target = ctx.Request.URL.String()
		for _, f := range ctx.Request.Header.Fields() {
			if !hopByHopField(f.Name) {
				header.Add(f.Name, f.Value)
			}
		}
		if !p.outbound {
			b, err := ctx.Request.Body.Bytes()
			if err != nil {
				return nil, err
			}
			body = b
		}
	}
	if p.url != nil {
		s, err := p.url.String(ctx)
		if err != nil {
			return nil, err
		}
		target = strings.TrimSpace(s)
	}
	if p.method != nil {
		s, err := p.method.String(ctx)
		if err != nil {
			return nil, err
		}
		method = strings.ToUpper(strings.TrimSpace(s))
	}
	for _, h := range p.headers {
		name, err := h.name.String(ctx)
		if err != nil {
			return nil, err
		}
		if h.action == "delete" {
			header.Del(name)
			continue
		}
		if h.action == "skip" && header.Get(name) != "" {
			continue
		}
		if h.action == "override" {
			header.Del(name)
		}
		for _, v := range h.values {
			s, err := v.String(ctx)
			if err != nil {
				return nil, err
			}
			header.Add(name, s)
		}
	}
	if p.body != nil {
		if p.body.Expr != nil {
			out, err := p.body.Expr.Eval(ctx)
			if err != nil {
				return nil, err
			}
			if b, ok := out.([]byte); ok {
				body = b
			} else {
				body = []byte(policy.ToString(out))
			}
		} else {
			body = []byte(p.body.Const)
		}
	}
	if p.basic != nil {
		v, err := p.basic.header(ctx)
		if err != nil {
			return nil, err
		}
		header.Set("Authorization", v)
	}
	if p.identity != nil {
		token, err := p.identity.token(ctx)
		if err != nil {
			return nil, err
		}
		if token != "" && p.identity.outputVar == "" {
			header.Set("Authorization", "Bearer "+token)
		}
	}
	rctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, sendFailure(ReasonBackendConnectionFailure, fmt.Sprintf("send-request: invalid request to %q: %v", target, err), err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, sendFailure(ReasonBackendConnectionFailure, fmt.Sprintf("send-request: %q is not an http or https URL", target), nil)
	}
	req.Header = header
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	client := p.client
	if p.cert != nil {
		cert, err := p.cert.certificate(ctx)
		if err != nil {
			return nil, err
		}
		if client, err = p.clientWith(cert); err != nil {
			return nil, sendFailure(ReasonBackendConnectionFailure, "send-request: "+err.Error(), err)
		}
		if p.cert.cert == nil {
			defer client.CloseIdleConnections() // a client for this request only
		}
	}
	res, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, sendFailure(ReasonTimeout, fmt.Sprintf("send-request to %s did not answer within %s", req.URL.Redacted(), timeout), err)
		}
		return nil, sendFailure(ReasonBackendConnectionFailure, fmt.Sprintf("send-request to %s failed: %v", req.URL.Redacted(), err), err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, p.maxBytes+1))
	if err != nil {
		reason := ReasonBackendConnectionFailure
		if errors.Is(err, context.DeadlineExceeded) {
			reason = ReasonTimeout
		}
		return nil, sendFailure(reason, fmt.Sprintf("send-request to %s: reading the answer: %v", req.URL.Redacted(), err), err)
	}
	if int64(len(data)) > p.maxBytes {
		return nil, sendFailure(ReasonBackendConnectionFailure, fmt.Sprintf("send-request to %s: the answer is larger than %d bytes", req.URL.Redacted(), p.maxBytes), nil)
	}
	out := &policy.Response{StatusCode: res.StatusCode, StatusReason: http.StatusText(res.StatusCode)}
	for name, values := range res.Header {
		for _, v := range values {
			out.Header.Add(name, v)
		}
	}
	out.Body.Set(data)
	return out, nil
}

func sendFailure(reason, detail string, err error) error {
	return &policy.Failure{
		Reason:     reason,
		Message:    "Internal server error",
		Detail:     detail,
		StatusCode: http.StatusInternalServerError,
		Err:        err,
	}
}

// hopByHopField reports the fields that describe one connection (RFC 9110 §7.6.1) and the
// length, which the new request computes itself.
func hopByHopField(name string) bool {
	switch strings.ToLower(name) {
	case "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
		"upgrade", "proxy-authenticate", "proxy-authorization", "content-length", "host":
		return true
	}
	return false
}

// clientWith returns a client like p.client that presents cert: one per certificate of
// gateway.certificates, kept; a per-request (body) certificate gets a client of its own.
func (p *sendRequest) clientWith(cert *policy.Certificate) (*http.Client, error) {
	if c, ok := p.clients.Load(cert); ok {
		return c.(*http.Client), nil
	}
	base, ok := p.client.Transport.(*http.Transport)
	if p.client.Transport == nil {
		base, ok = http.DefaultTransport.(*http.Transport)
	}
	if !ok {
		return nil, errors.New("the gateway's client cannot present a client certificate")
	}
	tr := base.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	chain := make([][]byte, len(cert.Chain))
	for i, c := range cert.Chain {
		chain[i] = c.Raw
	}
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: chain, PrivateKey: cert.Key, Leaf: cert.Chain[0]}}
	c := &http.Client{Transport: tr, CheckRedirect: p.client.CheckRedirect, Jar: p.client.Jar}
	if p.cert.cert != nil {
		actual, _ := p.clients.LoadOrStore(cert, c)
		return actual.(*http.Client), nil
	}
	return c, nil
}
