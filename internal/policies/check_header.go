package policies

import (
	"fmt"
	"strings"

	"portcullis/internal/policy"
)

// check-header's failure reasons, as APIM's context.LastError.Reason.
const (
	ReasonHeaderNotFound        = "HeaderNotFound"
	ReasonHeaderValueNotAllowed = "HeaderValueNotAllowed"
)

// checkHeader is check-header: the request must carry the header and, when values are
// listed, one of them; otherwise the request fails with the configured status and message.
type checkHeader struct {
	name       policy.Value
	status     *policy.Value
	message    *policy.Value
	ignoreCase *policy.Value
	values     []policy.Value
}

func compileCheckHeader(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "name", "failed-check-httpcode", "failed-check-error-message", "ignore-case")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "value"); err != nil {
		return nil, err
	}
	ch := &checkHeader{}
	name, err := r.value("name", true)
	if err != nil {
		return nil, err
	}
	ch.name = *name
	if ch.status, err = r.intValue("failed-check-httpcode", true, 100, 599); err != nil {
		return nil, err
	}
	if ch.message, err = r.value("failed-check-error-message", true); err != nil {
		return nil, err
	}
	if _, ok := el.Attr("ignore-case"); !ok {
		return nil, policy.Errorf(el.Pos, "<check-header> needs an ignore-case attribute")
	}
	if ch.ignoreCase, err = r.boolValue("ignore-case"); err != nil {
		return nil, err
	}
	for _, v := range el.Children {
		val, err := c.TextValue(v)
		if err != nil {
			return nil, err
		}
		ch.values = append(ch.values, val)
	}
	return ch, nil
}

func (ch *checkHeader) Run(ctx *policy.Context) error {
	name, err := ch.name.String(ctx)
	if err != nil {
		return err
	}
	got := ctx.Request.Header.Values(name)
	var reason, detail string
	switch {
	case len(got) == 0:
		reason = ReasonHeaderNotFound
		detail = fmt.Sprintf("Header %s was not found in the request. Access denied.", name)
	case len(ch.values) > 0:
		ok, err := ch.matches(ctx, got)
		if err != nil || ok {
			return err
		}
		reason = ReasonHeaderValueNotAllowed
		detail = fmt.Sprintf("Header %s value of %s is not allowed. Access denied.", name, shownHeaderValue(name, strings.Join(got, ",")))
	default:
		return nil
	}
	status, err := evalInt(ctx, ch.status, "check-header failed-check-httpcode", 100, 599)
	if err != nil {
		return err
	}
	msg, err := ch.message.String(ctx)
	if err != nil {
		return err
	}
	return &policy.Failure{Source: "check-header", Reason: reason, Message: msg, Detail: detail, StatusCode: int(status)}
}

func (ch *checkHeader) matches(ctx *policy.Context, got []string) (bool, error) {
	fold, err := evalBool(ctx, ch.ignoreCase, "check-header ignore-case", false)
	if err != nil {
		return false, err
	}
	for _, want := range ch.values {
		w, err := want.String(ctx)
		if err != nil {
			return false, err
		}
		for _, g := range got {
			if g == w || fold && strings.EqualFold(g, w) {
				return true, nil
			}
		}
	}
	return false, nil
}

// shownHeaderValue keeps credentials out of LastError and the log: the value of a header that
// carries them is not repeated.
func shownHeaderValue(name, value string) string {
	n := strings.ToLower(name)
	if n == "authorization" || n == "proxy-authorization" || n == "cookie" ||
		strings.Contains(n, "key") || strings.Contains(n, "secret") || strings.Contains(n, "token") || strings.Contains(n, "password") {
		return "(not shown)"
	}
	return value
}
