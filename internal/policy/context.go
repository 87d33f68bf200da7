package policy

import (
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Context is one request as its policies see it: APIM's context model. The gateway fills it
// from whatever listener received the request; policies and expressions never see the
// listener's own types, so the same compiled pipeline runs behind any listener.
type Context struct {
	Request   *Request
	Response  *Response
	Variables map[string]any
	LastError *LastError

	API        *API
	Operation  *Operation
	RequestID  string
	Timestamp  time.Time // when the gateway received the request
	Deployment Deployment

	// ServiceURL is the backend base URL: the API's web service URL until set-backend-service
	// changes it. Request.URL is built from it.
	ServiceURL URL

	// Backend sends Request to Request.URL and fills Response (forward-request). Set by the
	// gateway; a pipeline run without it fails forward-request with BackendConnectionFailure.
	Backend Backend

	// BackendCertificate is the client certificate the backend call of this request presents
	// (authentication-certificate); nil: none. The gateway's Backend must honour it.
	BackendCertificate *Certificate

	// completions run once the response is final (see OnComplete).
	completions []func(*Context)
}

// OnComplete registers f to run when the pipeline has finished and ctx.Response is final:
// APIM counts a rate limit's increment-condition and a quota's bandwidth then.
func (c *Context) OnComplete(f func(*Context)) { c.completions = append(c.completions, f) }

// complete runs the OnComplete functions once, in the order registered.
func (c *Context) complete() {
	fs := c.completions
	c.completions = nil
	for _, f := range fs {
		f(c)
	}
}

// Elapsed is context.Elapsed: the time since the gateway received the request.
func (c *Context) Elapsed() time.Duration { return time.Since(c.Timestamp) }

// Backend is the transport forward-request uses.
type Backend interface {
	Forward(ctx *Context, opt ForwardOptions) error
}

// ForwardOptions are forward-request's attributes.
type ForwardOptions struct {
	Timeout               time.Duration // 0: the gateway's default
	FollowRedirects       bool
	BufferRequestBody     bool
	FailOnErrorStatusCode bool
	BufferResponse        bool
}

// Request is context.Request. Url is what will be sent to the backend; OriginalURL is what the
// client sent.
type Request struct {
	Method            string
	URL               URL
	OriginalURL       URL
	Header            Header
	Body              Body
	IPAddress         netip.Addr
	MatchedParameters map[string]string
	// Certificate is the client certificate's DER bytes on a TLS listener that asked for one.
	Certificate []byte
}

// Response is context.Response.
type Response struct {
	StatusCode   int
	StatusReason string
	Header       Header
	Body         Body
}

// URL is APIM's IUrl.
type URL struct {
	Scheme string
	Host   string
	Port   int
	Path   string
	Query  Query
}

// String is the absolute URL, with the port only when it is not the scheme's default.
func (u URL) String() string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	b.WriteString(u.Host)
	if u.Port != 0 && !(u.Scheme == "http" && u.Port == 80) && !(u.Scheme == "https" && u.Port == 443) {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(u.Port))
	}
	b.WriteString(u.Path)
	if qs := u.Query.Encode(); qs != "" {
		b.WriteByte('?')
		b.WriteString(qs)
	}
	return b.String()
}

// Body is a message body that is either held in memory or still a stream. Policies that read
// it call Bytes, which buffers the stream (bounded by the gateway's body limit); a body that no
// policy reads is streamed through untouched.
type Body struct {
	data   []byte
	stream io.Reader
	size   int64 // length of stream, -1 when unknown
	limit  int64
	loaded bool
	// overLimit is what Bytes returns past limit instead of ErrBodyTooLarge: whose body it
	// is decides the answer (a client's request is 413, a backend's answer 502).
	overLimit error
}

// ErrBodyTooLarge is returned by Body.Bytes when the body exceeds the gateway's limit.
var ErrBodyTooLarge = errors.New("body exceeds the size limit")

// SetStream makes the body an unread stream of size bytes (-1 when unknown), of which Bytes will
// read at most limit bytes (0: no limit).
func (b *Body) SetStream(r io.Reader, size, limit int64) {
	*b = Body{stream: r, size: size, limit: limit}
}

// SetLimitError makes Bytes return err, instead of ErrBodyTooLarge, when the stream set by
// SetStream is larger than its limit. err should wrap ErrBodyTooLarge.
func (b *Body) SetLimitError(err error) { b.overLimit = err }

// Set replaces the body with data.
func (b *Body) Set(data []byte) { *b = Body{data: data, loaded: true, size: int64(len(data))} }

// Bytes returns the whole body, reading the stream once if needed.
func (b *Body) Bytes() ([]byte, error) {
	if b.loaded || b.stream == nil {
		return b.data, nil
	}
	r := b.stream
	if b.limit > 0 {
		r = io.LimitReader(r, b.limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if b.limit > 0 && int64(len(data)) > b.limit {
		if b.overLimit != nil {
			return nil, b.overLimit
		}
		return nil, ErrBodyTooLarge
	}
	b.Set(data)
	return data, nil
}

// Stream returns the body for sending: the unread stream and its size when nothing buffered
// it, or nil and the buffered length otherwise (the caller then uses Bytes).
func (b *Body) Stream() (io.Reader, int64) {
	if b.loaded || b.stream == nil {
		return nil, int64(len(b.data))
	}
	return b.stream, b.size
}

// Loaded reports whether the body is held in memory.
func (b *Body) Loaded() bool { return b.loaded || b.stream == nil }

// LastError is context.LastError, set when a step fails.
type LastError struct {
	Source   string
	Reason   string
	Message  string
	Scope    string // global | product | api | operation
	Section  string // inbound | backend | outbound | on-error
	Path     string // e.g. choose[1]/when[2]/validate-jwt[1]
	PolicyID string
	// StatusCode is the status of the default error response.
	StatusCode int
}

// API is context.Api.
type API struct {
	ID, Name, Path, Version, Revision string
	IsCurrentRevision                 bool
	ServiceURL                        URL
}

// Operation is context.Operation.
type Operation struct {
	ID, Method, Name, URLTemplate string
}

// Deployment is context.Deployment.
type Deployment struct {
	Region, ServiceName, ServiceID, GatewayID string
}
