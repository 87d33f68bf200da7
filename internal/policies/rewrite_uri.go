package policies

import (
	"fmt"
	"net/http"
	"strings"

	"portcullis/internal/policy"
)

// Reason of rewrite-uri's failure when its template names a parameter the operation did not
// match (APIM refuses such a template when the policy is saved).
const ReasonTemplateParameterNotFound = "TemplateParameterNotFound"

// rewriteURI is rewrite-uri: the backend path and query become the template's, with {name}
// taken from the operation's matched parameters; with copy-unmatched-params the client's
// query parameters the template does not set are kept.
type rewriteURI struct {
	template   policy.Value
	copyParams *policy.Value // nil: true
}

func compileRewriteURI(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "template", "copy-unmatched-params")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	tpl, err := r.value("template", true)
	if err != nil {
		return nil, err
	}
	if !tpl.IsExpr() {
		if err := checkURITemplate(tpl.Const); err != nil {
			return nil, policy.Errorf(tpl.Pos, "<rewrite-uri> template: %v", err)
		}
	}
	cp, err := r.boolValue("copy-unmatched-params")
	if err != nil {
		return nil, err
	}
	return &rewriteURI{template: *tpl, copyParams: cp}, nil
}

func checkURITemplate(t string) error {
	if strings.ContainsAny(t, " \t\r\n") {
		return fmt.Errorf("%q contains white space", t)
	}
	if strings.Contains(t, "://") {
		return fmt.Errorf("%q is an absolute URL: rewrite-uri sets the path and query (set-backend-service changes the host)", t)
	}
	depth := 0
	for _, ch := range t {
		switch ch {
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth < 0 || depth > 1 {
			return fmt.Errorf("%q has unbalanced braces", t)
		}
	}
	if depth != 0 {
		return fmt.Errorf("%q has an unclosed {", t)
	}
	return nil
}

func (rw *rewriteURI) Run(ctx *policy.Context) error {
	tpl, err := rw.template.String(ctx)
	if err != nil {
		return err
	}
	if rw.template.IsExpr() {
		if err := checkURITemplate(tpl); err != nil {
			return fmt.Errorf("rewrite-uri template: %w", err)
		}
	}
	expanded, err := expandTemplate(tpl, ctx.Request.MatchedParameters)
	if err != nil {
		return &policy.Failure{Source: "rewrite-uri", Reason: ReasonTemplateParameterNotFound,
			Message: "Internal server error", Detail: err.Error(), StatusCode: http.StatusInternalServerError}
	}
	p, rawQuery, _ := strings.Cut(expanded, "?")
	newQuery := policy.ParseQuery(rawQuery)
	copyParams, err := evalBool(ctx, rw.copyParams, "rewrite-uri copy-unmatched-params", true)
	if err != nil {
		return err
	}
	if copyParams {
		for _, f := range ctx.Request.URL.Query.Fields() {
			if _, set := newQuery.Get(f.Name); !set && !templateUses(tpl, f.Name) {
				newQuery.Add(f.Name, f.Value)
			}
		}
	}
	base := strings.TrimSuffix(ctx.ServiceURL.Path, "/")
	ctx.Request.URL.Path = base + "/" + strings.TrimPrefix(p, "/")
	ctx.Request.URL.Query = newQuery
	return nil
}

// expandTemplate replaces each {name} (or {*name}) with the matched parameter's value.
func expandTemplate(tpl string, params map[string]string) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			return b.String(), nil
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("the template has an unclosed {")
		}
		name := strings.TrimPrefix(tpl[i+1:i+j], "*")
		v, ok := params[name]
		if !ok {
			return "", fmt.Errorf("the template names {%s}, which is not a parameter of the operation's URL template", name)
		}
		b.WriteString(tpl[:i])
		b.WriteString(v)
		tpl = tpl[i+j+1:]
	}
}

// templateUses reports whether the template consumes the query parameter name as {name}.
func templateUses(tpl, name string) bool {
	return strings.Contains(tpl, "{"+name+"}")
}
