package graph

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"portcullis/internal/directory"
)

// TenantHeader picks the tenant when the path has no /tenants/{tid} prefix.
const TenantHeader = "X-Portcullis-Tenant"

// DefaultMaxBodyBytes bounds a request body (Graph's own limit is 4 MB).
const DefaultMaxBodyBytes = 4 << 20

// Options configure the handler.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxBodyBytes bounds JSON bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Logger receives server-side failures (never bodies: they carry secrets). Default: discard.
	Logger *slog.Logger
	// Extensions serves Portcullis' own management paths, /v1.0/portcullis/… with or without
	// the /tenants/{tid} prefix (the signing keys), unchanged; nil answers them 404.
	Extensions http.Handler
}

// Handler serves the Graph-compatible management API.
type Handler struct {
	store   directory.Store
	ext     http.Handler
	now     func() time.Time
	maxBody int64
	log     *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// New returns the management API over store.
func New(store directory.Store, opts Options) *Handler {
	h := &Handler{store: store, ext: opts.Extensions, now: opts.Now, maxBody: opts.MaxBodyBytes, log: opts.Logger}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// request is one call after tenant resolution.
type request struct {
	w       http.ResponseWriter
	r       *http.Request
	ctx     context.Context
	tenant  *directory.Tenant
	base    string   // scheme://host[/tenants/{tid}]/v1.0, for @odata.context
	segs    []string // path segments after /v1.0
	reqID   string
	handler *Handler
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("request-id", reqID)
	if cid := r.Header.Get("client-request-id"); cid != "" && len(cid) <= 64 {
		w.Header().Set("client-request-id", cid)
	}
	path := r.URL.EscapedPath()
	prefix := ""
	tenantKey := ""
	if rest, ok := strings.CutPrefix(path, "/tenants/"); ok {
		tid, after, _ := strings.Cut(rest, "/")
		t, err := url.PathUnescape(tid)
		if err != nil || t == "" {
			writeError(w, reqID, http.StatusBadRequest, codeBadRequest, "The tenant in the path is empty or malformed.")
			return
		}
		tenantKey, prefix, path = t, "/tenants/"+tid, "/"+after
	}
	rest, ok := strings.CutPrefix(path, "/v1.0/")
	if !ok {
		writeError(w, reqID, http.StatusNotFound, codeNotFound,
			fmt.Sprintf("Resource not found for the segment '%s'. The management API lives under /v1.0/.", firstSegment(path)))
		return
	}
	if h.ext != nil && (rest == "portcullis" || strings.HasPrefix(rest, "portcullis/")) {
		h.ext.ServeHTTP(w, r)
		return
	}
	if tenantKey == "" {
		tenantKey = strings.TrimSpace(r.Header.Get(TenantHeader))
	}
	if tenantKey == "" {
		// With a single tenant there is nothing to choose (as the signing-key API does).
		tenants, err := h.store.Tenants(r.Context())
		if err != nil {
			h.internal(w, reqID, err)
			return
		}
		if len(tenants) != 1 {
			writeError(w, reqID, http.StatusBadRequest, codeBadRequest,
				"No tenant given and the directory has several: prefix the path with /tenants/{tenant-id} or send the "+TenantHeader+" header.")
			return
		}
		tenantKey = tenants[0].ID
	}
	tenant, err := h.store.Tenant(r.Context(), tenantKey)
	if errors.Is(err, directory.ErrNotFound) {
		writeError(w, reqID, http.StatusNotFound, codeNotFound, fmt.Sprintf("Tenant '%s' does not exist.", clip(tenantKey)))
		return
	}
	if err != nil {
		h.internal(w, reqID, err)
		return
	}
	var segs []string
	for _, s := range strings.Split(strings.TrimSuffix(rest, "/"), "/") {
		u, err := url.PathUnescape(s)
		if err != nil {
			writeError(w, reqID, http.StatusBadRequest, codeBadRequest, "The path is not valid URL encoding.")
			return
		}
		segs = append(segs, u)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	req := &request{w: w, r: r, ctx: r.Context(), tenant: tenant, segs: segs, reqID: reqID, handler: h,
		base: scheme + "://" + r.Host + prefix + "/v1.0"}
	if err := h.route(req); err != nil {
		req.fail(err)
	}
}

func firstSegment(p string) string {
	p = strings.TrimPrefix(p, "/")
	s, _, _ := strings.Cut(p, "/")
	return clip(s)
}

// clip keeps user input short in messages.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// route dispatches on the path segments after /v1.0.
func (h *Handler) route(q *request) error {
	s := q.segs
	m := q.r.Method
	if len(s) == 0 || s[0] == "" {
		return notFound("Resource not found for the segment 'v1.0'.")
	}
	// applications(appId='…') addresses an application by its client ID.
	if appID, ok := keyAddress(s[0], "applications", "appId"); ok {
		return h.routeApplication(q, m, appByAppID(appID), s[1:])
	}
	if appID, ok := keyAddress(s[0], "servicePrincipals", "appId"); ok {
		return h.routeServicePrincipals(q, m, append([]string{spAppIDKey + appID}, s[1:]...))
	}
	switch s[0] {
	case "applications":
		if len(s) == 1 {
			switch m {
			case http.MethodGet:
				return h.listApplications(q)
			case http.MethodPost:
				return h.createApplication(q)
			}
			return methodNotAllowed(m)
		}
		return h.routeApplication(q, m, appByObjectID(s[1]), s[2:])
	case "servicePrincipals":
		return h.routeServicePrincipals(q, m, s[1:])
	case "oauth2PermissionGrants":
		return h.routeGrants(q, m, s[1:])
	case "users":
		return h.routeUsers(q, m, s[1:])
	}
	return notFound(fmt.Sprintf("Resource not found for the segment '%s'.", clip(s[0])))
}

// keyAddress parses Graph's alternate-key form: name(key='value').
func keyAddress(seg, name, key string) (string, bool) {
	rest, ok := strings.CutPrefix(seg, name+"("+key+"=")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", false
	}
	v := strings.TrimSuffix(rest, ")")
	if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return "", false
	}
	return strings.ReplaceAll(v[1:len(v)-1], "''", "'"), true
}

// Graph's error codes used here.
const (
	codeBadRequest       = "Request_BadRequest"
	codeNotFound         = "Request_ResourceNotFound"
	codeUnsupportedQuery = "Request_UnsupportedQuery"
	codeConflict         = "Request_MultipleObjectsWithSameKeyValue"
	codeInternal         = "Service_InternalServerError"
	codeTooLarge         = "Request_EntityTooLarge"
	codeUnsupportedMedia = "Request_UnsupportedMediaType"
	codeMethodNotAllowed = "Request_BadRequest"
	codeEnabledPerm      = "CannotDeleteOrUpdateEnabledEntitlement"
)

// apiError is a failure with Graph's status and code; its message is safe to show.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, codeBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(msg string) error { return &apiError{http.StatusNotFound, codeNotFound, msg} }

func objectNotFound(id string) error {
	return notFound(fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", clip(id)))
}

func conflict(msg string) error { return &apiError{http.StatusConflict, codeConflict, msg} }

func methodNotAllowed(m string) error {
	return &apiError{http.StatusMethodNotAllowed, codeMethodNotAllowed, fmt.Sprintf("The HTTP method '%s' is not allowed on this resource.", clip(m))}
}

func unsupportedQuery(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, codeUnsupportedQuery, fmt.Sprintf(format, args...)}
}

// fail writes err: an apiError as it is, the directory's validation errors as 400, anything
// else as a 500 whose details go to the log only.
func (q *request) fail(err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		if ae.status == http.StatusMethodNotAllowed {
			q.w.Header().Set("Allow", "GET, POST, PATCH, DELETE")
		}
		writeError(q.w, q.reqID, ae.status, ae.code, ae.message)
	case errors.Is(err, directory.ErrInvalid):
		writeError(q.w, q.reqID, http.StatusBadRequest, codeBadRequest, invalidMessage(err))
	case errors.Is(err, directory.ErrNotFound):
		writeError(q.w, q.reqID, http.StatusNotFound, codeNotFound, "Resource does not exist or one of its queried reference-property objects are not present.")
	case errors.Is(err, directory.ErrConflict):
		writeError(q.w, q.reqID, http.StatusBadRequest, codeBadRequest, "Another object with the same value for a unique property already exists.")
	default:
		q.handler.internal(q.w, q.reqID, err)
	}
}

