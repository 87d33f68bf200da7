package policies

import (
	"fmt"
	"net/http"

	"portcullis/internal/policy"
)

// returnResponse is return-response: it ends the pipeline with a new response, 200 OK with an
// empty body unless its children or the response in response-variable-name say otherwise.
type returnResponse struct {
	variable string
	steps    []responseWriter // set-status, set-header, set-body on the new response
}

// responseWriter is a child of return-response: it writes into the new response while its
// expressions still see the context as it was (context.Response is the current response, e.g.
// the error response in on-error).
type responseWriter interface {
	writeResponse(ctx *policy.Context, r *policy.Response) error
}

func compileReturnResponse(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "response-variable-name")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "set-status", "set-header", "set-body"); err != nil {
		return nil, err
	}
	rr := &returnResponse{}
	if rr.variable, _, err = r.constant("response-variable-name", false); err != nil {
		return nil, err
	}
	for _, child := range el.Children {
		var s policy.Step
		var err error
		switch child.Name {
		case "set-status":
			s, err = compileSetStatus(child, c)
		case "set-header":
			s, err = compileSetHeaderFor(child, c, targetResponse)
		case "set-body":
			s, err = compileSetBodyFor(child, c, targetResponse)
		}
		if err != nil {
			return nil, err
		}
		rr.steps = append(rr.steps, s.(responseWriter))
	}
	return rr, nil
}

func (rr *returnResponse) Run(ctx *policy.Context) error {
	resp := &policy.Response{StatusCode: http.StatusOK, StatusReason: "OK"}
	if rr.variable != "" {
		v, ok := ctx.Variables[rr.variable]
		if !ok {
			return fmt.Errorf("return-response: context variable %q is not set", rr.variable)
		}
		src, ok := v.(*policy.Response)
		if !ok || src == nil {
			return fmt.Errorf("return-response: context variable %q holds %T, not a response", rr.variable, v)
		}
		var err error
		if resp, err = copyResponse(src); err != nil {
			return err
		}
	}
	for _, w := range rr.steps {
		if err := w.writeResponse(ctx, resp); err != nil {
			return err
		}
	}
	ctx.Response = resp
	return policy.ErrResponseSent
}

// copyResponse copies a stored response, so the variable keeps its own.
func copyResponse(src *policy.Response) (*policy.Response, error) {
	out := &policy.Response{StatusCode: src.StatusCode, StatusReason: src.StatusReason}
	for _, f := range src.Header.Fields() {
		out.Header.Add(f.Name, f.Value)
	}
	data, err := src.Body.Bytes()
	if err != nil {
		return nil, fmt.Errorf("return-response: reading the stored response body: %w", err)
	}
	out.Body.Set(append([]byte(nil), data...))
	return out, nil
}
