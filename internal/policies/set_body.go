package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"portcullis/internal/policies/liquid"
	"portcullis/internal/policy"
)

// setBody is set-body: the body of the backend request (inbound, backend) or of the response
// (outbound, on-error, return-response), from text, a policy expression or a Liquid template.
type setBody struct {
	target   messageTarget
	section  messageTarget // the message of the section, which Liquid's body reads
	value    policy.Value
	template *liquid.Template
}

func compileSetBody(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	return compileSetBodyFor(el, c, sectionTarget(c))
}

func compileSetBodyFor(el *policy.Element, c *policy.Compiler, t messageTarget) (policy.Step, error) {
	r, err := readElement(el, c, "template", "xsi-nil", "parse-date")
	if err != nil {
		return nil, err
	}
	tmpl, _, err := r.constant("template", false)
	if err != nil {
		return nil, err
	}
	if xn, ok, err := r.constant("xsi-nil", false); err != nil {
		return nil, err
	} else if ok && xn != "blank" && xn != "null" {
		a, _ := el.Attr("xsi-nil")
		return nil, policy.Errorf(a.Pos, "<set-body> xsi-nil must be blank or null, found %q", xn)
	}
	if _, err := r.constBool("parse-date", true); err != nil {
		return nil, err
	}
	s := &setBody{target: t, section: sectionTarget(c)}
	text := bodyText(el)
	switch strings.ToLower(strings.TrimSpace(tmpl)) {
	case "", "none":
		if len(el.Children) > 0 {
			s.value = policy.Value{Const: text, Pos: el.TextPos}
			return s, nil
		}
		if s.value, err = c.TextValue(el); err != nil {
			return nil, err
		}
	case "liquid":
		if s.template, err = liquid.Parse(text); err != nil {
			pos := el.TextPos
			if pos.Line == 0 {
				pos = el.Pos
			}
			var se *liquid.SyntaxError
			if errors.As(err, &se) {
				// TextPos is the first non-blank character; the template's lines count from
				// the start of the text.
				lead := text[:len(text)-len(strings.TrimLeft(text, " \t\r\n"))]
				pos.Line += se.Line - 1 - strings.Count(lead, "\n")
				return nil, policy.Errorf(pos, "<set-body template=\"liquid\">: %s", se.Msg)
			}
			return nil, policy.Errorf(pos, "<set-body template=\"liquid\">: %v", err)
		}
	default:
		a, _ := el.Attr("template")
		return nil, policy.Errorf(a.Pos, "<set-body> template must be liquid or none, found %q", tmpl)
	}
	return s, nil
}

var xmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)

// bodyText is the body the element spells: its text, or its inner markup when it holds
// elements (an XML body written inline), without XML comments.
func bodyText(el *policy.Element) string {
	if len(el.Children) == 0 {
		return el.Text
	}
	return strings.TrimSpace(xmlComment.ReplaceAllString(el.Inner, ""))
}

func (s *setBody) Run(ctx *policy.Context) error {
	body := targetBody(ctx, s.target)
	return s.apply(ctx, body, body)
}

// writeResponse writes return-response's body; Liquid's body is still the section's message.
func (s *setBody) writeResponse(ctx *policy.Context, r *policy.Response) error {
	return s.apply(ctx, &r.Body, targetBody(ctx, s.section))
}

func (s *setBody) apply(ctx *policy.Context, body, source *policy.Body) error {
	if s.template != nil {
		out, err := s.template.Render(map[string]any{
			"context": liquidContext{ctx},
			"body":    liquidBody(source),
		})
		if err != nil {
			return fmt.Errorf("set-body liquid template: %w", err)
		}
		body.Set([]byte(out))
		return nil
	}
	if !s.value.IsExpr() {
		body.Set([]byte(s.value.Const))
		return nil
	}
	v, err := s.value.Expr.Eval(ctx)
	if err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		body.Set(nil)
	case []byte:
		body.Set(append([]byte(nil), x...))
	case *policy.Response:
		data, err := x.Body.Bytes()
		if err != nil {
			return err
		}
		body.Set(append([]byte(nil), data...))
	default:
		body.Set([]byte(policy.ToString(v)))
	}
	return nil
}

// liquidBody is the message body as Liquid's body: the parsed JSON document; an XML document
// as an object from its root element down (names without namespace prefixes, attributes as
// @name); otherwise the text.
func liquidBody(b *policy.Body) any {
	data, err := b.Bytes()
	trimmed := bytes.TrimSpace(data)
	if err != nil || len(trimmed) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(data, &v) == nil {
		return v
	}
	if trimmed[0] == '<' {
		if js, err := xmlDocumentToJSON(data, false, false); err == nil && json.Unmarshal(js, &v) == nil {
			return localNames(v)
		}
	}
	return string(data)
}

// localNames drops namespace prefixes from an XML document's names, so a template writes
// body.Envelope.Body rather than the prefixes a particular sender chose.
func localNames(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if i := strings.LastIndexByte(k, ':'); i >= 0 && !strings.HasPrefix(k, "@xmlns") {
				k = k[i+1:]
			}
			out[k] = localNames(val)
		}
		return out
	case []any:
		for i := range x {
			x[i] = localNames(x[i])
		}
	}
	return v
}

