package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"portcullis/internal/config"
	"portcullis/internal/policy"
)

// Observation is what the gateway reports about each request, for metrics and the access log.
type Observation struct {
	RequestID  string
	Method     string
	Path       string // without the query, which may carry tokens
	ClientIP   netip.Addr
	API        string // "" when no API matched
	Operation  string
	StatusCode int
	Duration   time.Duration
	// FailureSource and FailureReason are context.LastError's, when a policy or the backend
	// call failed (e.g. validate-jwt / TokenExpired).
	FailureSource, FailureReason string
}

// Observer receives an Observation per request (metrics). It must be safe for concurrent use
// and must not keep the pointer.
type Observer interface {
	ObserveRequest(o *Observation)
}

// Options are the listener's settings that do not change on reload.
type Options struct {
	Timeouts config.Timeouts
	Limits   config.Limits
	// TLS marks the listener as HTTPS (for context.Request.OriginalUrl.Scheme).
	TLS bool
	// Observer receives every request's outcome (nil: none).
	Observer Observer
	// Tracer makes a span per request and the traceparent the backend gets (nil: no tracing).
	Tracer Tracer
	// AccessLog gets one JSON line per request (nil: none). Log is for the gateway's own
	// problems (nil: discarded).
	AccessLog, Log *slog.Logger
	// AccessLogTo, when set, replaces AccessLog: the gateway encodes the same JSON line itself
	// (the fields of a slog JSON handler's line with "log":"access") and hands it to one Write
	// call, without slog's per-attribute work. Write must not keep the slice; a LogWriter fits.
	AccessLogTo io.Writer
}

// Server is the gateway listener. It serves the current Plan; Swap publishes a new one.
type Server struct {
	plan     atomic.Pointer[Plan]
	opt      Options
	srv      *fasthttp.Server
	pool     sync.Pool
	idPrefix [8]byte
	idSeq    atomic.Uint64
}

// NewServer makes a listener serving plan.
func NewServer(plan *Plan, opt Options) *Server {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opt: opt}
	s.plan.Store(plan)
	s.pool.New = func() any { return newExchange() }
	_, _ = rand.Read(s.idPrefix[:])
	s.srv = &fasthttp.Server{
		Handler:                      s.handle,
		ErrorHandler:                 s.protocolError,
		Name:                         "portcullis",
		ReadBufferSize:               opt.Limits.MaxHeaderBytes,
		ReadTimeout:                  opt.Timeouts.ReadDuration,
		WriteTimeout:                 opt.Timeouts.WriteDuration,
		IdleTimeout:                  opt.Timeouts.IdleDuration,
		MaxRequestBodySize:           int(min(opt.Limits.MaxBodyBytes, 1<<40)),
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		NoDefaultContentType:         true,
		CloseOnShutdown:              true,
		SecureErrorLogMessage:        true,
		Logger:                       fasthttpLogger{opt.Log},
	}
	return s
}

// Swap publishes plan and returns the one it replaced. Requests already running finish on the
// old plan; the caller closes it once they are done (Close only drops idle connections, so
// closing at once is safe too).
func (s *Server) Swap(plan *Plan) *Plan { return s.plan.Swap(plan) }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting, lets in-flight requests finish, and returns when they have or when
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("listener", "detail", fmt.Sprintf(format, args...))
}

// requestID writes a new request ID into out.
func (s *Server) requestID(out *[36]byte) {
	// A random prefix per process and a counter: unique, cheap, and GUID-shaped like APIM's.
	var b [16]byte
	copy(b[:8], s.idPrefix[:])
	n := s.idSeq.Add(1)
	for i := 0; i < 8; i++ {
		b[15-i] = byte(n >> (8 * i))
	}
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
}

func (s *Server) handle(rc *fasthttp.RequestCtx) {
	plan := s.plan.Load()
	ex := s.pool.Get().(*exchange)
	o := &ex.obs
	// One allocation for this request's strings: the raw header block bounds the header values.
	ex.strs = make([]byte, 0, len(rc.Request.Header.RawHeaders())+2*len(rc.Path())+minStrs)
	var id [36]byte
	s.requestID(&id)
	o.RequestID = ex.str(id[:])
	span := s.startSpan(rc)
	ex.span = span
	if !s.serveSafely(rc, plan, ex, o) {
		// A panicking request may have left the exchange half-used: drop it.
		s.finish(rc, ex, o)
		endSpan(span, o)
		return
	}
	s.finish(rc, ex, o)
	endSpan(span, o)
	ex.reset()
	s.pool.Put(ex)
}

