package policies

import (
	"fmt"
	"net/http"
	"strings"

	"portcullis/internal/policy"
)

// setStatus is set-status: the status code and reason of the response.
type setStatus struct {
	code   *policy.Value
	reason *policy.Value
}

func compileSetStatus(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "code", "reason")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	s := &setStatus{}
	if s.code, err = r.intValue("code", true, 100, 599); err != nil {
		return nil, err
	}
	if s.reason, err = r.value("reason", false); err != nil {
		return nil, err
	}
	if s.reason != nil && !s.reason.IsExpr() && strings.ContainsAny(s.reason.Const, "\r\n") {
		return nil, policy.Errorf(s.reason.Pos, "<set-status> reason contains a line break")
	}
	return s, nil
}

func (s *setStatus) Run(ctx *policy.Context) error {
	if ctx.Response == nil {
		ctx.Response = &policy.Response{}
	}
	return s.writeResponse(ctx, ctx.Response)
}

// writeResponse sets the status of r, reading the request's context as it stands.
func (s *setStatus) writeResponse(ctx *policy.Context, r *policy.Response) error {
	code, err := evalInt(ctx, s.code, "set-status code", 100, 599)
	if err != nil {
		return err
	}
	reason, err := evalString(ctx, s.reason)
	if err != nil {
		return err
	}
	if strings.ContainsAny(reason, "\r\n") {
		return fmt.Errorf("set-status: the reason contains a line break")
	}
	if s.reason == nil || reason == "" {
		reason = http.StatusText(int(code))
	}
	r.StatusCode = int(code)
	r.StatusReason = reason
	return nil
}
