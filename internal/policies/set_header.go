package policies

import (
	"fmt"
	"net/http"
	"strings"

	"portcullis/internal/policy"
)

// existsAction is set-header's and set-query-parameter's exists-action.
type existsAction int

const (
	actionOverride existsAction = iota
	actionSkip
	actionAppend
	actionDelete
)

func parseExistsAction(s string) (existsAction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "override":
		return actionOverride, nil
	case "skip":
		return actionSkip, nil
	case "append":
		return actionAppend, nil
	case "delete":
		return actionDelete, nil
	}
	return 0, fmt.Errorf("exists-action must be override, skip, append or delete, found %q", s)
}

// messageTarget says which message a policy changes: the request on its way to the backend
// (inbound, backend) or the response on its way to the client (outbound, on-error, and the
// children of return-response).
type messageTarget int

const (
	targetRequest messageTarget = iota
	targetResponse
)

func sectionTarget(c *policy.Compiler) messageTarget {
	if c.Section == policy.SectionOutbound || c.Section == policy.SectionOnError {
		return targetResponse
	}
	return targetRequest
}

func targetHeader(ctx *policy.Context, t messageTarget) *policy.Header {
	if t == targetResponse {
		if ctx.Response == nil {
			ctx.Response = &policy.Response{StatusCode: http.StatusOK, StatusReason: "OK"}
		}
		return &ctx.Response.Header
	}
	return &ctx.Request.Header
}

func targetBody(ctx *policy.Context, t messageTarget) *policy.Body {
	if t == targetResponse {
		if ctx.Response == nil {
			ctx.Response = &policy.Response{StatusCode: http.StatusOK, StatusReason: "OK"}
		}
		return &ctx.Response.Body
	}
	return &ctx.Request.Body
}

// Headers a policy may not change: the transport owns them (APIM refuses them too).
var transportHeaders = map[string]bool{
	"connection": true, "content-length": true, "keep-alive": true, "transfer-encoding": true,
}

// Headers APIM sends as repeated lines rather than one comma-joined value: those whose values
// may hold commas or are dates.
var repeatedHeaders = map[string]bool{
	"user-agent": true, "www-authenticate": true, "proxy-authenticate": true,
	"cookie": true, "set-cookie": true, "warning": true,
	"date": true, "expires": true, "if-modified-since": true, "if-unmodified-since": true,
	"last-modified": true, "retry-after": true,
}

// namedValues is the name / exists-action / value* model set-header and set-query-parameter
// share.
type namedValues struct {
	elem   string
	name   policy.Value
	action policy.Value // constant when !action.IsExpr(); parsed into act
	act    existsAction
	values []policy.Value
}

func compileNamedValues(el *policy.Element, c *policy.Compiler) (*namedValues, error) {
	r, err := readElement(el, c, "name", "exists-action")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "value"); err != nil {
		return nil, err
	}
	n := &namedValues{elem: el.Name}
	name, err := r.value("name", true)
	if err != nil {
		return nil, err
	}
	n.name = *name
	act, err := r.value("exists-action", false)
	if err != nil {
		return nil, err
	}
	if act != nil {
		n.action = *act
		if !act.IsExpr() {
			if n.act, err = parseExistsAction(act.Const); err != nil {
				return nil, policy.Errorf(act.Pos, "<%s> %v", el.Name, err)
			}
		}
	}
	for _, v := range el.Children {
		if len(v.Children) > 0 {
			return nil, policy.Errorf(v.Children[0].Pos, "<value> holds text or a policy expression, not elements")
		}
		val, err := c.TextValue(v)
		if err != nil {
			return nil, err
		}
		n.values = append(n.values, val)
	}
	return n, nil
}

// eval returns the name, the action and the values for this request.
func (n *namedValues) eval(ctx *policy.Context) (string, existsAction, []string, error) {
	name, err := n.name.String(ctx)
	if err != nil {
		return "", 0, nil, err
	}
	act := n.act
	if n.action.IsExpr() {
		s, err := n.action.String(ctx)
		if err != nil {
			return "", 0, nil, err
		}
		if act, err = parseExistsAction(s); err != nil {
			return "", 0, nil, fmt.Errorf("%s: %w", n.elem, err)
		}
	}
	if act == actionDelete {
		return name, act, nil, nil
	}
	vals := make([]string, 0, len(n.values))
	for _, v := range n.values {
		s, err := v.String(ctx)
		if err != nil {
			return "", 0, nil, err
		}
		vals = append(vals, s)
	}
	return name, act, vals, nil
}

// setHeader is set-header.
type setHeader struct {
	*namedValues
	target messageTarget
}

func compileSetHeader(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	return compileSetHeaderFor(el, c, sectionTarget(c))
}

func compileSetHeaderFor(el *policy.Element, c *policy.Compiler, t messageTarget) (policy.Step, error) {
	n, err := compileNamedValues(el, c)
	if err != nil {
		return nil, err
	}
	if !n.name.IsExpr() {
		if err := checkHeaderName(n.name.Const); err != nil {
			return nil, policy.Errorf(n.name.Pos, "<set-header> name: %v", err)
		}
	}
	for _, v := range n.values {
		if !v.IsExpr() && strings.ContainsAny(v.Const, "\r\n") {
			return nil, policy.Errorf(v.Pos, "<set-header> value contains a line break, which a header cannot carry")
		}
	}
	return &setHeader{namedValues: n, target: t}, nil
}

func checkHeaderName(name string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return fmt.Errorf("a header name must not be empty")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("%q is not a valid header name", name)
		}
	}
	if transportHeaders[strings.ToLower(name)] {
		return fmt.Errorf("header %s belongs to the connection and cannot be set by a policy", name)
	}
	return nil
}

// isTokenChar reports RFC 9110 token characters (header names, methods).
func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (s *setHeader) Run(ctx *policy.Context) error {
	return s.apply(ctx, targetHeader(ctx, s.target))
}

func (s *setHeader) writeResponse(ctx *policy.Context, r *policy.Response) error {
	return s.apply(ctx, &r.Header)
}

func (s *setHeader) apply(ctx *policy.Context, h *policy.Header) error {
	name, act, vals, err := s.eval(ctx)
	if err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	if s.name.IsExpr() {
		if err := checkHeaderName(name); err != nil {
			return fmt.Errorf("set-header: %w", err)
		}
	}
	for _, v := range vals {
		if strings.ContainsAny(v, "\r\n") {
			// A value with a line break could smuggle a header or a second message.
			return fmt.Errorf("set-header: the value of header %s contains a line break", name)
		}
	}
	_, exists := h.Get(name)
	switch act {
	case actionDelete:
		// APIM cannot remove the Server header from a response.
		if !(h != &ctx.Request.Header && strings.EqualFold(name, "Server")) {
			h.Del(name)
		}
		return nil
	case actionSkip:
		if exists {
			return nil
		}
	case actionOverride:
		h.Del(name)
	}
	if repeatedHeaders[strings.ToLower(name)] {
		for _, v := range vals {
			h.Add(name, v)
		}
		return nil
	}
	if act == actionAppend && exists {
		old := h.Values(name)
		h.Del(name)
		vals = append(old, vals...)
	}
	h.Add(name, strings.Join(vals, ","))
	return nil
}