// serveSafely turns a panic in a policy or the gateway into a 500 for this request instead of
// the end of the process.
func (s *Server) serveSafely(rc *fasthttp.RequestCtx, plan *Plan, ex *exchange, o *Observation) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			s.opt.Log.Error("request panicked", "request_id", o.RequestID, "api", o.API, "operation", o.Operation, "panic", fmt.Sprint(v))
			o.FailureSource, o.FailureReason = "gateway", "InternalError"
			writeError(rc, 500, http500Message, nil)
			ok = false
		}
	}()
	s.serve(rc, plan, ex, o)
	return true
}

func (s *Server) serve(rc *fasthttp.RequestCtx, plan *Plan, ex *exchange, o *Observation) {
	if msg := checkFraming(rc.Request.Header.RawHeaders()); msg != "" {
		rc.SetConnectionClose()
		writeError(rc, 400, msg, nil)
		o.FailureSource, o.FailureReason = "gateway", "RequestSmuggling"
		return
	}
	apiFound, opFound := plan.router.find(rc.Method(), rc.Path(), &ex.m)
	if !opFound {
		if apiFound {
			o.API = ex.m.api.cfg.Name
		}
		writeError(rc, 404, "Resource not found", nil)
		return
	}
	rt := ex.m.route
	o.API, o.Operation = rt.api.cfg.Name, rt.name
	if cl := rc.Request.Header.ContentLength(); int64(cl) > plan.maxBody {
		rc.SetConnectionClose()
		writeError(rc, 413, msgBodyTooLarge, nil)
		o.FailureSource, o.FailureReason = "gateway", ReasonRequestEntityTooLarge
		return
	}
	ex.fill(rc, plan, s.opt.TLS, o.RequestID)
	o.ClientIP = ex.req.IPAddress

	err := rt.pipeline.Run(&ex.pctx)
	if le := ex.pctx.LastError; le != nil {
		o.FailureSource, o.FailureReason = le.Source, le.Reason
	}
	if err == nil || errors.Is(err, policy.ErrResponseSent) {
		s.writeResponse(rc, ex)
	} else {
		s.answerFailure(rc, ex, o, err)
	}
	if ex.body.r != nil && !ex.body.eof {
		// The client's body was neither forwarded nor read: do not trust what follows it on this
		// connection.
		rc.SetConnectionClose()
	}
}

// answerFailure answers a pipeline that ended in err. It is apart from serve so that the
// failure variable errors.As needs is allocated only when a request fails.
func (s *Server) answerFailure(rc *fasthttp.RequestCtx, ex *exchange, o *Observation, err error) {
	var f *policy.Failure
	switch {
	case ex.pctx.Response != nil && ex.pctx.Response.StatusCode != 0 && ex.pctx.LastError != nil:
		// The pipeline answered the failure itself (default error response or on-error).
		s.writeResponse(rc, ex)
		s.opt.Log.Info("request failed", "request_id", o.RequestID, "api", o.API, "operation", o.Operation,
			"source", o.FailureSource, "reason", o.FailureReason, "detail", err.Error())
	case errors.As(err, &f):
		o.FailureSource, o.FailureReason = f.Source, f.Reason
		status := f.StatusCode
		if status == 0 {
			status = 500
		}
		msg := f.Message
		if msg == "" {
			msg = http500Message
		}
		writeError(rc, status, msg, f.Header)
		s.opt.Log.Info("request failed", "request_id", o.RequestID, "api", o.API, "operation", o.Operation,
			"source", f.Source, "reason", f.Reason, "detail", f.Error())
	default:
		o.FailureSource, o.FailureReason = "gateway", "InternalError"
		writeError(rc, 500, http500Message, nil)
		s.opt.Log.Error("pipeline error", "request_id", o.RequestID, "api", o.API, "operation", o.Operation, "error", err.Error())
	}
}