func invalidMessage(err error) string {
	msg := strings.Replace(err.Error(), directory.ErrInvalid.Error()+": ", "", 1)
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func (h *Handler) internal(w http.ResponseWriter, reqID string, err error) {
	h.log.Error("management API request failed", "request-id", reqID, "error", err)
	writeError(w, reqID, http.StatusInternalServerError, codeInternal,
		"The service had an internal error; the request changed nothing. request-id "+reqID+" is in the server's log.")
}

// writeError writes Graph's error body.
func writeError(w http.ResponseWriter, reqID string, status int, code, message string) {
	body := map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"innerError": map[string]string{
			"date":       time.Now().UTC().Format("2006-01-02T15:04:05"),
			"request-id": reqID,
		},
	}}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":{"code":"Service_InternalServerError","message":"encoding failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// entity writes one object with its @odata.context.
func (q *request) entity(status int, context string, v any) error {
	writeJSON(q.w, status, withContext(q.base+"/$metadata#"+context, v))
	return nil
}

// collection writes a list as Graph does: @odata.context and value.
func (q *request) collection(context string, items any) error {
	writeJSON(q.w, http.StatusOK, map[string]any{"@odata.context": q.base + "/$metadata#" + context, "value": items})
	return nil
}

func (q *request) noContent() error {
	q.w.Header().Set("Cache-Control", "no-store")
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// withContext puts @odata.context first in v's JSON object.
func withContext(ctx string, v any) json.RawMessage {
	body, err := json.Marshal(v)
	if err != nil || len(body) < 2 || body[0] != '{' {
		return body
	}
	head, _ := json.Marshal(map[string]string{"@odata.context": ctx})
	if string(body) == "{}" {
		return head
	}
	out := append(head[:len(head)-1], ',')
	return append(out, body[1:]...)
}

// decode reads a JSON body into v strictly: unknown properties are refused as Graph refuses
// them, OData annotations ("@odata.type") are ignored, and the size is bounded.
func (q *request) decode(v any) error {
	if ct := q.r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &apiError{http.StatusUnsupportedMediaType, codeUnsupportedMedia, "The request body must be JSON (Content-Type: application/json)."}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, q.handler.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", q.handler.maxBody)}
		}
		return badRequest("The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("The request body is empty; a JSON object was expected.")
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return badRequest("The request body is not valid JSON: %s.", jsonProblem(err))
	}
	if dec.More() {
		return badRequest("The request body has data after the JSON object.")
	}
	if _, ok := generic.(map[string]any); !ok {
		return badRequest("The request body must be a JSON object.")
	}
	clean, _ := json.Marshal(stripAnnotations(generic))
	strict := json.NewDecoder(bytes.NewReader(clean))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return badRequest("Invalid property %s: it does not exist as a declared property of this resource.", strings.ReplaceAll(name, `"`, "'"))
		}
		return badRequest("The request body does not match the resource: %s.", jsonProblem(err))
	}
	return nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("property '%s' must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Sprintf("expected %s, found %s", jsonKind(te.Type.Kind().String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	default:
		return "a number"
	}
}

// stripAnnotations drops "@odata.*" (and other "@"-annotations) at every level.
func stripAnnotations(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") {
				delete(x, k)
				continue
			}
			x[k] = stripAnnotations(e)
		}
	case []any:
		for i := range x {
			x[i] = stripAnnotations(x[i])
		}
	}
	return v
}

// update runs fn in one store transaction.
func (q *request) update(fn func(tx directory.Writer) error) error {
	return q.handler.store.Update(q.ctx, fn)
}

func (q *request) now() time.Time { return q.handler.now().UTC() }