// liquidContext exposes APIM's context model to a Liquid template, by the C# member names.
type liquidContext struct{ ctx *policy.Context }

func (c liquidContext) Get(name string) (any, bool) {
	ctx := c.ctx
	switch name {
	case "Request":
		if ctx.Request == nil {
			return nil, true
		}
		return liquidRequest{ctx.Request}, true
	case "Response":
		if ctx.Response == nil {
			return nil, true
		}
		return liquidResponse{ctx.Response}, true
	case "Variables":
		return liquidVariables(ctx.Variables), true
	case "RequestId":
		return ctx.RequestID, true
	case "Timestamp":
		return ctx.Timestamp.UTC().Format("2006-01-02T15:04:05.0000000Z"), true
	case "Api":
		if ctx.API == nil {
			return nil, true
		}
		return map[string]any{"Id": ctx.API.ID, "Name": ctx.API.Name, "Path": ctx.API.Path,
			"Version": ctx.API.Version, "Revision": ctx.API.Revision, "ServiceUrl": liquidURL(ctx.API.ServiceURL)}, true
	case "Operation":
		if ctx.Operation == nil {
			return nil, true
		}
		return map[string]any{"Id": ctx.Operation.ID, "Name": ctx.Operation.Name,
			"Method": ctx.Operation.Method, "UrlTemplate": ctx.Operation.URLTemplate}, true
	case "LastError":
		if ctx.LastError == nil {
			return nil, true
		}
		le := ctx.LastError
		return map[string]any{"Source": le.Source, "Reason": le.Reason, "Message": le.Message,
			"Scope": le.Scope, "Section": le.Section, "Path": le.Path, "PolicyId": le.PolicyID}, true
	case "Deployment":
		d := ctx.Deployment
		return map[string]any{"Region": d.Region, "ServiceName": d.ServiceName, "ServiceId": d.ServiceID, "GatewayId": d.GatewayID}, true
	}
	return nil, false
}

type liquidRequest struct{ r *policy.Request }

func (r liquidRequest) Get(name string) (any, bool) {
	switch name {
	case "Method":
		return r.r.Method, true
	case "Url":
		return liquidURL(r.r.URL), true
	case "OriginalUrl":
		return liquidURL(r.r.OriginalURL), true
	case "Headers":
		return liquidHeaders{&r.r.Header}, true
	case "MatchedParameters":
		m := make(map[string]any, len(r.r.MatchedParameters))
		for k, v := range r.r.MatchedParameters {
			m[k] = v
		}
		return m, true
	case "IpAddress":
		if !r.r.IPAddress.IsValid() {
			return "", true
		}
		return r.r.IPAddress.String(), true
	case "Body":
		return liquidBody(&r.r.Body), true
	}
	return nil, false
}

type liquidResponse struct{ r *policy.Response }

func (r liquidResponse) Get(name string) (any, bool) {
	switch name {
	case "StatusCode":
		return float64(r.r.StatusCode), true
	case "StatusReason":
		return r.r.StatusReason, true
	case "Headers":
		return liquidHeaders{&r.r.Header}, true
	case "Body":
		return liquidBody(&r.r.Body), true
	}
	return nil, false
}

func liquidURL(u policy.URL) map[string]any {
	q := map[string]any{}
	for _, f := range u.Query.Fields() {
		if prev, ok := q[f.Name]; ok {
			q[f.Name] = prev.(string) + "," + f.Value
		} else {
			q[f.Name] = f.Value
		}
	}
	qs := u.Query.Encode()
	if qs != "" {
		qs = "?" + qs
	}
	return map[string]any{"Scheme": u.Scheme, "Host": u.Host, "Port": float64(u.Port), "Path": u.Path,
		"Query": q, "QueryString": qs}
}

// liquidHeaders reads a header by name (values comma-joined, as APIM's GetValueOrDefault) and
// iterates as Key/Value entries.
type liquidHeaders struct{ h *policy.Header }

func (h liquidHeaders) Get(name string) (any, bool) {
	vs := h.h.Values(name)
	if len(vs) == 0 {
		return nil, false
	}
	return strings.Join(vs, ","), true
}

func (h liquidHeaders) Items() []any {
	var out []any
	seen := map[string]int{}
	for _, f := range h.h.Fields() {
		key := strings.ToLower(f.Name)
		if i, ok := seen[key]; ok {
			e := out[i].(liquid.Entry)
			e.Value = e.Value.(string) + "," + f.Value
			out[i] = e
			continue
		}
		seen[key] = len(out)
		out = append(out, liquid.Entry{Key: f.Name, Value: f.Value})
	}
	return out
}

// liquidVariables converts context variables to values a template can walk: JSON documents
// (JObject, JArray) become maps and lists.
func liquidVariables(vars map[string]any) map[string]any {
	out := make(map[string]any, len(vars))
	for k, v := range vars {
		out[k] = liquidValue(v)
	}
	return out
}

func liquidValue(v any) any {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case *policy.Response:
		return liquidResponse{x}
	case fmt.Stringer:
		s := x.String()
		if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			var parsed any
			if json.Unmarshal([]byte(t), &parsed) == nil {
				return parsed
			}
		}
		return s
	}
	return policy.ToString(v)
}