// finish records the request's outcome for the observer and the access log. ex is nil for
// requests fasthttp could not read.
func (s *Server) finish(rc *fasthttp.RequestCtx, ex *exchange, o *Observation) {
	o.StatusCode = rc.Response.StatusCode()
	now := time.Now()
	o.Duration = now.Sub(rc.Time())
	if s.opt.Observer == nil && s.opt.AccessLog == nil && s.opt.AccessLogTo == nil {
		return
	}
	o.Method = methodString(rc.Method())
	switch {
	case ex != nil && ex.req.OriginalURL.Path != "":
		o.Path = ex.req.OriginalURL.Path // the copy fill made
	case ex != nil:
		o.Path = ex.str(rc.Path())
	default:
		o.Path = string(rc.Path())
	}
	if !o.ClientIP.IsValid() {
		if ip, ok := netip.AddrFromSlice(rc.RemoteIP()); ok {
			o.ClientIP = ip.Unmap()
		}
	}
	if s.opt.Observer != nil {
		s.opt.Observer.ObserveRequest(o)
	}
	if s.opt.AccessLogTo != nil {
		var line []byte
		if ex != nil {
			line = ex.logLine[:0]
		}
		line = appendAccessLine(line, now, o)
		_, _ = s.opt.AccessLogTo.Write(line)
		if ex != nil {
			ex.logLine = line
		}
	} else if s.opt.AccessLog != nil {
		attrs := []slog.Attr{
			slog.String("request_id", o.RequestID),
			slog.String("method", o.Method),
			slog.String("path", o.Path),
			slog.String("client_ip", o.ClientIP.String()),
			slog.String("api", o.API),
			slog.String("operation", o.Operation),
			slog.Int("status", o.StatusCode),
			slog.Float64("duration_ms", float64(o.Duration.Microseconds())/1000),
		}
		if o.FailureReason != "" {
			attrs = append(attrs, slog.String("failure_source", o.FailureSource), slog.String("failure_reason", o.FailureReason))
		}
		s.opt.AccessLog.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
	}
}

// writeResponse sends context.Response to the client.
func (s *Server) writeResponse(rc *fasthttp.RequestCtx, ex *exchange) {
	// The context's response: a policy (return-response, mock-response, a CORS preflight) may
	// have replaced the exchange's own.
	r := ex.pctx.Response
	if r == nil {
		r = &ex.resp
	}
	status := r.StatusCode
	if status == 0 {
		status = 200
	}
	rc.Response.SetStatusCode(status)
	if r.StatusReason != "" {
		rc.Response.Header.SetStatusMessage([]byte(r.StatusReason))
	}
	for _, h := range r.Header.Fields() {
		if hopByHop(h.Name) || h.Name == "Content-Length" {
			continue
		}
		rc.Response.Header.Add(h.Name, h.Value)
	}
	if stream, size := r.Body.Stream(); stream != nil {
		if bs, ok := stream.(*backendStream); ok {
			bs.detach()
		}
		rc.SetBodyStream(stream, int(size))
		return
	}
	b, err := r.Body.Bytes()
	if err != nil {
		writeError(rc, 502, msgBackendFailure, nil)
		return
	}
	rc.Response.SetBody(b)
}

// writeError answers with APIM's error body.
func writeError(rc *fasthttp.RequestCtx, status int, message string, header []policy.Field) {
	rc.Response.Reset()
	rc.Response.SetStatusCode(status)
	rc.Response.Header.SetContentType("application/json")
	for _, h := range header {
		rc.Response.Header.Add(h.Name, h.Value)
	}
	rc.Response.SetBodyRaw(policy.ErrorBody(status, message))
}

// protocolError answers requests fasthttp could not read: too large, malformed, too slow.
func (s *Server) protocolError(rc *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	status, msg, reason := 400, "Bad request: the request is malformed.", "MalformedRequest"
	switch {
	case errors.As(err, &small):
		status, msg, reason = 431, "Request header fields too large.", "HeaderTooLarge"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, msg, reason = 413, msgBodyTooLarge, ReasonRequestEntityTooLarge
	case errors.As(err, &ne) && ne.Timeout():
		status, msg, reason = 408, msgClientTimeout, ReasonClientTimeout
	case errors.Is(err, fasthttp.ErrDuplicateContentLength):
		msg, reason = "Bad request: several Content-Length headers.", "RequestSmuggling"
	}
	rc.SetConnectionClose()
	writeError(rc, status, msg, nil)
	o := Observation{StatusCode: status, FailureSource: "gateway", FailureReason: reason}
	s.finish(rc, nil, &o)
}

// checkFraming refuses the ambiguous framings used for request smuggling (RFC 9112 §6.3): a
// request with both Transfer-Encoding and Content-Length, or with several Content-Lengths.
// fasthttp lets Transfer-Encoding win silently, so the raw header block is read here.
func checkFraming(raw []byte) string {
	cl, te := 0, 0
	var firstCL []byte
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name := line[:colon]
		switch {
		case equalFoldASCII(name, "content-length"):
			v := trimOWS(line[colon+1:])
			if cl > 0 && string(v) != string(firstCL) {
				return "Bad request: conflicting Content-Length headers."
			}
			if cl == 0 {
				firstCL = v
			}
			cl++
		case equalFoldASCII(name, "transfer-encoding"):
			te++
		}
	}
	switch {
	case cl > 0 && te > 0:
		return "Bad request: both Content-Length and Transfer-Encoding are present."
	case cl > 1:
		return "Bad request: several Content-Length headers."
	}
	return ""
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
